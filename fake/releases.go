package fake

import (
	"fmt"
	"slices"
	"time"

	"github.com/fleetkit/fleetkit/autoupgrade"
	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/internal/kversion"
)

// ReleaseTrain is what AKS releases over time, as data: Kubernetes versions
// (preview, then GA, then retired) and node images, each reaching the
// regions one after another. At gives what AKS offers at any moment.
type ReleaseTrain struct {
	// Regions in rollout order: a release reaches the first region when it
	// is published and the last one Rollout later, the others evenly between.
	Regions []string `json:"regions"`
	// Rollout is how long a release takes to reach the last region; zero
	// means DefaultRollout ("up to two weeks", node-images.md).
	Rollout    Duration            `json:"rollout,omitzero"`
	Kubernetes []KubernetesRelease `json:"kubernetes"`
	// NodeImages are published weekly (Linux) or monthly (Windows) and
	// expire ImageLifetime after publication.
	NodeImages []Release `json:"nodeImages"`
}

// KubernetesRelease is one Kubernetes patch version over its life.
type KubernetesRelease struct {
	Version string    `json:"version"`          // major.minor.patch
	Preview time.Time `json:"preview,omitzero"` // published as preview; zero: never a preview
	GA      time.Time `json:"ga,omitzero"`      // published as GA; zero: never GA
	Retired time.Time `json:"retired,omitzero"` // gone from every region; zero: never
	LTS     bool      `json:"longTermSupport,omitempty"`
}

func (t *ReleaseTrain) fleet() *Fleet {
	return &Fleet{Regions: t.Regions, NodeImages: t.NodeImages, Rollout: t.Rollout}
}

// Fleet returns a fleet of members over the train's regions, node images
// and rollout, for fake.Host and fake.Simulate.
func (t *ReleaseTrain) Fleet(members []fleetupdate.Member) *Fleet {
	f := t.fleet()
	f.Regions, f.NodeImages = slices.Clone(t.Regions), slices.Clone(t.NodeImages)
	f.Members = slices.Clone(members)
	return f.Clone()
}

// offered says whether release r is offered in region i at at, and as a preview.
func (t *ReleaseTrain) offered(r KubernetesRelease, i int, at time.Time) (ok, preview bool) {
	f := t.fleet()
	if !r.Retired.IsZero() && !at.Before(r.Retired) {
		return false, false
	}
	n := len(t.Regions)
	if !r.GA.IsZero() && !at.Before(f.arrival(Release{Published: r.GA}, i, n)) {
		return true, false
	}
	if !r.Preview.IsZero() && !at.Before(f.arrival(Release{Published: r.Preview}, i, n)) {
		return true, true
	}
	return false, false
}

// At returns what AKS offers at at, region by region: the Kubernetes
// versions that have reached the region (as preview until their GA has) and
// are not retired, and the node images that have reached it and not expired.
func (t *ReleaseTrain) At(at time.Time) autoupgrade.Releases {
	cat := t.fleet().CatalogAt(at)
	out := autoupgrade.Releases{Regions: map[string]autoupgrade.RegionReleases{}}
	for i, region := range t.Regions {
		rr := autoupgrade.RegionReleases{KubernetesVersions: []autoupgrade.KubernetesVersion{}, NodeImageVersions: cat.Regions[region].NodeImageVersions}
		for _, r := range t.Kubernetes {
			if ok, preview := t.offered(r, i, at); ok {
				rr.KubernetesVersions = append(rr.KubernetesVersions, autoupgrade.KubernetesVersion{Version: r.Version, IsPreview: preview, LongTermSupport: r.LTS})
			}
		}
		out.Regions[region] = rr
	}
	return out
}

// KubernetesVersionsAt returns every Kubernetes version offered in some
// region at at, GA or preview, sorted.
func (t *ReleaseTrain) KubernetesVersionsAt(at time.Time) []string {
	var out []string
	for _, r := range t.Kubernetes {
		for i := range t.Regions {
			if ok, _ := t.offered(r, i, at); ok {
				out = append(out, r.Version)
				break
			}
		}
	}
	slices.SortFunc(out, compareVersions)
	return out
}

func compareVersions(a, b string) int {
	va, _ := kversion.Parse(a)
	vb, _ := kversion.Parse(b)
	return va.Compare(vb)
}

// Changes returns the times in (from, to] at which At changes, sorted and
// without duplicates.
func (t *ReleaseTrain) Changes(from, to time.Time) []time.Time {
	f := t.fleet()
	out := f.CatalogChanges(from, to)
	add := func(at time.Time) {
		if at.After(from) && !at.After(to) {
			out = append(out, at)
		}
	}
	for _, r := range t.Kubernetes {
		for i := range t.Regions {
			for _, p := range []time.Time{r.Preview, r.GA} {
				if !p.IsZero() {
					add(f.arrival(Release{Published: p}, i, len(t.Regions)))
				}
			}
		}
		if !r.Retired.IsZero() {
			add(r.Retired)
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(out, func(a, b time.Time) bool { return a.Equal(b) })
}

// Validate checks that every version parses and every region is named once.
func (t *ReleaseTrain) Validate() error {
	if err := t.fleet().Validate(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, r := range t.Kubernetes {
		v, err := kversion.Parse(r.Version)
		if err != nil || !v.HasPatch {
			return fmt.Errorf("fake: kubernetes release %q: want major.minor.patch", r.Version)
		}
		if seen[r.Version] {
			return fmt.Errorf("fake: kubernetes release %q is listed twice", r.Version)
		}
		seen[r.Version] = true
	}
	return nil
}

// TrainOptions shape a generated release train. Zero fields take the
// defaults given beside them.
type TrainOptions struct {
	// Start is the train's "now": the newest minor went GA shortly before it.
	Start time.Time
	// Stop ends the train: nothing is published or retired after it (its
	// last releases still roll out). Zero: Start plus a year.
	Stop time.Time
	// Regions in rollout order; nil: six regions.
	Regions []string
	// Rollout: DefaultRollout.
	Rollout time.Duration
	// Newest is the newest GA Kubernetes minor at Start; zero: 31 (1.31).
	Newest int
	// MinorEvery is the time between two minors' GA; zero: 13 weeks.
	MinorEvery time.Duration
	// PreviewFor is how long a minor stays in preview before GA; zero: 5 weeks.
	PreviewFor time.Duration
	// PatchEvery is the time between two patches of a minor; zero: 4 weeks.
	PatchEvery time.Duration
	// LTS lists the minors with long-term support (kept after they leave
	// the support window); nil: Newest-4.
	LTS []int
}

var trainRegions = []string{"eastus", "westus2", "westeurope", "northeurope", "japaneast", "australiaeast"}

// Node image families of generated trains: two Linux families released
// weekly, one Windows family released monthly ("Linux node images are
// released weekly, and Windows node images are released monthly", node-images.md).
var (
	trainLinux   = []string{"AKSUbuntu-2204gen2containerd", "AKSAzureLinux-V2gen2"}
	trainWindows = "AKSWindows-2022-containerd"
)

// NewReleaseTrain generates AKS's release train around opt.Start: minors GA
// every MinorEvery after PreviewFor in preview (their .0 is the preview; .1
// goes GA), a patch of every minor every PatchEvery (staggered by minor),
// each patch retired when the second one after it goes GA, a minor retired
// when the fourth minor after it goes GA unless it has LTS, weekly Linux and
// monthly Windows node images from 16 weeks before Start. Everything rolls
// out region by region. It is deterministic.
func NewReleaseTrain(opt TrainOptions) *ReleaseTrain {
	const week = 7 * 24 * time.Hour
	start := opt.Start
	stop := opt.Stop
	if stop.IsZero() {
		stop = start.AddDate(1, 0, 0)
	}
	newest := cmpOr(opt.Newest, 31)
	minorEvery := cmpOr(opt.MinorEvery, 13*week)
	previewFor := cmpOr(opt.PreviewFor, 5*week)
	patchEvery := cmpOr(opt.PatchEvery, 4*week)
	lts := opt.LTS
	if lts == nil {
		lts = []int{newest - 4}
	}
	t := &ReleaseTrain{Regions: slices.Clone(opt.Regions), Rollout: Duration(opt.Rollout)}
	if t.Regions == nil {
		t.Regions = slices.Clone(trainRegions)
	}
	within := func(at time.Time) time.Time { // zero if after stop
		if at.After(stop) {
			return time.Time{}
		}
		return at
	}
	ga := func(m int) time.Time { return start.Add(-3*week + time.Duration(m-newest)*minorEvery) }
	for m := newest - 4; ; m++ {
		g := ga(m)
		if g.Add(-previewFor).After(stop) {
			break
		}
		isLTS := slices.Contains(lts, m)
		retired := within(ga(m + 4))
		if isLTS {
			retired = time.Time{}
		}
		t.Kubernetes = append(t.Kubernetes, KubernetesRelease{Version: fmt.Sprintf("1.%d.0", m), Preview: g.Add(-previewFor), Retired: within(g), LTS: isLTS})
		// A patch is retired when the second patch after it goes GA, so a
		// region offers two or three patches of a minor, as AKS does.
		stagger := time.Duration(m%4) * week
		var patches []KubernetesRelease
		for p := 1; ; p++ {
			at := g
			if p > 1 {
				at = g.Add(stagger + time.Duration(p-1)*patchEvery)
			}
			if at.After(stop) || (!retired.IsZero() && !at.Before(retired)) || (isLTS && at.After(ga(m+8))) {
				break
			}
			patches = append(patches, KubernetesRelease{Version: fmt.Sprintf("1.%d.%d", m, p), GA: at, Retired: retired, LTS: isLTS})
			if n := len(patches); n >= 3 {
				patches[n-3].Retired = at
			}
		}
		t.Kubernetes = append(t.Kubernetes, patches...)
	}
	for at := start.Add(-16 * week); !at.After(stop); at = at.Add(week) {
		for i, fam := range trainLinux {
			p := at.Add(time.Duration(i) * 24 * time.Hour)
			if !p.After(stop) {
				t.NodeImages = append(t.NodeImages, Release{Image: fam + "-" + p.Format("200601.02") + ".0", Published: p})
			}
		}
	}
	for at, n := start.AddDate(0, -4, 0), 0; !at.After(stop); at, n = at.AddDate(0, 1, 0), n+1 {
		t.NodeImages = append(t.NodeImages, Release{Image: fmt.Sprintf("%s-20348.%d.%s", trainWindows, 3100+10*n, at.Format("060102")), Published: at})
	}
	slices.SortStableFunc(t.NodeImages, func(a, b Release) int { return a.Published.Compare(b.Published) })
	return t
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
