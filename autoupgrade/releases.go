package autoupgrade

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/internal/kversion"
	"github.com/fleetkit/fleetkit/nodeimage"
)

// Releases is what AKS offers at one moment, region by region: Kubernetes
// versions (with their preview and LTS flags) and node images. A host builds
// it from `az aks get-versions` and the release tracker; fake.ReleaseTrain
// produces it for any moment of a simulated train.
type Releases struct {
	Regions map[string]RegionReleases `json:"regions"`
}

// RegionReleases is what one region offers.
type RegionReleases struct {
	KubernetesVersions []KubernetesVersion `json:"kubernetesVersions"`
	NodeImageVersions  []string            `json:"nodeImageVersions"` // e.g. AKSUbuntu-2204gen2containerd-202603.02.0
}

// KubernetesVersion is one Kubernetes patch a region offers.
type KubernetesVersion struct {
	Version         string `json:"version"`                   // major.minor.patch, such as "1.30.5"
	IsPreview       bool   `json:"isPreview,omitempty"`       // not yet GA in this region
	LongTermSupport bool   `json:"longTermSupport,omitempty"` // its minor has AKS long-term support
}

// Catalog returns what each region offers in the form fleetupdate.New takes.
func (r Releases) Catalog() fleetupdate.Catalog {
	c := fleetupdate.Catalog{Regions: make(map[string]fleetupdate.RegionCatalog, len(r.Regions))}
	for name, reg := range r.Regions {
		rc := fleetupdate.RegionCatalog{KubernetesVersions: []string{}, NodeImageVersions: slices.Clone(reg.NodeImageVersions)}
		for _, k := range reg.KubernetesVersions {
			rc.KubernetesVersions = append(rc.KubernetesVersions, k.Version)
		}
		if rc.NodeImageVersions == nil {
			rc.NodeImageVersions = []string{}
		}
		c.Regions[name] = rc
	}
	return c
}

// minor is a Kubernetes minor version.
type minor struct{ major, minor int }

func minorOf(v kversion.Version) minor { return minor{v.Major, v.Minor} }

func (m minor) String() string { return fmt.Sprintf("%d.%d", m.major, m.minor) }

func (m minor) compare(n minor) int {
	if m.major != n.major {
		return m.major - n.major
	}
	return m.minor - n.minor
}

// behind is how many minors m trails n (negative when ahead); a different
// major counts as far behind.
func (m minor) behind(n minor) int {
	if m.major != n.major {
		if m.major < n.major {
			return 1 << 20
		}
		return -(1 << 20)
	}
	return n.minor - m.minor
}

// releases is Releases checked and indexed.
type releases struct {
	ga       map[string][]kversion.Version // region → GA versions
	lts      map[minor]bool                // minors flagged LTS in any region
	images   nodeimage.Catalog
	catalog  fleetupdate.Catalog
	regionOK map[string]bool
}

func compileReleases(r Releases) (*releases, error) {
	c := &releases{ga: map[string][]kversion.Version{}, lts: map[minor]bool{}, regionOK: map[string]bool{}}
	var errs []error
	imgs := map[string][]string{}
	names := make([]string, 0, len(r.Regions))
	for name := range r.Regions {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		reg := r.Regions[name]
		if name == "" {
			errs = append(errs, fmt.Errorf("%w: regions: empty region name", ErrInvalidReleases))
			continue
		}
		c.regionOK[name] = true
		seen := map[string]bool{}
		for i, k := range reg.KubernetesVersions {
			v, err := kversion.Parse(k.Version)
			if err != nil || !v.HasPatch || !isDigit(k.Version[0]) {
				errs = append(errs, fmt.Errorf("%w: regions[%q].kubernetesVersions[%d].version %q: want major.minor.patch", ErrInvalidReleases, name, i, k.Version))
				continue
			}
			if seen[v.String()] {
				errs = append(errs, fmt.Errorf("%w: regions[%q].kubernetesVersions[%d].version %q: listed twice", ErrInvalidReleases, name, i, k.Version))
				continue
			}
			seen[v.String()] = true
			if k.LongTermSupport {
				c.lts[minorOf(v)] = true
			}
			if !k.IsPreview {
				c.ga[name] = append(c.ga[name], v)
			}
		}
		imgs[name] = reg.NodeImageVersions
	}
	cat, err := nodeimage.NewCatalog(imgs)
	if err != nil {
		errs = append(errs, fmt.Errorf("%w: %v", ErrInvalidReleases, err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	c.images = cat
	c.catalog = r.Catalog()
	return c, nil
}

// gaIn reports whether region offers v as a GA version.
func (c *releases) gaIn(region string, v kversion.Version) bool {
	return slices.ContainsFunc(c.ga[region], func(w kversion.Version) bool { return w.Compare(v) == 0 })
}

// fleetView is what AKS offers as GA in every region of a fleet: a version
// counts only once every region the profile's members are in offers it, so
// the fleet moves as one, as Consistent node images do.
type fleetView struct {
	*releases
	regions []string // sorted; each is in the releases
	newest  minor    // N: the newest minor GA in every region
	hasGA   bool
}

// view returns the releases as seen from the given regions (all of them when
// there are none).
func (c *releases) view(regions []string) fleetView {
	if len(regions) == 0 {
		for r := range c.regionOK {
			regions = append(regions, r)
		}
		slices.Sort(regions)
	}
	f := fleetView{releases: c, regions: regions}
	if len(regions) == 0 {
		return f
	}
	for _, v := range c.ga[regions[0]] {
		if m := minorOf(v); (!f.hasGA || m.compare(f.newest) > 0) && f.everywhere(func(w kversion.Version) bool { return minorOf(w) == m }) {
			f.newest, f.hasGA = m, true
		}
	}
	return f
}

// everywhere reports whether every region of the view offers a GA version matching ok.
func (f fleetView) everywhere(ok func(kversion.Version) bool) bool {
	for _, r := range f.regions {
		if !slices.ContainsFunc(f.ga[r], ok) {
			return false
		}
	}
	return true
}

// newestGA returns the newest patch of minor m GA in every region.
func (f fleetView) newestGA(m minor) (kversion.Version, bool) {
	var best kversion.Version
	found := false
	if len(f.regions) == 0 {
		return best, false
	}
	for _, v := range f.ga[f.regions[0]] {
		if minorOf(v) == m && (!found || v.Compare(best) > 0) && f.everywhere(func(w kversion.Version) bool { return w.Compare(v) == 0 }) {
			best, found = v, true
		}
	}
	return best, found
}

// window describes AKS's support window: the three newest GA minors.
func (f fleetView) window() string {
	lo := minor{f.newest.major, f.newest.minor - 2}
	return fmt.Sprintf("%s to %s", lo, f.newest)
}

// inWindow reports whether a cluster on minor m is in AKS's support window:
// one of the three newest GA minors N, N-1, N-2 (or newer), or an LTS minor
// when the cluster is on the LTS support plan (AKS supported-kubernetes-versions.md).
func (f fleetView) inWindow(m minor, lts bool) bool {
	if d := m.behind(f.newest); d <= 2 {
		return true
	}
	return lts && f.lts[m]
}

// resolveKubernetes resolves a Kubernetes channel to its target version; a
// false ok comes with why nothing can be targeted.
func (f fleetView) resolveKubernetes(p Profile) (target kversion.Version, ok bool, why string) {
	var m minor
	switch p.Channel {
	case Stable:
		// Fleet concepts doc, "Stable channel": the latest patch of minor N-1.
		m = minor{f.newest.major, f.newest.minor - 1}
	case Rapid:
		// Fleet concepts doc, "Rapid channel": the latest patch of the latest minor N.
		m = f.newest
	case TargetKubernetesVersion:
		// Fleet concepts doc, "TargetKubernetesVersion channel": the latest patch of the named minor.
		v, _ := kversion.Parse(p.TargetKubernetesVersion)
		m = minorOf(v)
		if m.compare(f.newest) > 0 {
			return kversion.Version{}, false, fmt.Sprintf("Kubernetes %s is not GA in every region of the fleet yet (the newest minor that is: %s)", m, f.newest)
		}
		// update-automation.md: with longTermSupport, runs are generated "for patches of
		// minor versions earlier than N-2 … if those minor versions support LTS".
		if m.behind(f.newest) > 2 {
			if !p.LongTermSupport {
				return kversion.Version{}, false, fmt.Sprintf("Kubernetes %s is outside AKS's support window (%s); set longTermSupport to follow it as an LTS version", m, f.window())
			}
			if !f.lts[m] {
				return kversion.Version{}, false, fmt.Sprintf("Kubernetes %s is outside AKS's support window (%s) and is not an LTS version", m, f.window())
			}
		}
	}
	v, found := f.newestGA(m)
	if !found {
		return kversion.Version{}, false, fmt.Sprintf("no GA patch of Kubernetes %s is offered in every region of the fleet", m)
	}
	return v, true, ""
}

// isWindows reports whether a node image family is a Windows one; the
// SecurityPatch channel is "Linux only; Windows nodes skipped" (Fleet
// autoupgradeprofile.tsp, UpgradeChannel).
func isWindows(family string) bool { return strings.HasPrefix(family, "AKSWindows") }
