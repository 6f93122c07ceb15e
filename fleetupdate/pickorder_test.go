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
				if st := r.s.members.get(int(r.p.byName[m.Name])).state; st == NotStarted || st == Pending {
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
