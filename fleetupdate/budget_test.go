package fleetupdate

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// budgetRun is one stage "s" with the given groups, each of the given
// members, all upgraded at once.
func budgetRun(t *testing.T, stageBudget string, groups map[string][2]string) *host {
	t.Helper()
	st := Stage{Name: "s", MaxAllowedFailures: stageBudget}
	var ms []Member
	for _, name := range []string{"a", "b", "c"} {
		g, ok := groups[name]
		if !ok {
			continue
		}
		st.Groups = append(st.Groups, Group{Name: name, MaxConcurrency: "100%", MaxAllowedFailures: g[0]})
		n, err := strconv.Atoi(g[1])
		require.NoError(t, err)
		ms = append(ms, members(name, names(name, n)...)...)
	}
	return newHost(t, Spec{Strategy: strategy(st), ManagedClusterUpdate: full(k8sTo)}, ms, catalog())
}

// Azure: "Percentage resolves … using: resolvedThreshold = ceil(p * N)"; DESIGN: resolved at New.
// Azure's examples: 25% of 7, 5 and 12 members give 2, 2 and 3.
func TestFailureBudgetPercentRoundsUp(t *testing.T) {
	h := budgetRun(t, "25%", map[string][2]string{"a": {"25%", "7"}, "b": {"25%", "5"}, "c": {"25%", "12"}})
	st := h.stage("s")
	assert.Equal(t, 6, st.MaxAllowedFailures, "25% of 24")
	assert.Equal(t, []int{2, 2, 3}, []int{st.Groups[0].MaxAllowedFailures, st.Groups[1].MaxAllowedFailures, st.Groups[2].MaxAllowedFailures})
	h = budgetRun(t, "0%", map[string][2]string{"a": {"100%", "3"}, "b": {"1", "1"}})
	assert.Equal(t, []int{0, 3, 1}, []int{h.stage("s").MaxAllowedFailures, h.group("a").MaxAllowedFailures, h.group("b").MaxAllowedFailures})
}

// DESIGN: "Within budget the member is Failed and the group carries on."
func TestWithinBudgetTheGroupCarriesOn(t *testing.T) {
	spec := Spec{Strategy: strategy(Stage{Name: "s", MaxAllowedFailures: "1", Groups: []Group{{Name: "g", MaxAllowedFailures: "1"}}}), ManagedClusterUpdate: full(k8sTo)}
	h := newHost(t, spec, members("g", "a", "b"), catalog())
	h.start()
	h.failOp("a", "QuotaExceeded", "no cores")
	assert.Equal(t, Failed, h.state("a"))
	assert.Equal(t, []string{"b"}, h.started(), "the next member starts")
	assert.Equal(t, Running, h.group("g").Status.State)
	assert.Nil(t, h.group("g").Status.Error)
	assert.Equal(t, Running, h.run.State())
	h.succeed("b")
	st := h.run.Status()
	assert.Equal(t, Completed, st.Status.State)
	assert.Nil(t, st.Status.Error)
	assert.Equal(t, 1, st.FailureCount)
	assert.Equal(t, 1, st.Stages[0].FailureCount)
	assert.Equal(t, 1, st.Stages[0].Groups[0].FailureCount)
}

// Azure: "A group can be Completed even if all members failed (e.g. 4/4 failed with threshold "4")."
func TestGroupCompletesWithEveryMemberFailedWithinBudget(t *testing.T) {
	h := budgetRun(t, "4", map[string][2]string{"a": {"4", "4"}})
	h.start()
	for _, m := range names("a", 4) {
		h.failOp(m, "QuotaExceeded", "no cores")
	}
	g := h.group("a")
	assert.Equal(t, Completed, g.Status.State)
	assert.Equal(t, 4, g.FailureCount)
	assert.Equal(t, Completed, h.stage("s").Status.State)
	assert.Equal(t, Completed, h.run.State(), "Completed means no threshold was exceeded, not success")
	assert.Equal(t, 4, h.run.Status().FailureCount)
}

// Azure's example: stage "5" with groups "2" and "3". Each group may lose its own number; the
// stage's 5 is met, not exceeded, when both have.
func TestAzureFailureBudgetWorkedExample(t *testing.T) {
	h := budgetRun(t, "5", map[string][2]string{"a": {"2", "4"}, "b": {"3", "4"}})
	h.start()
	for _, m := range []string{"a-000", "a-001", "b-000", "b-001", "b-002"} {
		h.failOp(m, "QuotaExceeded", "no cores")
	}
	assert.Equal(t, Running, h.run.State())
	h.succeed("a-002")
	h.succeed("a-003")
	h.succeed("b-003")
	st := h.run.Status()
	assert.Equal(t, Completed, st.Status.State)
	assert.Equal(t, 5, st.Stages[0].FailureCount)
	assert.Equal(t, []State{Completed, Completed}, []State{st.Stages[0].Groups[0].Status.State, st.Stages[0].Groups[1].Status.State})

	// A third failure in "a" exceeds the group's 2, though the stage's 5 is not reached.
	h = budgetRun(t, "5", map[string][2]string{"a": {"2", "4"}, "b": {"3", "4"}})
	h.start()
	h.failOp("a-000", "QuotaExceeded", "no cores")
	h.failOp("a-001", "QuotaExceeded", "no cores")
	h.failOp("a-002", "QuotaExceeded", "no cores")
	assert.Equal(t, Failed, h.group("a").Status.State)
	assert.Equal(t, `group "a": 3 members failed, more than the 2 allowed (maxAllowedFailures); member "a-000" failed: no cores`, h.group("a").Status.Error.Message)
	assert.Equal(t, Failed, h.stage("s").Status.State)
	assert.Equal(t, Stopping, h.group("b").Status.State, "b is within its budget; its members in flight finish")
	assert.Equal(t, Stopping, h.run.State())
}

// Azure: "Group and stage thresholds are evaluated independently. … The stage-level
// maxAllowedFailures acts as the overall ceiling."
func TestStageBudgetIsTheOverallCeiling(t *testing.T) {
	h := budgetRun(t, "1", map[string][2]string{"a": {"2", "2"}, "b": {"2", "2"}})
	h.start()
	h.failOp("a-000", "QuotaExceeded", "no cores")
	assert.Equal(t, Running, h.run.State())
	h.failOp("b-000", "QuotaExceeded", "no cores")
	assert.Equal(t, Stopping, h.group("a").Status.State, "each group is within its own budget")
	assert.Equal(t, Stopping, h.group("b").Status.State)
	s := h.stage("s")
	assert.Equal(t, Failed, s.Status.State)
	assert.Equal(t, `stage "s": 2 members failed, more than the 1 allowed (maxAllowedFailures); member "a-000" failed: no cores`, s.Status.Error.Message)
	assert.Equal(t, Stopping, h.run.State())
	assert.Equal(t, `stage "s": 2 members failed, more than the 1 allowed (maxAllowedFailures); member "b-000" failed: no cores`, h.run.Status().Status.Error.Message,
		"the run names the failure that went over")
}

// DESIGN: "A group without its own value tolerates 0 failures, whatever its stage allows."
func TestGroupWithoutItsOwnBudgetToleratesNoFailure(t *testing.T) {
	h := budgetRun(t, "5", map[string][2]string{"a": {"", "3"}})
	h.start()
	h.failOp("a-000", "QuotaExceeded", "no cores")
	assert.Equal(t, Failed, h.group("a").Status.State)
	assert.Equal(t, `member "a-000" failed: no cores`, h.group("a").Status.Error.Message, "fail-fast says no more than the member's failure")
	assert.Equal(t, Stopping, h.run.State())
}

// DESIGN: "A group or stage whose count exceeds its own threshold is Failed, and the run fails as
// with fail-fast (in-flight members finish, run Stopping then Failed)"; Azure: "failureCount can
// exceed maxAllowedFailures when updates run in parallel".
func TestOverBudgetFailsTheRunLikeFailFast(t *testing.T) {
	h := budgetRun(t, "9", map[string][2]string{"a": {"1", "4"}})
	h.start()
	require.Len(t, h.started(), 4)
	h.failOp("a-000", "QuotaExceeded", "no cores")
	h.failOp("a-001", "QuotaExceeded", "no cores")
	assert.Equal(t, Stopping, h.run.State())
	h.failOp("a-002", "QuotaExceeded", "no cores")
	assert.Empty(t, h.started(), "nothing new starts")
	h.succeed("a-003")
	st := h.run.Status()
	assert.Equal(t, Failed, st.Status.State)
	assert.Equal(t, 3, st.FailureCount, "in-flight failures after the decision are counted")
	assert.Equal(t, &ErrorDetail{Code: "QuotaExceeded", Message: `group "a": 2 members failed, more than the 1 allowed (maxAllowedFailures); member "a-001" failed: no cores`}, st.Status.Error)
}

// DESIGN: "failureCount, the members of that scope whose latest attempt failed": a retry that
// succeeds takes the member out of the count.
func TestFailureCountIsMembersWhoseLatestAttemptFailed(t *testing.T) {
	h := budgetRun(t, "", map[string][2]string{"a": {"", "2"}})
	h.start()
	h.failOp("a-000", "QuotaExceeded", "no cores")
	h.succeed("a-001")
	assert.Equal(t, 1, h.run.Status().FailureCount)
	h.start()
	assert.Equal(t, 0, h.run.Status().FailureCount, "being tried again")
	h.succeed("a-000")
	st := h.run.Status()
	assert.Equal(t, Completed, st.Status.State)
	assert.Equal(t, 0, st.FailureCount)
}
