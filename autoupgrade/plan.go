package autoupgrade

import (
	"fmt"
	"slices"
	"strings"

	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/internal/kversion"
	"github.com/fleetkit/fleetkit/nodeimage"
)

// Member is a fleet member as Plan sees it: the member's data, and whether
// its cluster is on AKS's long-term support plan.
type Member struct {
	fleetupdate.Member
	// LongTermSupport is true for a cluster on AKS's LTS support plan
	// (Premium tier): it stays in AKS's support window on an LTS minor
	// older than N-2.
	LongTermSupport bool `json:"longTermSupport,omitempty"`
}

// Members wraps fleet members that are not on the LTS support plan.
func Members(ms []fleetupdate.Member) []Member {
	out := make([]Member, len(ms))
	for i, m := range ms {
		out[i] = Member{Member: m}
	}
	return out
}

// Reason says why a member is left out of the runs Plan generates.
type Reason string

// Why members are left out. InRun passes by itself (the member is included
// at a later evaluation); the others need a person.
const (
	InvalidMember         Reason = "InvalidMember"         // fleetupdate refuses the member's data
	UnknownRegion         Reason = "UnknownRegion"         // the releases list no region of its name
	NotInStrategy         Reason = "NotInStrategy"         // no stage of the profile's strategy holds it
	OutsideSupportWindow  Reason = "OutsideSupportWindow"  // its Kubernetes minor is out of AKS's support window
	MinorVersionSkip      Reason = "MinorVersionSkip"      // more than one minor behind the target
	NodePoolSkew          Reason = "NodePoolSkew"          // a ControlPlaneOnly upgrade would leave a node pool too far behind
	NoConsistentNodeImage Reason = "NoConsistentNodeImage" // no common node image for one of its pools
	InRun                 Reason = "InRun"                 // an unfinished run still holds it
)

// LeftOut is a member that needs an upgrade Plan does not generate, and why.
type LeftOut struct {
	Member  string `json:"member"`
	Reason  Reason `json:"reason"`
	Message string `json:"message"` // what is wrong and what to do about it
}

// Target is what the profile's channel resolves to now.
type Target struct {
	KubernetesVersion string   `json:"kubernetesVersion,omitempty"` // Stable, Rapid, TargetKubernetesVersion
	NodeImages        []string `json:"nodeImages,omitempty"`        // NodeImage, SecurityPatch: one per family, sorted
}

// GeneratedRun is an update run to create and start now.
type GeneratedRun struct {
	// Name is deterministic: Azure's rule, the name follows from the
	// profile's upgrade specification, plus a count for catch-up runs of
	// the same specification. It is never the name of a run in the history.
	Name    string               `json:"name"`
	Profile string               `json:"profile"`
	Spec    fleetupdate.Spec     `json:"spec"`
	Members []fleetupdate.Member `json:"members"` // the members it targets, sorted by name
	// After names the ControlPlaneOnly run this chained NodeImageOnly run follows.
	After string `json:"after,omitempty"`
	// Why says, for people, what the run is for.
	Why string `json:"why"`
}

// New creates the run with fleetupdate.New.
func (g GeneratedRun) New(catalog fleetupdate.Catalog) (fleetupdate.Run, error) {
	return fleetupdate.New(g.Name, g.Spec, g.Members, catalog)
}

// StaleMember is a member an unfinished run waits for in vain: AKS no
// longer offers the run's Kubernetes version in the member's region (a
// withdrawn patch), and the member has not started. Plan no longer counts
// the run as holding it; the host skips it there (fleetupdate.Skip,
// TargetMember), so that the run can finish.
type StaleMember struct {
	Run     string `json:"run"`
	Member  string `json:"member"`
	Message string `json:"message"`
}

// Evaluation is what one evaluation of a profile decided.
type Evaluation struct {
	Target  Target         `json:"target"`
	Runs    []GeneratedRun `json:"runs"`
	LeftOut []LeftOut      `json:"leftOut"`         // sorted by member
	Stale   []StaleMember  `json:"stale,omitempty"` // in history order
	// Message says why the channel targets nothing now (a disabled profile,
	// a target minor with no GA release), as Azure's lastTriggerMessage does.
	Message string `json:"message,omitempty"`
}

// Plan evaluates a profile: which update runs to create and start now so
// that the profile's members reach its channel's target. It reconciles
// rather than reacting to a release: every member behind the target is
// included, whatever happened to it in earlier runs, unless a reason in
// LeftOut holds it back. Plan is pure and deterministic: the same inputs
// give the same runs with the same names, whatever the order of members.
//
// Errors wrap ErrInvalidProfile, ErrInvalidMembers, ErrInvalidReleases or
// ErrInvalidHistory and name the field. A member whose data fleetupdate
// refuses is no error: it is left out (InvalidMember).
func Plan(p Profile, members []Member, rel Releases, hist History) (Evaluation, error) {
	if err := p.validate(false); err != nil {
		return Evaluation{}, err
	}
	c, err := compileReleases(rel)
	if err != nil {
		return Evaluation{}, err
	}
	if err := hist.validate(); err != nil {
		return Evaluation{}, err
	}
	sorted := slices.Clone(members)
	slices.SortFunc(sorted, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(sorted); i++ {
		if sorted[i].Name == sorted[i-1].Name {
			return Evaluation{}, fmt.Errorf("%w: %q is listed twice", ErrInvalidMembers, sorted[i].Name)
		}
	}
	if p.Disabled {
		// Fleet concepts doc: disabled stops new runs; in-progress runs are unaffected.
		return Evaluation{Message: "the profile is disabled: it generates no runs, and runs already generated go on"}, nil
	}
	e := &evaluator{p: p, c: c, hist: hist, held: map[string]string{}, taken: map[string]bool{}}
	region := map[string]string{}
	for _, m := range sorted {
		region[m.Name] = m.Region
	}
	for _, r := range hist {
		e.taken[r.Name] = true
		target, _ := kversion.Parse(r.KubernetesVersion)
		for _, m := range r.Members {
			if !holds(r.State, m.State) {
				continue
			}
			// A run waits in vain for a member not yet started whose region no longer
			// offers its target (AKS withdrew the patch): it holds the member no more.
			if r.KubernetesVersion != "" && (m.State == fleetupdate.NotStarted || m.State == fleetupdate.Pending) && c.regionOK[region[m.Name]] && !c.gaIn(region[m.Name], target) {
				e.out.Stale = append(e.out.Stale, StaleMember{Run: r.Name, Member: m.Name,
					Message: fmt.Sprintf("AKS no longer offers Kubernetes %s in region %q; skip the member in the run", r.KubernetesVersion, region[m.Name])})
				continue
			}
			e.held[m.Name] = r.Name
		}
	}
	if err := e.scope(sorted); err != nil {
		return Evaluation{}, err
	}
	var included []Member
	if p.Channel.kubernetes() {
		included = e.kubernetes()
	} else {
		included = e.nodeImages()
	}
	e.mainRuns(included)
	e.followUps(included)
	slices.SortStableFunc(e.out.LeftOut, func(a, b LeftOut) int { return strings.Compare(a.Member, b.Member) })
	for _, g := range e.out.Runs {
		if _, err := g.New(fleetupdate.Catalog{}); err != nil {
			return Evaluation{}, fmt.Errorf("autoupgrade: generated run %s is not valid (a fleetkit bug): %w", g.Name, err)
		}
	}
	return e.out, nil
}

// evaluator holds one evaluation's working state.
type evaluator struct {
	p     Profile
	c     *releases
	hist  History
	held  map[string]string // member → the unfinished run holding it
	taken map[string]bool   // run names in use
	// valid members the profile's strategy reaches, and those it does not, by name
	inScope, notInStrategy []Member
	out                    Evaluation

	f         fleetView           // the releases, as GA in every region of the members in scope
	target    kversion.Version    // Kubernetes channels
	selection nodeimage.Selection // node image channels
}

func (e *evaluator) leave(m, format string, r Reason, a ...any) {
	e.out.LeftOut = append(e.out.LeftOut, LeftOut{Member: m, Reason: r, Message: fmt.Sprintf(format, a...)})
}

// scope keeps the members whose data fleetupdate accepts and whose group the
// profile's strategy reaches.
func (e *evaluator) scope(sorted []Member) error {
	spec := fleetupdate.Spec{Strategy: e.p.Strategy, ManagedClusterUpdate: fleetupdate.ManagedClusterUpdate{Upgrade: fleetupdate.UpgradeSpec{Type: fleetupdate.Full, KubernetesVersion: "1.0"}}}
	valid := sorted
	probe, err := fleetupdate.New("scope-check", spec, fleetMembers(valid), fleetupdate.Catalog{})
	if err != nil {
		if e.p.Strategy != nil {
			if err := checkStrategy(*e.p.Strategy); err != nil {
				return fmt.Errorf("%w: properties.strategy: %v", ErrInvalidProfile, err)
			}
		}
		valid = e.valid(sorted) // find the culprits one by one
		if probe, err = fleetupdate.New("scope-check", spec, fleetMembers(valid), fleetupdate.Catalog{}); err != nil {
			return fmt.Errorf("%w: properties.strategy over the members: %v", ErrInvalidProfile, err)
		}
	}
	var regions []string
	for _, m := range valid {
		switch _, ok := probe.Member(m.Name); {
		case !ok:
			e.notInStrategy = append(e.notInStrategy, m)
		case !e.c.regionOK[m.Region]:
			e.leave(m.Name, "AKS's releases list no region %q; check the member's region", UnknownRegion, m.Region)
		default:
			e.inScope = append(e.inScope, m)
			if !slices.Contains(regions, m.Region) {
				regions = append(regions, m.Region)
			}
		}
	}
	slices.Sort(regions)
	e.f = e.c.view(regions)
	return nil
}

// valid returns the members fleetupdate.New accepts, leaving the others out.
func (e *evaluator) valid(sorted []Member) []Member {
	spec := fleetupdate.Spec{ManagedClusterUpdate: fleetupdate.ManagedClusterUpdate{Upgrade: fleetupdate.UpgradeSpec{Type: fleetupdate.Full, KubernetesVersion: "1.0"}}}
	var valid []Member
	for _, m := range sorted {
		if _, err := fleetupdate.New("member-check", spec, []fleetupdate.Member{m.Member}, fleetupdate.Catalog{}); err != nil {
			e.leave(m.Name, "%s; fix the member's data", InvalidMember, strings.ReplaceAll(strings.ReplaceAll(err.Error(), fleetupdate.ErrInvalidSpec.Error()+": ", ""), "\n", "; "))
			continue
		}
		valid = append(valid, m)
	}
	return valid
}

func fleetMembers(ms []Member) []fleetupdate.Member {
	out := make([]fleetupdate.Member, len(ms))
	for i, m := range ms {
		out[i] = m.Member
	}
	return out
}
