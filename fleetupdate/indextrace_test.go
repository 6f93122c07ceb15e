package fleetupdate

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/fleetkit/fleetkit/window"
)

// Randomized traces that exercise every event on small fleets where most
// members have windows of their own, to check the pick index, which is
// derived state: a run holding an index it has kept up step by step, the
// same run decoded from JSON (which builds its index afresh), and an older
// run stepped again (whose index a later run took over) all step alike.

// dtWindow draws a window a team might pick.
func dtWindow(rng *rand.Rand) *window.Schedule {
	s := &window.Schedule{
		StartTime:     fmt.Sprintf("%02d:%02d", rng.IntN(24), []int{0, 15, 30, 45, 7}[rng.IntN(5)]),
		DurationHours: 4 + rng.IntN(9),
		UTCOffset:     []string{"", "+05:30", "-08:00", "+14:00"}[rng.IntN(4)],
	}
	if rng.IntN(4) == 0 {
		s.Recurrence.Daily = &window.DailySchedule{IntervalDays: 1 + rng.IntN(3)}
	} else {
		s.Recurrence.Weekly = &window.WeeklySchedule{IntervalWeeks: 1 + rng.IntN(2), DayOfWeek: []window.Weekday{window.Sunday, window.Wednesday, window.Thursday, window.Saturday}[rng.IntN(4)]}
	}
	day := func() string { return t0.AddDate(0, 0, rng.IntN(24)-3).Format("2006-01-02") }
	if rng.IntN(6) == 0 {
		s.StartDate = day()
	}
	if rng.IntN(6) == 0 {
		d := day()
		s.NotAllowedDates = []window.DateSpan{{Start: d, End: d}}
	}
	return s
}

// dtScenario draws stages, groups, gates, budgets, an upgrade and up to 60 members.
func dtScenario(rng *rand.Rand) (Spec, []Member, Catalog) {
	var stages []Stage
	var groups []string
	gated := rng.IntN(2) == 0
	for i := range 1 + rng.IntN(3) {
		st := Stage{Name: fmt.Sprintf("stage-%d", i)}
		if rng.IntN(2) == 0 {
			st.AfterStageWaitInSeconds = []int{60, 3600}[rng.IntN(2)]
		}
		if rng.IntN(2) == 0 {
			st.MaxConcurrency = []string{"1", "2", "3", "50%", "100%"}[rng.IntN(5)]
		}
		st.MaxAllowedFailures = []string{"", "", "0", "1", "2", "50%"}[rng.IntN(6)]
		if gated && rng.IntN(3) == 0 {
			st.BeforeGates = []GateConfiguration{{Type: Approval}}
		}
		if gated && rng.IntN(3) == 0 {
			st.AfterGates = []GateConfiguration{{Type: Approval}}
		}
		for j := range 1 + rng.IntN(3) {
			g := Group{Name: fmt.Sprintf("g-%d-%d", i, j)}
			if rng.IntN(2) == 0 {
				g.MaxConcurrency = []string{"1", "2", "4", "50%", "100%"}[rng.IntN(5)]
			}
			g.MaxAllowedFailures = []string{"", "", "0", "1", "2", "50%"}[rng.IntN(6)]
			if gated && rng.IntN(3) == 0 {
				g.BeforeGates = []GateConfiguration{{Type: ScheduledStart, ScheduledStartConfiguration: &ScheduledStartConfiguration{StartDay: window.Thursday, StartTime: "11:30", UTCOffset: "+00:00"}}}
			}
			if gated && rng.IntN(3) == 0 {
				g.AfterGates = []GateConfiguration{{Type: Approval}}
			}
			st.Groups = append(st.Groups, g)
			groups = append(groups, g.Name)
		}
		stages = append(stages, st)
	}
	up := []UpgradeType{Full, ControlPlaneOnly, NodeImageOnly}[rng.IntN(3)]
	mcu := ManagedClusterUpdate{Upgrade: UpgradeSpec{Type: up}}
	if up != NodeImageOnly {
		mcu.Upgrade.KubernetesVersion = []string{"1.30", "1.30.5"}[rng.IntN(2)]
	}
	if up != ControlPlaneOnly {
		sel := []NodeImageSelectionType{Latest, Consistent, Custom}[rng.IntN(3)]
		mcu.NodeImageSelection = &NodeImageSelection{Type: sel}
		if sel == Custom {
			mcu.NodeImageSelection.CustomNodeImageVersions = []NodeImageVersion{{imgMid}}
		}
	}
	spec := Spec{ManagedClusterUpdate: mcu}
	if rng.IntN(5) > 0 {
		spec.Strategy = &Strategy{Stages: stages}
	}
	shared := []*window.Schedule{nil, dailyWindow("22:00", 4), dailyWindow("06:00", 8), dtWindow(rng)}
	var ms []Member
	for i := range rng.IntN(60) {
		m := Member{Name: fmt.Sprintf("m-%02d", i), Group: groups[rng.IntN(len(groups))],
			Region: []string{regionA, regionB, "japaneast"}[rng.IntN(3)], KubernetesVersion: []string{"1.28.9", "1.29.4", "1.29.4", "1.30.5"}[rng.IntN(4)]}
		switch rng.IntN(3) {
		case 0:
			m.AutoUpgradeWindow = shared[rng.IntN(len(shared))]
		default:
			m.AutoUpgradeWindow = dtWindow(rng)
		}
		m.NodeOSUpgradeWindow = m.AutoUpgradeWindow
		if rng.IntN(3) == 0 {
			m.NodeOSUpgradeWindow = shared[rng.IntN(len(shared))]
		}
		for p := range rng.IntN(3) {
			np := NodePool{Name: fmt.Sprintf("pool%d", p), NodeImageVersion: []string{imgOld, imgMid, imgNew, "AKSWindows-2022-containerd-20348.3000.250101"}[rng.IntN(4)]}
			if rng.IntN(4) == 0 {
				np.KubernetesVersion = []string{"1.26.1", "1.28.9", "1.29.4"}[rng.IntN(3)]
			}
			m.NodePools = append(m.NodePools, np)
		}
		ms = append(ms, m)
	}
	return spec, ms, dtCatalog(rng)
}

// dtCatalog draws a catalog in which one region may lag.
func dtCatalog(rng *rand.Rand) Catalog {
	c := catalog()
	if rng.IntN(2) == 0 {
		c.Regions["japaneast"] = RegionCatalog{KubernetesVersions: []string{"1.29.4"}, NodeImageVersions: []string{imgOld}}
	} else {
		c.Regions["japaneast"] = c.Regions[regionA]
	}
	return c
}

// dtEvent draws the next event for r at now (which it may move on).
func dtEvent(rng *rand.Rand, r Run, now *time.Time, ops *[]OpID, ms []Member) Event {
	var e Event
	switch k := rng.IntN(20); {
	case k < 2:
		e = Start{At: *now}
	case k < 3:
		e = Stop{At: *now}
	case k < 8:
		*now = now.Add(time.Duration(1+rng.IntN(12*60)) * time.Minute)
		if w, ok := r.NextWake(); ok && rng.IntN(2) == 0 {
			*now = w
		}
		e = Tick{At: *now}
	case k < 13 && len(*ops) > 0:
		i := rng.IntN(len(*ops))
		op := (*ops)[i]
		*ops = append((*ops)[:i], (*ops)[i+1:]...)
		if rng.IntN(5) == 0 {
			e = UpgradeFailed{At: *now, Op: op, Code: []string{"QuotaExceeded", CodeNodeImageVersionNotAvailable}[rng.IntN(2)], Message: "boom"}
		} else {
			e = UpgradeSucceeded{At: *now, Op: op}
		}
	case k < 14:
		typ := []TargetType{TargetMember, TargetGroup, TargetStage, TargetAfterStageWait}[rng.IntN(4)]
		name := fmt.Sprintf("m-%02d", rng.IntN(60))
		switch typ {
		case TargetGroup:
			name = fmt.Sprintf("g-%d-%d", rng.IntN(3), rng.IntN(3))
		case TargetStage, TargetAfterStageWait:
			name = fmt.Sprintf("stage-%d", rng.IntN(3))
		}
		e = Skip{At: *now, Targets: []SkipTarget{{typ, name}}}
	case k < 15:
		e = CatalogChanged{At: *now, Catalog: dtCatalog(rng)}
	case k < 17 && len(ms) > 0:
		m := ms[rng.IntN(len(ms))]
		switch rng.IntN(3) {
		case 0:
			m.AutoUpgradeWindow = nil
		case 1:
			m.AutoUpgradeWindow = ms[rng.IntN(len(ms))].AutoUpgradeWindow
		default:
			m.AutoUpgradeWindow = dtWindow(rng)
		}
		m.NodeOSUpgradeWindow = m.AutoUpgradeWindow
		e = MemberChanged{At: *now, Member: m, Removed: rng.IntN(8) == 0}
	default:
		out := r.Outstanding()
		var gates []GateID
		for _, c := range out {
			if a, ok := c.(AwaitGate); ok {
				gates = append(gates, a.Gate)
			}
		}
		if len(gates) > 0 {
			e = CompleteGate{At: *now, Gate: gates[rng.IntN(len(gates))]}
		} else {
			e = Tick{At: *now}
		}
	}
	return e
}

func TestDecodedAndOlderRunsStepAsTheLiveRun(t *testing.T) {
	// Decoding checks the run, which steps and encodes it: it is what makes
	// this slow, so a quarter of the steps are compared with a decoded run.
	seeds := uint64(8)
	if testing.Short() {
		seeds = 3
	}
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(seed, 7))
		spec, ms, cat := dtScenario(rng)
		r, err := New("run-1", spec, ms, cat)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		now := t0
		var ops []OpID
		var runs []Run
		var events []Event
		for step := range 150 {
			e := dtEvent(rng, r, &now, &ops, ms)
			next, cmds, err := Step(r, e)
			if rng.IntN(4) == 0 {
				var decoded Run
				if err := json.Unmarshal([]byte(mustJSON(t, r)), &decoded); err != nil {
					t.Fatalf("seed %d step %d: decode: %v", seed, step, err)
				}
				next2, cmds2, err2 := Step(decoded, e)
				if (err == nil) != (err2 == nil) || !commandsEqual(cmds, cmds2) || mustJSON(t, next) != mustJSON(t, next2) {
					t.Fatalf("seed %d step %d (%T): the live run gave %v %v, the decoded one %v %v", seed, step, e, cmds, err, cmds2, err2)
				}
			}
			if err != nil {
				continue
			}
			if len(runs) > 0 && rng.IntN(8) == 0 {
				k := rng.IntN(len(runs))
				want := r // what runs[k] became
				if k+1 < len(runs) {
					want = runs[k+1]
				}
				again, _, err := Step(runs[k], events[k])
				if err != nil || mustJSON(t, again) != mustJSON(t, want) {
					t.Fatalf("seed %d step %d: stepping run %d again went another way (%v)", seed, step, k, err)
				}
			}
			runs, events = append(runs, r), append(events, e)
			r = next
			for _, c := range cmds {
				if u, ok := c.(UpgradeMember); ok {
					ops = append(ops, u.Op)
				}
			}
		}
	}
}
