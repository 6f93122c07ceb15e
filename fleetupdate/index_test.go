package fleetupdate

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// ownWindowsRun is a run of n members, most with a window of their own,
// three at a time.
func ownWindowsRun(t interface{ Fatal(...any) }, n int) Run {
	_, ms := uniqueWindowFleet(n)
	for i := range ms {
		ms[i].Group = "g"
		if i%5 == 0 {
			ms[i].AutoUpgradeWindow = nil
		}
	}
	spec := Spec{ManagedClusterUpdate: full(k8sTo), Strategy: &Strategy{Stages: []Stage{{Name: "s", Groups: []Group{{Name: "g", MaxConcurrency: "3"}}}}}}
	r, err := New("run-1", spec, ms, catalog())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// hostEvents drives r for up to k steps with a host that starts it, whose
// upgrades take an hour, and that ticks at every wake; it returns every run
// (r first) and event.
func hostEvents(r Run, k int) ([]Run, []Event, error) {
	runs := []Run{r}
	var events []Event
	now := t0
	if r.Clock().After(now) {
		now = r.Clock()
	}
	var ops []OpID
	for _, u := range r.InFlight() {
		ops = append(ops, u.Op)
	}
	for range k {
		var e Event
		switch w, ok := r.NextWake(); {
		case r.Done():
			return runs, events, nil
		case r.State() == NotStarted:
			e = Start{At: now}
		case len(ops) > 0:
			now = now.Add(time.Hour)
			e, ops = UpgradeSucceeded{At: now, Op: ops[0]}, ops[1:]
		case ok:
			now = w
			e = Tick{At: now}
		default:
			return nil, nil, fmt.Errorf("stuck in %s", r.State())
		}
		next, cmds, err := Step(r, e)
		if err != nil {
			return nil, nil, err
		}
		events = append(events, e)
		runs = append(runs, next)
		r = next
		for _, c := range cmds {
			if u, ok := c.(UpgradeMember); ok {
				ops = append(ops, u.Op)
			}
		}
	}
	return runs, events, nil
}

// The pick index belongs to the latest run that stepped it; stepping an
// older run again, anywhere along the way, gives what a run replayed from
// New gives, and leaves the runs after it as they were.
func TestSteppingAnOlderRunAgain(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 25).Draw(t, "members")
		runs, events, err := hostEvents(ownWindowsRun(t, n), 3*n)
		if err != nil {
			t.Fatal(err)
		}
		// Runs at the branch points, after them, and the last one are encoded
		// before and after (encoding every run is what would make this slow).
		var at []int
		for range rapid.IntRange(1, 10).Draw(t, "branches") {
			at = append(at, rapid.IntRange(0, len(events)-1).Draw(t, "at"))
		}
		saved := map[int]string{len(runs) - 1: mustJSONR(t, runs[len(runs)-1])}
		for _, i := range at {
			saved[i], saved[i+1] = mustJSONR(t, runs[i]), mustJSONR(t, runs[i+1])
		}
		for _, i := range at {
			// The same event again: the same run and commands.
			again, cmds, err := Step(runs[i], events[i])
			if err != nil {
				t.Fatal(err)
			}
			if mustJSONR(t, again) != saved[i+1] {
				t.Fatalf("stepping run %d again with %T gave another run", i, events[i])
			}
			if err := again.check(); err != nil {
				t.Fatalf("stepping run %d again: %v", i, err)
			}
			// And on from there, the same as replaying from New.
			fresh := ownWindowsRun(t, n)
			var want []Command
			for j := range i + 1 {
				if fresh, want, err = Step(fresh, events[j]); err != nil {
					t.Fatal(err)
				}
			}
			if !commandsEqual(cmds, want) {
				t.Fatalf("stepping run %d again gave %v; a replay gave %v", i, cmds, want)
			}
			tail, _, err1 := hostEvents(again, 10)
			tailFresh, _, err2 := hostEvents(fresh, 10)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			if len(tail) != len(tailFresh) || mustJSONR(t, tail[len(tail)-1]) != mustJSONR(t, tailFresh[len(tailFresh)-1]) {
				t.Fatalf("from run %d stepped again, the run went another way than a replay", i)
			}
		}
		for i, r := range runs {
			if want, ok := saved[i]; ok && mustJSONR(t, r) != want {
				t.Fatalf("run %d changed", i)
			}
			if err := r.checkIndexes(); err != nil {
				t.Fatalf("run %d: %v", i, err)
			}
		}
		if err := runs[len(runs)-1].check(); err != nil {
			t.Fatal(err)
		}
	})
}

// Steps of one run at once, from several goroutines, are safe (one of them
// claims the index, the others build their own) and all give the same
// runs. Run it with -race.
func TestConcurrentStepsOfOneRun(t *testing.T) {
	runs, _, err := hostEvents(ownWindowsRun(t, 150), 100)
	if err != nil {
		t.Fatal(err)
	}
	base := runs[len(runs)-1]
	drive := func() (string, error) {
		rs, _, err := hostEvents(base, 30)
		var out []string
		for _, r := range rs {
			b, err := r.MarshalJSON()
			if err != nil {
				return "", err
			}
			out = append(out, string(b))
		}
		return fmt.Sprint(out), err
	}
	var wg sync.WaitGroup
	got := make([]string, 8)
	errs := make([]error, 8)
	for g := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[g], errs[g] = drive()
		}()
	}
	wg.Wait()
	want, err := drive()
	if err != nil {
		t.Fatal(err)
	}
	for g := range got {
		if errs[g] != nil || got[g] != want {
			t.Fatalf("goroutine %d went another way (%v)", g, errs[g])
		}
	}
}

// checkIndexes checks every group's pick index (check does too, with much
// more besides).
func (r Run) checkIndexes() error {
	for g := range r.p.groups {
		if err := r.checkIndex(int32(g), r.s.groups.get(g)); err != nil {
			return err
		}
	}
	return nil
}

// A pick fills a cold index once: a warm that left it cold would fill it
// again at every pick (and the oracles would hang rather than fail).
func TestFirstPickLeavesTheIndexWarm(t *testing.T) {
	spec, ms := uniqueWindowFleet(50)
	r, err := New("warm", spec, ms, catalog())
	if err != nil {
		t.Fatal(err)
	}
	if ix := ownedIndex(r.s.groups, 0); ix == nil || !ix.cold {
		t.Fatal("New's index should be cold until the first pick")
	}
	r, _, err = Step(r, Start{At: t0})
	if err != nil {
		t.Fatal(err)
	}
	ix := ownedIndex(r.s.groups, 0)
	if ix == nil || ix.cold || len(ix.m.e) == 0 {
		t.Fatal("after Start the index should be warm, with buckets in m")
	}
	if err := r.checkIndexes(); err != nil {
		t.Fatal(err)
	}
}
