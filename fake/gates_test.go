package fake

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/window"
)

var approvalGate = []fleetupdate.GateConfiguration{{Type: fleetupdate.Approval, DisplayName: "ok?"}}

// gatedSpec has Approval gates before and after a stage and a group, and a
// ScheduledStart (Monday 09:00 UTC) before the second stage.
func gatedSpec() fleetupdate.Spec {
	spec := fullTo130
	spec.Strategy = &fleetupdate.Strategy{Stages: []fleetupdate.Stage{
		{Name: "one", BeforeGates: approvalGate, AfterGates: approvalGate, AfterStageWaitInSeconds: 600,
			Groups: []fleetupdate.Group{{Name: "g", BeforeGates: approvalGate, AfterGates: approvalGate}}},
		{Name: "two", BeforeGates: []fleetupdate.GateConfiguration{{Type: fleetupdate.ScheduledStart,
			ScheduledStartConfiguration: &fleetupdate.ScheduledStartConfiguration{StartDay: window.Monday, StartTime: "09:00", UTCOffset: "+00:00"}}},
			Groups: []fleetupdate.Group{{Name: "h", AfterGates: approvalGate}}},
	}}
	return spec
}

// gatedFleet is smallFleet with b in group h.
func gatedFleet() *Fleet {
	f := smallFleet()
	f.Members[1].Group = "h"
	return f
}

func simulateGated(t *testing.T, ap Approvals, opt Options) (Trace, *Host) {
	t.Helper()
	f := gatedFleet()
	h := NewHost(f.Clone(), 7)
	h.Approvals = ap
	opt.Start = pub
	return Simulate(newRun(t, f, gatedSpec()), h, opt), h
}

// gateCompletions lists the accepted CompleteGate events of a trace.
func gateCompletions(tr Trace) []fleetupdate.CompleteGate {
	var out []fleetupdate.CompleteGate
	for _, e := range tr.Entries {
		if c, ok := e.Event.(fleetupdate.CompleteGate); ok && e.Err == nil {
			out = append(out, c)
		}
	}
	return out
}

// gateStates lists every gate's state in the final status, in tree order.
func gateStates(tr Trace) []fleetupdate.State {
	var out []fleetupdate.State
	add := func(gs []fleetupdate.GateStatus) {
		for _, g := range gs {
			out = append(out, g.Status.State)
		}
	}
	for _, s := range tr.Run.Status().Stages {
		add(s.BeforeGates)
		for _, g := range s.Groups {
			add(g.BeforeGates)
			add(g.AfterGates)
		}
		add(s.AfterGates)
	}
	return out
}

func TestApprovalsAtOnceCompleteEveryGate(t *testing.T) {
	tr, _ := simulateGated(t, Approvals{}, Options{})
	require.Equal(t, fleetupdate.Completed, tr.Run.State())
	assert.Equal(t, []fleetupdate.State{fleetupdate.Completed, fleetupdate.Completed, fleetupdate.Completed, fleetupdate.Completed,
		fleetupdate.Completed, fleetupdate.Completed}, gateStates(tr))
	done := gateCompletions(tr)
	require.Len(t, done, 5, "the five Approval gates, each approved once; the ScheduledStart completes itself")
	assert.Equal(t, pub, done[0].At, "the stage's before-gate is approved at once")
	// The ScheduledStart holds stage two until Monday 09:00.
	var sawAwait bool
	for _, e := range tr.Entries {
		for _, c := range e.Commands {
			if a, ok := c.(fleetupdate.AwaitGate); ok && a.Type == fleetupdate.ScheduledStart {
				sawAwait = true
				assert.Equal(t, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), a.StartAt)
			}
		}
	}
	assert.True(t, sawAwait)
	assert.Equal(t, time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC), tr.End, "b upgrades after the scheduled start, then its group's after-gate is approved at once")
}

func TestApprovalsAfterADelay(t *testing.T) {
	tr, _ := simulateGated(t, Approvals{Delay: 2 * time.Hour}, Options{})
	require.Equal(t, fleetupdate.Completed, tr.Run.State())
	done := gateCompletions(tr)
	require.Len(t, done, 5)
	assert.Equal(t, pub.Add(2*time.Hour), done[0].At)
	assert.Equal(t, pub.Add(4*time.Hour), done[1].At, "the group's before-gate is reached when the stage's is approved")
	for _, e := range tr.Entries {
		for _, c := range e.Commands {
			if a, ok := c.(fleetupdate.AwaitGate); ok && a.Type == fleetupdate.Approval {
				assert.Contains(t, done, fleetupdate.CompleteGate{At: e.At.Add(2 * time.Hour), Gate: a.Gate}, "approved 2h after it was reached")
			}
		}
	}
}

func TestApprovalsAfterARandomDelayFromTheSeed(t *testing.T) {
	ap := Approvals{Delay: time.Hour, Spread: 3 * time.Hour}
	a, _ := simulateGated(t, ap, Options{})
	b, _ := simulateGated(t, ap, Options{})
	require.Equal(t, fleetupdate.Completed, a.Run.State())
	assert.Equal(t, fmt.Sprint(a.Entries), fmt.Sprint(b.Entries), "reproducible")
	reached := map[fleetupdate.GateID]time.Time{}
	for _, e := range a.Entries {
		for _, c := range e.Commands {
			if g, ok := c.(fleetupdate.AwaitGate); ok {
				reached[g.Gate] = e.At
			}
		}
	}
	delays := map[time.Duration]bool{}
	for _, c := range gateCompletions(a) {
		d := c.At.Sub(reached[c.Gate])
		assert.GreaterOrEqual(t, d, time.Hour)
		assert.LessOrEqual(t, d, 4*time.Hour)
		delays[d] = true
	}
	assert.Greater(t, len(delays), 1, "the delays vary")
}

func TestApprovalsNeverLeaveTheRunPending(t *testing.T) {
	tr, h := simulateGated(t, Approvals{Never: true}, Options{})
	assert.Equal(t, fleetupdate.Pending, tr.Run.State())
	assert.Empty(t, gateCompletions(tr))
	assert.Equal(t, fleetupdate.Pending, tr.Run.Status().Stages[0].BeforeGates[0].Status.State)
	assert.Empty(t, h.Upgrades, "nothing passes the first gate")
}

// A user may complete a ScheduledStart gate early; the policy never
// approves one.
func TestScheduledStartCompletedEarlyByAUser(t *testing.T) {
	gate := fleetupdate.GateID("sim/two/Before/0")
	early := pub.Add(3 * time.Hour)
	tr, _ := simulateGated(t, Approvals{}, Options{Actions: []Action{{At: early, Event: fleetupdate.CompleteGate{Gate: gate}}}})
	require.Equal(t, fleetupdate.Completed, tr.Run.State())
	assert.Contains(t, gateCompletions(tr), fleetupdate.CompleteGate{At: early, Gate: gate})
	assert.Equal(t, early.Add(30*time.Minute), tr.End, "b starts when the user completes the gate")
}

// A host that restarts after any step, whatever it rebuilds from and
// whether it lost the step's commands, approves each gate once and ends as
// one that never stopped, although Run.Outstanding announces Pending gates
// again.
func TestApprovalsSurviveRestarts(t *testing.T) {
	status := func(tr Trace) string {
		b, err := json.Marshal(tr.Run.Status())
		require.NoError(t, err)
		return string(b)
	}
	for _, ap := range []Approvals{{}, {Delay: 2 * time.Hour, Spread: time.Hour}, {Never: true}} {
		want, _ := simulateGated(t, ap, Options{})
		for _, from := range []Rebuild{FromSnapshot, FromJournal} {
			for _, lose := range []bool{false, true} {
				t.Run(fmt.Sprintf("%+v/rebuild=%d/crashBeforePerform=%v", ap, from, lose), func(t *testing.T) {
					tr, _ := simulateGated(t, ap, Options{RestartEvery: true, Rebuild: from, CrashBeforePerform: lose})
					for _, r := range tr.Restarts {
						require.NoError(t, r.Err)
					}
					assert.Equal(t, status(want), status(tr))
					assert.Equal(t, gateCompletions(want), gateCompletions(tr), "each gate approved once, at the same time")
					assert.Equal(t, want.End, tr.End)
				})
			}
		}
	}
}

// A gate a run reached outside a simulation (a step the host made itself,
// as SimulateAutoUpgrade's skips of stale members are) is still owed an
// answer: resume carries it over, and the run goes on.
func TestResumeAnswersAGateReachedOutsideTheSimulation(t *testing.T) {
	f := gatedFleet()
	h := NewHost(f.Clone(), 7)
	run, cmds, err := fleetupdate.Step(newRun(t, f, gatedSpec()), fleetupdate.Start{At: pub})
	require.NoError(t, err)
	require.Len(t, cmds, 1) // the stage's before-gate, which nobody was told of
	gate := cmds[0].(fleetupdate.AwaitGate).Gate

	acts := resume(run, h, pub)
	require.Equal(t, []Action{{At: pub, Event: fleetupdate.CompleteGate{At: pub, Gate: gate}}}, acts)
	tr := Simulate(run, h, Options{Start: pub, NoStart: true, Actions: acts})
	assert.Equal(t, fleetupdate.Completed, tr.Run.State())
}

// SimulateAutoUpgrade drives a run in intervals (Simulate with NoStart and
// resume) and steps it between them (it skips stale members). A gate Pending
// when an interval ends — its approval due later, or the gate reached by that
// skip, whose AwaitGate is dropped — must still be approved in the next
// interval: resume carries the run's pending gates over (Run.Outstanding), as
// a restarted host would (host contract, rule 5).
func TestResumeApprovesAGatePendingAtTheEndOfAnInterval(t *testing.T) {
	spec := fullTo130
	spec.Strategy = &fleetupdate.Strategy{Stages: []fleetupdate.Stage{
		{Name: "one", Groups: []fleetupdate.Group{{Name: "g", AfterGates: approvalGate}}},
	}}
	f := smallFleet()
	h := NewHost(f.Clone(), 7)
	h.Approvals = Approvals{Delay: 3 * time.Hour}
	first := pub.Add(2 * time.Hour) // the upgrades are done, the approval not yet due
	tr := Simulate(newRun(t, f, spec), h, Options{Start: pub, Horizon: first.Sub(pub)})
	require.Equal(t, fleetupdate.Pending, tr.Run.State())
	var reached time.Time // when the run announced the gate
	for _, e := range tr.Entries {
		for _, c := range e.Commands {
			if _, ok := c.(fleetupdate.AwaitGate); ok {
				reached = e.At
			}
		}
	}
	require.False(t, reached.IsZero())

	tr = Simulate(tr.Run, h, Options{Start: first, Horizon: 24 * time.Hour, NoStart: true, Actions: resume(tr.Run, h, first)})
	assert.Equal(t, fleetupdate.Completed, tr.Run.State())
	require.Len(t, gateCompletions(tr), 1)
	assert.Equal(t, reached.Add(3*time.Hour), gateCompletions(tr)[0].At, "approved when the approvers decided, not again at the resume")
}
