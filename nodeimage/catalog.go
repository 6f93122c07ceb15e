package nodeimage

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Catalog records which node images each region offers now. It is built from
// plain data a host already has (region → node image version strings, as the
// AKS upgrade profiles or the release tracker list them) and is immutable:
// methods never expose its internals.
//
// Its JSON is that same object: {"eastus": ["AKSUbuntu-…-202405.27.0", …]}.
type Catalog struct {
	regions map[string]map[string][]Image // region → family → images, oldest first, no duplicates
}

// NewCatalog builds a catalog. Every string must parse with [Parse]; the
// error names the region and the string. Duplicates are dropped.
func NewCatalog(regions map[string][]string) (Catalog, error) {
	c := Catalog{regions: make(map[string]map[string][]Image, len(regions))}
	// Sorted, so that of several bad regions the error names the same one.
	for _, region := range slices.Sorted(maps.Keys(regions)) {
		list := regions[region]
		if region == "" {
			return Catalog{}, fmt.Errorf("nodeimage: catalog: empty region name")
		}
		fams := map[string][]Image{}
		for _, s := range list {
			img, err := Parse(s)
			if err != nil {
				return Catalog{}, fmt.Errorf("nodeimage: catalog region %q: %w", region, err)
			}
			fams[img.Family] = append(fams[img.Family], img)
		}
		for f, imgs := range fams {
			slices.SortStableFunc(imgs, func(a, b Image) int { return a.Version.Compare(b.Version) })
			fams[f] = slices.CompactFunc(imgs, func(a, b Image) bool { return a.Version.Compare(b.Version) == 0 })
		}
		c.regions[region] = fams
	}
	return c, nil
}

// Regions returns the catalog's regions, sorted.
func (c Catalog) Regions() []string {
	out := make([]string, 0, len(c.regions))
	for r := range c.regions {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// Images returns what region offers, sorted by family, then oldest first.
func (c Catalog) Images(region string) []Image {
	fams := c.regions[region]
	names := make([]string, 0, len(fams))
	for f := range fams {
		names = append(names, f)
	}
	slices.Sort(names)
	var out []Image
	for _, f := range names {
		out = append(out, fams[f]...)
	}
	return out
}

// Offers reports whether region offers img (same family, equal version).
func (c Catalog) Offers(region string, img Image) bool {
	_, ok := slices.BinarySearchFunc(c.regions[region][img.Family], img.Version, func(a Image, v Version) int {
		return a.Version.Compare(v)
	})
	return ok
}

// MarshalJSON encodes the catalog as region → image strings.
func (c Catalog) MarshalJSON() ([]byte, error) {
	m := make(map[string][]string, len(c.regions))
	for r := range c.regions {
		imgs := c.Images(r)
		ss := make([]string, len(imgs))
		for i, img := range imgs {
			ss[i] = img.String()
		}
		m[r] = ss
	}
	return json.Marshal(m)
}

// UnmarshalJSON decodes region → image strings through [NewCatalog].
func (c *Catalog) UnmarshalJSON(b []byte) error {
	var m map[string][]string
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("nodeimage: catalog: %w", err)
	}
	nc, err := NewCatalog(m)
	if err != nil {
		return err
	}
	*c = nc
	return nil
}

// ResolveLatest returns the newest image of family that region offers:
// Fleet's Latest selection, evaluated when a member's upgrade starts.
func ResolveLatest(c Catalog, region, family string) (Image, bool) {
	imgs := c.regions[region][family]
	if len(imgs) == 0 {
		return Image{}, false
	}
	return imgs[len(imgs)-1], true
}

// Pool is one node pool of a member cluster, as the resolvers see it.
type Pool struct {
	Member string
	Name   string
	Region string
	Image  Image // the pool's current node image; its family picks the target
}

// Selection holds at most one image per family, sorted by family. It is
// what Fleet shows as status.nodeImageSelection.selectedNodeImageVersions.
type Selection []Image

// Lookup returns the selected image of family.
func (s Selection) Lookup(family string) (Image, bool) {
	i, ok := slices.BinarySearchFunc(s, family, func(img Image, f string) int { return strings.Compare(img.Family, f) })
	if !ok {
		return Image{}, false
	}
	return s[i], true
}

// NewCustom builds the selection of a Custom node image selection from
// customNodeImageVersions. Fleet allows at most one version per family
// (Fleet API spec, NodeImageSelection.customNodeImageVersions); a second one
// is an error naming both.
func NewCustom(versions []string) (Selection, error) {
	s := make(Selection, 0, len(versions))
	for _, v := range versions {
		img, err := Parse(v)
		if err != nil {
			return nil, err
		}
		s = append(s, img)
	}
	slices.SortStableFunc(s, func(a, b Image) int { return strings.Compare(a.Family, b.Family) })
	for i := 1; i < len(s); i++ {
		if s[i].Family == s[i-1].Family {
			return nil, fmt.Errorf("nodeimage: custom versions %q and %q: at most one version per family", s[i-1], s[i])
		}
	}
	return s, nil
}

// Unresolved is a pool for which no target image could be chosen.
type Unresolved struct {
	Pool   Pool
	Reason string
}

// ResolveConsistent implements Fleet's Consistent selection: for each family
// among pools, the newest version available in every region that holds a
// pool of that family ("the latest image version such that it is available
// across all other node pools (in all other clusters) of the same image
// type", Fleet API spec). When the regions share no version (a fast region
// has dropped what a slow one still offers), every pool of the family is
// unresolved. A region that does not offer the family at all cannot upgrade
// its pools anyway: those pools are unresolved and the region is left out of
// the intersection, so it does not hold back the rest of the fleet.
//
// Unresolved pools come sorted by member, then pool name. Cost is
// O(pools + families·regions·versions·log versions).
func ResolveConsistent(c Catalog, pools []Pool) (Selection, []Unresolved) {
	regionsOf := map[string]map[string]bool{} // family → regions holding it
	for _, p := range pools {
		if p.Image.IsZero() {
			continue
		}
		if regionsOf[p.Image.Family] == nil {
			regionsOf[p.Image.Family] = map[string]bool{}
		}
		regionsOf[p.Image.Family][p.Region] = true
	}
	families := make([]string, 0, len(regionsOf))
	for f := range regionsOf {
		families = append(families, f)
	}
	slices.Sort(families)

	var sel Selection
	why := map[string]string{}      // family → reason its pools in offering regions failed
	missing := map[[2]string]bool{} // {family, region} not offered
	for _, f := range families {
		var offering []string
		for r := range regionsOf[f] {
			if len(c.regions[r][f]) == 0 {
				missing[[2]string{f, r}] = true
				continue
			}
			offering = append(offering, r)
		}
		if len(offering) == 0 {
			continue
		}
		slices.Sort(offering)
		if img, ok := newestCommon(c, f, offering); ok {
			sel = append(sel, img)
		} else {
			why[f] = fmt.Sprintf("no version of node image family %q is available in every region of the run (%s)", f, listRegions(offering))
		}
	}

	var un []Unresolved
	for _, p := range pools {
		switch {
		case p.Image.IsZero():
			un = append(un, Unresolved{p, "node pool has no node image version"})
		case missing[[2]string{p.Image.Family, p.Region}]:
			un = append(un, Unresolved{p, fmt.Sprintf("node image family %q is not offered in region %q", p.Image.Family, p.Region)})
		case why[p.Image.Family] != "":
			un = append(un, Unresolved{p, why[p.Image.Family]})
		}
	}
	slices.SortFunc(un, func(a, b Unresolved) int {
		if c := strings.Compare(a.Pool.Member, b.Pool.Member); c != 0 {
			return c
		}
		return strings.Compare(a.Pool.Name, b.Pool.Name)
	})
	return sel, un
}

// newestCommon walks the shortest region's list newest first and returns the
// first version every other region offers too.
func newestCommon(c Catalog, family string, regions []string) (Image, bool) {
	shortest := regions[0]
	for _, r := range regions[1:] {
		if len(c.regions[r][family]) < len(c.regions[shortest][family]) {
			shortest = r
		}
	}
	imgs := c.regions[shortest][family]
next:
	for i := len(imgs) - 1; i >= 0; i-- {
		for _, r := range regions {
			if r != shortest && !c.Offers(r, imgs[i]) {
				continue next
			}
		}
		return imgs[i], true
	}
	return Image{}, false
}

func listRegions(rs []string) string {
	if len(rs) <= 5 {
		return strings.Join(rs, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(rs[:5], ", "), len(rs)-5)
}

// Action is what to do with one node pool.
type Action int

// The outcomes of [Decide].
const (
	Upgrade         Action = iota + 1 // move the pool to Target
	AlreadyAtTarget                   // the pool is at or ahead of Target: leave it
	NotInRegion                       // Target is not offered in the pool's region yet: wait
	NoTarget                          // no target for the pool's family: leave it
)

var actionNames = [...]string{"", "Upgrade", "AlreadyAtTarget", "NotInRegion", "NoTarget"}

// String returns the action's name.
func (a Action) String() string {
	if a > 0 && int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// Decision is the verdict for one pool; Message is a sentence in Fleet's
// words, empty for Upgrade.
type Decision struct {
	Action  Action
	Target  Image
	Message string
}

// Decide says what to do with pool p given its target image (the zero Image
// when the selection has none for its family). The checks run in Fleet's
// order: no target, already at or ahead (whatever the region offers), then
// availability in the pool's region.
func Decide(c Catalog, p Pool, target Image) Decision {
	var buf [256]byte
	m := message(buf[:0])
	if target.IsZero() || target.Family != p.Image.Family {
		return Decision{Action: NoTarget, Message: m.text("no target node image version for family ").quote(p.Image.Family).text(" of agent pool ").quote(p.Name).String()}
	}
	if p.Image.Version.Compare(target.Version) >= 0 {
		// Wording from Fleet's update run status (howto-monitor-update-runs.md).
		return Decision{Action: AlreadyAtTarget, Target: target, Message: m.text("current node image version ").image(p.Image).text(" of agent pool ").quote(p.Name).text(" is already at or ahead of target upgrade version ").image(target).String()}
	}
	if !c.Offers(p.Region, target) {
		return Decision{Action: NotInRegion, Target: target, Message: m.text("target upgrade node image version ").image(target).text(" for agent pool ").quote(p.Name).text(" is not available in region ").quote(p.Region).String()}
	}
	return Decision{Action: Upgrade, Target: target}
}

// message builds Decide's sentences in one allocation, quoting as fmt's %q
// does (strconv.Quote): Decide explains every pool it leaves alone.
type message []byte

func (m message) text(s string) message { return append(m, s...) }

func (m message) quote(s string) message {
	if !plain(s) {
		return strconv.AppendQuote(m, s)
	}
	m = append(m, '"')
	m = append(m, s...)
	return append(m, '"')
}

// image quotes img.String() without building it.
func (m message) image(img Image) message {
	if img.IsZero() || !plain(img.Family) || !plain(img.Version.text) {
		return m.quote(img.String())
	}
	m = append(m, '"')
	m = append(m, img.Family...)
	m = append(m, '-')
	m = append(m, img.Version.text...)
	return append(m, '"')
}

func (m message) String() string { return string(m) }

// plain reports whether strconv.Quote would only put s between quotes:
// printable ASCII, no quote, no backslash.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
