package fleetupdate

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func twoStages(wait int) Spec {
	return Spec{Strategy: strategy(
		Stage{Name: "test", AfterStageWaitInSeconds: wait, Groups: []Group{{Name: "t1", MaxConcurrency: "2"}, {Name: "t2"}}},
		Stage{Name: "prod", Groups: []Group{{Name: "p1"}}},
	), ManagedClusterUpdate: full(k8sTo)}
}

func twoStageMembers() []Member {
	return append(append(members("t1", "t1-a", "t1-b", "t1-c"), members("t2", "t2-a")...), members("p1", "p1-a", "p1-b")...)
}

// "after all groups of a stage finish, the after-stage wait runs (status afterStageWaitStatus with
// waitDurationInSeconds), then the next stage."
func TestAfterStageWaitRunsBeforeNextStage(t *testing.T) {
	h := newHost(t, twoStages(3600), twoStageMembers(), catalog())
	assert.Equal(t, &WaitStatus{Status: UpdateStatus{State: NotStarted}, WaitDurationInSeconds: 3600}, h.stage("test").AfterStageWaitStatus)
	assert.Nil(t, h.stage("prod").AfterStageWaitStatus)
	h.start()
	for _, m := range []string{"t1-a", "t1-b", "t2-a"} {
		h.succeed(m)
	}
	h.advance(time.Minute)
	h.succeed("t1-c")
	end := h.now.Add(time.Hour)
	assert.Equal(t, []time.Time{end}, h.wakes())
	ws := h.stage("test").AfterStageWaitStatus
	assert.Equal(t, Running, ws.Status.State)
	assert.Equal(t, h.now, ws.Status.StartTime)
	assert.Equal(t, Running, h.stage("test").Status.State)
	assert.Equal(t, NotStarted, h.stage("prod").Status.State)
	h.now = end
	h.step(Tick{At: h.now})
	assert.Equal(t, []string{"p1-a"}, h.started())
	assert.Equal(t, Completed, h.stage("test").AfterStageWaitStatus.Status.State)
	assert.Equal(t, Completed, h.stage("test").Status.State)
}

// "Parent states derived as Azure does": group and stage Pending when everything unfinished waits,
// Skipped when all children are Skipped, Completed when done.
func TestParentStatesDerivedFromChildren(t *testing.T) {
	ms := twoStageMembers()
	for i := range ms {
		if ms[i].Group == "t2" {
			ms[i].AutoUpgradeWindow = dailyWindow("22:00", 4)
		}
	}
	h := newHost(t, twoStages(0), ms, catalog())
	assert.Equal(t, NotStarted, h.run.State())
	h.start()
	assert.Equal(t, Pending, h.group("t2").Status.State, "its only member waits for a window")
	assert.Equal(t, Running, h.group("t1").Status.State)
	assert.Equal(t, Running, h.stage("test").Status.State, "a group runs")
	assert.Equal(t, Running, h.run.State())
	h.succeed("t1-a")
	h.succeed("t1-b")
	h.succeed("t1-c")
	assert.Equal(t, Completed, h.group("t1").Status.State)
	assert.Equal(t, Pending, h.stage("test").Status.State, "all remaining groups are Pending")
	assert.Equal(t, Pending, h.run.State(), "run Pending when its current stage is")
	require.NoError(t, h.try(Skip{At: h.now, Targets: []SkipTarget{{TargetMember, "t2-a"}}}))
	assert.Equal(t, Skipped, h.group("t2").Status.State, "all its members skipped")
	assert.Equal(t, Completed, h.stage("test").Status.State, "not every group skipped")
	h.cmds = nil
	h.step(Tick{At: h.now})
	require.Len(t, h.run.InFlight(), 1)
	assert.Equal(t, "p1-a", h.run.InFlight()[0].Member)
}

func TestSkipTargets(t *testing.T) {
	h := newHost(t, twoStages(600), twoStageMembers(), catalog())
	// Skips are allowed before the run starts.
	h.step(Skip{At: h.now, Targets: []SkipTarget{{TargetMember, "t1-a"}, {TargetGroup, "t2"}, {TargetAfterStageWait, "test"}}})
	assert.Equal(t, Skipped, h.state("t1-a"))
	assert.Equal(t, "skipped by user", h.member("t1-a").Message)
	assert.Equal(t, Skipped, h.group("t2").Status.State)
	h.start()
	assert.ElementsMatch(t, []string{"t1-b", "t1-c"}, h.started())
	h.succeed("t1-b")
	h.succeed("t1-c")
	assert.Equal(t, []string{"p1-a"}, h.started(), "the skipped wait does not hold the next stage")
	assert.Equal(t, Skipped, h.stage("test").AfterStageWaitStatus.Status.State)
	h.step(Skip{At: h.now, Targets: []SkipTarget{{TargetStage, "prod"}}})
	assert.Equal(t, Running, h.stage("prod").Status.State, "in-flight members finish")
	assert.Equal(t, Skipped, h.state("p1-b"))
	h.succeed("p1-a")
	assert.Equal(t, Completed, h.state("p1-a"), "and are recorded")
	// "Skipped when all children are Skipped": p1-a completed, so the stage did too.
	assert.Equal(t, Completed, h.stage("prod").Status.State)
	assert.Equal(t, Completed, h.run.State())
}

func TestSkipRefusals(t *testing.T) {
	h := newHost(t, twoStages(0), twoStageMembers(), catalog())
	h.start()
	before := mustJSON(t, h.run)
	for _, c := range []struct {
		target SkipTarget
		err    error
		msg    string
	}{
		{SkipTarget{TargetMember, "t1-a"}, ErrInvalidTransition, `member "t1-a" is being upgraded (operation run-1/t1-a/1); it cannot be skipped`},
		{SkipTarget{TargetMember, "nobody"}, ErrUnknownTarget, `member "nobody"`},
		{SkipTarget{TargetGroup, "nope"}, ErrUnknownTarget, `group "nope"`},
		{SkipTarget{TargetStage, "nope"}, ErrUnknownTarget, `stage "nope"`},
		{SkipTarget{TargetAfterStageWait, "test"}, ErrUnknownTarget, `stage "test" has no after-stage wait`},
		{SkipTarget{"Cluster", "x"}, ErrUnknownTarget, `target type "Cluster"`},
	} {
		// A bad target makes the whole skip fail, valid targets included.
		err := h.try(Skip{At: h.now, Targets: []SkipTarget{{TargetMember, "p1-b"}, c.target}})
		assert.ErrorIs(t, err, c.err)
		assert.ErrorContains(t, err, c.msg)
	}
	assert.Equal(t, before, mustJSON(t, h.run), "errors never change state")
	h.succeed("t1-a")
	err := h.try(Skip{At: h.now, Targets: []SkipTarget{{TargetMember, "t1-a"}}})
	assert.ErrorContains(t, err, "already completed")
}

// "Stop: Running/Pending → Stopping while ops are in flight (run, its stage, group and those
// members show Stopping), Stopped when they have reported."
func TestStopWaitsForInFlightThenStopped(t *testing.T) {
	h := newHost(t, twoStages(0), twoStageMembers(), catalog())
	h.start()
	h.step(Stop{At: h.now})
	assert.Empty(t, h.cmds)
	assert.Equal(t, Stopping, h.run.State())
	assert.Equal(t, Stopping, h.stage("test").Status.State)
	assert.Equal(t, Stopping, h.group("t1").Status.State)
	assert.Equal(t, Stopping, h.state("t1-a"))
	assert.ErrorIs(t, h.try(Stop{At: h.now}), ErrInvalidTransition)
	assert.ErrorIs(t, h.try(Start{At: h.now}), ErrInvalidTransition, "no Start while Stopping")
	h.succeed("t1-a")
	h.succeed("t1-b")
	assert.Empty(t, h.started(), "no new work")
	assert.Equal(t, Stopping, h.run.State())
	h.succeed("t2-a")
	assert.Equal(t, Stopped, h.run.State())
	assert.Equal(t, Stopped, h.group("t1").Status.State)
	// "Start from … Stopped … resumes at the first unprocessed member."
	h.start()
	assert.Equal(t, []string{"t1-c"}, h.started())
	assert.Equal(t, Running, h.run.State())
}

func TestStopWithNothingInFlightIsStoppedAtOnce(t *testing.T) {
	ms := members("g", "a")
	ms[0].AutoUpgradeWindow = dailyWindow("22:00", 4)
	h := newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, ms, catalog())
	h.start()
	assert.Equal(t, Pending, h.run.State())
	h.step(Stop{At: h.now})
	assert.Equal(t, Stopped, h.run.State())
	assert.ErrorIs(t, h.try(Stop{At: h.now}), ErrInvalidTransition)
}

// "Failure (fail-fast): member Failed with the host's code and message; group, stage and run Failed
// with a summary error naming the member; nothing new starts; in-flight members finish and are
// recorded (the run shows Stopping until then)."
func TestFailureFailsParentsAndStopsNewWork(t *testing.T) {
	h := newHost(t, twoStages(0), twoStageMembers(), catalog())
	h.start()
	h.advance(time.Minute)
	h.failOp("t1-a", "QuotaExceeded", "not enough cores")
	assert.Empty(t, h.started())
	a := h.member("t1-a")
	assert.Equal(t, Failed, a.Status.State)
	assert.Equal(t, &ErrorDetail{Code: "QuotaExceeded", Message: "not enough cores"}, a.Status.Error)
	assert.Equal(t, h.now, a.Status.CompletedTime)
	g := h.group("t1")
	assert.Equal(t, Failed, g.Status.State)
	assert.Equal(t, `member "t1-a" failed: not enough cores`, g.Status.Error.Message)
	assert.Equal(t, Failed, h.stage("test").Status.State)
	assert.Equal(t, Stopping, h.run.State(), "t1-b and t2-a are still in flight")
	assert.Equal(t, Stopping, h.state("t2-a"))
	h.succeed("t1-b")
	assert.Empty(t, h.started())
	h.succeed("t2-a")
	assert.Equal(t, Completed, h.state("t2-a"), "in-flight members are recorded")
	st := h.run.Status()
	assert.Equal(t, Failed, st.Status.State)
	assert.Equal(t, &ErrorDetail{Code: "QuotaExceeded", Message: `member "t1-a" failed: not enough cores`}, st.Status.Error)
	assert.Equal(t, h.now, st.Status.CompletedTime)
}

// "a restart … retries Failed members with the pinned inputs."
func TestRestartRetriesFailedMembersWithPinnedInputs(t *testing.T) {
	ms := members("g", "a", "b")
	h := newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, ms, catalog())
	h.start()
	first := onlyUpgrade(t, h)
	h.failOp("a", "Conflict", "another operation is in progress")
	assert.Equal(t, Failed, h.run.State())
	// A newer image appears; the retry must not pick it up.
	c := catalog()
	rc := c.Regions[regionA]
	rc.NodeImageVersions = append(rc.NodeImageVersions, ubuntu+"-202406.03.0")
	c.Regions[regionA] = rc
	h.step(CatalogChanged{At: h.now, Catalog: c})
	h.start()
	retry := onlyUpgrade(t, h)
	assert.Equal(t, OpID("run-1/a/2"), retry.Op)
	first.Op = retry.Op
	assert.Equal(t, first, retry, "identical inputs")
	assert.Nil(t, h.run.Status().Status.Error)
	h.succeed("a")
	assert.Equal(t, ubuntu+"-202406.03.0", onlyUpgrade(t, h).NodeImages[0].NodeImageVersion, "b, a first attempt, sees the new catalog")
}

// Skipping a failed member lets a restart go past it (the Azure workaround for stopped clusters, Azure/AKS#5655).
func TestSkippingAFailedMemberLetsTheRunFinish(t *testing.T) {
	h := newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, members("g", "a", "b"), catalog())
	h.start()
	h.failOp("a", "ClusterStopped", "the cluster is stopped")
	h.step(Skip{At: h.now, Targets: []SkipTarget{{TargetMember, "a"}}})
	assert.Equal(t, Skipped, h.state("a"))
	h.start()
	h.succeed("b")
	assert.Equal(t, Completed, h.run.State())
}

// "a member removed (MemberChanged with removal) before it starts is Skipped ("member left the
// fleet"); a member that appears after New is not part of this run."
func TestMembershipIsFixedAtNew(t *testing.T) {
	h := newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, members("g", "a", "b"), catalog())
	h.start()
	h.step(MemberChanged{At: h.now, Member: member("b", "g"), Removed: true})
	assert.Equal(t, Skipped, h.state("b"))
	assert.Equal(t, "member left the fleet", h.member("b").Message)
	h.step(MemberChanged{At: h.now, Member: member("a", "g"), Removed: true})
	assert.Equal(t, Running, h.state("a"), "in flight: still tracked")
	h.step(MemberChanged{At: h.now, Member: member("newcomer", "g")})
	assert.Empty(t, h.cmds)
	h.succeed("a")
	assert.Equal(t, Completed, h.run.State())
	assert.Len(t, h.run.Status().Stages[0].Groups[0].Members, 2)
}

// A changed window moves a member that has not started.
func TestMemberChangedWindowIsFollowed(t *testing.T) {
	ms := members("g", "a")
	ms[0].AutoUpgradeWindow = dailyWindow("22:00", 4)
	h := newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, ms, catalog())
	h.start()
	assert.Equal(t, Pending, h.state("a"))
	changed := ms[0]
	changed.AutoUpgradeWindow = dailyWindow("11:00", 4)
	h.step(MemberChanged{At: h.now, Member: changed})
	assert.Equal(t, []string{"a"}, h.started())
	bad := ms[0]
	bad.Region = ""
	assert.ErrorIs(t, h.try(MemberChanged{At: h.now, Member: bad}), ErrInvalidSpec)
}

// "Every state change records start and completion times in status; Completed is terminal and any
// further action on it is an error."
func TestTimesRecordedAndCompletedIsTerminal(t *testing.T) {
	h := newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, members("g", "a"), catalog())
	start := h.now
	h.start()
	h.advance(time.Hour)
	h.succeed("a")
	st := h.run.Status()
	for _, s := range []UpdateStatus{st.Status, st.Stages[0].Status, st.Stages[0].Groups[0].Status, st.Stages[0].Groups[0].Members[0].Status} {
		assert.Equal(t, Completed, s.State)
		assert.Equal(t, start, s.StartTime)
		assert.Equal(t, h.now, s.CompletedTime)
	}
	for _, e := range []Event{Start{At: h.now}, Stop{At: h.now}, Skip{At: h.now, Targets: []SkipTarget{{TargetMember, "a"}}}} {
		assert.ErrorIs(t, h.try(e), ErrInvalidTransition, "%T", e)
	}
	before := mustJSON(t, h.run)
	for _, e := range []Event{Tick{At: h.now.Add(time.Hour)}, CatalogChanged{At: h.now, Catalog: catalog()}, MemberChanged{At: h.now, Member: member("a", "g")}} {
		next, cmds, err := Step(h.run, e)
		assert.NoError(t, err)
		assert.Empty(t, cmds)
		assert.Equal(t, before, mustJSON(t, next))
	}
}

// "Stale or duplicate completions return ErrStaleOperation and change nothing."
func TestStaleOrDuplicateCompletionIsRefused(t *testing.T) {
	h := newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, members("g", "a", "b"), catalog())
	h.start()
	op := onlyUpgrade(t, h).Op
	h.succeed("a")
	before := mustJSON(t, h.run)
	for _, e := range []Event{
		UpgradeSucceeded{At: h.now, Op: op},
		UpgradeFailed{At: h.now, Op: op, Code: "X"},
		UpgradeSucceeded{At: h.now, Op: "run-1/b/2"},
		UpgradeSucceeded{At: h.now, Op: "other-run/b/1"},
		UpgradeSucceeded{At: h.now, Op: "garbage"},
	} {
		next, cmds, err := Step(h.run, e)
		assert.ErrorIs(t, err, ErrStaleOperation)
		assert.Nil(t, cmds)
		assert.Equal(t, before, mustJSON(t, next))
	}
}

// "an event stamped earlier than the run's clock is applied at the run's clock."
func TestLateEventAppliesAtRunClock(t *testing.T) {
	h := newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, members("g", "a"), catalog())
	h.start()
	op := onlyUpgrade(t, h).Op
	h.step(Tick{At: t0.Add(time.Hour)})
	h.step(UpgradeSucceeded{At: t0.Add(time.Minute), Op: op})
	assert.Equal(t, t0.Add(time.Hour), h.run.Clock())
	assert.Equal(t, t0.Add(time.Hour), h.member("a").Status.CompletedTime)
}

func TestStepRejectsZeroRunAndNilEvent(t *testing.T) {
	_, _, err := Step(Run{}, Start{})
	assert.ErrorIs(t, err, ErrInvalidTransition)
	h := newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, members("g", "a"), catalog())
	_, _, err = Step(h.run, nil)
	assert.ErrorIs(t, err, ErrInvalidTransition)
	assert.Equal(t, Status{}, Run{}.Status())
}

// "json.Marshal(run) then json.Unmarshal gives a run that behaves identically; the encoding carries
// a schema version and rejects versions it does not know."
func TestRunJSONRoundTripBehavesIdentically(t *testing.T) {
	ms := twoStageMembers()
	ms[0].AutoUpgradeWindow = dailyWindow("22:00", 4)
	h := newHost(t, twoStages(60), ms, catalog())
	h.start()
	h.failOp("t1-b", CodeNodeImageVersionNotAvailable, "later")
	b, err := json.Marshal(h.run)
	require.NoError(t, err)
	var back Run
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, mustJSON(t, h.run.Status()), mustJSON(t, back.Status()))
	again, err := json.Marshal(back)
	require.NoError(t, err)
	assert.JSONEq(t, string(b), string(again))

	events := []Event{
		CatalogChanged{At: h.now, Catalog: catalog()},
		UpgradeSucceeded{At: h.now, Op: "run-1/t1-c/1"},
		Tick{At: t0.Add(10 * time.Hour)},
		UpgradeSucceeded{At: t0.Add(10 * time.Hour), Op: "run-1/t2-a/1"},
	}
	a, c := h.run, back
	for _, e := range events {
		var ca, cc []Command
		var ea, ec error
		a, ca, ea = Step(a, e)
		c, cc, ec = Step(c, e)
		assert.Equal(t, ea, ec)
		assert.Equal(t, ca, cc)
		assert.Equal(t, mustJSON(t, a), mustJSON(t, c))
	}

	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	m["schemaVersion"] = 99
	b2, _ := json.Marshal(m)
	assert.ErrorIs(t, json.Unmarshal(b2, &back), ErrUnsupportedVersion)
}

// "Status() marshals to Azure's UpdateRunStatus JSON, member operationId and message included."
func TestStatusJSONHasAzureShape(t *testing.T) {
	ms := members("g", "a")
	ms[0].ClusterResourceID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/a"
	h := newHost(t, Spec{Strategy: strategy(Stage{Name: "s", AfterStageWaitInSeconds: 60, Groups: []Group{{Name: "g"}}}),
		ManagedClusterUpdate: ManagedClusterUpdate{Upgrade: UpgradeSpec{Type: NodeImageOnly}, NodeImageSelection: &NodeImageSelection{Type: Consistent}}}, ms, catalog())
	h.start()
	assert.JSONEq(t, `{
	  "status": {"state": "Running", "startTime": "2026-03-04T12:00:00Z"},
	  "failureCount": 0,
	  "stages": [{
	    "name": "s",
	    "status": {"state": "Running", "startTime": "2026-03-04T12:00:00Z"},
	    "failureCount": 0, "maxAllowedFailures": 0, "maxConcurrency": 50,
	    "groups": [{
	      "name": "g",
	      "status": {"state": "Running", "startTime": "2026-03-04T12:00:00Z"},
	      "failureCount": 0, "maxAllowedFailures": 0, "maxConcurrency": 1,
	      "members": [{
	        "name": "a",
	        "clusterResourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/a",
	        "operationId": "run-1/a/1",
	        "status": {"state": "Running", "startTime": "2026-03-04T12:00:00Z"}
	      }]
	    }],
	    "afterStageWaitStatus": {"status": {"state": "NotStarted"}, "waitDurationInSeconds": 60}
	  }],
	  "nodeImageSelection": {"selectedNodeImageVersions": [{"version": "AKSUbuntu-2204gen2containerd-202405.27.0"}]}
	}`, mustJSON(t, h.run.Status()))
}

// "skipping a group or stage skips everything in it not yet started; in-flight
// members finish and are recorded" — and are not tried again afterwards.
func TestInFlightMemberOfSkippedGroupIsNotTriedAgain(t *testing.T) {
	h := newHost(t, twoStages(0), twoStageMembers(), catalog())
	h.start()
	h.step(Skip{At: h.now, Targets: []SkipTarget{{TargetGroup, "t1"}}})
	h.failOp("t1-a", CodeNodeImageVersionNotAvailable, "not yet")
	assert.Equal(t, Skipped, h.state("t1-a"), "it does not wait for the catalog")
	assert.Equal(t, "skipped by user", h.member("t1-a").Message)

	h.failOp("t1-b", "QuotaExceeded", "no cores")
	assert.Equal(t, Failed, h.state("t1-b"), "the failure is recorded")
	h.succeed("t2-a")
	assert.Equal(t, Failed, h.run.State())
	h.start()
	assert.Equal(t, Skipped, h.state("t1-b"), "a restart does not retry it")
	assert.Equal(t, []string{"p1-a"}, h.started())
}

// A member that left the fleet while in flight is not tried again either.
func TestInFlightMemberThatLeftIsNotTriedAgain(t *testing.T) {
	h := newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, members("g", "a", "b"), catalog())
	h.start()
	h.step(MemberChanged{At: h.now, Member: member("a", "g"), Removed: true})
	h.failOp("a", CodeNodeImageVersionNotAvailable, "not yet")
	assert.Equal(t, Skipped, h.state("a"))
	assert.Equal(t, "member left the fleet", h.member("a").Message)
	assert.Equal(t, []string{"b"}, h.started())
}

// "Skip (allowed while NotStarted, Running, Pending, Stopped or Failed)"; not while Stopping.
func TestSkipAllowedWhilePendingOrStoppedNotWhileStopping(t *testing.T) {
	ms := members("g", "a", "b", "c")
	ms[0].AutoUpgradeWindow = dailyWindow("22:00", 4)
	ms[1].AutoUpgradeWindow = dailyWindow("22:00", 4)
	h := newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, ms, catalog())
	h.start()
	h.succeed("c")
	require.Equal(t, Pending, h.run.State())
	assert.NoError(t, h.try(Skip{At: h.now, Targets: []SkipTarget{{TargetMember, "a"}}}), "Pending")
	h.step(Stop{At: h.now})
	require.Equal(t, Stopped, h.run.State())
	assert.NoError(t, h.try(Skip{At: h.now, Targets: []SkipTarget{{TargetMember, "b"}}}), "Stopped")
	assert.Equal(t, Skipped, h.state("b"))

	h = newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, members("g", "a", "b"), catalog())
	h.start()
	h.step(Stop{At: h.now})
	require.Equal(t, Stopping, h.run.State())
	assert.ErrorIs(t, h.try(Skip{At: h.now, Targets: []SkipTarget{{TargetMember, "b"}}}), ErrInvalidTransition, "Stopping")
}

// "Skipping an after-stage wait that already Completed is refused (today it
// turns Completed into Skipped)"; so is skipping a stage that finished.
func TestSkipOfAFinishedWaitOrStageRefused(t *testing.T) {
	h := newHost(t, twoStages(600), twoStageMembers(), catalog())
	h.start()
	for _, m := range []string{"t1-a", "t1-b", "t2-a", "t1-c"} {
		h.succeed(m)
	}
	h.advance(10 * time.Minute)
	h.step(Tick{At: h.now})
	require.Equal(t, Completed, h.stage("test").AfterStageWaitStatus.Status.State)
	before := mustJSON(t, h.run)
	err := h.try(Skip{At: h.now, Targets: []SkipTarget{{TargetAfterStageWait, "test"}}})
	assert.ErrorIs(t, err, ErrInvalidTransition)
	assert.ErrorContains(t, err, `after-stage wait of stage "test" has already finished`)
	err = h.try(Skip{At: h.now, Targets: []SkipTarget{{TargetStage, "test"}}})
	assert.ErrorContains(t, err, `stage "test" has already finished`)
	assert.Equal(t, before, mustJSON(t, h.run))
	assert.Equal(t, Completed, h.stage("test").AfterStageWaitStatus.Status.State)
}

// "A window or startDate that makes a time past year 9999 is refused ...
// (today the run can no longer be saved after Start)": event times are
// bounded, so every time a run computes stays encodable.
// "Every event carries the host's time": an event whose At was left unset
// (the zero time.Time) is refused. Accepted, it started a run, a member or a
// gate at a time that reads as "never" (no startTime, no gateId in status).
func TestEventWithoutATimeRefused(t *testing.T) {
	h := gatedRun(t, func(test, _ *Stage) { test.BeforeGates = []GateConfiguration{approval("")} })
	before := mustJSON(t, h.run)
	for _, e := range []Event{Start{}, Stop{}, Tick{}, Skip{Targets: []SkipTarget{{TargetMember, "t1-a"}}}, CatalogChanged{Catalog: catalog()},
		MemberChanged{Member: member("t1-a", "t1")}, UpgradeSucceeded{Op: "run-1/t1-a/1"}, CompleteGate{Gate: "run-1/test/Before/0"}} {
		next, cmds, err := Step(h.run, e)
		assert.ErrorIs(t, err, ErrInvalidTransition, "%T", e)
		assert.Nil(t, cmds)
		assert.Equal(t, before, mustJSON(t, next))
	}
}

func TestEventsPastMaxEventTimeRefused(t *testing.T) {
	h := newHost(t, twoStages(int(^uint32(0)>>1)), twoStageMembers(), catalog())
	err := h.try(Start{At: MaxEventTime})
	assert.ErrorIs(t, err, ErrInvalidTransition)
	assert.ErrorContains(t, err, "9900-01-01T00:00:00Z")
	h.now = MaxEventTime.Add(-time.Second)
	h.start()
	for _, m := range []string{"t1-a", "t1-b", "t2-a", "t1-c"} {
		h.succeed(m)
	}
	require.Equal(t, Running, h.stage("test").AfterStageWaitStatus.Status.State, "the longest wait starts")
	_, err = json.Marshal(h.run)
	require.NoError(t, err, "and the run still encodes")
}

// "A window or startDate that makes a time past year 9999 is refused at New."
func TestWindowPastYear9999RefusedAtNew(t *testing.T) {
	ms := members("t1", "a")
	ms[0].AutoUpgradeWindow = dailyWindow("23:00", 24)
	ms[0].AutoUpgradeWindow.StartDate = "9999-12-31"
	_, err := New("run-1", Spec{}, ms, catalog())
	assert.ErrorIs(t, err, ErrInvalidSpec)
	assert.ErrorContains(t, err, "startDate")
}
