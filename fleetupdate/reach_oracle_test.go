package fleetupdate

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/fleetkit/fleetkit/window"
)

// An oracle for what a pick does to buckets it does not pick (pick's
// comment), computed from the run's state and the windows alone, without
// the index:
//
//   - after a step that advanced every group (Start, Tick, CatalogChanged),
//     a group of the active stage with a slot free tried a pick last and
//     found no member that can start: every bucket with a member waiting is
//     closed, reached at its window's next opening, and a wake-up is owed
//     there (none for a window that never opens again);
//   - after a step that started a member of a group, no bucket of that group
//     with a member waiting (or just started) is both open and reached;
//   - after a step that started a member with no window, every bucket of its
//     group with a member waiting whose window opens within
//     planner.SoonWithin is reached there, with a wake-up owed (it ranked
//     first, and that pick found no window open);
//   - a bucket a step reached (that prev had not reached at that opening) is
//     reached at its window's next opening, after the clock, and within
//     planner.SoonWithin of it unless the group has a slot free (a pick
//     that reaches further finds no member to start).
func checkReach(prev, r Run, e Event, cmds []Command) error {
	if r.s.phase != Running || r.s.stage >= len(r.p.stages) || r.s.stages.get(r.s.stage).phase != stageGroups {
		return nil
	}
	st := r.s.stage
	t := r.s.clock.Unix()
	startedIn, noWindow := map[int32]bool{}, map[int32]bool{}
	startedBucket := map[[2]int32]bool{}
	for _, c := range cmds {
		if u, ok := c.(UpgradeMember); ok {
			id := r.p.byName[u.Member]
			g := r.p.groupOf[id]
			startedIn[g] = true
			bi := r.s.members.get(int(id)).bucket
			startedBucket[[2]int32{g, bi}] = true
			if r.s.groups.get(int(g)).buckets.get(int(bi)).sched == nil {
				noWindow[g] = true
			}
		}
	}
	all := false
	switch e.(type) {
	case Start, Tick, CatalogChanged:
		all = true
	}
	for _, g := range r.p.stages[st].groups {
		pg, gr := &r.p.groups[g], r.s.groups.get(int(g))
		free := all && r.groupPhase(g) == groupMembers && !gr.userSkipped &&
			gr.running < int32(pg.limit) && r.s.running(st) < r.p.stages[st].limit
		waiting := make([]int, gr.buckets.n)
		for _, id := range pg.members {
			if m := r.s.members.get(int(id)); m.eligible() {
				waiting[m.bucket]++
			}
		}
		for bi := range gr.buckets.n {
			rec := gr.buckets.get(bi)
			if err := checkNewlyReached(prev, r, g, bi, gr.running < int32(pg.limit)); err != nil {
				return err
			}
			if waiting[bi] == 0 && !startedBucket[[2]int32{g, int32(bi)}] {
				continue
			}
			if rec.sched == nil {
				if free && waiting[bi] > 0 {
					return fmt.Errorf("group %d: a member with no window waits with a slot free", g)
				}
				continue
			}
			var s int64
			ok := false
			if rec.comp != nil {
				s, _, ok = rec.comp.NextUnix(t)
			}
			open := ok && s <= t
			if open && rec.reached && (startedIn[g] || free) {
				return fmt.Errorf("group %d bucket %d: open at %d and still reached (at %v)", g, bi, t, rec.opening)
			}
			soonReached := noWindow[g] && ok && s > t && s <= t+soon
			if !(free || soonReached) || waiting[bi] == 0 {
				continue
			}
			if open {
				return fmt.Errorf("group %d bucket %d: open at %d, a member waits with a slot free", g, bi, t)
			}
			want := time.Time{}
			if ok {
				want = time.Unix(s, 0).UTC()
			}
			if !rec.reached || !rec.opening.Equal(want) {
				return fmt.Errorf("group %d bucket %d: ranks before the pick at %d and is not reached at its opening %v (reached %t at %v)", g, bi, t, want, rec.reached, rec.opening)
			}
			if ok {
				if _, found := slices.BinarySearchFunc(r.s.wakes, want, time.Time.Compare); !found {
					return fmt.Errorf("group %d bucket %d: reached at %v and no wake-up is owed there (%v)", g, bi, want, r.s.wakes)
				}
			}
		}
	}
	return nil
}

// checkNewlyReached checks bucket bi of group g if the step from prev to r
// reached it (see checkReach); free: the group has a slot free (which a
// pick that found no member to start leaves so).
func checkNewlyReached(prev, r Run, g int32, bi int, free bool) error {
	rec := r.s.groups.get(int(g)).buckets.get(bi)
	if !rec.reached || rec.sched == nil {
		return nil
	}
	if was := prev.s.groups.get(int(g)).buckets; bi < was.n && was.get(bi).reached && was.get(bi).opening.Equal(rec.opening) {
		return nil
	}
	t := r.s.clock.Unix()
	want := time.Time{}
	if rec.comp != nil {
		if s, _, ok := rec.comp.NextUnix(t); ok {
			want = time.Unix(s, 0).UTC()
		}
	}
	switch {
	case !rec.opening.Equal(want) || !want.IsZero() && want.Unix() <= t:
		return fmt.Errorf("group %d bucket %d: reached at %v at %d; its window next opens at %v", g, bi, rec.opening, t, want)
	case !free && (want.IsZero() || want.Unix() > t+soon):
		return fmt.Errorf("group %d bucket %d: reached at %v at %d, later than soon, and the group has no slot free", g, bi, rec.opening, t)
	}
	return nil
}

// reachWindow draws a window for the reach oracle: none, shared, a team's
// own, open all the time, or one that stops opening a few days in (until
// year 9999: a valid window always opens again).
func reachWindow(rng *rand.Rand, shared []*window.Schedule) *window.Schedule {
	switch rng.IntN(8) {
	case 0:
		return nil
	case 1, 2:
		return shared[rng.IntN(len(shared))]
	case 3:
		return &window.Schedule{Recurrence: window.Recurrence{Daily: &window.DailySchedule{IntervalDays: 1}}, StartTime: "00:00", DurationHours: 24}
	case 4:
		w := dtWindow(rng)
		w.StartDate = ""
		from := t0.AddDate(0, 0, rng.IntN(4)).Format("2006-01-02")
		w.NotAllowedDates = []window.DateSpan{{Start: from, End: "9998-12-31"}}
		return w
	}
	return dtWindow(rng)
}

// reachScenario is dtScenario's fleet with reachWindow's windows, on the
// hour more often, so that ticks at wake-ups land on openings and ticks at
// ends on ends.
func reachScenario(rng *rand.Rand) (Spec, []Member, Catalog) {
	spec, ms, cat := dtScenario(rng)
	shared := []*window.Schedule{dailyWindow("22:00", 4), dailyWindow("06:00", 8), dtWindow(rng)}
	for i := range ms {
		ms[i].AutoUpgradeWindow = reachWindow(rng, shared)
		if w := ms[i].AutoUpgradeWindow; w != nil && rng.IntN(2) == 0 && w.StartTime != "00:00" {
			c := *w
			c.StartTime = c.StartTime[:3] + "00"
			ms[i].AutoUpgradeWindow = &c
		}
		ms[i].NodeOSUpgradeWindow = ms[i].AutoUpgradeWindow
	}
	return spec, ms, cat
}

// reachEvent draws the next event: mostly ticks (at wake-ups, exactly
// where a member's window opens or closes, or soon before it opens) and outcomes, with members moved
// (some to windows that stop opening), catalog changes, skips, stops and
// restarts, and failures.
func reachEvent(rng *rand.Rand, r Run, now *time.Time, ops *[]OpID, ms []Member, shared []*window.Schedule) Event {
	switch st := r.State(); {
	case st == Stopped || st == Failed || st == NotStarted:
		if rng.IntN(3) > 0 {
			return Start{At: *now}
		}
	case st == Running && rng.IntN(40) == 0:
		return Stop{At: *now}
	}
	// nearWindow moves now to where a member's window opens (k 0), closes
	// (1) or soon before it opens (2), if that is later.
	nearWindow := func(k int) {
		if len(ms) == 0 {
			return
		}
		m := r.s.members.get(int(r.p.byName[ms[rng.IntN(len(ms))].Name]))
		if w := windowFor(m.data, r.p.v.upType); w != nil {
			if s, e, ok := compileWindow(w).NextUnix(now.Unix()); ok {
				at := s
				switch {
				case s <= now.Unix() || k == 1:
					at = e
				case k == 2:
					at = s - rng.Int64N(soon+1)
				}
				if at != never && at > now.Unix() {
					*now = time.Unix(at, 0).UTC()
				}
			}
		}
	}
	switch k := rng.IntN(20); {
	case k < 4:
		nearWindow(k % 3)
		return Tick{At: *now}
	case k < 8:
		if w, ok := r.NextWake(); ok && rng.IntN(4) > 0 {
			*now = w
		} else {
			*now = now.Add(time.Duration(1+rng.IntN(12*60)) * time.Minute)
		}
		return Tick{At: *now}
	case k < 14 && len(*ops) > 0:
		i := rng.IntN(len(*ops))
		op := (*ops)[i]
		*ops = append((*ops)[:i], (*ops)[i+1:]...)
		if rng.IntN(2) == 0 {
			*now = now.Add(time.Duration(rng.IntN(180)) * time.Minute)
		} else {
			nearWindow(2) // a member with no window may start while windows open soon
		}
		if rng.IntN(12) == 0 {
			return UpgradeFailed{At: *now, Op: op, Code: []string{"QuotaExceeded", CodeNodeImageVersionNotAvailable}[rng.IntN(2)], Message: "boom"}
		}
		return UpgradeSucceeded{At: *now, Op: op}
	case k < 17 && len(ms) > 0:
		m := ms[rng.IntN(len(ms))]
		m.AutoUpgradeWindow = reachWindow(rng, shared)
		m.NodeOSUpgradeWindow = m.AutoUpgradeWindow
		return MemberChanged{At: *now, Member: m, Removed: rng.IntN(15) == 0}
	case k < 18:
		return CatalogChanged{At: *now, Catalog: dtCatalog(rng)}
	case k < 19 && len(ms) > 0:
		return Skip{At: *now, Targets: []SkipTarget{{TargetMember, ms[rng.IntN(len(ms))].Name}}}
	}
	return dtEvent(rng, r, now, ops, ms)
}

// Picks reach and clear buckets as the oracle says, on fleets driven
// through every event, many before Start (while the index is cold), with
// ticks at openings and ends; a run decoded before a step (whose index is
// built cold at its first pick), and an older run stepped again (which
// builds one from a copy of the groups), step as the live run.
func TestPicksReachAndClearBucketsAsTheOracleSays(t *testing.T) {
	seeds := uint64(40)
	if testing.Short() {
		seeds = 12
	}
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(seed, 0x4eac))
		spec, ms, cat := reachScenario(rng)
		shared := []*window.Schedule{dailyWindow("22:00", 4), dtWindow(rng)}
		r, err := New("run-1", spec, ms, cat)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		now := t0
		var ops []OpID
		var runs []Run
		var events []Event
		pre := rng.IntN(8)
		for step := range 120 {
			var e Event
			if step < pre {
				// Before Start: members move, the catalog changes, members are skipped.
				switch rng.IntN(4) {
				case 0:
					e = CatalogChanged{At: now, Catalog: dtCatalog(rng)}
				case 1:
					if len(ms) > 0 {
						e = Skip{At: now, Targets: []SkipTarget{{TargetMember, ms[rng.IntN(len(ms))].Name}}}
						break
					}
					fallthrough
				default:
					e = reachEvent(rng, r, &now, &ops, ms, shared)
					if _, ok := e.(Start); ok {
						e = Tick{At: now}
					}
				}
			} else if step == pre {
				e = Start{At: now}
			} else {
				e = reachEvent(rng, r, &now, &ops, ms, shared)
			}
			what := func() string { return fmt.Sprintf("seed %d step %d (%T)", seed, step, e) }
			var decoded Run
			if rng.IntN(3) == 0 {
				if err := json.Unmarshal([]byte(mustJSON(t, r)), &decoded); err != nil {
					t.Fatalf("%s: decode: %v", what(), err)
				}
			}
			next, cmds, err := Step(r, e)
			if decoded.p != nil {
				next2, cmds2, err2 := Step(decoded, e)
				if fmt.Sprint(err) != fmt.Sprint(err2) || !commandsEqual(cmds, cmds2) || err == nil && mustJSON(t, next) != mustJSON(t, next2) {
					t.Fatalf("%s: the live run gave %v %v, the decoded one %v %v", what(), cmds, err, cmds2, err2)
				}
				if err2 == nil {
					if err := next2.checkIndexes(); err != nil {
						t.Fatalf("%s: decoded: %v", what(), err)
					}
				}
			}
			if err != nil {
				continue
			}
			if err := next.checkIndexes(); err != nil {
				t.Fatalf("%s: %v", what(), err)
			}
			if err := checkReach(r, next, e, cmds); err != nil {
				t.Fatalf("%s at %s: %v", what(), next.Clock(), err)
			}
			if len(runs) > 0 && rng.IntN(6) == 0 {
				k := rng.IntN(len(runs))
				want := r
				if k+1 < len(runs) {
					want = runs[k+1]
				}
				again, _, err := Step(runs[k], events[k])
				if err != nil || mustJSON(t, again) != mustJSON(t, want) {
					t.Fatalf("%s: stepping run %d again went another way (%v)", what(), k, err)
				}
				if err := again.checkIndexes(); err != nil {
					t.Fatalf("%s: run %d stepped again: %v", what(), k, err)
				}
			}
			runs, events = append(runs, r), append(events, e)
			r = next
			ops = addOps(ops, cmds)
			if st := r.State(); st == Completed || st == Skipped {
				break
			}
		}
	}
}

// One at a time, members with no window and members whose daily windows
// open at any minute: each member with no window starts while others'
// windows open soon (planner.SoonWithin, to the second), a second before
// an opening, at one, or at an end, often in a run just decoded (whose
// index is filled then); the picks reach buckets as the oracle says (the
// soon rule most of all).
func TestNoWindowPicksReachWindowsOpeningSoon(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var ms []Member
		none := rapid.IntRange(1, 4).Draw(t, "noWindow")
		for i := range none {
			ms = append(ms, member(fmt.Sprintf("a-%d", i), "g"))
		}
		for i := range rapid.IntRange(1, 8).Draw(t, "windowed") {
			m := member(fmt.Sprintf("b-%d", i), "g")
			m.AutoUpgradeWindow = dailyWindow(fmt.Sprintf("%02d:%02d", rapid.IntRange(0, 23).Draw(t, "h"), rapid.IntRange(0, 59).Draw(t, "m")), rapid.IntRange(4, 8).Draw(t, "hours"))
			ms = append(ms, m)
		}
		spec := Spec{ManagedClusterUpdate: full(k8sTo), Strategy: &Strategy{Stages: []Stage{{Name: "s", Groups: []Group{{Name: "g", MaxConcurrency: "1"}}}}}}
		r, err := New("soon", spec, ms, catalog())
		if err != nil {
			t.Fatal(err)
		}
		now := t0.Add(time.Duration(rapid.IntRange(0, 24*60).Draw(t, "start")) * time.Minute)
		ev := Event(Start{At: now})
		for step := 0; step < 60; step++ {
			if rapid.Bool().Draw(t, "decode") {
				// A decoded run fills its index at this step's clock (warm).
				var decoded Run
				if err := json.Unmarshal([]byte(mustJSONR(t, r)), &decoded); err != nil {
					t.Fatal(err)
				}
				r = decoded
			}
			next, cmds, err := Step(r, ev)
			if err != nil {
				t.Fatal(err)
			}
			if err := next.checkIndexes(); err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
			if err := checkReach(r, next, ev, cmds); err != nil {
				t.Fatalf("step %d (%T at %s): %v", step, ev, next.Clock(), err)
			}
			r = next
			if r.Done() {
				return
			}
			// Next: the next wake-up, an opening, an end, soon before an
			// opening, or later.
			c := compileWindow(ms[rapid.IntRange(none, len(ms)-1).Draw(t, "near")].AutoUpgradeWindow)
			var at time.Time
			if w, ok := r.NextWake(); ok && rapid.Bool().Draw(t, "wake") {
				at = w
			} else {
				s, e, _ := c.NextUnix(now.Unix())
				switch rapid.IntRange(0, 4).Draw(t, "where") {
				case 0:
					at = time.Unix(s, 0).UTC()
				case 1:
					at = time.Unix(e, 0).UTC()
				case 2:
					at = now.Add(time.Duration(rapid.IntRange(1, 600).Draw(t, "later")) * time.Minute)
				default:
					before := rapid.SampledFrom([]int64{soon, soon - 1, soon + 1, 1, 1, rapid.Int64Range(0, soon).Draw(t, "any")}).Draw(t, "before")
					at = time.Unix(s-before, 0).UTC()
				}
			}
			if at.After(now) {
				now = at
			}
			ev = Tick{At: now}
			if in := r.InFlight(); len(in) > 0 {
				ev = UpgradeSucceeded{At: now, Op: in[0].Op}
			}
		}
	})
}
