package fleetupdate

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/fleetkit/fleetkit/window"
)

// Attacks on the pick index's ownership (index.go): a stretch of versions
// of the groups lineage owns a group's index, a step that extends the
// lineage in place claims it (without copying the group record), a refused
// step gives it to nobody, and a rebase hands it to the new lineage. The
// oracle is a run replayed from New with the same events, which shares
// nothing with the runs under attack.

// ixTrace is a fleet to replay events on.
type ixTrace struct {
	spec Spec
	ms   []Member
	cat  Catalog
}

func (tr ixTrace) fresh(t fataler) Run {
	t.Helper()
	r, err := New("run-1", tr.spec, tr.ms, tr.cat)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return r
}

// replay steps a fresh run through events, which it must all accept.
func (tr ixTrace) replay(t fataler, events []Event) Run {
	t.Helper()
	r := tr.fresh(t)
	for i, e := range events {
		next, _, err := Step(r, e)
		if err != nil {
			t.Fatalf("replay of event %d (%#v): %v", i, e, err)
		}
		r = next
	}
	return r
}

// ixEvent is dtEvent with more members moving to windows no other member
// has (a new bucket in their group) and more ticks at the next wake-up.
func ixEvent(rng *rand.Rand, r Run, now *time.Time, ops *[]OpID, ms []Member) Event {
	switch k := rng.IntN(10); {
	case k == 0 && len(ms) > 0:
		m := ms[rng.IntN(len(ms))]
		m.AutoUpgradeWindow = dtWindow(rng)
		m.NodeOSUpgradeWindow = m.AutoUpgradeWindow
		return MemberChanged{At: *now, Member: m}
	case k == 1:
		if w, ok := r.NextWake(); ok {
			*now = w
		}
		return Tick{At: *now}
	}
	return dtEvent(rng, r, now, ops, ms)
}

// claimedOnly counts the groups whose index the step from prev to next
// claimed without copying the group's record: the case the ownership rule
// exists for.
func claimedOnly(prev, next Run) int {
	n := 0
	for g := range prev.p.groups {
		was, is := prev.s.groups.get(g), next.s.groups.get(g)
		if ix := ownedIndex(next.s.groups, int32(g)); was == is && ix != nil && ix.ver.Load() == next.s.gen {
			n++
		}
	}
	return n
}

// sameStep fails unless a step of a run under attack and the oracle's step
// gave the same error, commands, bytes and status.
func sameStep(t fataler, what string, next Run, cmds []Command, err error, onext Run, ocmds []Command, oerr error, status bool) {
	t.Helper()
	if fmt.Sprint(err) != fmt.Sprint(oerr) || !commandsEqual(cmds, ocmds) {
		t.Fatalf("%s: %v %#v; the replayed run: %v %#v", what, err, cmds, oerr, ocmds)
	}
	if b, ob := mustJSONT(t, next), mustJSONT(t, onext); b != ob {
		t.Fatalf("%s: differs from the replayed run:\n%s\n%s", what, b, ob)
	}
	if status {
		if s, os := mustJSONT(t, next.Status()), mustJSONT(t, onext.Status()); s != os {
			t.Fatalf("%s: status differs from the replayed run's:\n%s\n%s", what, s, os)
		}
	}
	if err := next.checkIndexes(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func addOps(ops []OpID, cmds []Command) []OpID {
	for _, c := range cmds {
		if u, ok := c.(UpgradeMember); ok {
			ops = append(ops, u.Op)
		}
	}
	return ops
}

// A main line of events with detours: before some steps, the newest run is
// first stepped with a few other events (which claim its indexes in place,
// often without changing a group record), and sometimes checked (check
// steps it and aborts: the indexes that step claimed become nobody's);
// then the main line goes on from the run it had, which is no longer its
// lineage's newest. Every step of the main line and of every detour, and
// then a branch from every run of the main line, and the main line's tail
// stepped from a decoded run, give what a run replayed from New gives.
func TestIndexOwnershipDetoursMatchReplay(t *testing.T) {
	seeds := uint64(10)
	if testing.Short() {
		seeds = 3
	}
	var claims, detours, checks int
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(seed, 0x1d))
		spec, ms, cat := dtScenario(rng)
		tr := ixTrace{spec, ms, cat}
		r := tr.fresh(t)
		oracle := tr.fresh(t) // stepped once per main event, never branched
		now := t0
		var ops []OpID
		runs, saved := []Run{r}, []string{mustJSONT(t, r)}
		nows, opsAt := []time.Time{now}, [][]OpID{nil}
		var events []Event
		for step := range 120 {
			if rng.IntN(3) == 0 {
				// A detour from the newest run, checked against a replay.
				detours++
				b, o := r, tr.replay(t, events)
				bnow, bops := now, slices.Clone(ops)
				for j := range 1 + rng.IntN(3) {
					e := ixEvent(rng, b, &bnow, &bops, ms)
					next, cmds, err := Step(b, e)
					onext, ocmds, oerr := Step(o, e)
					sameStep(t, fmt.Sprintf("seed %d step %d detour %d (%#v)", seed, step, j, e), next, cmds, err, onext, ocmds, oerr, j == 0)
					if err == nil {
						claims += claimedOnly(b, next)
						b, o, bops = next, onext, addOps(bops, cmds)
					}
				}
				if rng.IntN(2) == 0 {
					checks++
					if err := b.check(); err != nil {
						t.Fatalf("seed %d step %d: the detour's run: %v", seed, step, err)
					}
					// Its indexes may be nobody's now; the next step must
					// still match.
					e := ixEvent(rng, b, &bnow, &bops, ms)
					next, cmds, err := Step(b, e)
					onext, ocmds, oerr := Step(o, e)
					sameStep(t, fmt.Sprintf("seed %d step %d after a check (%#v)", seed, step, e), next, cmds, err, onext, ocmds, oerr, true)
				}
			}
			e := ixEvent(rng, r, &now, &ops, ms)
			next, cmds, err := Step(r, e)
			onext, ocmds, oerr := Step(oracle, e)
			sameStep(t, fmt.Sprintf("seed %d step %d (%#v)", seed, step, e), next, cmds, err, onext, ocmds, oerr, step%8 == 0)
			if err != nil {
				continue
			}
			claims += claimedOnly(r, next)
			r, oracle, ops = next, onext, addOps(ops, cmds)
			events = append(events, e)
			runs, saved = append(runs, r), append(saved, mustJSONT(t, r))
			nows, opsAt = append(nows, now), append(opsAt, slices.Clone(ops))
		}
		// A branch from every run of the main line, older ones first (so
		// the ones after it are stepped again after an older one was).
		for k := range runs {
			b, o := runs[k], tr.replay(t, events[:k])
			brng := rand.New(rand.NewPCG(seed, uint64(k)))
			bnow, bops := nows[k], slices.Clone(opsAt[k])
			for j := range 1 + brng.IntN(4) {
				e := ixEvent(brng, b, &bnow, &bops, ms)
				next, cmds, err := Step(b, e)
				onext, ocmds, oerr := Step(o, e)
				sameStep(t, fmt.Sprintf("seed %d: branch %d.%d (%#v)", seed, k, j, e), next, cmds, err, onext, ocmds, oerr, j == 0)
				if err == nil {
					b, o, bops = next, onext, addOps(bops, cmds)
				}
			}
			if k < len(events) {
				again, _, err := Step(runs[k], events[k])
				if err != nil || mustJSONT(t, again) != saved[k+1] {
					t.Fatalf("seed %d: run %d stepped again with its own event went another way (%v)", seed, k, err)
				}
			}
		}
		// The tail of the main line from a run decoded midway, and from the
		// run itself, once more.
		k := rng.IntN(len(runs))
		d, live := decoded(t, saved[k]), runs[k]
		for i, e := range events[k:] {
			dn, dc, derr := Step(d, e)
			ln, lc, lerr := Step(live, e)
			if derr != nil || lerr != nil || !commandsEqual(dc, lc) || mustJSONT(t, dn) != saved[k+i+1] || mustJSONT(t, ln) != saved[k+i+1] {
				t.Fatalf("seed %d: the tail from run %d, event %d: decoded %v, live %v", seed, k, k+i, derr, lerr)
			}
			d, live = dn, ln
		}
		for i, run := range runs {
			if mustJSONT(t, run) != saved[i] {
				t.Fatalf("seed %d: run %d encodes differently now", seed, i)
			}
			if err := run.checkIndexes(); err != nil {
				t.Fatalf("seed %d: run %d: %v", seed, i, err)
			}
		}
	}
	t.Logf("%d detours, %d checks, %d indexes claimed without copying the group record", detours, checks, claims)
	if claims == 0 {
		t.Fatal("no step claimed an index without copying the group record: the test misses the case it is for")
	}
}

// stepAborted runs a step of r with e to its end and takes it back, as a
// step refused after it changed the run would (no event Step refuses does
// that today: refusals come first). It reports whether the step claimed an
// index in place.
func stepAborted(r Run, e Event) (claimed bool) {
	var b stepper
	if _, _, err := step(r, e, &b); err != nil {
		return false // step aborted it already
	}
	if b.s == nil {
		return false // accepted before the step began (a fact after the end)
	}
	if l := b.s.groups.l; b.gw.claimed && !b.gw.cloned {
		for g := range int32(len(r.p.groups)) {
			ix := l.index(g)
			claimed = claimed || ix != nil && ix.owner.Load() == l && ix.ver.Load() == b.gen
		}
	}
	b.abort()
	return claimed
}

// Steps taken back after they claimed and changed indexes (picks that
// moved queues on, buckets added, reaches), once or several times, from
// the newest run or an older one: the run steps on as the replayed run
// does, and every version reads as it did.
func TestAbortedStepsLeaveTheIndexesAsIfTheyNeverHappened(t *testing.T) {
	seeds := uint64(10)
	if testing.Short() {
		seeds = 3
	}
	var claims int
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(seed, 0xab))
		spec, ms, cat := dtScenario(rng)
		tr := ixTrace{spec, ms, cat}
		r, oracle := tr.fresh(t), tr.fresh(t)
		now := t0
		var ops []OpID
		runs, saved := []Run{r}, []string{mustJSONT(t, r)}
		for step := range 150 {
			e := ixEvent(rng, r, &now, &ops, ms)
			for range rng.IntN(3) {
				// Refused: this event, or another one.
				x := e
				if rng.IntN(2) == 0 {
					xnow, xops := now, slices.Clone(ops)
					x = ixEvent(rng, r, &xnow, &xops, ms)
				}
				if stepAborted(r, x) {
					claims++
				}
				if rng.IntN(4) == 0 {
					// And one from an older run, which cannot claim.
					k := rng.IntN(len(runs))
					xnow, xops := now, slices.Clone(ops)
					stepAborted(runs[k], ixEvent(rng, runs[k], &xnow, &xops, ms))
				}
			}
			if got := mustJSONT(t, r); got != saved[len(saved)-1] {
				t.Fatalf("seed %d step %d: a step taken back changed the run", seed, step)
			}
			next, cmds, err := Step(r, e)
			onext, ocmds, oerr := Step(oracle, e)
			sameStep(t, fmt.Sprintf("seed %d step %d (%#v)", seed, step, e), next, cmds, err, onext, ocmds, oerr, step%8 == 0)
			if err != nil {
				continue
			}
			r, oracle, ops = next, onext, addOps(ops, cmds)
			runs, saved = append(runs, r), append(saved, mustJSONT(t, r))
		}
		for i, run := range runs {
			if mustJSONT(t, run) != saved[i] {
				t.Fatalf("seed %d: run %d encodes differently now", seed, i)
			}
		}
	}
	t.Logf("%d steps taken back after claiming an index", claims)
	if claims == 0 {
		t.Fatal("no step taken back had claimed an index")
	}
}

// Goroutines that step the same run at once, each on through the same few
// events (one of them extends the lineage and claims the indexes, the
// others copy), while another reads older versions: every goroutine's runs
// match a replayed run's, and the older versions read as they did. The
// main line goes on from one goroutine's last run. Run it with -race.
func TestIndexOwnershipUnderConcurrentSteps(t *testing.T) {
	seeds := uint64(4)
	if testing.Short() {
		seeds = 2
	}
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(seed, 0xc0))
		spec, ms, cat := dtScenario(rng)
		tr := ixTrace{spec, ms, cat}
		r, oracle := tr.fresh(t), tr.fresh(t)
		now := t0
		var ops []OpID
		old := []version{keepVersion(t, r)}
		for round := range 40 {
			// The events, and what they give, from the oracle.
			var chain []Event
			var want []string
			var wantCmds [][]Command
			for range 1 + rng.IntN(3) {
				e := ixEvent(rng, oracle, &now, &ops, ms)
				next, cmds, err := Step(oracle, e)
				if err != nil {
					continue
				}
				chain, want, wantCmds = append(chain, e), append(want, mustJSONT(t, next)), append(wantCmds, cmds)
				oracle, ops = next, addOps(ops, cmds)
			}
			const steppers = 3
			ends := make([]Run, steppers)
			errs := make([]string, steppers+1)
			done := make(chan int)
			for w := range steppers {
				go func() {
					defer func() { done <- w }()
					b := r
					for i, e := range chain {
						next, cmds, err := Step(b, e)
						if err != nil || !commandsEqual(cmds, wantCmds[i]) {
							errs[w] = fmt.Sprintf("event %d: %v %v, want %v", i, err, cmds, wantCmds[i])
							return
						}
						if b, _ := next.MarshalJSON(); string(b) != want[i] {
							errs[w] = fmt.Sprintf("event %d: differs from the replayed run", i)
							return
						}
						// No checkIndexes here: runs of different goroutines
						// can share a groups version that another is stepping.
						b = next
					}
					ends[w] = b
				}()
			}
			go func() {
				defer func() { done <- steppers }()
				for _, v := range old[max(0, len(old)-4):] {
					if b, _ := v.run.MarshalJSON(); string(b) != v.bytes {
						errs[steppers] = "an older version encodes differently"
						return
					}
					if b, _ := json.Marshal(v.run.Status()); string(b) != v.status {
						errs[steppers] = "an older version's status differs"
						return
					}
				}
			}()
			for range steppers + 1 {
				<-done
			}
			for w, err := range errs {
				if err != "" {
					t.Fatalf("seed %d round %d: goroutine %d: %s", seed, round, w, err)
				}
			}
			for w, end := range ends {
				if err := end.checkIndexes(); err != nil {
					t.Fatalf("seed %d round %d: goroutine %d's run: %v", seed, round, w, err)
				}
			}
			r = ends[rng.IntN(steppers)]
			old = append(old, keepVersion(t, r))
		}
	}
}

// A small fleet stepped long enough that its groups lineage rebases a few
// times, members moving between many windows (buckets added to groups
// whose index is claimed, and to groups whose index is not): the main line
// matches a replayed run at every step, the indexes move to the new
// lineage at a rebase, and detours from the newest run next to each rebase
// and branches from the runs around it match replayed runs.
func TestIndexOwnershipAcrossRebases(t *testing.T) {
	ms := append(members("g1", "a", "b", "c"), members("g2", "d", "e")...)
	spec := Spec{Strategy: strategy(Stage{Name: "s1", Groups: []Group{
		{Name: "g1", MaxAllowedFailures: "100%", MaxConcurrency: "1"}, {Name: "g2", MaxAllowedFailures: "100%"}}}), ManagedClusterUpdate: full(k8sTo)}
	tr := ixTrace{spec, ms, catalog()}
	rng := rand.New(rand.NewPCG(3, 4))
	var windows []*window.Schedule
	windows = append(windows, nil)
	for h := range 24 {
		windows = append(windows, dailyWindow(fmt.Sprintf("%02d:%02d", h, 15*(h%4)), 1+h%5))
	}
	r, oracle := tr.fresh(t), tr.fresh(t)
	now := t0
	next := func(rng *rand.Rand, r Run, now *time.Time) Event {
		inflight := r.InFlight()
		switch k := rng.IntN(20); {
		case k < 6 && len(inflight) > 0:
			u := inflight[rng.IntN(len(inflight))]
			code := []string{"QuotaExceeded", CodeNodeImageVersionNotAvailable}[rng.IntN(2)]
			return UpgradeFailed{At: *now, Op: u.Op, Code: code, Message: "boom"}
		case k < 10:
			m := ms[rng.IntN(len(ms))]
			m.AutoUpgradeWindow = windows[rng.IntN(len(windows))]
			return MemberChanged{At: *now, Member: m}
		case k < 11:
			return CatalogChanged{At: *now, Catalog: catalog()}
		case k < 16:
			*now = now.Add(time.Duration(rng.IntN(180)) * time.Minute)
			if w, ok := r.NextWake(); ok && rng.IntN(2) == 0 {
				*now = w
			}
			return Tick{At: *now}
		case k < 17:
			return Stop{At: *now}
		}
		return Start{At: *now}
	}
	runs, nows := []Run{r}, []time.Time{now}
	var events []Event
	var rebases []int // i: runs[i+1] is in a new groups lineage
	handed := 0
	detour := func(what string, b Run, k int, bnow time.Time, rng *rand.Rand) {
		t.Helper()
		o := tr.replay(t, events[:k])
		for j := range 1 + rng.IntN(4) {
			e := next(rng, b, &bnow)
			nb, cmds, err := Step(b, e)
			no, ocmds, oerr := Step(o, e)
			sameStep(t, fmt.Sprintf("%s.%d (%#v)", what, j, e), nb, cmds, err, no, ocmds, oerr, true)
			if err == nil {
				b, o = nb, no
			}
		}
	}
	for len(rebases) < 3 {
		if len(events) > 100000 {
			t.Fatalf("%d rebases after %d events", len(rebases), len(events))
		}
		e := next(rng, r, &now)
		wasHead := r.s.groups.l.head.Load() == r.s.groups.ver // else the step copies the vector: no rebase
		n, cmds, err := Step(r, e)
		on, ocmds, oerr := Step(oracle, e)
		if fmt.Sprint(err) != fmt.Sprint(oerr) || !commandsEqual(cmds, ocmds) {
			t.Fatalf("event %d (%#v): %v %v; replayed: %v %v", len(events), e, err, cmds, oerr, ocmds)
		}
		if err != nil {
			continue
		}
		if len(events)%64 == 0 || n.s.groups.l != r.s.groups.l {
			sameStep(t, fmt.Sprintf("event %d (%#v)", len(events), e), n, cmds, err, on, ocmds, oerr, true)
		}
		if wasHead && n.s.groups.l != r.s.groups.l {
			rebases = append(rebases, len(events))
			for g := range n.p.groups {
				if ownedIndex(n.s.groups, int32(g)) != nil {
					handed++
				}
			}
		}
		rebased := len(rebases) > 0 && rebases[len(rebases)-1] >= len(events)-1
		r, oracle = n, on
		events = append(events, e)
		runs, nows = append(runs, r), append(nows, now)
		if rebased {
			// A detour from the newest run, right after a rebase and one
			// step later; the main line then goes on from it.
			detour(fmt.Sprintf("detour after event %d", len(events)-1), r, len(events), now, rand.New(rand.NewPCG(uint64(len(events)), 1)))
		}
	}
	if handed == 0 {
		t.Fatal("no index was handed to a new lineage at a rebase")
	}
	for _, i := range rebases {
		for _, j := range []int{i - 1, i, i + 1, i + 2} {
			if j >= 0 && j < len(runs) {
				detour(fmt.Sprintf("branch of run %d (rebase at event %d)", j, i), runs[j], j, nows[j], rand.New(rand.NewPCG(uint64(j), 2)))
			}
		}
	}
	t.Logf("%d events, rebases after events %v, %d indexes handed over", len(events), rebases, handed)
}

// Checking a live run (check's Tick at rest) takes no pick index from it:
// the run owns the same indexes after the check as before. The fleet's
// windows are all closed at first, so the check's Tick picks (and reaches
// the closed windows) in a group with a free slot.
func TestCheckLeavesTheRunItsIndexes(t *testing.T) {
	spec, ms := partialDayFleet(7)
	r, err := New("chk", spec, ms, catalog())
	if err != nil {
		t.Fatal(err)
	}
	owned := func(r Run) (ixs []*groupIndex, n int) {
		for g := range r.p.groups {
			ix := ownedIndex(r.s.groups, int32(g))
			ixs = append(ixs, ix)
			if ix != nil {
				n++
			}
		}
		return ixs, n
	}
	now := t0
	for step := range 40 {
		if r, _, err = Step(r, Tick{At: now}); step == 0 {
			r, _, err = Step(r, Start{At: now})
		}
		if err != nil {
			t.Fatal(err)
		}
		before, n := owned(r)
		if n == 0 {
			t.Fatalf("step %d: the run owns no index to check", step)
		}
		if err := r.check(); err != nil {
			t.Fatal(err)
		}
		if after, _ := owned(r); !slices.Equal(before, after) {
			t.Fatalf("step %d: the run owned %d indexes before its check and not the same after", step, n)
		}
		now = now.Add(37 * time.Minute)
	}
}
