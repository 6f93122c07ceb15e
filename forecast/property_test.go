package forecast_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/fleetkit/fleetkit/fake"
	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/forecast"
)

// The "done when": when the assumptions hold, a forecast agrees with
// the simulated run. The simulations below are generated scenarios
// (fake.Scenarios: windows, strategies, concurrency, budgets, gates,
// selectors) on a host that makes the forecast's assumptions true: no
// failures, fixed durations (some per member), approvals after a fixed
// delay or never, no user actions, and a catalog that does not change
// within the horizon.

// horizon is how long the simulations may run: the catalog is steady until
// the node images expire, 60 days after GenEpoch (steady below).
const horizon = 59 * 24 * time.Hour

// assumed is a simulation and the forecast's assumptions for it.
type assumed struct {
	sim fake.Simulation
	a   forecast.Assumptions
	dur time.Duration
	per map[string]time.Duration
}

func (s assumed) host() *fake.Host {
	h := s.sim.Host()
	h.Duration, h.Durations = s.dur, s.per
	return h
}

// steady makes the fleet's catalog the same from GenEpoch until 60 days
// after: every release reached every region before it and expires after.
func steady(f *fake.Fleet) {
	for i := range f.NodeImages {
		f.NodeImages[i].Published = fake.GenEpoch.AddDate(0, 0, -30)
	}
}

func genAssumed(t *rapid.T) assumed {
	sc := fake.Scenarios().Draw(t, "scenario")
	steady(sc.Fleet)
	if rapid.Bool().Draw(t, "noMinorSkips") {
		// A 1.28 member fails a 1.30 target at once (UpgradeNotAllowed),
		// which fails most runs early: half the fleets have none.
		for i := range sc.Fleet.Members {
			if strings.HasPrefix(sc.Fleet.Members[i].KubernetesVersion, "1.28.") {
				sc.Fleet.Members[i].KubernetesVersion = "1.29.4"
			}
		}
	}
	widen(t, &sc)
	approvals := rapid.SampledFrom([]fake.Approvals{{}, {Delay: time.Hour}, {Delay: 36 * time.Hour}, {Never: true}}).Draw(t, "approvals")
	s := assumed{
		sim: fake.Simulation{Scenario: sc, Seed: rapid.Uint64().Draw(t, "seed"), Approvals: approvals},
		dur: rapid.SampledFrom([]time.Duration{time.Minute, 15 * time.Minute, 45 * time.Minute, 5 * time.Hour}).Draw(t, "duration"),
	}
	for _, m := range sc.Fleet.Members {
		if rapid.IntRange(0, 4).Draw(t, "ownDuration") == 0 {
			if s.per == nil {
				s.per = map[string]time.Duration{}
			}
			s.per[m.Name] = rapid.SampledFrom([]time.Duration{time.Minute, 30 * time.Minute, 26 * time.Hour}).Draw(t, "memberDuration")
		}
	}
	per := s.per
	s.a = forecast.Assumptions{
		Duration:       s.dur,
		MemberDuration: func(c fleetupdate.UpgradeMember) time.Duration { return per[c.Member] },
		ApprovalDelay:  approvals.Delay,
		NeverApprove:   approvals.Never,
		Horizon:        horizon,
	}
	return s
}

// widen draws what fake.Scenarios does not: a Custom node image selection
// (one version per family, sometimes one the catalog does not offer, so
// members wait for ever), a Kubernetes target no region offers, and members
// on long-term support (which may skip a minor).
func widen(t *rapid.T, sc *fake.Scenario) {
	up := &sc.Spec.ManagedClusterUpdate
	if up.NodeImageSelection != nil && rapid.IntRange(0, 3).Draw(t, "custom") == 0 {
		sel := &fleetupdate.NodeImageSelection{Type: fleetupdate.Custom}
		seen := map[string]bool{}
		for _, r := range sc.Fleet.NodeImages {
			fam := r.Image[:strings.LastIndex(r.Image, "-")]
			if seen[fam] || !rapid.Bool().Draw(t, "pinFamily") {
				continue
			}
			seen[fam] = true
			v := rapid.SampledFrom([]string{r.Image, fam + "-209901.01.0"}).Draw(t, "customVersion")
			sel.CustomNodeImageVersions = append(sel.CustomNodeImageVersions, fleetupdate.NodeImageVersion{Version: v})
		}
		if len(sel.CustomNodeImageVersions) > 0 {
			up.NodeImageSelection = sel
		}
	}
	if up.Upgrade.KubernetesVersion != "" && rapid.IntRange(0, 7).Draw(t, "unofferedTarget") == 0 {
		up.Upgrade.KubernetesVersion = "1.31"
	}
	for i := range sc.Fleet.Members {
		if rapid.IntRange(0, 7).Draw(t, "lts") == 0 {
			sc.Fleet.Members[i].LongTermSupport = true
		}
	}
}

// expected reads a row per node from a simulated run's final status, as a
// forecast's rows are laid out (Why aside).
func expected(st fleetupdate.Status) []forecast.Row {
	row := func(r forecast.Row, u fleetupdate.UpdateStatus) forecast.Row {
		r.State, r.Start = u.State, u.StartTime
		switch u.State {
		case fleetupdate.Completed, fleetupdate.Skipped, fleetupdate.Failed:
			r.Finish = u.CompletedTime
		}
		return r
	}
	out := []forecast.Row{row(forecast.Row{}, st.Status)}
	for _, s := range st.Stages {
		out = append(out, row(forecast.Row{Stage: s.Name}, s.Status))
		for _, g := range s.Groups {
			out = append(out, row(forecast.Row{Stage: s.Name, Group: g.Name}, g.Status))
			for _, m := range g.Members {
				out = append(out, row(forecast.Row{Stage: s.Name, Group: g.Name, Member: m.Name}, m.Status))
			}
		}
	}
	return out
}

// requireAgrees fails unless the forecast agrees with the simulation.
func requireAgrees(t *rapid.T, f forecast.Forecast, tr fake.Trace, what string) {
	if d := disagreement(f, tr); d != "" {
		t.Fatalf("%s: %s", what, d)
	}
}

// disagreement says how the forecast's rows differ from the simulation's
// end state by state, start and finish, or where an upgrade the simulated
// host performed, or a success it delivered, is not where the forecast
// puts it; "" if nowhere.
func disagreement(f forecast.Forecast, tr fake.Trace) string {
	want := expected(tr.Run.Status())
	if len(want) != len(f.Rows) {
		return fmt.Sprintf("%d rows, the simulation has %d nodes", len(f.Rows), len(want))
	}
	var diffs []string
	for i, w := range want {
		g := f.Rows[i]
		g.Why = ""
		if g != w {
			diffs = append(diffs, fmt.Sprintf("  %s/%s/%s:\n    simulated %s %s → %s\n    forecast  %s %s → %s (%s)", w.Stage, w.Group, w.Member,
				w.State, stamp(w.Start), stamp(w.Finish), f.Rows[i].State, stamp(f.Rows[i].Start), stamp(f.Rows[i].Finish), f.Rows[i].Why))
		}
	}
	if len(diffs) > 0 {
		return fmt.Sprintf("the forecast disagrees with the simulation (ended %s at %s):\n%s", tr.Run.State(), stamp(tr.End), strings.Join(diffs, "\n"))
	}
	for _, u := range tr.Upgrades {
		if r, _ := f.Member(u.Command.Member); !r.Start.Equal(u.At) && u.At.After(f.From) {
			return fmt.Sprintf("the host upgraded %s at %s, the forecast starts it at %s", u.Command.Member, stamp(u.At), stamp(r.Start))
		}
	}
	for _, e := range tr.Entries {
		if s, ok := e.Event.(fleetupdate.UpgradeSucceeded); ok && e.Err == nil && e.At.After(f.From) {
			name := strings.Split(string(s.Op), "/")[1]
			if r, _ := f.Member(name); !r.Finish.Equal(e.At) {
				return fmt.Sprintf("%s finished at %s, the forecast says %s", name, stamp(e.At), stamp(r.Finish))
			}
		}
	}
	return ""
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format("01-02T15:04")
}

func TestForecastOfANewRunIsTheSimulatedRun(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genAssumed(t)
		run, err := s.sim.NewRun("fc")
		if err != nil {
			t.Skip(err) // a scenario New refuses: nothing to forecast
		}
		f, err := forecast.Run(run, fake.GenEpoch, s.a)
		if err != nil {
			t.Fatal(err)
		}
		tr := fake.Simulate(run, s.host(), fake.Options{Start: fake.GenEpoch, Horizon: horizon, NoChanges: true})
		requireAgrees(t, f, tr, "new run")
	})
}

// A run cut after any event of its simulation, persisted and decoded, is
// forecast from there (its upgrades in flight, its Pending gates, its
// wake-ups owed) to the simulation's end.
func TestForecastOfARunMidFlightIsTheRestOfTheSimulation(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genAssumed(t)
		run, err := s.sim.NewRun("fc")
		if err != nil {
			t.Skip(err)
		}
		// Runs are values that share structure: keeping every version is cheap.
		var runs []fleetupdate.Run
		tr := fake.Simulate(run, s.host(), fake.Options{Start: fake.GenEpoch, Horizon: horizon, NoChanges: true,
			Observe: func(_, next fleetupdate.Run, _ fake.Entry) { runs = append(runs, next) }})
		k := rapid.IntRange(1, len(runs)).Draw(t, "cutAfter")
		cut := tr.Entries[k-1].At
		b, err := json.Marshal(runs[k-1])
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		var back fleetupdate.Run
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("unmarshal: %v", err)
		}
		a := s.a
		a.Horizon = fake.GenEpoch.Add(horizon).Sub(cut)
		if a.Horizon == 0 {
			t.Skip("cut at the horizon: nothing left to forecast")
		}
		f, err := forecast.Run(back, cut, a)
		if err != nil {
			t.Fatal(err)
		}
		requireAgrees(t, f, tr, fmt.Sprintf("cut after event %d of %d (%T at %s)", k, len(runs), tr.Entries[k-1].Event, stamp(cut)))
	})
}

// The check above can fail: a forecast that assumes upgrades a minute
// longer than the host's disagrees with every simulation in which an
// upgrade finishes.
func TestAWrongDurationDisagrees(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genAssumed(t)
		run, err := s.sim.NewRun("fc")
		if err != nil {
			t.Skip(err)
		}
		tr := fake.Simulate(run, s.host(), fake.Options{Start: fake.GenEpoch, Horizon: horizon, NoChanges: true})
		if !slices.ContainsFunc(tr.Entries, func(e fake.Entry) bool { _, ok := e.Event.(fleetupdate.UpgradeSucceeded); return ok }) {
			t.Skip("no upgrade finished")
		}
		a := s.a
		a.Duration += time.Minute
		a.MemberDuration = func(c fleetupdate.UpgradeMember) time.Duration {
			if d, ok := s.per[c.Member]; ok {
				return d + time.Minute
			}
			return 0
		}
		f, err := forecast.Run(run, fake.GenEpoch, a)
		if err != nil {
			t.Fatal(err)
		}
		if disagreement(f, tr) == "" {
			t.Fatalf("a forecast with every upgrade a minute longer agrees with the simulation")
		}
	})
}
