package fleetupdate

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// FuzzStep drives a fixed staged run, with gates and a failure budget, with
// an arbitrary event sequence, one byte per event: it must never panic, keep
// its invariants (Run.check), and a rejected event must return the run
// unchanged.
func FuzzStep(f *testing.F) {
	f.Add([]byte{0, 3, 3, 3, 4, 3, 3, 2, 1, 0, 5, 6, 7, 3, 3})
	f.Add([]byte{2, 2, 0, 1, 0, 8, 9, 10, 11, 4, 4, 4})
	f.Add([]byte{5, 0, 12, 13, 14, 15, 3, 3, 3, 3, 3, 3, 3, 3})
	ms := twoStageMembers()
	ms[0].AutoUpgradeWindow = dailyWindow("22:00", 4)
	ms[3].KubernetesVersion = "1.28.9"
	spec := twoStages(600)
	spec.Strategy.Stages[0].BeforeGates = []GateConfiguration{{Type: Approval}}
	spec.Strategy.Stages[0].Groups[0].AfterGates = []GateConfiguration{{Type: Approval}}
	spec.Strategy.Stages[0].Groups[0].MaxAllowedFailures = "1"
	spec.Strategy.Stages[0].MaxAllowedFailures = "1"
	spec.Strategy.Stages[1].BeforeGates = []GateConfiguration{{Type: ScheduledStart, ScheduledStartConfiguration: &ScheduledStartConfiguration{StartDay: "Thursday", StartTime: "09:00", UTCOffset: "+01:00"}}}
	gates := []GateID{"run-1/test/Before/0", "run-1/test/t1/After/0", "run-1/prod/Before/0", "run-1/nope/Before/0"}
	base, err := New("run-1", spec, ms, catalog())
	if err != nil {
		f.Fatal(err)
	}
	lagging := catalog()
	lagging.Regions[regionA] = RegionCatalog{KubernetesVersions: []string{"1.29.4"}, NodeImageVersions: []string{imgOld}}
	f.Fuzz(func(t *testing.T, script []byte) {
		r := base
		now := t0
		for i, c := range script {
			ops := r.InFlight()
			op := OpID(fmt.Sprintf("run-1/t1-a/%d", c%3))
			if len(ops) > 0 {
				op = ops[int(c)%len(ops)].Op
			}
			name := ms[int(c)%len(ms)].Name
			var e Event
			switch c % 18 {
			case 0:
				e = Start{At: now}
			case 1:
				e = Stop{At: now}
			case 2:
				e = Skip{At: now, Targets: []SkipTarget{{TargetMember, name}}}
			case 3:
				e = UpgradeSucceeded{At: now, Op: op}
			case 4:
				e = UpgradeFailed{At: now, Op: op, Code: "Boom"}
			case 5:
				e = UpgradeFailed{At: now, Op: op, Code: CodeNodeImageVersionNotAvailable}
			case 6:
				now = now.Add(time.Duration(c) * 7 * time.Minute)
				e = Tick{At: now}
			case 7:
				if w, ok := r.NextWake(); ok {
					now = w
				}
				e = Tick{At: now}
			case 8:
				e = Skip{At: now, Targets: []SkipTarget{{TargetGroup, []string{"t1", "t2", "p1", "zz"}[c%4]}}}
			case 9:
				e = Skip{At: now, Targets: []SkipTarget{{TargetStage, []string{"test", "prod"}[c%2]}}}
			case 10:
				e = Skip{At: now, Targets: []SkipTarget{{TargetAfterStageWait, "test"}}}
			case 11:
				e = CatalogChanged{At: now, Catalog: lagging}
			case 12:
				e = CatalogChanged{At: now, Catalog: catalog()}
			case 13:
				e = MemberChanged{At: now, Member: ms[int(c)%len(ms)], Removed: true}
			case 14:
				m := ms[int(c)%len(ms)]
				m.AutoUpgradeWindow = dailyWindow("11:00", 4)
				e = MemberChanged{At: now, Member: m}
			case 15:
				e = Tick{At: now.Add(-time.Hour)}
			case 16, 17:
				e = CompleteGate{At: now, Gate: gates[int(c/18)%len(gates)]}
			}
			before, _ := json.Marshal(r)
			next, _, err := Step(r, e)
			after, _ := json.Marshal(r)
			if string(before) != string(after) {
				t.Fatalf("event %d (%T) mutated its input", i, e)
			}
			if err != nil {
				if got, _ := json.Marshal(next); string(got) != string(before) {
					t.Fatalf("rejected event %d (%T) changed the run", i, e)
				}
				continue
			}
			r = next
			if err := r.check(); err != nil {
				t.Fatalf("event %d (%T): %v", i, e, err)
			}
			var back Run
			b, _ := json.Marshal(r)
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatalf("event %d: the run does not decode: %v", i, err)
			}
			_ = r.Status()
		}
	})
}
