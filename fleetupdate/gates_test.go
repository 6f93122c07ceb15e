package fleetupdate

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/window"
)

func approval(name string) GateConfiguration {
	return GateConfiguration{DisplayName: name, Type: Approval}
}

func scheduled(day window.Weekday, at, offset string) GateConfiguration {
	return GateConfiguration{DisplayName: "at " + at, Type: ScheduledStart,
		ScheduledStartConfiguration: &ScheduledStartConfiguration{StartDay: day, StartTime: at, UTCOffset: offset}}
}

// gatedRun: stage "test" (groups t1 of two members, t2 of one) and stage "prod" (group p1), with
// the gates and wait the caller sets.
func gatedRun(t *testing.T, edit func(test, prod *Stage)) *host {
	t.Helper()
	test := Stage{Name: "test", Groups: []Group{{Name: "t1"}, {Name: "t2"}}}
	prod := Stage{Name: "prod", Groups: []Group{{Name: "p1"}}}
	edit(&test, &prod)
	ms := append(append(members("t1", "t1-a", "t1-b"), members("t2", "t2-a")...), members("p1", "p1-a")...)
	return newHost(t, Spec{Strategy: strategy(test, prod), ManagedClusterUpdate: full(k8sTo)}, ms, catalog())
}

func (h *host) awaited() []AwaitGate {
	var out []AwaitGate
	for _, c := range h.cmds {
		if a, ok := c.(AwaitGate); ok {
			out = append(out, a)
		}
	}
	return out
}

func (h *host) complete(id GateID) {
	h.t.Helper()
	h.step(CompleteGate{At: h.now, Gate: id})
}

// DESIGN: "A stage's before-gates are reached when the stage would start; its groups start only when
// all of them are Completed. … Reaching a gate makes it Pending (with a start time), emits
// AwaitGate, and makes the group or stage, and the run, Pending."
func TestStageBeforeGatesHoldItsGroups(t *testing.T) {
	h := gatedRun(t, func(test, _ *Stage) {
		test.BeforeGates = []GateConfiguration{approval("change board"), approval("on call")}
	})
	st := h.stage("test")
	assert.Equal(t, []GateStatus{{DisplayName: "change board", Status: UpdateStatus{State: NotStarted}}, {DisplayName: "on call", Status: UpdateStatus{State: NotStarted}}}, st.BeforeGates,
		"no gateId until reached, as in Azure")
	h.start()
	assert.Empty(t, h.started())
	assert.Equal(t, []AwaitGate{
		{Gate: "run-1/test/Before/0", Type: Approval, DisplayName: "change board", Stage: "test", Timing: Before},
		{Gate: "run-1/test/Before/1", Type: Approval, DisplayName: "on call", Stage: "test", Timing: Before},
	}, h.awaited())
	st = h.stage("test")
	assert.Equal(t, GateStatus{DisplayName: "change board", GateID: "run-1/test/Before/0", Status: UpdateStatus{State: Pending, StartTime: t0}}, st.BeforeGates[0])
	assert.Equal(t, Pending, st.Status.State)
	assert.Equal(t, NotStarted, h.group("t1").Status.State)
	assert.Equal(t, Pending, h.run.State())
	h.advance(time.Minute)
	h.complete("run-1/test/Before/1")
	assert.Empty(t, h.started(), "one gate is still Pending")
	h.complete("run-1/test/Before/0")
	assert.ElementsMatch(t, []string{"t1-a", "t2-a"}, h.started())
	assert.Equal(t, UpdateStatus{State: Completed, StartTime: t0, CompletedTime: h.now}, h.stage("test").BeforeGates[0].Status)
	assert.Equal(t, Running, h.run.State())
}

// DESIGN: "A group's before-gates are reached when its stage starts its groups; only that group
// waits." Azure: "A group gate affects only that group, since groups are parallel."
func TestGroupBeforeGateHoldsOnlyThatGroup(t *testing.T) {
	h := gatedRun(t, func(test, _ *Stage) { test.Groups[0].BeforeGates = []GateConfiguration{approval("")} })
	h.start()
	assert.Equal(t, []string{"t2-a"}, h.started())
	assert.Equal(t, []AwaitGate{{Gate: "run-1/test/t1/Before/0", Type: Approval, Stage: "test", Group: "t1", Timing: Before}}, h.awaited())
	assert.Equal(t, Pending, h.group("t1").Status.State)
	assert.Equal(t, Running, h.stage("test").Status.State)
	h.succeed("t2-a")
	assert.Equal(t, Pending, h.stage("test").Status.State, "every group left is Pending")
	h.complete("run-1/test/t1/Before/0")
	assert.Equal(t, []string{"t1-a"}, h.started())
}

// DESIGN: "A group's after-gates are reached when every member of the group has finished; the group
// (and so its stage) is not done until they are Completed."
func TestGroupIsNotDoneUntilItsAfterGatesComplete(t *testing.T) {
	h := gatedRun(t, func(test, _ *Stage) { test.Groups[1].AfterGates = []GateConfiguration{approval("smoke tests")} })
	h.start()
	h.succeed("t2-a")
	assert.Equal(t, []AwaitGate{{Gate: "run-1/test/t2/After/0", Type: Approval, DisplayName: "smoke tests", Stage: "test", Group: "t2", Timing: After}}, h.awaited())
	assert.Equal(t, Pending, h.group("t2").Status.State)
	assert.True(t, h.group("t2").Status.CompletedTime.IsZero())
	h.succeed("t1-a")
	h.succeed("t1-b")
	assert.Empty(t, h.started(), "the stage waits for t2's gate")
	assert.Equal(t, Pending, h.stage("test").Status.State)
	h.advance(time.Hour)
	h.complete("run-1/test/t2/After/0")
	assert.Equal(t, []string{"p1-a"}, h.started())
	g := h.group("t2")
	assert.Equal(t, Completed, g.Status.State)
	assert.Equal(t, h.now, g.Status.CompletedTime)
}

// DESIGN: "A stage's after-gates are reached when all its groups are done, at the same moment as its
// after-stage wait; the next stage starts when both are done." Azure: "The after-stage wait begins
// at the same time as the approval. Both must be completed before the update run continues."
func TestStageAfterGatesRunAlongsideTheWait(t *testing.T) {
	h := gatedRun(t, func(test, _ *Stage) {
		test.AfterGates = []GateConfiguration{approval("")}
		test.AfterStageWaitInSeconds = 3600
	})
	h.start()
	h.succeed("t1-a")
	h.succeed("t2-a")
	h.succeed("t1-b")
	assert.Equal(t, []AwaitGate{{Gate: "run-1/test/After/0", Type: Approval, Stage: "test", Timing: After}}, h.awaited())
	assert.Equal(t, []time.Time{h.now.Add(time.Hour)}, h.wakes(), "in the same step")
	assert.Equal(t, Pending, h.stage("test").Status.State, "a Pending gate")
	h.complete("run-1/test/After/0")
	assert.Empty(t, h.started(), "the wait is not over")
	assert.Equal(t, Running, h.stage("test").Status.State, "waiting")
	h.advance(time.Hour)
	h.step(Tick{At: h.now})
	assert.Equal(t, []string{"p1-a"}, h.started())

	// The other way round: the wait ends first, the gate holds the stage.
	h = gatedRun(t, func(test, _ *Stage) {
		test.AfterGates = []GateConfiguration{approval("")}
		test.AfterStageWaitInSeconds = 60
	})
	h.start()
	h.succeed("t1-a")
	h.succeed("t2-a")
	h.succeed("t1-b")
	end := h.now.Add(time.Minute)
	h.now = end.Add(time.Minute)
	h.step(Tick{At: h.now})
	assert.Empty(t, h.started())
	st := h.stage("test")
	assert.Equal(t, Pending, st.Status.State)
	assert.Equal(t, UpdateStatus{State: Completed, StartTime: t0, CompletedTime: end}, st.AfterStageWaitStatus.Status)
	h.complete("run-1/test/After/0")
	assert.Equal(t, []string{"p1-a"}, h.started())
}

// DESIGN: "CompleteGate … on a NotStarted gate ("can't be pre-approved"), a Skipped gate, or an
// unknown id it is refused." Errors never change state.
func TestCompleteGateRefusals(t *testing.T) {
	h := gatedRun(t, func(test, prod *Stage) {
		test.BeforeGates = []GateConfiguration{approval("")}
		prod.BeforeGates = []GateConfiguration{approval("")}
		test.Groups[1].BeforeGates = []GateConfiguration{approval("")}
	})
	err := h.try(CompleteGate{At: h.now, Gate: "run-1/test/Before/0"})
	assert.ErrorIs(t, err, ErrInvalidTransition)
	assert.ErrorContains(t, err, `gate "run-1/test/Before/0" has not been reached; gates can't be pre-approved`)
	h.start()
	h.step(Skip{At: h.now, Targets: []SkipTarget{{TargetStage, "prod"}, {TargetGroup, "t2"}}})
	before := mustJSON(t, h.run)
	for id, want := range map[GateID]error{
		"run-1/prod/Before/0":    ErrInvalidTransition,
		"run-1/test/t2/Before/0": ErrInvalidTransition,
		"run-1/test/Before/1":    ErrUnknownGate,
		"run-2/test/Before/0":    ErrUnknownGate,
		"":                       ErrUnknownGate,
	} {
		next, cmds, err := Step(h.run, CompleteGate{At: h.now, Gate: id})
		assert.ErrorIs(t, err, want, id)
		assert.Nil(t, cmds)
		assert.Equal(t, before, mustJSON(t, next))
	}
	_, _, err = Step(h.run, CompleteGate{At: h.now, Gate: "run-1/prod/Before/0"})
	assert.ErrorContains(t, err, "was skipped")
}

// DESIGN: "on a Completed gate it is accepted and changes nothing."
func TestCompletingACompletedGateChangesNothing(t *testing.T) {
	h := gatedRun(t, func(test, _ *Stage) { test.BeforeGates = []GateConfiguration{approval("")} })
	h.start()
	h.complete("run-1/test/Before/0")
	next, cmds, err := Step(h.run, CompleteGate{At: h.now.Add(time.Hour), Gate: "run-1/test/Before/0"})
	require.NoError(t, err)
	assert.Nil(t, cmds)
	assert.Equal(t, h.run, next, "the very same run: not even the clock moves")
}

// DESIGN: "ScheduledStart … when reached it computes the next occurrence of startDay at startTime
// in utcOffset at or after that moment (a time already passed today waits a week), asks for a
// WakeAt there and completes itself on the Tick". Azure: reached "Wed 03:00 for a Wed 02:00 gate,
// it waits a full week".
func TestScheduledStartWaitsForTheNextOccurrence(t *testing.T) {
	// t0 is Wednesday 12:00 UTC.
	for _, c := range []struct {
		gate GateConfiguration
		want time.Time
	}{
		{scheduled(window.Wednesday, "13:00", "+00:00"), t0.Add(time.Hour)},
		{scheduled(window.Wednesday, "12:00", "+00:00"), t0},
		{scheduled(window.Wednesday, "11:00", "+00:00"), t0.Add(7*24*time.Hour - time.Hour)},
		{scheduled(window.Friday, "18:00", "-05:00"), time.Date(2026, 3, 6, 23, 0, 0, 0, time.UTC)},
		{scheduled(window.Thursday, "01:30", "+14:00"), time.Date(2026, 3, 11, 11, 30, 0, 0, time.UTC)}, // Thursday 00:30 local has passed
		{scheduled(window.Tuesday, "23:00", "-13:00"), time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC).Add(0)},
	} {
		h := gatedRun(t, func(test, _ *Stage) { test.BeforeGates = []GateConfiguration{c.gate} })
		h.start()
		aw := h.awaited()
		require.Len(t, aw, 1)
		assert.Equal(t, c.want, aw[0].StartAt, "%+v", *c.gate.ScheduledStartConfiguration)
		if c.want.Equal(t0) {
			assert.Len(t, h.started(), 2, "due at once: it completes in the same step")
			continue
		}
		assert.Equal(t, []time.Time{c.want}, h.wakes())
		assert.Empty(t, h.started())
		h.now = c.want.Add(-time.Second)
		h.step(Tick{At: h.now})
		assert.Empty(t, h.started(), "not yet")
		h.now = c.want
		h.step(Tick{At: h.now})
		assert.Len(t, h.started(), 2)
		assert.Equal(t, UpdateStatus{State: Completed, StartTime: t0, CompletedTime: c.want}, h.stage("test").BeforeGates[0].Status)
	}
}

// Azure: a ScheduledStart gate "can be completed early by patching the state to Completed"; a
// group's ScheduledStart gate holds only that group.
func TestScheduledStartCompletesEarlyByCompleteGate(t *testing.T) {
	h := gatedRun(t, func(test, _ *Stage) {
		test.Groups[0].BeforeGates = []GateConfiguration{scheduled(window.Saturday, "23:00", "+00:00")}
	})
	h.start()
	assert.Equal(t, []string{"t2-a"}, h.started())
	assert.Equal(t, time.Date(2026, 3, 7, 23, 0, 0, 0, time.UTC), h.awaited()[0].StartAt)
	h.complete("run-1/test/t1/Before/0")
	assert.Equal(t, []string{"t1-a"}, h.started())
}

// DESIGN: "Skipping a group or stage skips its gates." Azure: "If a group or stage is skipped, then
// all gates within that group or stage automatically move to Skipped".
func TestSkippingAGroupOrStageSkipsItsGates(t *testing.T) {
	h := gatedRun(t, func(test, prod *Stage) {
		test.Groups[0].BeforeGates = []GateConfiguration{approval("")}
		test.Groups[0].AfterGates = []GateConfiguration{approval("")}
		prod.BeforeGates = []GateConfiguration{approval("")}
		prod.Groups[0].AfterGates = []GateConfiguration{approval("")}
		prod.AfterGates = []GateConfiguration{approval("")}
	})
	h.start()
	h.step(Skip{At: h.now, Targets: []SkipTarget{{TargetGroup, "t1"}, {TargetStage, "prod"}}})
	g := h.group("t1")
	assert.Equal(t, Skipped, g.Status.State)
	assert.Equal(t, []State{Skipped, Skipped}, []State{g.BeforeGates[0].Status.State, g.AfterGates[0].Status.State})
	assert.Equal(t, GateID("run-1/test/t1/Before/0"), g.BeforeGates[0].GateID, "it was reached")
	assert.Empty(t, g.AfterGates[0].GateID, "it was not")
	p := h.stage("prod")
	assert.Equal(t, []State{Skipped, Skipped, Skipped}, []State{p.BeforeGates[0].Status.State, p.Groups[0].AfterGates[0].Status.State, p.AfterGates[0].Status.State})
	h.succeed("t2-a")
	assert.Empty(t, h.awaited(), "a skipped gate is never reached")
	assert.Equal(t, Completed, h.run.State())
}

// DESIGN: "Gates keep their state across Stop and Start; a gate may be completed while the run is
// Stopped."
func TestGatesKeepStateAcrossStopAndStart(t *testing.T) {
	h := gatedRun(t, func(test, _ *Stage) {
		test.BeforeGates = []GateConfiguration{approval(""), approval("")}
	})
	h.start()
	h.step(Stop{At: h.now})
	require.Equal(t, Stopped, h.run.State())
	h.complete("run-1/test/Before/0")
	assert.Empty(t, h.started(), "stopped: nothing starts")
	assert.Equal(t, Completed, h.stage("test").BeforeGates[0].Status.State)
	assert.Equal(t, Pending, h.stage("test").BeforeGates[1].Status.State)
	h.start()
	assert.Empty(t, h.awaited(), "a gate is reached once")
	assert.Empty(t, h.started())
	h.complete("run-1/test/Before/1")
	assert.Len(t, h.started(), 2)
}

// Host contract, rule 5: "everything still to do — ops in flight, pending gates, every wake-up still
// owed — can be read from it": Outstanding re-announces every Pending gate.
func TestOutstandingReannouncesPendingGates(t *testing.T) {
	h := gatedRun(t, func(test, _ *Stage) {
		test.Groups[0].BeforeGates = []GateConfiguration{scheduled(window.Saturday, "23:00", "+00:00"), approval("b")}
	})
	h.start()
	sat := time.Date(2026, 3, 7, 23, 0, 0, 0, time.UTC)
	assert.Equal(t, []Command{
		UpgradeMember{Op: "run-1/t2-a/1", Member: "t2-a", Type: Full, KubernetesVersion: "1.30.5", NodeImages: []PoolImage{{Pool: "system", NodeImageVersion: imgNew}}},
		AwaitGate{Gate: "run-1/test/t1/Before/0", Type: ScheduledStart, DisplayName: "at 23:00", Stage: "test", Group: "t1", Timing: Before, StartAt: sat},
		AwaitGate{Gate: "run-1/test/t1/Before/1", Type: Approval, DisplayName: "b", Stage: "test", Group: "t1", Timing: Before},
		WakeAt{At: sat},
	}, h.run.Outstanding())
	h.complete("run-1/test/t1/Before/1")
	assert.Len(t, h.run.Outstanding(), 3)
}

// The wire format carries CompleteGate and AwaitGate in the same tagged style, strictly.
func TestGateEventsAndCommandsOnTheWire(t *testing.T) {
	ev := CompleteGate{At: t0, Gate: "run-1/test/Before/0"}
	b, err := MarshalEvent(ev)
	require.NoError(t, err)
	assert.JSONEq(t, `{"type":"CompleteGate","at":"2026-03-04T12:00:00Z","gate":"run-1/test/Before/0"}`, string(b))
	back, err := UnmarshalEvent(b)
	require.NoError(t, err)
	assert.Equal(t, Event(ev), back)
	for _, c := range []AwaitGate{
		{Gate: "run-1/test/t1/Before/0", Type: ScheduledStart, DisplayName: "x", Stage: "test", Group: "t1", Timing: Before, StartAt: t0},
		{Gate: "run-1/test/After/0", Type: Approval, Stage: "test", Timing: After},
	} {
		b, err := MarshalCommand(c)
		require.NoError(t, err)
		back, err := UnmarshalCommand(b)
		require.NoError(t, err)
		assert.Equal(t, Command(c), back)
	}
	b, _ = MarshalCommand(AwaitGate{Gate: "run-1/test/After/0", Type: Approval, Stage: "test", Timing: After})
	assert.JSONEq(t, `{"type":"AwaitGate","gate":"run-1/test/After/0","gateType":"Approval","stage":"test","timing":"After"}`, string(b))
	_, err = UnmarshalEvent([]byte(`{"type":"CompleteGate","at":"2026-03-04T12:00:00Z"}`))
	assert.ErrorContains(t, err, `missing field "gate"`)
	_, err = UnmarshalCommand([]byte(`{"type":"AwaitGate","gate":"g","gateType":"Approval","stage":"s","timing":"After","approver":"x"}`))
	assert.ErrorIs(t, err, ErrInvalidEncoding)
}

// Status shows gates as Azure's UpdateRunGateStatus under the stage and group.
func TestGateStatusJSONHasAzureShape(t *testing.T) {
	h := gatedRun(t, func(test, _ *Stage) {
		test.Groups = test.Groups[:1]
		test.BeforeGates = []GateConfiguration{approval("gate before test")}
		test.Groups[0].AfterGates = []GateConfiguration{approval("gate after t1")}
	})
	h.start()
	var st struct {
		Stages []json.RawMessage `json:"stages"`
	}
	require.NoError(t, json.Unmarshal([]byte(mustJSON(t, h.run.Overview())), &st))
	assert.JSONEq(t, `{
	  "name": "test", "status": {"state": "Pending", "startTime": "2026-03-04T12:00:00Z"},
	  "failureCount": 0, "maxAllowedFailures": 0, "maxConcurrency": 50,
	  "groups": [{"name": "t1", "status": {"state": "NotStarted"}, "failureCount": 0, "maxAllowedFailures": 0, "maxConcurrency": 1,
	              "members": null,
	              "afterGates": [{"displayName": "gate after t1", "status": {"state": "NotStarted"}}]}],
	  "beforeGates": [{"displayName": "gate before test", "gateId": "run-1/test/Before/0",
	                   "status": {"state": "Pending", "startTime": "2026-03-04T12:00:00Z"}}]
	}`, string(st.Stages[0]))
}
