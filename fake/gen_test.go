package fake

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"pgregory.net/rapid"

	"github.com/fleetkit/fleetkit/fleetupdate"
)

// Generated scenarios are valid by construction (fleetupdate.New accepts
// them), and together they cover gates of both types before and after
// stages and groups, failure budgets of both forms, and label selectors on
// stages (with and without groups) and groups.
func TestScenariosHaveGatesBudgetsAndSelectors(t *testing.T) {
	seen := map[string]int{}
	kinds := []string{
		"stage before Approval", "stage before ScheduledStart", "stage after Approval",
		"group before Approval", "group before ScheduledStart", "group after Approval",
		"stage budget n", "stage budget p%", "group budget n", "group budget p%",
		"stage selector without groups", "stage selector with groups", "group selector",
	}
	// Each kind is common, but -short draws only 20 scenarios a check: draw
	// again until all are seen (ten checks make a miss vanishingly rare).
	missing := func() bool {
		for _, k := range kinds {
			if seen[k] == 0 {
				return true
			}
		}
		return false
	}
	for round := 0; round < 10 && (round == 0 || missing()); round++ {
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
			budget := func(where, b string) {
				switch {
				case b == "":
				case b[len(b)-1] == '%':
					seen[where+" p%"]++
				default:
					seen[where+" n"]++
				}
			}
			for _, st := range sc.Spec.Strategy.Stages {
				gates("stage before", st.BeforeGates)
				gates("stage after", st.AfterGates)
				budget("stage budget", st.MaxAllowedFailures)
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
					budget("group budget", g.MaxAllowedFailures)
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
	}
	for _, k := range kinds {
		assert.Positive(t, seen[k], k)
	}
	assert.Zero(t, seen["stage after ScheduledStart"]+seen["group after ScheduledStart"], "ScheduledStart stands before only")
}

// Users complete gates in generated simulations: ActionsFor names them in
// the run, and some are accepted (early approvals) while others are refused
// (not reached yet, unknown).
func TestSimulationsCompleteGatesAsUsers(t *testing.T) {
	accepted, refused := 0, 0
	// Both kinds are common, but -short draws only 20 simulations a check:
	// draw again until both are seen (ten checks make a miss vanishingly rare).
	for range 10 {
		if accepted > 0 && refused > 0 {
			break
		}
		checkGatesCompleted(t, &accepted, &refused)
	}
	assert.Positive(t, accepted)
	assert.Positive(t, refused)
}

func checkGatesCompleted(t *testing.T, accepted, refused *int) {
	rapid.Check(t, func(t *rapid.T) {
		sim := Simulations().Draw(t, "simulation")
		users := map[fleetupdate.CompleteGate]bool{}
		for _, a := range sim.ActionsFor("r") {
			if c, ok := a.Event.(fleetupdate.CompleteGate); ok {
				if !strings.HasPrefix(string(c.Gate), "r/") {
					t.Fatalf("gate %q not in run r", c.Gate)
				}
				users[fleetupdate.CompleteGate{At: a.At, Gate: c.Gate}] = true
			}
		}
		tr, _, err := sim.Simulate("r", Options{Horizon: 60 * 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range tr.Entries {
			if c, ok := e.Event.(fleetupdate.CompleteGate); !ok || !users[c] {
				continue // not a user's
			}
			if e.Err == nil {
				*accepted++
			} else {
				*refused++
			}
		}
	})
}
