package fake

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"pgregory.net/rapid"

	"github.com/fleetkit/fleetkit/fleetupdate"
)

// Generated scenarios are valid by construction (fleetupdate.New accepts
// them), and together they cover gates of both types before and after
// stages and groups, and label selectors on
// stages (with and without groups) and groups.
func TestScenariosHaveGatesBudgetsAndSelectors(t *testing.T) {
	seen := map[string]int{}
	rapid.Check(t, func(t *rapid.T) {
		sc := Scenarios().Draw(t, "scenario")
		run, err := sc.NewRun("gen")
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if sc.Spec.Strategy == nil {
			return
		}
		gates := func(where string, gs []fleetupdate.GateConfiguration) {
			for _, g := range gs {
				seen[where+" "+string(g.Type)]++
			}
		}
		for _, st := range sc.Spec.Strategy.Stages {
			gates("stage before", st.BeforeGates)
			gates("stage after", st.AfterGates)
			if st.MemberSelector != nil {
				if len(st.Groups) == 0 {
					seen["stage selector without groups"]++
				} else {
					seen["stage selector with groups"]++
				}
			}
			for _, g := range st.Groups {
				gates("group before", g.BeforeGates)
				gates("group after", g.AfterGates)
				if g.MemberSelector != nil {
					seen["group selector"]++
				}
			}
		}
		// Selected members are all in the run; none is lost to a selector
		// that names its own group.
		in := 0
		for _, s := range run.Status().Stages {
			for _, g := range s.Groups {
				in += len(g.Members)
			}
		}
		if in > len(sc.Fleet.Members) {
			t.Fatalf("%d members in the run, %d in the fleet", in, len(sc.Fleet.Members))
		}
	})
	for _, k := range []string{
		"stage before Approval", "stage before ScheduledStart", "stage after Approval",
		"group before Approval", "group before ScheduledStart", "group after Approval",
		"stage selector without groups", "stage selector with groups", "group selector",
	} {
		assert.Positive(t, seen[k], k)
	}
	assert.Zero(t, seen["stage after ScheduledStart"]+seen["group after ScheduledStart"], "ScheduledStart stands before only")
}
