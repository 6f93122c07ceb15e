package fleetupdate

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/fleetkit/fleetkit/window"
)

// Attacks on the fat-node vectors (fvec.go): runs are values, whichever
// version is stepped, how often, from how many goroutines, and whether the
// step is refused.

// isHead reports whether r's vectors (stages, members, groups) are each
// their lineage's newest version: a step of r extends them in place
// instead of copying them.
func isHead(r Run) bool {
	return r.s.stages.l.head.Load() == r.s.stages.ver && r.s.members.l.head.Load() == r.s.members.ver && r.s.groups.l.head.Load() == r.s.groups.ver
}

// decoded returns a run decoded from b: it shares nothing with any other.
func decoded(t fataler, b string) Run {
	var r Run
	if err := json.Unmarshal([]byte(b), &r); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return r
}

// version is a run kept with what it encoded to when it was made.
type version struct {
	run    Run
	bytes  string
	status string
}

func keepVersion(t fataler, r Run) version {
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	st, err := json.Marshal(r.Status())
	if err != nil {
		t.Fatalf("marshal status: %v", err)
	}
	return version{run: r, bytes: string(b), status: string(st)}
}

// keepBytes is keepVersion without the status, for long runs.
func keepBytes(t fataler, r Run) version {
	return version{run: r, bytes: mustJSONT(t, r)}
}

func (v version) check(t fataler, what string) {
	if b := mustJSONT(t, v.run); b != v.bytes {
		t.Fatalf("%s: an old version encodes differently now:\nthen %s\nnow  %s", what, v.bytes, b)
	}
	if v.status == "" {
		return
	}
	if st := mustJSONT(t, v.run.Status()); st != v.status {
		t.Fatalf("%s: an old version's status differs now:\nthen %s\nnow  %s", what, v.status, st)
	}
}

func mustJSONT(t fataler, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(b)
}

// changedMisses returns the members whose status differs between prev and
// next that next.Changed(prev) does not name, and how many members differ.
func changedMisses(prev, next Run) (missed []string, differ int, changed []string) {
	changed = next.Changed(prev)
	for id := range next.p.members {
		name := next.p.members[id].Name
		a, _ := prev.Member(name)
		b, _ := next.Member(name)
		if !reflect.DeepEqual(a, b) {
			differ++
			if _, found := slices.BinarySearch(changed, name); !found {
				missed = append(missed, name)
			}
		}
	}
	return missed, differ, changed
}

// genAnyEvent draws an event for run r: mostly ones the run accepts, some it
// refuses (stale ops, skips with a bad target among good ones, invalid
// facts, gates not reached).
func genAnyEvent(t *rapid.T, sc scenario, r Run, ops []OpID, now time.Time) Event {
	member := func() string { return fmt.Sprintf("m-%02d", rapid.IntRange(0, 25).Draw(t, "member")) }
	switch rapid.IntRange(0, 11).Draw(t, "kind") {
	case 0:
		return Start{At: now}
	case 1:
		return Stop{At: now}
	case 2, 3:
		if w, ok := r.NextWake(); ok && rapid.Bool().Draw(t, "toWake") && w.After(now) {
			return Tick{At: w}
		}
		return Tick{At: now}
	case 4, 5:
		// An op of this run or of any other branch: stale ones are refused.
		for _, c := range r.InFlight() {
			ops = append(ops, c.Op)
		}
		if len(ops) == 0 {
			return Tick{At: now}
		}
		op := rapid.SampledFrom(ops).Draw(t, "op")
		if rapid.Bool().Draw(t, "succeed") {
			return UpgradeSucceeded{At: now, Op: op}
		}
		code := rapid.SampledFrom([]string{"QuotaExceeded", CodeNodeImageVersionNotAvailable}).Draw(t, "code")
		return UpgradeFailed{At: now, Op: op, Code: code, Message: "boom"}
	case 6:
		var targets []SkipTarget
		for range rapid.IntRange(1, 3).Draw(t, "targets") {
			typ := rapid.SampledFrom([]TargetType{TargetMember, TargetMember, TargetGroup, TargetStage, TargetAfterStageWait}).Draw(t, "type")
			var name string
			switch typ {
			case TargetMember:
				name = member()
			case TargetGroup:
				name = fmt.Sprintf("g-%d-%d", rapid.IntRange(0, 2).Draw(t, "s"), rapid.IntRange(0, 2).Draw(t, "g"))
			default:
				name = fmt.Sprintf("stage-%d", rapid.IntRange(0, 3).Draw(t, "s"))
			}
			targets = append(targets, SkipTarget{typ, name})
		}
		return Skip{At: now, Targets: targets}
	case 7:
		c := genCatalog(t)
		if rapid.IntRange(0, 3).Draw(t, "badCatalog") == 0 {
			c.Regions["bad"] = RegionCatalog{KubernetesVersions: []string{"not-a-version"}}
		}
		return CatalogChanged{At: now, Catalog: c}
	case 8, 9:
		if len(sc.members) == 0 {
			return Tick{At: now}
		}
		mem := rapid.SampledFrom(sc.members).Draw(t, "member")
		mem.AutoUpgradeWindow = rapid.SampledFrom(testWindows).Draw(t, "window")
		mem.NodeOSUpgradeWindow = mem.AutoUpgradeWindow
		if rapid.IntRange(0, 5).Draw(t, "badMember") == 0 {
			mem.Region = ""
		}
		return MemberChanged{At: now, Member: mem, Removed: rapid.IntRange(0, 5).Draw(t, "removed") == 0}
	default:
		var gates []GateID
		for _, c := range r.Outstanding() {
			if g, ok := c.(AwaitGate); ok {
				gates = append(gates, g.Gate)
			}
		}
		if len(gates) == 0 || rapid.IntRange(0, 4).Draw(t, "unknownGate") == 0 {
			return CompleteGate{At: now, Gate: GateID(fmt.Sprintf("run-1/stage-0/g-0-0/Before/%d", rapid.IntRange(0, 1).Draw(t, "k")))}
		}
		return CompleteGate{At: now, Gate: rapid.SampledFrom(gates).Draw(t, "gate")}
	}
}

// Any version of a run, stepped any number of times (branches), gives the
// commands, errors, bytes and status a run decoded from its bytes gives:
// the versions share their vectors' lineages, the decoded run shares
// nothing. A refused step leaves the run as it was and, if it was its
// lineages' newest, still the newest (its next step does not copy).
// Changed from any earlier version, sibling or unrelated run names every
// member whose status differs. At the end every version still encodes to
// the bytes it had when it was made.
func TestBranchingRunsMatchDecodedRuns(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := genScenario(t)
		r, err := New("run-1", sc.spec, sc.members, sc.catalog)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		versions := []version{keepVersion(t, r)}
		var ops []OpID
		now := t0
		for step := range rapid.IntRange(1, 40).Draw(t, "steps") {
			bi := len(versions) - 1
			if rapid.IntRange(0, 2).Draw(t, "older") == 0 {
				bi = rapid.IntRange(0, len(versions)-1).Draw(t, "base")
			}
			base := versions[bi]
			now = now.Add(time.Duration(rapid.IntRange(0, 6*60).Draw(t, "minutes")) * time.Minute)
			e := genAnyEvent(t, sc, base.run, ops, now)
			fresh := decoded(t, base.bytes)
			wasHead := isHead(base.run)
			what := fmt.Sprintf("step %d: %#v on version %d of %d", step, e, bi, len(versions))
			if !isHead(fresh) {
				// Decoding checks the run by stepping it, and must give it back.
				t.Fatalf("%s: a decoded run is not its vectors' newest: its first step would copy them", what)
			}
			next, cmds, err := Step(base.run, e)
			fnext, fcmds, ferr := Step(fresh, e)
			if fmt.Sprint(err) != fmt.Sprint(ferr) || !commandsEqual(cmds, fcmds) {
				t.Fatalf("%s: %v, %#v; decoded run: %v, %#v", what, err, cmds, ferr, fcmds)
			}
			base.check(t, what+": the stepped version")
			if err != nil {
				if next.s != base.run.s {
					t.Fatalf("%s: a refused step returned another run", what)
				}
				if wasHead && !isHead(base.run) {
					t.Fatalf("%s: a refused step left the run no longer its vectors' newest", what)
				}
				continue
			}
			nv := keepVersion(t, next)
			if fv := keepVersion(t, fnext); fv.bytes != nv.bytes || fv.status != nv.status {
				t.Fatalf("%s: differs from the decoded run's step:\n%s\n%s", what, nv.bytes, fv.bytes)
			}
			for _, c := range cmds {
				if u, ok := c.(UpgradeMember); ok {
					ops = append(ops, u.Op)
				}
			}
			// Changed from the base, from any version (earlier, sibling,
			// later), and from an unrelated run with the same members.
			for _, prev := range []Run{base.run, versions[rapid.IntRange(0, len(versions)-1).Draw(t, "prev")].run, fresh} {
				if missed, _, changed := changedMisses(prev, next); len(missed) > 0 {
					t.Fatalf("%s: Changed = %v misses %v", what, changed, missed)
				}
				if missed, _, changed := changedMisses(next, prev); len(missed) > 0 {
					t.Fatalf("%s: Changed backwards = %v misses %v", what, changed, missed)
				}
			}
			versions = append(versions, nv)
		}
		for i, v := range versions {
			v.check(t, fmt.Sprintf("version %d at the end", i))
		}
	})
}

// Every version of a run stepped from several goroutines at once, each
// twice in a row, while others read every version (bytes, status,
// Changed): each step gives what the same step of a decoded run gives, and
// every version reads as it did. Run with -race.
func TestConcurrentStepsOfSharedVersions(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := genScenario(t)
		r, err := New("run-1", sc.spec, sc.members, sc.catalog)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		// A history of accepted steps, each version with the event after it.
		versions := []version{keepVersion(t, r)}
		var events []Event
		now := t0
		for len(events) < 12 {
			now = now.Add(time.Duration(rapid.IntRange(0, 6*60).Draw(t, "minutes")) * time.Minute)
			e := genAnyEvent(t, sc, r, nil, now)
			next, _, err := Step(r, e)
			if err != nil {
				continue
			}
			events = append(events, e)
			r = next
			versions = append(versions, keepVersion(t, r))
		}
		type want struct {
			cmds  string
			bytes string
		}
		wants := make([]want, len(events))
		for i, e := range events {
			next, cmds, err := Step(decoded(t, versions[i].bytes), e)
			if err != nil {
				t.Fatalf("the decoded run refuses %#v: %v", e, err)
			}
			wants[i] = want{fmt.Sprintf("%#v", cmds), mustJSONT(t, next)}
		}
		// Versions are stepped again from here on: none is its lineages'
		// newest but the last, and several goroutines race for each.
		var mu sync.Mutex
		var errs []string
		fail := func(format string, args ...any) {
			mu.Lock()
			errs = append(errs, fmt.Sprintf(format, args...))
			mu.Unlock()
		}
		stepAndCompare := func(r Run, i int) (Run, bool) {
			next, cmds, err := Step(r, events[i])
			if err != nil {
				fail("step %d refused: %v", i, err)
				return Run{}, false
			}
			got, err := json.Marshal(next)
			if err != nil || fmt.Sprintf("%#v", cmds) != wants[i].cmds || string(got) != wants[i].bytes {
				fail("step %d: %#v %s; want %s %s", i, cmds, got, wants[i].cmds, wants[i].bytes)
				return Run{}, false
			}
			return next, true
		}
		var wg sync.WaitGroup
		for g := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range events {
					i := k
					if g%2 == 1 {
						i = len(events) - 1 - k // from the newest down
					}
					next, ok := stepAndCompare(versions[i].run, i)
					if ok && i+1 < len(events) {
						stepAndCompare(next, i+1)
					}
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, v := range versions {
				b, err := json.Marshal(v.run)
				if err != nil || string(b) != v.bytes {
					fail("version %d encodes differently while stepped: %s", i, b)
				}
				if st, err := json.Marshal(v.run.Status()); err != nil || string(st) != v.status {
					fail("version %d's status differs while stepped", i)
				}
				if i > 0 {
					if missed, _, changed := changedMisses(versions[i-1].run, v.run); len(missed) > 0 {
						fail("version %d: Changed = %v misses %v", i, changed, missed)
					}
				}
			}
		}()
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("%d failures, first: %s", len(errs), errs[0])
		}
		for i, v := range versions {
			v.check(t, fmt.Sprintf("version %d at the end", i))
		}
	})
}

// A small fleet stepped long enough that its vectors are rebased (a lineage
// holds 2*slots+4096 entries): failed members retried again and again,
// their windows and the catalog changed under them, the run stopped and
// started. Across every rebase, Changed from the previous version and from
// any earlier one names every member whose status changed, old versions
// read as they did, and a run decoded from the first version and given the
// same events ends with the same bytes at every step.
func TestRebasedRunsReadAndChangeAsBefore(t *testing.T) {
	ms := append(members("g1", "a", "b"), members("g2", "c")...)
	spec := Spec{Strategy: strategy(Stage{Name: "s1", Groups: []Group{
		{Name: "g1", MaxAllowedFailures: "100%"}, {Name: "g2", MaxAllowedFailures: "100%"}}}), ManagedClusterUpdate: full(k8sTo)}
	r, err := New("run-1", spec, ms, catalog())
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	windows := []*window.Schedule{nil, dailyWindow("22:00", 4), dailyWindow("06:00", 8)}
	now := t0
	versions := []version{keepVersion(t, r)}
	var events []Event
	lineages := map[*lineage[memberRec]]bool{r.s.members.l: true}
	glineages := map[*lineage[groupRec]]bool{r.s.groups.l: true}
	slineages := map[*lineage[stageRec]]bool{r.s.stages.l: true}
	for len(lineages) < 2 || len(glineages) < 2 {
		if len(events) > 60000 {
			t.Fatalf("no rebase after %d events (%d member lineages, %d group lineages)", len(events), len(lineages), len(glineages))
		}
		var e Event
		inflight := r.InFlight()
		switch k := rng.IntN(20); {
		case k < 6 && len(inflight) > 0:
			u := inflight[rng.IntN(len(inflight))]
			code := []string{"QuotaExceeded", CodeNodeImageVersionNotAvailable}[rng.IntN(2)]
			e = UpgradeFailed{At: now, Op: u.Op, Code: code, Message: "boom"}
		case k < 10:
			m := ms[rng.IntN(len(ms))]
			m.AutoUpgradeWindow = windows[rng.IntN(len(windows))]
			e = MemberChanged{At: now, Member: m}
		case k < 12:
			e = CatalogChanged{At: now, Catalog: catalog()}
		case k < 16:
			now = now.Add(time.Duration(rng.IntN(180)) * time.Minute)
			e = Tick{At: now}
		case k < 17:
			e = Stop{At: now}
		default:
			e = Start{At: now}
		}
		next, _, err := Step(r, e)
		if err != nil {
			continue
		}
		if next.State() == Completed || next.State() == Skipped {
			t.Fatalf("the run is %s after %d events; it should keep failing", next.State(), len(events))
		}
		prev := r
		r = next
		events = append(events, e)
		lineages[r.s.members.l] = true
		glineages[r.s.groups.l] = true
		slineages[r.s.stages.l] = true
		if missed, _, changed := changedMisses(prev, r); len(missed) > 0 {
			t.Fatalf("event %d (%#v): Changed = %v misses %v", len(events), e, changed, missed)
		}
		if old := versions[rng.IntN(len(versions))].run; true {
			if missed, _, changed := changedMisses(old, r); len(missed) > 0 {
				t.Fatalf("event %d (%#v): Changed from an earlier version = %v misses %v", len(events), e, changed, missed)
			}
		}
		if len(events)%16 == 0 {
			versions = append(versions, keepVersion(t, r))
		} else {
			versions = append(versions, keepBytes(t, r))
		}
	}
	for i, v := range versions {
		v.check(t, fmt.Sprintf("version %d at the end", i))
	}
	replay := decoded(t, versions[0].bytes)
	for i, e := range events {
		next, _, err := Step(replay, e)
		if err != nil {
			t.Fatalf("replay of event %d (%#v): %v", i, e, err)
		}
		rebase := replay.s.members.l != next.s.members.l || replay.s.groups.l != next.s.groups.l
		if i%16 != 0 && !rebase {
			replay = next
			continue
		}
		if b := mustJSONT(t, next); b != versions[i+1].bytes {
			t.Fatalf("replay of event %d (%#v) differs:\n%s\n%s", i, e, b, versions[i+1].bytes)
		}
		replay = next
	}
	// Branches of versions before, at and after each rebase step as fresh
	// runs do.
	for i := range versions[:len(versions)-1] {
		if versions[i].run.s.members.l == versions[i+1].run.s.members.l && versions[i].run.s.groups.l == versions[i+1].run.s.groups.l {
			continue
		}
		for _, j := range []int{i - 1, i, i + 1} {
			if j < 0 || j >= len(events) {
				continue
			}
			next, cmds, err := Step(versions[j].run, events[j])
			fnext, fcmds, ferr := Step(decoded(t, versions[j].bytes), events[j])
			if err != nil || ferr != nil || !commandsEqual(cmds, fcmds) || mustJSONT(t, next) != mustJSONT(t, fnext) {
				t.Fatalf("stepping version %d again (next to a rebase) differs from a decoded run's step: %v %v", j, err, ferr)
			}
			if missed, _, changed := changedMisses(versions[j].run, next); len(missed) > 0 {
				t.Fatalf("a branch of version %d: Changed = %v misses %v", j, changed, missed)
			}
		}
	}
	t.Logf("%d events, %d member lineages, %d group lineages, %d stage lineages", len(events), len(lineages), len(glineages), len(slineages))
}

// No event Step refuses today has changed a member or group by then (the
// events are checked first), so abort is driven here by hand: a step that
// writes members and groups, in place or in a copy, then is refused,
// leaves the run as it was, still its lineages' newest if it was, and the
// next step extends the lineages in place and matches a decoded run's.
func TestAbortAfterWritesGivesTheLineageBack(t *testing.T) {
	started := func(t *testing.T) Run {
		ms := append(members("g1", "a", "b"), members("g2", "c")...)
		spec := Spec{Strategy: strategy(Stage{Name: "s1", Groups: []Group{{Name: "g1"}, {Name: "g2"}}}), ManagedClusterUpdate: full(k8sTo)}
		r, err := New("run-1", spec, ms, catalog())
		if err != nil {
			t.Fatal(err)
		}
		r, _, err = Step(r, Start{At: t0})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	refuse := func(r Run) {
		var b stepper
		b.init(r)
		m := b.setState(0, Skipped) // member and group writes, as a skip makes
		m.setText(memberText{message: "aborted"})
		b.mutMember(2).attempt = 99
		b.mutMember(2).attempt = 98 // a slot set twice in one step
		b.setGroupCold(b.mutGroup(1), func(c *groupCold) { c.userSkipped = true })
		b.stage(0).starved = true
		b.stage(0).openGroups = 7 // a stage set twice in one step
		b.cold().errCode = "aborted"
		b.abort()
	}
	for _, tc := range []struct {
		name   string
		newest bool
	}{{"the newest version", true}, {"an older version", false}} {
		t.Run(tc.name, func(t *testing.T) {
			base := started(t)
			var later Run
			if !tc.newest {
				var err error
				later, _, err = Step(base, Skip{At: t0.Add(time.Minute), Targets: []SkipTarget{{TargetMember, "b"}}})
				if err != nil || isHead(base) || !isHead(later) {
					t.Fatalf("a skip of a waiting member did not extend the lineages: %v", err)
				}
			}
			saved := keepVersion(t, base)
			refuse(base)
			saved.check(t, "after an aborted step")
			if isHead(base) != tc.newest {
				t.Fatalf("after an aborted step the run is its lineages' newest: %v, want %v", isHead(base), tc.newest)
			}
			if !tc.newest && !isHead(later) {
				t.Fatal("an aborted step of an older version took the lineages from the newest")
			}
			e := UpgradeFailed{At: t0.Add(2 * time.Minute), Op: base.InFlight()[0].Op, Code: "QuotaExceeded"}
			next, cmds, err := Step(base, e)
			fnext, fcmds, ferr := Step(decoded(t, saved.bytes), e)
			if err != nil || ferr != nil || !commandsEqual(cmds, fcmds) || mustJSONT(t, next) != mustJSONT(t, fnext) {
				t.Fatalf("the step after an aborted one differs from a decoded run's: %v %v\n%#v\n%#v", err, ferr, cmds, fcmds)
			}
			if inPlace := next.s.members.l == base.s.members.l && next.s.groups.l == base.s.groups.l; inPlace != tc.newest {
				t.Fatalf("the step after an aborted one extended the lineages in place: %v, want %v", inPlace, tc.newest)
			}
			if missed, _, changed := changedMisses(base, next); len(missed) > 0 {
				t.Fatalf("Changed = %v misses %v", changed, missed)
			}
			saved.check(t, "after the next step")
			if !tc.newest {
				keepVersion(t, later) // still readable
			}
		})
	}
}

// A stage limited to one member at a time is starved on most steps, so its
// stage vector is written on most steps and rebased (TestRebasedRuns…
// rebases the member and group vectors only). Old versions read as they
// did, a run decoded from the first version and given the same events
// matches at every stage rebase, and versions next to one step again as
// decoded runs do.
func TestStageRebasedRunsReadAsBefore(t *testing.T) {
	ms := append(members("g1", "a", "b"), members("g2", "c")...)
	spec := Spec{Strategy: strategy(Stage{Name: "s1", MaxConcurrency: "1", Groups: []Group{
		{Name: "g1", MaxConcurrency: "2", MaxAllowedFailures: "100%"}, {Name: "g2", MaxAllowedFailures: "100%"}}}), ManagedClusterUpdate: full(k8sTo)}
	r, err := New("run-1", spec, ms, catalog())
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	now := t0
	versions := []version{keepBytes(t, r)}
	var events []Event
	for r.s.stages.l == versions[0].run.s.stages.l {
		if len(events) > 60000 {
			t.Fatalf("no stage rebase after %d events", len(events))
		}
		var e Event
		inflight := r.InFlight()
		switch k := rng.IntN(20); {
		case r.State() == Failed || r.State() == Stopped || k == 0:
			e = Start{At: now}
		case k < 4 && len(inflight) > 0:
			e = UpgradeFailed{At: now, Op: inflight[0].Op, Code: "QuotaExceeded", Message: "boom"}
		case k < 19:
			now = now.Add(time.Duration(rng.IntN(60)) * time.Minute)
			e = Tick{At: now}
		default:
			e = Stop{At: now}
		}
		next, _, err := Step(r, e)
		if err != nil {
			continue
		}
		if next.State() == Completed || next.State() == Skipped {
			t.Fatalf("the run is %s after %d events; it should keep failing", next.State(), len(events))
		}
		r = next
		events = append(events, e)
		versions = append(versions, keepBytes(t, r))
	}
	for i, v := range versions {
		v.check(t, fmt.Sprintf("version %d at the end", i))
	}
	replay := decoded(t, versions[0].bytes)
	for i, e := range events {
		next, _, err := Step(replay, e)
		if err != nil {
			t.Fatalf("replay of event %d (%#v): %v", i, e, err)
		}
		if b := mustJSONT(t, next); (i%16 == 0 || replay.s.stages.l != next.s.stages.l) && b != versions[i+1].bytes {
			t.Fatalf("replay of event %d (%#v) differs:\n%s\n%s", i, e, b, versions[i+1].bytes)
		}
		replay = next
	}
	last := len(events) - 1 // the step that rebased the stages
	for _, j := range []int{last - 1, last} {
		next, cmds, err := Step(versions[j].run, events[j])
		fnext, fcmds, ferr := Step(decoded(t, versions[j].bytes), events[j])
		if err != nil || ferr != nil || !commandsEqual(cmds, fcmds) || mustJSONT(t, next) != mustJSONT(t, fnext) {
			t.Fatalf("stepping version %d again (next to a stage rebase) differs from a decoded run's step: %v %v", j, err, ferr)
		}
	}
	if next, _, err := Step(r, Tick{At: now}); err != nil || !isHead(next) {
		t.Fatalf("the step after a stage rebase: %v, its vectors' newest: %v", err, err == nil && isHead(next))
	}
	t.Logf("%d events to rebase the stages", len(events))
}
