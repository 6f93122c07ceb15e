package fleetupdate_test

import (
	"cmp"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/fleetkit/fleetkit/fake"
	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/window"
)

// Host contract, rule 5: a host that restarts, rebuilds the run and
// performs Run.Outstanding finishes exactly as one that never stopped. The
// properties below simulate generated rollouts (fake.Simulations: windows,
// concurrency, failures, stops, resumes, skips, member changes, catalog
// changes) once without a crash, then with crashes, and compare.

var simHorizon = fake.Options{Horizon: 120 * 24 * time.Hour}

// outcome is what a simulation's end is compared on: the final status and
// every upgrade performed, once per op, in the order first performed.
type outcome struct {
	status   string
	upgrades []fake.Upgrade
}

func outcomeOf(t *rapid.T, tr fake.Trace) outcome {
	b, err := json.Marshal(tr.Run.Status())
	if err != nil {
		t.Fatalf("marshal status: %v", err)
	}
	first := map[fleetupdate.OpID]fake.Upgrade{}
	var ups []fake.Upgrade
	for _, u := range tr.Upgrades {
		if f, ok := first[u.Command.Op]; ok {
			if !reflect.DeepEqual(f.Command, u.Command) {
				t.Fatalf("op %s sent again with other inputs:\n first %+v\n again %+v", u.Command.Op, f.Command, u.Command)
			}
			continue
		}
		u.Restart = false // who sent it first does not matter, when does
		first[u.Command.Op] = u
		ups = append(ups, u)
	}
	slices.SortStableFunc(ups, func(a, b fake.Upgrade) int {
		return cmp.Or(a.At.Compare(b.At), strings.Compare(string(a.Command.Op), string(b.Command.Op)))
	})
	return outcome{string(b), ups}
}

func requireSameOutcome(t *rapid.T, want, got outcome, what string) {
	if want.status != got.status {
		t.Fatalf("%s: final status differs from a host that never stopped:\nwant %s\n got %s", what, want.status, got.status)
	}
	if !reflect.DeepEqual(want.upgrades, got.upgrades) {
		t.Fatalf("%s: upgrades differ from a host that never stopped:\nwant %s\n got %s", what, fmtUpgrades(want.upgrades), fmtUpgrades(got.upgrades))
	}
}

func fmtUpgrades(ups []fake.Upgrade) string {
	var b strings.Builder
	for _, u := range ups {
		fmt.Fprintf(&b, "\n  %s %s %+v", u.At.Format(time.RFC3339), u.Command.Op, u.Command)
	}
	return b.String()
}

// checkNeverStalls: a run that is not done has an upgrade in flight or a
// wake-up owed, or waits for something only the outside world brings (a
// user's Start, a catalog change, or a member's window or data changing).
// Otherwise nothing will ever move it again.
func checkNeverStalls(t *rapid.T, r fleetupdate.Run, when string) {
	if r.Done() || len(r.Outstanding()) > 0 || waitsForOutside(r) {
		return
	}
	b, _ := json.Marshal(r.Status())
	t.Fatalf("%s: the run stalls: %s with nothing in flight, no wake-up owed and nothing to wait for outside:\n%s", when, r.State(), b)
}

func waitsForOutside(r fleetupdate.Run) bool {
	st := r.Status()
	if st.Status.State == fleetupdate.NotStarted {
		return true
	}
	for _, s := range st.Stages {
		switch s.Status.State {
		case fleetupdate.Completed, fleetupdate.Skipped:
			continue
		}
		// The active stage: every member left waits for the catalog or for
		// a window that never opens again.
		for _, g := range s.Groups {
			for _, m := range g.Members {
				switch {
				case m.Status.State == fleetupdate.Completed, m.Status.State == fleetupdate.Skipped:
				case m.Status.State == fleetupdate.Failed && s.Status.State != fleetupdate.Failed: // within its budget
				case m.Status.State == fleetupdate.Pending && (strings.Contains(m.Message, "not available") || strings.Contains(m.Message, "does not open again")):
				default:
					return false
				}
			}
		}
		return true
	}
	return false
}

// ledger follows a trace the way the contract reads it: an op is in flight
// from the UpgradeMember that starts it until its outcome is accepted; a
// wake-up is owed from its WakeAt until a Tick reaches it (rule 4), or
// until the run ends Completed or Skipped (a final run ignores ticks).
type ledger struct {
	inflight map[fleetupdate.OpID]fleetupdate.UpgradeMember
	owed     map[time.Time]bool
	issued   map[fleetupdate.OpID]bool
	attempts map[string]int
}

func newLedger() *ledger {
	return &ledger{map[fleetupdate.OpID]fleetupdate.UpgradeMember{}, map[time.Time]bool{}, map[fleetupdate.OpID]bool{}, map[string]int{}}
}

// apply records an accepted entry: no op id is ever issued twice, and each
// is its member's next attempt.
func (l *ledger) apply(t *rapid.T, e fake.Entry, after fleetupdate.State) {
	if e.Err != nil {
		return
	}
	switch ev := e.Event.(type) {
	case fleetupdate.UpgradeSucceeded:
		delete(l.inflight, ev.Op)
	case fleetupdate.UpgradeFailed:
		delete(l.inflight, ev.Op)
	case fleetupdate.Tick:
		for w := range l.owed {
			if !w.After(ev.At) {
				delete(l.owed, w)
			}
		}
	}
	for _, c := range e.Commands {
		switch c := c.(type) {
		case fleetupdate.UpgradeMember:
			if l.issued[c.Op] {
				t.Fatalf("%s: op %s issued a second time", e.At, c.Op)
			}
			l.issued[c.Op] = true
			l.attempts[c.Member]++
			if want := fmt.Sprintf("/%s/%d", c.Member, l.attempts[c.Member]); !strings.HasSuffix(string(c.Op), want) {
				t.Fatalf("%s: op %s is not attempt %d of %s", e.At, c.Op, l.attempts[c.Member], c.Member)
			}
			l.inflight[c.Op] = c
		case fleetupdate.WakeAt:
			l.owed[c.At] = true
		}
	}
	if after == fleetupdate.Completed || after == fleetupdate.Skipped {
		clear(l.owed)
	}
}

// check: outstanding (a run's Outstanding) is exactly what is owed: every
// op in flight, with the op id and inputs it was first sent with, and every
// wake-up not yet reached by a tick.
func (l *ledger) check(t *rapid.T, outstanding []fleetupdate.Command, when string) {
	ups := map[fleetupdate.OpID]bool{}
	wakes := map[time.Time]bool{}
	for _, c := range outstanding {
		switch c := c.(type) {
		case fleetupdate.UpgradeMember:
			was, ok := l.inflight[c.Op]
			if !ok {
				t.Fatalf("%s: Outstanding re-sends %s, which is not in flight", when, c.Op)
			}
			if !reflect.DeepEqual(was, c) {
				t.Fatalf("%s: Outstanding re-sends %s with other inputs:\n sent %+v\n  now %+v", when, c.Op, was, c)
			}
			ups[c.Op] = true
		case fleetupdate.WakeAt:
			if !l.owed[c.At] {
				t.Fatalf("%s: Outstanding owes a wake-up at %s that was never asked for or already ticked", when, c.At)
			}
			wakes[c.At] = true
		}
	}
	for op := range l.inflight {
		if !ups[op] {
			t.Fatalf("%s: Outstanding forgets %s, in flight", when, op)
		}
	}
	for w := range l.owed {
		if !wakes[w] {
			t.Fatalf("%s: Outstanding forgets the wake-up at %s, owed", when, w.Format(time.RFC3339))
		}
	}
}

// simulate runs sim with opt and checks on the way that the run never
// stalls, that Outstanding is always exactly what is owed, and that every
// restart performed exactly that.
func simulate(t *rapid.T, sim fake.Simulation, opt fake.Options, what string) fake.Trace {
	var states []fleetupdate.State // after each entry
	l := newLedger()
	opt.Observe = func(prev, next fleetupdate.Run, e fake.Entry) {
		if states = append(states, next.State()); len(states) > 2000 {
			t.Fatalf("%s: no end after %d events; the last: %T at %s", what, len(states), e.Event, e.At.Format(time.RFC3339))
		}
		when := fmt.Sprintf("%s: %T at %s", what, e.Event, e.At.Format(time.RFC3339))
		checkNeverStalls(t, prev, when+" (before)")
		checkNeverStalls(t, next, when)
		l.apply(t, e, next.State())
		l.check(t, next.Outstanding(), when)
	}
	tr, _, err := sim.Simulate("rollout", opt)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	checkNeverStalls(t, tr.Run, what+": at the end")
	// Follow the trace again to check each restart against the ledger.
	l = newLedger()
	restarts := tr.Restarts
	for i, e := range tr.Entries {
		l.apply(t, e, states[i])
		for len(restarts) > 0 && restarts[0].After == i+1 {
			rs := restarts[0]
			restarts = restarts[1:]
			if rs.Err != nil {
				t.Fatalf("%s: restart after entry %d: %v", what, rs.After, rs.Err)
			}
			l.check(t, rs.Outstanding, fmt.Sprintf("%s: restart after entry %d", what, rs.After))
		}
	}
	return tr
}

// hostOptions draws how the host works: how late its ticks come, how it
// rebuilds the run after a crash, and whether crashes fall between making
// a step durable and performing its commands.
func hostOptions(t *rapid.T) (fake.Options, string) {
	opt := simHorizon
	opt.TickDelay = rapid.SampledFrom([]time.Duration{0, 0, 5 * time.Minute, time.Hour}).Draw(t, "tickDelay")
	opt.Rebuild = rapid.SampledFrom([]fake.Rebuild{fake.FromSnapshot, fake.FromJournal}).Draw(t, "rebuild")
	opt.CrashBeforePerform = rapid.Bool().Draw(t, "crashBeforePerform")
	what := map[fake.Rebuild]string{fake.FromSnapshot: "snapshot", fake.FromJournal: "journal"}[opt.Rebuild]
	if opt.CrashBeforePerform {
		what += ", crash before performing"
	}
	if opt.TickDelay > 0 {
		what += ", ticks " + opt.TickDelay.String() + " late"
	}
	return opt, what
}

// Restart after step k, for many k (every k in short runs), rebuilt from
// the saved run or from the journal: same statuses, same upgrades.
func TestRestartAfterAnyStepFinishesAsIfNeverStopped(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sim := fake.Simulations().Draw(t, "simulation")
		host, what := hostOptions(t)
		base := simulate(t, sim, host, "never stopped")
		want := outcomeOf(t, base)
		n := len(base.Entries)
		ks := make([]int, 0, n)
		if n <= 16 {
			for k := 1; k <= n; k++ {
				ks = append(ks, k)
			}
		} else {
			for range 8 {
				ks = append(ks, rapid.IntRange(1, n).Draw(t, "k"))
			}
		}
		for _, k := range ks {
			opt := host
			opt.RestartAfter = []int{k}
			label := fmt.Sprintf("restart after step %d of %d (%s)", k, n, what)
			tr := simulate(t, sim, opt, label)
			if len(tr.Restarts) != 1 {
				t.Fatalf("%s: %d restarts", label, len(tr.Restarts))
			}
			requireSameOutcome(t, want, outcomeOf(t, tr), label)
		}
	})
}

// Restart after every step: same statuses, same upgrades.
func TestRestartAfterEveryStepFinishesAsIfNeverStopped(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sim := fake.Simulations().Draw(t, "simulation")
		host, what := hostOptions(t)
		want := outcomeOf(t, simulate(t, sim, host, "never stopped"))
		opt := host
		opt.RestartEvery = true
		label := "restart after every step (" + what + ")"
		tr := simulate(t, sim, opt, label)
		requireSameOutcome(t, want, outcomeOf(t, tr), label)
	})
}

// Rule 4 lets a host keep one timer, re-armed at NextWake after every step,
// instead of one per WakeAt; such a host, restarting or not, ends as one
// that arms every WakeAt and never stops.
func TestSingleTimerHostFinishesAsOneThatArmsEveryWake(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sim := fake.Simulations().Draw(t, "simulation")
		host, what := hostOptions(t)
		want := outcomeOf(t, simulate(t, sim, host, "one timer per WakeAt, never stopped"))
		opt := host
		opt.SingleTimer = true
		what = "one timer (" + what + ")"
		switch rapid.IntRange(0, 2).Draw(t, "restarts") {
		case 1:
			opt.RestartAfter = []int{rapid.IntRange(1, 40).Draw(t, "k")}
			what += fmt.Sprintf(", restart after step %d", opt.RestartAfter[0])
		case 2:
			opt.RestartEvery = true
			what += ", restart after every step"
		}
		requireSameOutcome(t, want, outcomeOf(t, simulate(t, sim, opt, what)), what)
	})
}

// Issue 8's report: two groups whose windows open at 14:00 and 16:00; the
// host restarts after Start, ticks at 14:00, the first member completes.
// A host that re-arms only NextWake never hears of 16:00 again and the run
// stays Pending; one that performs Outstanding completes.
func TestRestartAfterStartStillWakesForTheLaterWindow(t *testing.T) {
	daily := func(start string) *window.Schedule {
		return &window.Schedule{Recurrence: window.Recurrence{Daily: &window.DailySchedule{IntervalDays: 1}}, StartTime: start, DurationHours: 4}
	}
	pools := []fleetupdate.NodePool{{Name: "system", NodeImageVersion: "AKSUbuntu-2204gen2containerd-202405.13.0"}}
	members := []fleetupdate.Member{
		{Name: "a", Group: "early", Region: "eastus", KubernetesVersion: "1.29.4", NodePools: pools, AutoUpgradeWindow: daily("14:00")},
		{Name: "b", Group: "late", Region: "eastus", KubernetesVersion: "1.29.4", NodePools: pools, AutoUpgradeWindow: daily("16:00")},
	}
	spec := fleetupdate.Spec{
		Strategy:             &fleetupdate.Strategy{Stages: []fleetupdate.Stage{{Name: "all", Groups: []fleetupdate.Group{{Name: "early"}, {Name: "late"}}}}},
		ManagedClusterUpdate: fleetupdate.ManagedClusterUpdate{Upgrade: fleetupdate.UpgradeSpec{Type: fleetupdate.ControlPlaneOnly, KubernetesVersion: "1.30.5"}},
	}
	catalog := fleetupdate.Catalog{Regions: map[string]fleetupdate.RegionCatalog{"eastus": {KubernetesVersions: []string{"1.29.4", "1.30.5"}}}}
	noon := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

	// drive restarts a host right after Start, re-arming what rearm says,
	// then runs it for a day: timers fire at their time, upgrades take 30
	// minutes and succeed.
	drive := func(rearm func(fleetupdate.Run) []fleetupdate.Command) fleetupdate.Run {
		run, err := fleetupdate.New("r", spec, members, catalog)
		require.NoError(t, err)
		run, _, err = fleetupdate.Step(run, fleetupdate.Start{At: noon})
		require.NoError(t, err)
		saved, err := json.Marshal(run)
		require.NoError(t, err)
		// Crash: the timers armed for Start's WakeAts are gone.
		var back fleetupdate.Run
		require.NoError(t, json.Unmarshal(saved, &back))
		run = back
		type due struct {
			at time.Time
			ev fleetupdate.Event
		}
		var queue []due
		perform := func(cmds []fleetupdate.Command, now time.Time) {
			for _, c := range cmds {
				switch c := c.(type) {
				case fleetupdate.UpgradeMember:
					queue = append(queue, due{now.Add(30 * time.Minute), fleetupdate.UpgradeSucceeded{At: now.Add(30 * time.Minute), Op: c.Op}})
				case fleetupdate.WakeAt:
					queue = append(queue, due{c.At, fleetupdate.Tick(c)})
				}
			}
		}
		perform(rearm(run), noon)
		for len(queue) > 0 {
			slices.SortStableFunc(queue, func(a, b due) int { return a.at.Compare(b.at) })
			d := queue[0]
			queue = queue[1:]
			if d.at.After(noon.Add(24 * time.Hour)) {
				break
			}
			next, cmds, err := fleetupdate.Step(run, d.ev)
			require.NoError(t, err)
			run = next
			perform(cmds, d.at)
		}
		return run
	}

	nextWakeOnly := drive(func(r fleetupdate.Run) []fleetupdate.Command {
		cmds := []fleetupdate.Command{}
		for _, u := range r.InFlight() {
			cmds = append(cmds, u)
		}
		if w, ok := r.NextWake(); ok {
			cmds = append(cmds, fleetupdate.WakeAt{At: w})
		}
		return cmds
	})
	assert.Equal(t, fleetupdate.Pending, nextWakeOnly.State(), "re-arming only NextWake loses the 16:00 wake-up")
	b, _ := nextWakeOnly.Member("b")
	assert.Equal(t, fleetupdate.Pending, b.Status.State)
	assert.Empty(t, nextWakeOnly.InFlight())

	outstanding := drive(fleetupdate.Run.Outstanding)
	assert.Equal(t, fleetupdate.Completed, outstanding.State(), "Outstanding re-arms every wake-up owed")
	b, _ = outstanding.Member("b")
	assert.Equal(t, time.Date(2026, 3, 4, 16, 30, 0, 0, time.UTC), b.Status.CompletedTime)
}

// A run that ends Completed or Skipped ignores ticks, so it owes none: a
// wake-up it asked for before it ended is no longer outstanding, or a host
// that restarts re-arms it after every restart, forever (and NextWake
// points into the past).
func TestFinalRunOwesNoWakeUps(t *testing.T) {
	pools := []fleetupdate.NodePool{{Name: "system", NodeImageVersion: "AKSUbuntu-2204gen2containerd-202405.13.0"}}
	members := []fleetupdate.Member{{Name: "a", Region: "eastus", KubernetesVersion: "1.29.4", NodePools: pools,
		AutoUpgradeWindow: &window.Schedule{Recurrence: window.Recurrence{Daily: &window.DailySchedule{IntervalDays: 1}}, StartTime: "14:00", DurationHours: 4}}}
	spec := fleetupdate.Spec{ManagedClusterUpdate: fleetupdate.ManagedClusterUpdate{Upgrade: fleetupdate.UpgradeSpec{Type: fleetupdate.ControlPlaneOnly, KubernetesVersion: "1.30.5"}}}
	catalog := fleetupdate.Catalog{Regions: map[string]fleetupdate.RegionCatalog{"eastus": {KubernetesVersions: []string{"1.29.4", "1.30.5"}}}}
	noon := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	run, err := fleetupdate.New("r", spec, members, catalog)
	require.NoError(t, err)
	run, cmds, err := fleetupdate.Step(run, fleetupdate.Start{At: noon})
	require.NoError(t, err)
	require.Equal(t, []fleetupdate.Command{fleetupdate.WakeAt{At: noon.Add(2 * time.Hour)}}, cmds, "a's window opens at 14:00")
	run, _, err = fleetupdate.Step(run, fleetupdate.Skip{At: noon.Add(10 * time.Minute), Targets: []fleetupdate.SkipTarget{{Type: fleetupdate.TargetMember, Name: "a"}}})
	require.NoError(t, err)
	require.Equal(t, fleetupdate.Skipped, run.State())
	assert.Empty(t, run.Outstanding(), "a Skipped run owes nothing")
	run, _, err = fleetupdate.Step(run, fleetupdate.Tick{At: noon.Add(2 * time.Hour)})
	require.NoError(t, err)
	assert.Empty(t, run.Outstanding(), "not even after the tick it asked for")
	_, ok := run.NextWake()
	assert.False(t, ok)
}

// A wake-up is owed until a Tick at or after it is seen, whatever else
// comes first. An outcome stamped at 14:05 (a tick may come late: rule 4)
// reaches 14:00, when b's window opens, but does not start b: only a Tick
// looks at every group. If it also settled the 14:00 wake-up, a host that
// restarts right after it would be owed nothing, and b would wait forever.
func TestAnOutcomePastAWakeLeavesTheWakeOwed(t *testing.T) {
	pools := []fleetupdate.NodePool{{Name: "system", NodeImageVersion: "AKSUbuntu-2204gen2containerd-202405.13.0"}}
	members := []fleetupdate.Member{
		{Name: "a", Group: "any-time", Region: "eastus", KubernetesVersion: "1.29.4", NodePools: pools},
		{Name: "b", Group: "afternoon", Region: "eastus", KubernetesVersion: "1.29.4", NodePools: pools,
			AutoUpgradeWindow: &window.Schedule{Recurrence: window.Recurrence{Daily: &window.DailySchedule{IntervalDays: 1}}, StartTime: "14:00", DurationHours: 4}},
	}
	spec := fleetupdate.Spec{
		Strategy:             &fleetupdate.Strategy{Stages: []fleetupdate.Stage{{Name: "all", Groups: []fleetupdate.Group{{Name: "any-time"}, {Name: "afternoon"}}}}},
		ManagedClusterUpdate: fleetupdate.ManagedClusterUpdate{Upgrade: fleetupdate.UpgradeSpec{Type: fleetupdate.ControlPlaneOnly, KubernetesVersion: "1.30.5"}},
	}
	catalog := fleetupdate.Catalog{Regions: map[string]fleetupdate.RegionCatalog{"eastus": {KubernetesVersions: []string{"1.29.4", "1.30.5"}}}}
	at := func(hhmm string) time.Time {
		t, _ := time.Parse("2006-01-02 15:04", "2026-03-04 "+hhmm)
		return t
	}
	run, err := fleetupdate.New("r", spec, members, catalog)
	require.NoError(t, err)
	run, cmds, err := fleetupdate.Step(run, fleetupdate.Start{At: at("13:30")})
	require.NoError(t, err)
	require.Len(t, cmds, 2, "a starts; wake at 14:00 for b")
	opA := cmds[0].(fleetupdate.UpgradeMember).Op
	run, _, err = fleetupdate.Step(run, fleetupdate.UpgradeSucceeded{At: at("14:05"), Op: opA})
	require.NoError(t, err)

	// The host crashes before the 14:00 tick it had armed fires, restarts
	// and performs Outstanding: a timer in the past fires at once.
	saved, err := json.Marshal(run)
	require.NoError(t, err)
	var back fleetupdate.Run
	require.NoError(t, json.Unmarshal(saved, &back))
	owed := back.Outstanding()
	assert.Contains(t, owed, fleetupdate.Command(fleetupdate.WakeAt{At: at("14:00")}), "the 14:00 wake-up is still owed")
	started := false
	for _, c := range owed {
		if _, ok := c.(fleetupdate.WakeAt); ok {
			var cmds []fleetupdate.Command
			back, cmds, err = fleetupdate.Step(back, fleetupdate.Tick{At: at("14:05")})
			require.NoError(t, err)
			for _, c := range cmds {
				if u, ok := c.(fleetupdate.UpgradeMember); ok && u.Member == "b" {
					started = true
				}
			}
		}
	}
	assert.True(t, started, "b starts in its window")
}

// A journal is rebuilt by replaying its events on the run made from its
// inputs, so that run must not change when the caller later changes what it
// gave New. A host's inventory does change: it records each upgrade in its
// members' node pools. Today New keeps the caller's NodePools slices, so a
// replay after an upgrade differs from the run the host had (issue 8, item
// 4); fake.Simulate with FromJournal found this when the run and the host
// shared a fleet.
func TestNewKeepsNoReferenceToTheCallersNodePools(t *testing.T) {
	members := []fleetupdate.Member{{Name: "a", Region: "eastus", KubernetesVersion: "1.29.4",
		NodePools: []fleetupdate.NodePool{{Name: "system", NodeImageVersion: "AKSUbuntu-2204gen2containerd-202405.13.0"}}}}
	spec := fleetupdate.Spec{ManagedClusterUpdate: fleetupdate.ManagedClusterUpdate{
		Upgrade:            fleetupdate.UpgradeSpec{Type: fleetupdate.Full, KubernetesVersion: "1.30.5"},
		NodeImageSelection: &fleetupdate.NodeImageSelection{Type: fleetupdate.Latest},
	}}
	catalog := fleetupdate.Catalog{Regions: map[string]fleetupdate.RegionCatalog{"eastus": {
		KubernetesVersions: []string{"1.29.4", "1.30.5"},
		NodeImageVersions:  []string{"AKSUbuntu-2204gen2containerd-202405.13.0", "AKSUbuntu-2204gen2containerd-202405.27.0"},
	}}}
	run, err := fleetupdate.New("r", spec, members, catalog)
	require.NoError(t, err)
	start := fleetupdate.Start{At: time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)}
	_, first, err := fleetupdate.Step(run, start)
	require.NoError(t, err)

	members[0].NodePools[0].NodeImageVersion = "AKSUbuntu-2204gen2containerd-202405.27.0" // the host records a's upgrade
	_, again, err := fleetupdate.Step(run, start)
	require.NoError(t, err)
	assert.Equal(t, first, again, "replaying Start on the same run starts the same upgrade")
}
