// Package fake is a deterministic simulated fleet and host for fleetupdate:
// members with regions, versions, node pools and maintenance windows; a
// catalog that changes over time the way AKS rolls releases out; a host
// that performs upgrades with scripted or seeded durations and outcomes and
// approves gates by a policy (Approvals); and a driver that runs an update
// run to its end on virtual time and returns a trace. The driver can crash and restart its host (Options.RestartAfter,
// RestartEvery), rebuilding the run from a snapshot or a journal, to check
// the host contract's restart rule. Exported rapid generators (Scenarios,
// Simulations) let users property-test their own strategies.
//
// Nothing here reads the wall clock: every time comes from the inputs, and
// every random choice from a seed, so a simulation is reproducible.
package fake

import (
	"fmt"
	"slices"
	"time"

	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/nodeimage"
)

// AKS rollout facts (node-images.md, Fleet includes/node-image-versions.md).
const (
	// DefaultRollout is how long a new node image takes to reach every region:
	// "it can take up to two weeks for the updates to be rolled out across all regions".
	DefaultRollout = 14 * 24 * time.Hour
	// ImageLifetime is how long a node image stays available: "Node image
	// versions are only valid for 90 days from their original publish date".
	ImageLifetime = 90 * 24 * time.Hour
)

// Fleet is a simulated fleet: its members and what AKS offers over time.
// Its JSON is what examples/simulate reads.
type Fleet struct {
	Members []fleetupdate.Member `json:"members"`
	// Regions in rollout order: a release reaches the first region when it is
	// published and the last one Rollout later, the others evenly between.
	Regions []string `json:"regions"`
	// KubernetesVersions offered in every region.
	KubernetesVersions []string `json:"kubernetesVersions"`
	// NodeImages are the node image releases.
	NodeImages []Release `json:"nodeImages"`
	// Rollout is how long a release takes to reach the last region; zero
	// means DefaultRollout.
	Rollout Duration `json:"rollout,omitzero"`
}

// Release is one node image version and when it was published.
type Release struct {
	Image     string    `json:"image"` // e.g. AKSUbuntu-2204gen2containerd-202405.27.0
	Published time.Time `json:"published"`
}

// Duration is a time.Duration that reads and writes JSON as "336h0m0s".
type Duration time.Duration

// MarshalText writes the duration as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads a duration such as "336h" or "90m".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("fake: duration %q: %w", b, err)
	}
	*d = Duration(v)
	return nil
}

func (f *Fleet) rollout() time.Duration {
	if f.Rollout == 0 {
		return DefaultRollout
	}
	return time.Duration(f.Rollout)
}

// arrival is when release r reaches region i of n.
func (f *Fleet) arrival(r Release, i, n int) time.Time {
	if n <= 1 {
		return r.Published
	}
	return r.Published.Add(f.rollout() * time.Duration(i) / time.Duration(n-1))
}

// Validate checks that every release parses and every region is named once.
func (f *Fleet) Validate() error {
	seen := map[string]bool{}
	for _, r := range f.Regions {
		if r == "" || seen[r] {
			return fmt.Errorf("fake: region %q is empty or listed twice", r)
		}
		seen[r] = true
	}
	for _, r := range f.NodeImages {
		if _, err := nodeimage.Parse(r.Image); err != nil {
			return fmt.Errorf("fake: release: %w", err)
		}
	}
	for _, m := range f.Members {
		if !seen[m.Region] {
			return fmt.Errorf("fake: member %q is in region %q, which is not in regions", m.Name, m.Region)
		}
	}
	return nil
}

// available reports whether release r is offered in region i at t: it has
// reached the region and not yet expired.
func (f *Fleet) available(r Release, i int, t time.Time) bool {
	return !t.Before(f.arrival(r, i, len(f.Regions))) && t.Before(r.Published.Add(ImageLifetime))
}

// offers reports whether region offers image at t.
func (f *Fleet) offers(region, image string, t time.Time) bool {
	i := slices.Index(f.Regions, region)
	for _, r := range f.NodeImages {
		if r.Image == image && i >= 0 && f.available(r, i, t) {
			return true
		}
	}
	return false
}

// CatalogAt returns what each region offers at t: every Kubernetes version,
// and every node image that has reached the region and not yet expired.
func (f *Fleet) CatalogAt(t time.Time) fleetupdate.Catalog {
	c := fleetupdate.Catalog{Regions: map[string]fleetupdate.RegionCatalog{}}
	for i, region := range f.Regions {
		rc := fleetupdate.RegionCatalog{KubernetesVersions: slices.Clone(f.KubernetesVersions), NodeImageVersions: []string{}}
		if rc.KubernetesVersions == nil {
			rc.KubernetesVersions = []string{}
		}
		for _, r := range f.NodeImages {
			if f.available(r, i, t) {
				rc.NodeImageVersions = append(rc.NodeImageVersions, r.Image)
			}
		}
		c.Regions[region] = rc
	}
	return c
}

// CatalogChanges returns the times in (from, to] at which CatalogAt changes,
// sorted and without duplicates.
func (f *Fleet) CatalogChanges(from, to time.Time) []time.Time {
	var out []time.Time
	add := func(t time.Time) {
		if t.After(from) && !t.After(to) {
			out = append(out, t)
		}
	}
	for _, r := range f.NodeImages {
		for i := range f.Regions {
			add(f.arrival(r, i, len(f.Regions)))
		}
		add(r.Published.Add(ImageLifetime))
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(out, func(a, b time.Time) bool { return a.Equal(b) })
}

// member returns a pointer to the named member, or nil.
func (f *Fleet) member(name string) *fleetupdate.Member {
	for i := range f.Members {
		if f.Members[i].Name == name {
			return &f.Members[i]
		}
	}
	return nil
}

// Clone returns a deep copy, so a simulation can change members freely.
func (f *Fleet) Clone() *Fleet {
	c := *f
	c.Members = make([]fleetupdate.Member, len(f.Members))
	for i, m := range f.Members {
		m.NodePools = slices.Clone(m.NodePools)
		c.Members[i] = m
	}
	c.Regions = slices.Clone(f.Regions)
	c.KubernetesVersions = slices.Clone(f.KubernetesVersions)
	c.NodeImages = slices.Clone(f.NodeImages)
	return &c
}
