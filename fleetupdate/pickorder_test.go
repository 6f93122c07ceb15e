package fleetupdate

import (
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/fleetkit/fleetkit/planner"
	"github.com/fleetkit/fleetkit/window"
)

// The oracle for picks: whenever the run starts a member, it is the first
// member in planner.Order, over every member still waiting, whose window is
// open or who has none. Windows are shared by some members and unique to
// others; buckets, lazy cursors and cached intervals must not change the
// answer.
func TestPicksMatchPlannerOrderOracle(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 30).Draw(t, "members")
		ms := make([]Member, n)
		for i := range ms {
			ms[i] = member(fmt.Sprintf("m-%02d", rapid.IntRange(0, 99).Draw(t, "name")*100+i), "g")
			switch rapid.IntRange(0, 2).Draw(t, "windowKind") {
			case 1:
				ms[i].AutoUpgradeWindow = rapid.SampledFrom(testWindows).Draw(t, "shared")
			case 2:
				ms[i].AutoUpgradeWindow = &window.Schedule{
					Recurrence:    window.Recurrence{Daily: &window.DailySchedule{IntervalDays: rapid.IntRange(1, 3).Draw(t, "days")}},
					StartTime:     fmt.Sprintf("%02d:%02d", rapid.IntRange(0, 23).Draw(t, "h"), rapid.IntRange(0, 59).Draw(t, "m")),
					DurationHours: rapid.IntRange(4, 10).Draw(t, "hours"),
				}
			}
		}
		r, err := New("oracle", Spec{ManagedClusterUpdate: full(k8sTo)}, ms, catalog())
		if err != nil {
			t.Fatal(err)
		}
		now := t0
		ev := Event(Start{At: now})
		for steps := 0; r.State() != Completed; steps++ {
			if steps > 500 {
				t.Fatalf("no end: %s", r.State())
			}
			var waiting []planner.Candidate
			for _, m := range ms {
				if st := r.s.members.get(int(r.p.byName[m.Name])).state(); st == NotStarted || st == Pending {
					data := r.s.members.get(int(r.p.byName[m.Name])).data
					waiting = append(waiting, planner.Candidate{Name: m.Name, Window: data.AutoUpgradeWindow})
				}
			}
			next, cmds, err := Step(r, ev)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cmds {
				u, ok := c.(UpgradeMember)
				if !ok {
					continue
				}
				want := ""
				for _, c := range planner.Order(waiting, next.Clock()) {
					if p, _ := planner.Classify(c.Window, next.Clock()); p == planner.OpenNow || p == planner.NoWindow {
						want = c.Name
						break
					}
				}
				if u.Member != want {
					t.Fatalf("at %s the run started %s; planner order says %s", next.Clock(), u.Member, want)
				}
			}
			r = next
			if in := r.InFlight(); len(in) > 0 {
				now = now.Add(time.Duration(rapid.IntRange(1, 300).Draw(t, "minutes")) * time.Minute)
				ev = UpgradeSucceeded{At: now, Op: in[0].Op}
			} else if w, ok := r.NextWake(); ok {
				now = w
				ev = Tick{At: now}
			} else if r.State() != Completed {
				t.Fatalf("stuck in %s", r.State())
			}
		}
	})
}

// genOwnWindow draws a window as a team picking its own might: daily or
// weekly, every few days or weeks, any start, 4–12 hours, at an offset,
// sometimes with a start date or blocked dates around the run.
func genOwnWindow(t *rapid.T) *window.Schedule {
	s := &window.Schedule{
		StartTime:     fmt.Sprintf("%02d:%02d", rapid.IntRange(0, 23).Draw(t, "h"), rapid.SampledFrom([]int{0, 15, 30, 45, 7}).Draw(t, "m")),
		DurationHours: rapid.IntRange(4, 12).Draw(t, "hours"),
		UTCOffset:     rapid.SampledFrom([]string{"", "+05:30", "-08:00", "+14:00"}).Draw(t, "offset"),
	}
	if rapid.IntRange(0, 3).Draw(t, "daily") == 0 {
		s.Recurrence.Daily = &window.DailySchedule{IntervalDays: rapid.IntRange(1, 3).Draw(t, "days")}
	} else {
		s.Recurrence.Weekly = &window.WeeklySchedule{IntervalWeeks: rapid.IntRange(1, 2).Draw(t, "weeks"),
			DayOfWeek: rapid.SampledFrom([]window.Weekday{window.Sunday, window.Wednesday, window.Thursday, window.Saturday}).Draw(t, "day")}
	}
	day := func(label string) string {
		return t0.AddDate(0, 0, rapid.IntRange(-3, 20).Draw(t, label)).Format("2006-01-02")
	}
	if rapid.IntRange(0, 5).Draw(t, "startDate") == 0 {
		s.StartDate = day("from")
	}
	if rapid.IntRange(0, 5).Draw(t, "blocked") == 0 {
		d := day("blockedDay")
		s.NotAllowedDates = []window.DateSpan{{Start: d, End: d}}
	}
	return s
}

// The oracle for picks on fleets where most members have a window of their
// own, so a group holds hundreds of distinct windows, with members skipped,
// moved to other windows and given none, and up to three upgrades at a
// time: every member the run starts is, in turn, the first in planner.Order
// over the members waiting (as the step left them, plus those it started)
// whose window is open or who has none; and a run with a free slot leaves
// no such member waiting.
func TestPicksMatchPlannerOrderOracleOwnWindows(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 70).Draw(t, "members")
		ms := make([]Member, n)
		for i := range ms {
			ms[i] = member(fmt.Sprintf("m-%03d", i), "g")
			switch rapid.IntRange(0, 9).Draw(t, "windowKind") {
			case 0:
			case 1:
				ms[i].AutoUpgradeWindow = rapid.SampledFrom(testWindows).Draw(t, "shared")
			default:
				ms[i].AutoUpgradeWindow = genOwnWindow(t)
			}
		}
		limit := rapid.IntRange(1, 3).Draw(t, "limit")
		spec := Spec{ManagedClusterUpdate: full(k8sTo), Strategy: &Strategy{Stages: []Stage{{Name: "s", Groups: []Group{{Name: "g", MaxConcurrency: fmt.Sprint(limit)}}}}}}
		r, err := New("oracle", spec, ms, catalog())
		if err != nil {
			t.Fatal(err)
		}
		now := t0
		var ops []OpID
		ev := Event(Start{At: now})
		for steps := 0; ; steps++ {
			if steps > 4*n+200 {
				t.Fatalf("no end: %s", r.State())
			}
			next, cmds, err := Step(r, ev)
			if err != nil {
				t.Fatalf("%T: %v", ev, err)
			}
			// The whole check encodes the run twice: every few steps, and
			// the index (what this test is about) every step.
			if err := next.checkIndexes(); err != nil || steps%16 == 0 {
				if err == nil {
					err = next.check()
				}
				if err != nil {
					t.Fatalf("after %T: %v", ev, err)
				}
			}
			var waiting []planner.Candidate
			started := map[string]bool{}
			for _, c := range cmds {
				if u, ok := c.(UpgradeMember); ok {
					started[u.Member] = true
					ops = append(ops, u.Op)
				}
			}
			for id := range next.p.members {
				m := next.s.members.get(id)
				if m.eligible() || started[m.data.Name] {
					waiting = append(waiting, planner.Candidate{Name: m.data.Name, Window: m.data.AutoUpgradeWindow})
				}
			}
			firstStartable := func() string {
				for _, c := range planner.Order(waiting, next.Clock()) {
					if p, _ := planner.Classify(c.Window, next.Clock()); p == planner.OpenNow || p == planner.NoWindow {
						return c.Name
					}
				}
				return ""
			}
			for _, c := range cmds {
				u, ok := c.(UpgradeMember)
				if !ok {
					continue
				}
				if want := firstStartable(); u.Member != want {
					t.Fatalf("at %s the run started %s; planner order says %s", next.Clock(), u.Member, want)
				}
				for i, w := range waiting {
					if w.Name == u.Member {
						waiting = append(waiting[:i], waiting[i+1:]...)
						break
					}
				}
			}
			if next.State() == Running && int(next.s.groups.get(0).running) < limit {
				if w := firstStartable(); w != "" {
					t.Fatalf("at %s %s could start and waits with a slot free", next.Clock(), w)
				}
			}
			r = next
			if st := r.State(); st == Completed || st == Skipped {
				return
			}
			switch k := rapid.IntRange(0, 9).Draw(t, "event"); {
			case k == 0 && n > 0:
				m := ms[rapid.IntRange(0, n-1).Draw(t, "skip")]
				ev = Skip{At: now, Targets: []SkipTarget{{Type: TargetMember, Name: m.Name}}}
				if st := r.s.members.get(int(r.p.byName[m.Name])).state(); st == Running || st == Completed {
					ev = Tick{At: now}
				}
			case k == 1:
				m := ms[rapid.IntRange(0, n-1).Draw(t, "move")]
				switch rapid.IntRange(0, 2).Draw(t, "to") {
				case 0:
					m.AutoUpgradeWindow = nil
				case 1:
					m.AutoUpgradeWindow = ms[rapid.IntRange(0, n-1).Draw(t, "like")].AutoUpgradeWindow
				default:
					m.AutoUpgradeWindow = genOwnWindow(t)
				}
				ev = MemberChanged{At: now, Member: m}
			case len(ops) > 0 && k < 8:
				i := rapid.IntRange(0, len(ops)-1).Draw(t, "op")
				now = now.Add(time.Duration(rapid.IntRange(0, 600).Draw(t, "minutes")) * time.Minute)
				ev = UpgradeSucceeded{At: now, Op: ops[i]}
				ops = append(ops[:i], ops[i+1:]...)
			default:
				if w, ok := r.NextWake(); ok && rapid.Bool().Draw(t, "toWake") {
					now = w
				} else {
					now = now.Add(time.Duration(rapid.IntRange(1, 48*60).Draw(t, "later")) * time.Minute)
				}
				ev = Tick{At: now}
			}
		}
	})
}
