package fake

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/fleetkit/fleetkit/autoupgrade"
	"github.com/fleetkit/fleetkit/fleetupdate"
)

// AutoUpgradeOptions shape an auto-upgrade simulation.
type AutoUpgradeOptions struct {
	// Start is the first evaluation; Horizon how long the simulation lasts
	// (zero: 180 days).
	Start   time.Time
	Horizon time.Duration
	// Every is the evaluation cadence; zero: daily.
	Every time.Duration
	// LTS names the members whose clusters are on AKS's LTS support plan.
	LTS []string
	// NoCatchUp evaluates the way Azure's event-driven auto-upgrade behaves
	// (Azure/AKS#5741): a profile creates runs only when its channel's target
	// changes after it was created; members a run misses (a failure that
	// stops the run, a skip) wait for the next release.
	NoCatchUp bool
}

// AutoUpgradeTrace is the record of an auto-upgrade simulation.
type AutoUpgradeTrace struct {
	Start, End  time.Time
	Evaluations []ProfileEvaluation
	Runs        []SimulatedRun
	History     autoupgrade.History // as Plan saw it at the end
	Members     []MemberTimeline    // sorted by name
}

// ProfileEvaluation is one evaluation of one profile.
type ProfileEvaluation struct {
	At         time.Time
	Profile    string
	Evaluation autoupgrade.Evaluation
	// Created lists the runs created, which without catch-up can be fewer
	// than the evaluation's.
	Created []string
}

// SimulatedRun is a generated run and how it went.
type SimulatedRun struct {
	Run     autoupgrade.GeneratedRun
	Created time.Time
	Ended   time.Time // zero while it has not finished
	State   fleetupdate.State
	Record  autoupgrade.RunRecord // its members' final states
}

// MemberTimeline is a member's versions over time.
type MemberTimeline struct {
	Name, Group, Region string
	Samples             []VersionSample // the first at Start, then one per upgrade
}

// VersionSample is a member's versions from At on.
type VersionSample struct {
	At                time.Time
	KubernetesVersion string
	NodeImages        []string // one per node pool, in pool order
}

// SimulateAutoUpgrade evaluates profiles over h's fleet on a cadence for
// opt.Horizon, against what train offers at each moment: every evaluation
// calls autoupgrade.Plan for each profile in order, skips the stale members
// it reports in their runs, creates and starts the runs it generates, and
// every run goes on (fake.Simulate, with h) between evaluations. h.Fleet takes the train's regions, rollout and node images,
// and before each interval the Kubernetes versions offered in any region
// (Plan only targets versions every region of the fleet offers).
//
// The error is Plan's (an invalid profile) or a generated run fleetupdate.New
// refuses (a fleetkit bug).
func SimulateAutoUpgrade(h *Host, train *ReleaseTrain, profiles []autoupgrade.Profile, opt AutoUpgradeOptions) (AutoUpgradeTrace, error) {
	horizon := cmpOr(opt.Horizon, 180*24*time.Hour)
	every := cmpOr(opt.Every, 24*time.Hour)
	end := opt.Start.Add(horizon)
	f := h.Fleet
	f.Regions, f.Rollout, f.NodeImages = slices.Clone(train.Regions), train.Rollout, slices.Clone(train.NodeImages)
	lts := map[string]bool{}
	for _, n := range opt.LTS {
		lts[n] = true
	}
	tr := AutoUpgradeTrace{Start: opt.Start, End: end}
	timeline := map[string]*MemberTimeline{}
	for _, m := range f.Members {
		timeline[m.Name] = &MemberTimeline{Name: m.Name, Group: m.Group, Region: m.Region, Samples: []VersionSample{sample(opt.Start, m)}}
	}

	type active struct {
		idx     int // in tr.Runs and tr.History
		run     fleetupdate.Run
		started bool
	}
	var running []*active
	lastTarget := map[string]string{} // profile → target at its previous evaluation (NoCatchUp)

	// Plan is pure: while its inputs stay the same, so does its answer, and an
	// evaluation that created nothing need not be repeated. version counts
	// changes of the inputs (releases, members, history).
	version := 0
	seen := map[string]int{} // profile → the version its last evaluation saw, if it created nothing
	last := map[string]autoupgrade.Evaluation{}
	prev := opt.Start.Add(-every)
	for t := opt.Start; t.Before(end); t = t.Add(every) {
		rel := train.At(t)
		if t.Equal(opt.Start) || len(train.Changes(prev, t)) > 0 {
			version++
		}
		prev = t
		for _, p := range profiles {
			if v, ok := seen[p.Name]; ok && v == version {
				tr.Evaluations = append(tr.Evaluations, ProfileEvaluation{At: t, Profile: p.Name, Evaluation: last[p.Name]})
				continue
			}
			members := autoupgrade.Members(f.Members)
			for i := range members {
				members[i].LongTermSupport = lts[members[i].Name]
			}
			ev, err := autoupgrade.Plan(p, members, rel, tr.History)
			if err != nil {
				return tr, fmt.Errorf("fake: evaluating profile %s at %s: %w", p.Name, t.Format(time.RFC3339), err)
			}
			// Members a run waits for in vain are skipped there, as a host would.
			for _, st := range ev.Stale {
				for _, a := range running {
					if a.run.Name() != st.Run {
						continue
					}
					skip := fleetupdate.Skip{At: t, Targets: []fleetupdate.SkipTarget{{Type: fleetupdate.TargetMember, Name: st.Member}}}
					if next, _, err := fleetupdate.Step(a.run, skip); err == nil {
						a.run = next
					}
				}
			}
			runs := ev.Runs
			if opt.NoCatchUp {
				runs = eventDriven(p, ev, tr.History, lastTarget)
			}
			last[p.Name] = ev
			if len(runs) == 0 {
				seen[p.Name] = version
			} else {
				delete(seen, p.Name)
				version++
			}
			pe := ProfileEvaluation{At: t, Profile: p.Name, Evaluation: ev}
			for _, g := range runs {
				run, err := g.New(rel.Catalog())
				if err != nil {
					return tr, fmt.Errorf("fake: generated run %s: %w", g.Name, err)
				}
				running = append(running, &active{idx: len(tr.Runs), run: run})
				tr.Runs = append(tr.Runs, SimulatedRun{Run: g, Created: t, State: fleetupdate.NotStarted})
				tr.History = append(tr.History, g.Created())
				pe.Created = append(pe.Created, g.Name)
			}
			tr.Evaluations = append(tr.Evaluations, pe)
		}

		// Every run goes on until the next evaluation.
		f.KubernetesVersions = train.KubernetesVersionsAt(t)
		next := t.Add(every)
		if next.After(end) {
			next = end
		}
		upgraded := map[string]time.Time{}
		var still []*active
		for _, a := range running {
			o := Options{Start: t, Horizon: next.Sub(t), NoStart: a.started, Actions: resume(a.run, h, t)}
			st := Simulate(a.run, h, o)
			a.run, a.started = st.Run, true
			for _, e := range st.Entries {
				if s, ok := e.Event.(fleetupdate.UpgradeSucceeded); ok && e.Err == nil {
					if m := memberOf(s.Op, a.run); m != "" {
						upgraded[m] = e.At
					}
				}
			}
			sr := &tr.Runs[a.idx]
			rec := sr.Run.Record(a.run)
			if !reflect.DeepEqual(rec, tr.History[a.idx]) {
				version++
			}
			tr.History[a.idx], sr.Record, sr.State = rec, rec, a.run.State()
			if a.run.Done() {
				sr.Ended = st.End
				continue
			}
			still = append(still, a)
		}
		running = still
		if len(upgraded) > 0 {
			version++
		}
		for _, m := range f.Members {
			if at, ok := upgraded[m.Name]; ok {
				tl := timeline[m.Name]
				tl.Samples = append(tl.Samples, sample(at, m))
			}
		}
	}
	for _, m := range f.Members {
		tr.Members = append(tr.Members, *timeline[m.Name])
	}
	slices.SortFunc(tr.Members, func(a, b MemberTimeline) int { return strings.Compare(a.Name, b.Name) })
	return tr, nil
}

func sample(at time.Time, m fleetupdate.Member) VersionSample {
	s := VersionSample{At: at, KubernetesVersion: m.KubernetesVersion}
	for _, p := range m.NodePools {
		s.NodeImages = append(s.NodeImages, p.NodeImageVersion)
	}
	return s
}

// memberOf returns the member an operation of run r upgrades.
func memberOf(op fleetupdate.OpID, r fleetupdate.Run) string {
	rest, ok := strings.CutPrefix(string(op), r.Name()+"/")
	if !ok {
		return ""
	}
	m, _, _ := strings.Cut(rest, "/")
	return m
}

// resume returns what a run carried over from the previous interval is
// still owed (host contract, rule 5): the outcomes of its upgrades in flight,
// which h remembers per op, its wake-ups, and the approvals of its gates
// waiting, which h also gives once.
func resume(r fleetupdate.Run, h *Host, now time.Time) []Action {
	var out []Action
	for _, c := range r.Outstanding() {
		switch c := c.(type) {
		case fleetupdate.UpgradeMember:
			out = append(out, Action(h.Perform(c, now)))
		case fleetupdate.WakeAt:
			out = append(out, Action{At: c.At, Event: fleetupdate.Tick(c)})
		case fleetupdate.AwaitGate:
			// A gate reached outside the day's simulation (a stale member
			// skipped at an evaluation), or approved after the day ended:
			// the approvers' answer is the one they gave first.
			if at, ok := h.Approve(c, now); ok {
				out = append(out, Action{At: at, Event: fleetupdate.CompleteGate{At: at, Gate: c.Gate}})
			}
		}
	}
	return out
}

// eventDriven filters an evaluation's runs to what Azure's event-driven
// auto-upgrade would create: all of them when the channel's target changed
// since the profile's previous evaluation (but not at its first), and
// otherwise only a ControlPlaneOnly run's first chained run.
func eventDriven(p autoupgrade.Profile, ev autoupgrade.Evaluation, h autoupgrade.History, lastTarget map[string]string) []autoupgrade.GeneratedRun {
	b, _ := json.Marshal(ev.Target)
	target := string(b)
	prev, seen := lastTarget[p.Name]
	lastTarget[p.Name] = target
	if seen && prev != target { // a release: Azure creates a run for the whole fleet
		return ev.Runs
	}
	followed := map[string]bool{}
	for _, r := range h {
		followed[r.After] = true
	}
	var runs []autoupgrade.GeneratedRun
	for _, g := range ev.Runs {
		if g.After != "" && !followed[g.After] {
			runs = append(runs, g)
		}
	}
	return runs
}
