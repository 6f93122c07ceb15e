package fleetupdate

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// "No strategy → one stage, one group, all members, one at a time."
func TestNoStrategyRunsOneByOne(t *testing.T) {
	h := newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, members("ignored", "c", "a", "b"), catalog())
	st := h.run.Status()
	require.Len(t, st.Stages, 1)
	require.Len(t, st.Stages[0].Groups, 1)
	assert.Len(t, st.Stages[0].Groups[0].Members, 3)
	h.start()
	assert.Equal(t, []string{"a"}, h.started(), "by name when no windows")
	h.succeed("a")
	assert.Equal(t, []string{"b"}, h.started())
	h.succeed("b")
	assert.Equal(t, []string{"c"}, h.started())
	h.succeed("c")
	assert.Equal(t, Completed, h.run.State())
}

// "Stages strictly in order; groups of a stage in parallel."
func TestStagesRunInOrderAndGroupsInParallel(t *testing.T) {
	spec := Spec{Strategy: strategy(
		Stage{Name: "test", Groups: []Group{{Name: "t1"}, {Name: "t2"}}},
		Stage{Name: "prod", Groups: []Group{{Name: "p1"}}},
	), ManagedClusterUpdate: full(k8sTo)}
	ms := append(append(members("t1", "t1-a", "t1-b"), members("t2", "t2-a")...), members("p1", "p1-a")...)
	ms = append(ms, member("stray", "other")) // its group is in no stage: not in the run
	h := newHost(t, spec, ms, catalog())
	h.start()
	assert.ElementsMatch(t, []string{"t1-a", "t2-a"}, h.started(), "one per group, both groups at once")
	h.succeed("t2-a")
	assert.Empty(t, h.started())
	h.succeed("t1-a")
	assert.Equal(t, []string{"t1-b"}, h.started())
	assert.Equal(t, NotStarted, h.stage("prod").Status.State)
	h.succeed("t1-b")
	assert.Equal(t, []string{"p1-a"}, h.started(), "prod starts once test is done")
	assert.Equal(t, Completed, h.stage("test").Status.State)
	_, ok := h.run.p.byName["stray"]
	assert.False(t, ok)
}

// "inside a group up to the group's maxConcurrency members at once (default 1 …)",
// "across the stage at most the stage's maxConcurrency".
func TestConcurrencyLimitsOfGroupAndStage(t *testing.T) {
	spec := Spec{Strategy: strategy(Stage{Name: "s", MaxConcurrency: "2", Groups: []Group{{Name: "a", MaxConcurrency: "5"}, {Name: "b", MaxConcurrency: "5"}}}), ManagedClusterUpdate: full(k8sTo)}
	ms := append(members("a", names("a", 5)...), members("b", names("b", 5)...)...)
	h := newHost(t, spec, ms, catalog())
	h.start()
	// Azure's example: stage "2" with groups "5"/"5" gives 2 in total.
	assert.Len(t, h.started(), 2)
	h.succeed(h.started()[0])
	assert.Len(t, h.started(), 1, "a freed slot is refilled")
	assert.Len(t, h.run.InFlight(), 2)
}

// Azure's worked example: 20 clusters (A=8, B=12), stage 25% → 5, A 50% → 4, B 25% → 3.
func TestAzureConcurrencyWorkedExample(t *testing.T) {
	spec := Spec{Strategy: strategy(Stage{Name: "s", MaxConcurrency: "25%", Groups: []Group{{Name: "a", MaxConcurrency: "50%"}, {Name: "b", MaxConcurrency: "25%"}}}), ManagedClusterUpdate: full(k8sTo)}
	ms := append(members("a", names("a", 8)...), members("b", names("b", 12)...)...)
	h := newHost(t, spec, ms, catalog())
	p := h.run.p
	assert.Equal(t, 5, p.stages[0].limit)
	assert.Equal(t, 4, p.groups[0].limit)
	assert.Equal(t, 3, p.groups[1].limit)
	// Status shows them resolved, as Azure's UpdateStageStatus and UpdateGroupStatus do.
	st := h.run.Status().Stages[0]
	assert.Equal(t, []int{5, 4, 3}, []int{st.MaxConcurrency, st.Groups[0].MaxConcurrency, st.Groups[1].MaxConcurrency})
	h.start()
	inA, inB := 0, 0
	for _, m := range h.started() {
		if m[0] == 'a' {
			inA++
		} else {
			inB++
		}
	}
	assert.Equal(t, 5, inA+inB, "the stage ceiling binds")
	assert.LessOrEqual(t, inA, 4)
	assert.LessOrEqual(t, inB, 3)
}

func TestGroupConcurrencyPercentRoundsDownWithMinimumOne(t *testing.T) {
	spec := Spec{Strategy: strategy(Stage{Name: "s", Groups: []Group{{Name: "a", MaxConcurrency: "10%"}, {Name: "b", MaxConcurrency: "9"}}}), ManagedClusterUpdate: full(k8sTo)}
	h := newHost(t, spec, append(members("a", names("a", 5)...), members("b", names("b", 3)...)...), catalog())
	assert.Equal(t, 1, h.run.p.groups[0].limit, "10% of 5 rounds down to 0, minimum 1")
	assert.Equal(t, 3, h.run.p.groups[1].limit, "capped by the group size")
}

// "Picks use planner order at the moment of the pick."
func TestPicksFollowPlannerOrder(t *testing.T) {
	ms := members("g", "a-none", "b-closed", "c-soon", "d-open")
	ms[1].AutoUpgradeWindow = dailyWindow("20:00", 4) // 8 h away
	ms[2].AutoUpgradeWindow = dailyWindow("15:00", 4) // 3 h away
	ms[3].AutoUpgradeWindow = dailyWindow("11:00", 4) // open at noon
	h := newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, ms, catalog())
	h.start()
	assert.Equal(t, []string{"d-open"}, h.started())
	h.succeed("d-open")
	// c-soon ranks before a-none but its window is closed: it goes Pending, a-none starts.
	assert.Equal(t, []string{"a-none"}, h.started())
	assert.Equal(t, Pending, h.state("c-soon"))
	assert.Equal(t, NotStarted, h.state("b-closed"), "not reached yet")
	h.succeed("a-none")
	assert.Equal(t, Pending, h.state("b-closed"))
	assert.Equal(t, Pending, h.run.State(), "every unfinished member waits for a window")
	assert.Empty(t, h.started())
}

// "Window closed → member Pending with the next opening in its message; run tries the next member;
// WakeAt for the opening; eligible again then."
func TestMemberPendingWhenWindowClosed(t *testing.T) {
	ms := members("g", "a", "b")
	ms[0].AutoUpgradeWindow = dailyWindow("22:00", 4)
	h := newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, ms, catalog())
	h.start()
	opening := time.Date(2026, 3, 4, 22, 0, 0, 0, time.UTC)
	// Closed ranks after no window: b starts and a is not reached yet.
	assert.Equal(t, []string{"b"}, h.started())
	assert.Equal(t, NotStarted, h.state("a"))
	h.succeed("b")
	assert.Empty(t, h.started(), "a is reached, its window is closed")
	assert.Equal(t, []time.Time{opening}, h.wakes())
	a := h.member("a")
	assert.Equal(t, Pending, a.Status.State)
	assert.Equal(t, "maintenance window is not open; next opening 2026-03-04T22:00:00Z", a.Message)
	next, ok := h.run.NextWake()
	assert.True(t, ok)
	assert.Equal(t, opening, next)

	h.now = opening.Add(-time.Minute)
	h.step(Tick{At: h.now})
	assert.Empty(t, h.started(), "an early tick is harmless")
	h.now = opening
	h.step(Tick{At: h.now})
	assert.Equal(t, []string{"a"}, h.started())
	_, ok = h.run.NextWake()
	assert.False(t, ok)
}

// "A window gates only the start of an upgrade."
func TestWindowGatesOnlyTheStart(t *testing.T) {
	ms := members("g", "a")
	ms[0].AutoUpgradeWindow = dailyWindow("11:00", 4) // open until 15:00
	h := newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, ms, catalog())
	h.start()
	h.advance(10 * time.Hour) // long after the window closed
	h.succeed("a")
	assert.Equal(t, Completed, h.state("a"))
	assert.Equal(t, Completed, h.run.State())
}

// "Full / ControlPlaneOnly use the member's auto-upgrade window, NodeImageOnly its node-OS window."
func TestUpgradeTypeChoosesTheWindow(t *testing.T) {
	ms := members("g", "a")
	ms[0].AutoUpgradeWindow = dailyWindow("22:00", 4)   // closed
	ms[0].NodeOSUpgradeWindow = dailyWindow("11:00", 4) // open
	h := newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, ms, catalog())
	h.start()
	assert.Empty(t, h.started())
	h = newHost(t, Spec{ManagedClusterUpdate: ManagedClusterUpdate{Upgrade: UpgradeSpec{Type: NodeImageOnly}}}, ms, catalog())
	h.start()
	assert.Equal(t, []string{"a"}, h.started())
}
