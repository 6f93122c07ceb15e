package fleetrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/window"
)

// t0 is the virtual start of every test run: a Monday, 00:00 UTC.
var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

var catalog = fleetupdate.Catalog{Regions: map[string]fleetupdate.RegionCatalog{
	"eastus": {KubernetesVersions: []string{"1.29.9", "1.30.5"}},
}}

// daily is a daily 4-hour maintenance window opening at hh:00 UTC.
func daily(hh int) *window.Schedule {
	return &window.Schedule{Recurrence: window.Recurrence{Daily: &window.DailySchedule{IntervalDays: 1}}, DurationHours: 4, StartTime: fmt.Sprintf("%02d:00", hh)}
}

// prodAt6 gives the prod group a daily window opening at 06:00 UTC.
func prodAt6(group string) *window.Schedule {
	if group == "prod" {
		return daily(6)
	}
	return nil
}

// gated puts a ScheduledStart gate (Mondays 09:00 UTC) before staging and
// an approval gate before prod.
func gated(spec *fleetupdate.Spec) {
	st := spec.Strategy.Stages
	st[1].BeforeGates = []fleetupdate.GateConfiguration{{Type: fleetupdate.ScheduledStart, DisplayName: "Monday morning",
		ScheduledStartConfiguration: &fleetupdate.ScheduledStartConfiguration{StartDay: "Monday", StartTime: "09:00", UTCOffset: "+00:00"}}}
	st[2].BeforeGates = []fleetupdate.GateConfiguration{{Type: fleetupdate.Approval, DisplayName: "prod sign-off"}}
}

// threeStages is a 3-stage run (canary, staging with two groups, prod) over
// n members per group, with an after-stage wait of wait seconds after the
// first two stages; win, if set, gives each group's members their window;
// edits change the spec.
func threeStages(t testing.TB, name string, n, wait int, win func(group string) *window.Schedule, edits ...func(*fleetupdate.Spec)) fleetupdate.Run {
	t.Helper()
	spec := fleetupdate.Spec{
		Strategy: &fleetupdate.Strategy{Stages: []fleetupdate.Stage{
			{Name: "canary", Groups: []fleetupdate.Group{{Name: "canary"}}, AfterStageWaitInSeconds: wait},
			{Name: "staging", Groups: []fleetupdate.Group{{Name: "dev", MaxConcurrency: "2"}, {Name: "test", MaxConcurrency: "2"}}, AfterStageWaitInSeconds: wait},
			{Name: "prod", Groups: []fleetupdate.Group{{Name: "prod", MaxConcurrency: "3"}}},
		}},
		ManagedClusterUpdate: fleetupdate.ManagedClusterUpdate{Upgrade: fleetupdate.UpgradeSpec{Type: fleetupdate.ControlPlaneOnly, KubernetesVersion: "1.30"}},
	}
	for _, e := range edits {
		e(&spec)
	}
	var members []fleetupdate.Member
	for _, g := range []string{"canary", "dev", "test", "prod"} {
		for i := range n {
			m := fleetupdate.Member{Name: fmt.Sprintf("%s-%02d", g, i), Group: g, Region: "eastus", KubernetesVersion: "1.29.9"}
			if win != nil {
				m.AutoUpgradeWindow = win(g)
			}
			members = append(members, m)
		}
	}
	r, err := fleetupdate.New(name, spec, members, catalog)
	require.NoError(t, err)
	return r
}

// harness runs the workflow on the SDK's test suite (virtual time),
// following continue-as-new from one execution to the next, with upgrades
// performed by the real activity over a FakeUpgrader and taking Duration of
// virtual time each.
type harness struct {
	t        *testing.T
	suite    testsuite.WorkflowTestSuite
	Fake     *FakeUpgrader
	Duration time.Duration
	// Setup, if set, runs on each execution's environment before it starts
	// (exec counts from 0): register delayed callbacks there.
	Setup func(env *testsuite.TestWorkflowEnvironment, exec int)

	mu       sync.Mutex
	attempts map[fleetupdate.OpID]int // activity attempts per op, over all executions
	execs    []execution
	now      time.Time
}

// execution is what one workflow execution did.
type execution struct {
	Input     Input
	InputSize int // bytes of the input payload
	Upgrades  int // activities started (first attempts)
	Attempts  int // activity attempts, retries included
	Timers    int // timers started
	// InFlightAtEnd is how many upgrades the run had in flight when the
	// execution continued as new.
	InFlightAtEnd int
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, Fake: &FakeUpgrader{}, Duration: 30 * time.Minute, attempts: map[fleetupdate.OpID]int{}, now: t0}
	h.suite.SetLogger(quietLogger())
	return h
}

// quietLogger drops the SDK's log lines (every activity error is one), which
// would drown a test's output; tests assert on what the run shows instead.
func quietLogger() log.Logger {
	return log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// Run executes in, and every execution it continues as, to the end, and
// returns the last execution's environment (its workflow completed or
// failed).
func (h *harness) Run(in Input) *testsuite.TestWorkflowEnvironment {
	h.t.Helper()
	for exec := 0; ; exec++ {
		require.Less(h.t, exec, 1000, "too many executions")
		env := h.env()
		size := payloadSize(h.t, in)
		h.execs = append(h.execs, execution{Input: in, InputSize: size})
		if h.Setup != nil {
			h.Setup(env, exec)
		}
		env.ExecuteWorkflow(WorkflowName, in)
		h.now = env.Now()
		require.True(h.t, env.IsWorkflowCompleted())
		var can *workflow.ContinueAsNewError
		if err := env.GetWorkflowError(); !errors.As(err, &can) {
			return env
		}
		var next Input
		require.NoError(h.t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
		last := &h.execs[len(h.execs)-1]
		for _, c := range next.Run.Outstanding() {
			if _, ok := c.(fleetupdate.UpgradeMember); ok {
				last.InFlightAtEnd++
			}
		}
		require.False(h.t, next.Start, "a continue-as-new must not start the run again")
		in = next
	}
}

func (h *harness) env() *testsuite.TestWorkflowEnvironment {
	env := h.suite.NewTestWorkflowEnvironment()
	env.SetStartTime(h.now)
	env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: DeadlockDetectionTimeout})
	env.SetTestTimeout(10 * time.Minute) // real time, for the 10,000-member run on a busy machine
	Register(env, h.Fake)
	acts := &Activities{Upgrader: h.Fake}
	env.OnActivity(ActivityName, mock.Anything, mock.Anything).AfterFn(func() time.Duration { return h.Duration }).
		Return(func(ctx context.Context, c fleetupdate.UpgradeMember) error {
			h.mu.Lock()
			h.attempts[c.Op]++
			first := h.attempts[c.Op] == 1
			last := &h.execs[len(h.execs)-1]
			last.Attempts++
			if first {
				last.Upgrades++
			}
			h.mu.Unlock()
			assert.Equal(h.t, string(c.Op), activity.GetInfo(ctx).ActivityID, "the activity id is the op id")
			return acts.UpgradeMember(ctx, c)
		})
	env.SetOnTimerScheduledListener(func(string, time.Duration) {
		h.execs[len(h.execs)-1].Timers++
	})
	return env
}

// Result returns the run's final overview from env.
func result(t *testing.T, env *testsuite.TestWorkflowEnvironment) fleetupdate.Status {
	t.Helper()
	require.NoError(t, env.GetWorkflowError())
	var s fleetupdate.Status
	require.NoError(t, env.GetWorkflowResult(&s))
	return s
}

// query returns the run's status from a query.
func query(t *testing.T, env *testsuite.TestWorkflowEnvironment) fleetupdate.Status {
	t.Helper()
	v, err := env.QueryWorkflow(QueryStatus)
	require.NoError(t, err)
	var s fleetupdate.Status
	require.NoError(t, v.Get(&s))
	return s
}

// send sends e through the Update and calls then with the result, or the
// rejection, when the workflow has processed it (after the callback that
// calls send has returned).
func send(t *testing.T, env *testsuite.TestWorkflowEnvironment, e fleetupdate.Event, then func(fleetupdate.Status, error)) {
	cb := &testsuite.TestUpdateCallback{
		OnReject: func(err error) { then(fleetupdate.Status{}, err) },
		OnAccept: func() {},
		OnComplete: func(v any, err error) {
			s, ok := v.(fleetupdate.Status)
			if err == nil && !ok {
				t.Errorf("update result %T, want fleetupdate.Status", v)
			}
			then(s, err)
		},
	}
	env.UpdateWorkflow(UpdateName, "", cb, Event{e})
}

// states counts the members of a status tree by state.
func states(s fleetupdate.Status) map[fleetupdate.State]int {
	n := map[fleetupdate.State]int{}
	for _, st := range s.Stages {
		for _, g := range st.Groups {
			for _, m := range g.Members {
				n[m.Status.State]++
			}
		}
	}
	return n
}

func payloadSize(t testing.TB, in Input) int {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(in)
	require.NoError(t, err)
	return p.Size()
}
