package fleetrun

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/fleetkit/fleetkit/fleetupdate"
)

// A 3-stage run with waits and windows runs to Completed on virtual time:
// prod's window opens at 06:00, so the run takes at least that long, and
// every member is upgraded exactly once.
func TestRunCompletesThroughWaitsAndWindows(t *testing.T) {
	h := newHarness(t)
	run := threeStages(t, "r", 2, 3600, prodAt6)
	env := h.Run(Input{Run: run, Start: true})
	s := result(t, env)
	assert.Equal(t, fleetupdate.Completed, s.Status.State)
	assert.Len(t, h.execs, 1)
	assert.Equal(t, 8, h.Fake.Upgraded())
	for op, n := range h.attempts {
		assert.Equal(t, 1, n, op)
	}
	// canary 30m, wait 1h, staging 30m (two members at a time), wait 1h:
	// prod is reached at 03:00 and waits for its window at 06:00, then 30m.
	assert.Equal(t, t0.Add(6*time.Hour+30*time.Minute), env.Now().UTC())
}

// While prod waits for its window, its members show Pending with the next
// opening, and the member query answers for one of them.
func TestQueriesShowPendingWindow(t *testing.T) {
	h := newHarness(t)
	h.Setup = func(env *testsuite.TestWorkflowEnvironment, _ int) {
		env.RegisterDelayedCallback(func() {
			s := query(t, env)
			assert.Equal(t, fleetupdate.Pending, s.Stages[2].Groups[0].Members[0].Status.State, "%+v", s.Stages[2])
			v, err := env.QueryWorkflow(QueryMember, "prod-00")
			require.NoError(t, err)
			var m fleetupdate.MemberStatus
			require.NoError(t, v.Get(&m))
			assert.Equal(t, fleetupdate.Pending, m.Status.State)
			assert.Contains(t, m.Message, "maintenance window is not open")
			_, err = env.QueryWorkflow(QueryMember, "nobody")
			assert.ErrorContains(t, err, `no member "nobody"`)
		}, 5*time.Hour)
	}
	s := result(t, h.Run(Input{Run: threeStages(t, "r", 2, 3600, prodAt6), Start: true}))
	assert.Equal(t, fleetupdate.Completed, s.Status.State)
}

// Runs larger than Config.FullStatusMembers answer QueryStatus with the
// overview: stages and groups without members.
func TestStatusOfLargeRunIsOverview(t *testing.T) {
	h := newHarness(t)
	for _, limit := range []int{7, 8} {
		h.Setup = func(env *testsuite.TestWorkflowEnvironment, _ int) {
			env.RegisterDelayedCallback(func() {
				s := query(t, env)
				require.Len(t, s.Stages, 3)
				if limit < 8 {
					assert.Nil(t, s.Stages[0].Groups[0].Members, "8 members > %d: overview", limit)
				} else {
					assert.Len(t, s.Stages[0].Groups[0].Members, 2, "8 members ≤ %d: full status", limit)
				}
			}, time.Minute)
		}
		h.Run(Input{Run: threeStages(t, "r", 2, 0, nil), Start: true, Config: Config{FullStatusMembers: limit}})
	}
}

// A refused Update returns Step's error to the caller, typed with the
// fleetupdate sentinel, and changes nothing; events only the workflow may
// apply are refused too.
func TestRefusedUpdateReturnsItsError(t *testing.T) {
	h := newHarness(t)
	refused := 0
	h.Setup = func(env *testsuite.TestWorkflowEnvironment, _ int) {
		env.RegisterDelayedCallback(func() {
			send(t, env, fleetupdate.Skip{Targets: []fleetupdate.SkipTarget{{Type: fleetupdate.TargetMember, Name: "nobody"}}}, func(_ fleetupdate.Status, err error) {
				var app *temporal.ApplicationError
				require.ErrorAs(t, err, &app)
				assert.Equal(t, RefusedUnknownTarget, app.Type())
				assert.Contains(t, app.Message(), "nobody")
				re, ok := asRefused(err)
				require.True(t, ok)
				assert.ErrorIs(t, re, fleetupdate.ErrUnknownTarget)
				refused++
			})
			send(t, env, fleetupdate.Start{}, func(_ fleetupdate.Status, err error) {
				var app *temporal.ApplicationError
				require.ErrorAs(t, err, &app)
				assert.Equal(t, RefusedInvalidTransition, app.Type(), "Start on a running run")
				refused++
			})
			for _, e := range []fleetupdate.Event{fleetupdate.UpgradeSucceeded{Op: "r/canary-00/1"}, fleetupdate.Tick{}, nil} {
				send(t, env, e, func(_ fleetupdate.Status, err error) {
					var app *temporal.ApplicationError
					require.ErrorAs(t, err, &app)
					assert.Contains(t, []string{RefusedNotUserAction, RefusedInvalidEncoding}, app.Type())
					refused++
				})
			}
		}, time.Minute)
	}
	s := result(t, h.Run(Input{Run: threeStages(t, "r", 1, 0, nil), Start: true}))
	assert.Equal(t, 5, refused)
	assert.Equal(t, fleetupdate.Completed, s.Status.State)
	assert.Equal(t, 4, h.Fake.Upgraded())
}

// A run created without Start waits for one; Stop lets the upgrade in
// flight finish and starts nothing new; Start resumes; the Update's result
// is the overview after the step, stamped with the workflow's clock.
func TestStopAndStart(t *testing.T) {
	h := newHarness(t)
	h.Setup = func(env *testsuite.TestWorkflowEnvironment, _ int) {
		env.RegisterDelayedCallback(func() {
			send(t, env, fleetupdate.Start{At: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}, func(s fleetupdate.Status, err error) {
				require.NoError(t, err)
				assert.Equal(t, fleetupdate.Running, s.Status.State)
				assert.Equal(t, t0.Add(time.Hour), s.Status.StartTime, "stamped by the workflow, not the caller")
			})
		}, time.Hour)
		env.RegisterDelayedCallback(func() {
			send(t, env, fleetupdate.Stop{}, func(s fleetupdate.Status, err error) {
				require.NoError(t, err)
				assert.Equal(t, fleetupdate.Stopping, s.Status.State)
			})
		}, time.Hour+10*time.Minute)
		env.RegisterDelayedCallback(func() {
			s := query(t, env)
			assert.Equal(t, fleetupdate.Stopped, s.Status.State)
			assert.Equal(t, map[fleetupdate.State]int{fleetupdate.Completed: 1, fleetupdate.NotStarted: 3}, states(s))
		}, 10*time.Hour)
		env.RegisterDelayedCallback(func() {
			send(t, env, fleetupdate.Start{}, func(_ fleetupdate.Status, err error) { require.NoError(t, err) })
		}, 24*time.Hour)
	}
	env := h.Run(Input{Run: threeStages(t, "r", 1, 0, nil)})
	s := result(t, env)
	assert.Equal(t, fleetupdate.Completed, s.Status.State)
	assert.Equal(t, 4, h.Fake.Upgraded())
	// canary finished before the Stop took effect; staging and prod follow
	// the Start.
	assert.Equal(t, t0.Add(25*time.Hour), env.Now().UTC())
}

// Skipping a member before it is reached skips it: it is never upgraded.
func TestSkipMember(t *testing.T) {
	h := newHarness(t)
	h.Setup = func(env *testsuite.TestWorkflowEnvironment, _ int) {
		env.RegisterDelayedCallback(func() {
			send(t, env, fleetupdate.Skip{Targets: []fleetupdate.SkipTarget{{Type: fleetupdate.TargetMember, Name: "prod-01"}, {Type: fleetupdate.TargetAfterStageWait, Name: "canary"}}}, func(_ fleetupdate.Status, err error) {
				require.NoError(t, err)
			})
		}, time.Minute)
	}
	s := result(t, h.Run(Input{Run: threeStages(t, "r", 2, 3600, nil), Start: true}))
	assert.Equal(t, fleetupdate.Completed, s.Status.State)
	assert.Equal(t, 0, h.Fake.Calls("prod-01"))
	assert.Equal(t, 7, h.Fake.Upgraded())
}

// An AKS failure that retrying cannot help is not retried: the run sees
// UpgradeFailed with the AKS code and fails fast; the workflow waits, and a
// Start tries the member again (a new op) to completion.
func TestAKSFailureReachesRun(t *testing.T) {
	h := newHarness(t)
	h.Fake.Fail = map[string]*UpgradeError{"dev-00": {Code: "QuotaExceeded", Message: "no quota left in eastus"}}
	h.Setup = func(env *testsuite.TestWorkflowEnvironment, _ int) {
		env.RegisterDelayedCallback(func() {
			s := query(t, env)
			require.Equal(t, fleetupdate.Failed, s.Status.State)
			dev := s.Stages[1].Groups[0].Members[0]
			assert.Equal(t, fleetupdate.Failed, dev.Status.State)
			require.NotNil(t, dev.Status.Error)
			assert.Equal(t, fleetupdate.ErrorDetail{Code: "QuotaExceeded", Message: "no quota left in eastus"}, *dev.Status.Error)
			send(t, env, fleetupdate.Start{}, func(_ fleetupdate.Status, err error) { require.NoError(t, err) })
		}, 48*time.Hour)
	}
	s := result(t, h.Run(Input{Run: threeStages(t, "r", 2, 0, nil), Start: true}))
	assert.Equal(t, fleetupdate.Completed, s.Status.State)
	assert.Equal(t, 2, h.Fake.Calls("dev-00"), "once per op: the non-retryable error was not retried")
	assert.Equal(t, 1, h.attempts["r/dev-00/1"])
}

// A transient error is retried under the policy and the run never sees it.
func TestTransientErrorIsRetried(t *testing.T) {
	h := newHarness(t)
	h.Fake.Flaky = map[string]int{"canary-00": 2}
	retry := temporal.RetryPolicy{InitialInterval: time.Minute, BackoffCoefficient: 1, MaximumAttempts: 5}
	s := result(t, h.Run(Input{Run: threeStages(t, "r", 1, 0, nil), Start: true, Config: Config{Retry: &retry}}))
	assert.Equal(t, fleetupdate.Completed, s.Status.State)
	assert.Equal(t, 3, h.attempts["r/canary-00/1"])
}

// When the retry policy gives up on a transient error, the run sees the
// last error's code.
func TestRetriesExhaustedReachRun(t *testing.T) {
	h := newHarness(t)
	h.Fake.Flaky = map[string]int{"canary-00": 100}
	retry := temporal.RetryPolicy{InitialInterval: time.Minute, BackoffCoefficient: 1, MaximumAttempts: 3}
	h.Setup = func(env *testsuite.TestWorkflowEnvironment, _ int) {
		env.RegisterDelayedCallback(func() {
			s := query(t, env)
			assert.Equal(t, fleetupdate.Failed, s.Status.State)
			e := s.Stages[0].Groups[0].Members[0].Status.Error
			require.NotNil(t, e)
			assert.Equal(t, "TooManyRequests", e.Code)
			env.CancelWorkflow()
		}, 24*time.Hour)
	}
	env := h.Run(Input{Run: threeStages(t, "r", 1, 0, nil), Start: true, Config: Config{Retry: &retry}})
	var canceled *temporal.CanceledError
	assert.True(t, errors.As(env.GetWorkflowError(), &canceled), "%v", env.GetWorkflowError())
	assert.Equal(t, 3, h.attempts["r/canary-00/1"])
}

// With a small MaxEvents the run continues as new many times, each time
// with upgrades in flight: none is started twice, every one is started, and
// the run completes as it would have in one execution.
func TestContinueAsNewWithUpgradesInFlight(t *testing.T) {
	h := newHarness(t)
	run := threeStages(t, "r", 6, 600, prodAt6)
	env := h.Run(Input{Run: run, Start: true, Config: Config{MaxEvents: 5}})
	s := result(t, env)
	assert.Equal(t, fleetupdate.Completed, s.Status.State)

	require.Greater(t, len(h.execs), 3)
	inFlight := 0
	for _, e := range h.execs {
		inFlight += e.InFlightAtEnd
	}
	assert.Positive(t, inFlight, "some executions continued as new with upgrades in flight")
	assert.Len(t, h.attempts, 24)
	for op, n := range h.attempts {
		assert.Equal(t, 1, n, "%s started once", op)
	}
	assert.Equal(t, 24, h.Fake.Upgraded())

	// Draining delays the run: upgrades the run starts while the execution
	// drains wait for the next one. Here it costs one upgrade's time.
	one := newHarness(t)
	oneEnv := one.Run(Input{Run: run, Start: true})
	assert.Len(t, one.execs, 1)
	assert.Equal(t, oneEnv.Now().Add(30*time.Minute), env.Now())
}

// Gates: approvers are told of each gate as the run reaches it; a
// ScheduledStart gate completes by itself at its time, an approval gate
// waits for CompleteGate, which is refused before the gate is reached.
func TestGatesWaitForApproval(t *testing.T) {
	h := newHarness(t)
	var told []fleetupdate.AwaitGate
	h.Fake.OnGate = func(g fleetupdate.AwaitGate) { told = append(told, g) }
	prodGate := fleetupdate.GateID("r/prod/Before/0")
	refused := false
	h.Setup = func(env *testsuite.TestWorkflowEnvironment, _ int) {
		env.RegisterDelayedCallback(func() {
			send(t, env, fleetupdate.CompleteGate{Gate: prodGate}, func(_ fleetupdate.Status, err error) {
				assert.ErrorContains(t, err, "pre-approved")
				refused = true
			})
		}, time.Minute)
		env.RegisterDelayedCallback(func() {
			s := query(t, env)
			assert.Equal(t, fleetupdate.Pending, s.Stages[2].Status.State, "prod waits at its gate")
			require.Len(t, s.Stages[2].BeforeGates, 1)
			assert.Equal(t, prodGate, s.Stages[2].BeforeGates[0].GateID)
			send(t, env, fleetupdate.CompleteGate{Gate: prodGate}, func(_ fleetupdate.Status, err error) { require.NoError(t, err) })
		}, 20*time.Hour)
	}
	env := h.Run(Input{Run: threeStages(t, "r", 1, 3600, nil, gated), Start: true})
	s := result(t, env)
	assert.Equal(t, fleetupdate.Completed, s.Status.State)
	assert.True(t, refused)
	require.Len(t, told, 2)
	assert.Equal(t, fleetupdate.ScheduledStart, told[0].Type)
	assert.Equal(t, t0.Add(9*time.Hour), told[0].StartAt.UTC(), "Monday 09:00")
	assert.Equal(t, prodGate, told[1].Gate)
	assert.Equal(t, t0.Add(20*time.Hour+30*time.Minute), env.Now().UTC(), "prod upgraded after the approval")
}

// A gate still Pending when the execution continues as new is announced
// again by the next one and can be approved there. With MaxEvents 1, the
// event that reaches the gate ends its execution.
func TestGatePendingAcrossContinueAsNew(t *testing.T) {
	h := newHarness(t)
	var told []fleetupdate.GateID
	h.Fake.OnGate = func(g fleetupdate.AwaitGate) { told = append(told, g.Gate) }
	h.Setup = func(env *testsuite.TestWorkflowEnvironment, exec int) {
		// Approve at 20:00, and again at the start of every later execution
		// (accepted, changing nothing): an event at once must not keep an
		// execution from starting the upgrades its predecessor left it.
		env.RegisterDelayedCallback(func() {
			send(t, env, fleetupdate.CompleteGate{Gate: "r/prod/Before/0"}, func(_ fleetupdate.Status, err error) { require.NoError(t, err) })
		}, max(0, 20*time.Hour-env.Now().Sub(t0)))
	}
	s := result(t, h.Run(Input{Run: threeStages(t, "r", 1, 3600, nil, gated), Start: true, Config: Config{MaxEvents: 1}}))
	assert.Equal(t, fleetupdate.Completed, s.Status.State)
	assert.Greater(t, len(h.execs), 2)
	assert.Equal(t, []fleetupdate.GateID{"r/staging/Before/0", "r/staging/Before/0", "r/prod/Before/0", "r/prod/Before/0"}, told)
}

// Changed facts go through the Update too: a member waits Pending while its
// region does not offer the target version, and CatalogChanged releases it.
func TestCatalogChangedReleasesPendingMember(t *testing.T) {
	h := newHarness(t)
	run := threeStages(t, "r", 1, 0, nil)
	var raw struct {
		Spec    fleetupdate.Spec     `json:"spec"`
		Members []fleetupdate.Member `json:"members"`
	}
	b, err := run.MarshalJSON()
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &raw))
	raw.Members[0].Region = "westus2" // canary-00: westus2 offers nothing yet
	cat := fleetupdate.Catalog{Regions: map[string]fleetupdate.RegionCatalog{
		"eastus":  catalog.Regions["eastus"],
		"westus2": {KubernetesVersions: []string{"1.29.9"}},
	}}
	run, err = fleetupdate.New("r", raw.Spec, raw.Members, cat)
	require.NoError(t, err)
	h.Setup = func(env *testsuite.TestWorkflowEnvironment, _ int) {
		env.RegisterDelayedCallback(func() {
			s := query(t, env)
			assert.Equal(t, fleetupdate.Pending, s.Stages[0].Groups[0].Members[0].Status.State)
			cat.Regions["westus2"] = catalog.Regions["eastus"]
			send(t, env, fleetupdate.CatalogChanged{Catalog: cat}, func(_ fleetupdate.Status, err error) { require.NoError(t, err) })
		}, 48*time.Hour)
	}
	env := h.Run(Input{Run: run, Start: true})
	assert.Equal(t, fleetupdate.Completed, result(t, env).Status.State)
	assert.Equal(t, t0.Add(48*time.Hour+3*30*time.Minute), env.Now().UTC())
}

// Users may send the six user actions and facts; the workflow stamps each
// with its own clock, whatever time the caller put in.
func TestStampSetsTheWorkflowsTime(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	old := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, e := range []fleetupdate.Event{
		fleetupdate.Start{At: old}, fleetupdate.Stop{}, fleetupdate.Skip{At: old, Targets: []fleetupdate.SkipTarget{{Type: fleetupdate.TargetStage, Name: "s"}}},
		fleetupdate.CompleteGate{Gate: "g"}, fleetupdate.MemberChanged{Member: fleetupdate.Member{Name: "m", Region: "eastus", KubernetesVersion: "1.29.9"}, Removed: true},
		fleetupdate.CatalogChanged{Catalog: catalog},
	} {
		got, err := stamp(e, at)
		require.NoError(t, err)
		b, err := fleetupdate.MarshalEvent(got)
		require.NoError(t, err)
		assert.Contains(t, string(b), `"at":"2026-05-01T12:00:00Z"`)
		want, err := stamp(got, old) // round trip: everything but the time is kept
		require.NoError(t, err)
		again, err := stamp(want, at)
		require.NoError(t, err)
		assert.Equal(t, got, again)
	}
}

// An input without a run (the zero Run encodes as null) fails the workflow
// at once with a message that says so.
func TestInputWithoutRun(t *testing.T) {
	h := newHarness(t)
	env := h.Run(Input{})
	assert.ErrorContains(t, env.GetWorkflowError(), "the input holds no run")
}
