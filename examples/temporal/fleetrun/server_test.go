//go:build !race

// The real-server tests link the Temporal server, which -race would build
// a second time; CI runs them without -race and the rest of the package with.

package fleetrun

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/temporaltest"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/window"
)

var update = flag.Bool("update", false, "write the real-server test's histories to testdata/histories")

// A real in-process Temporal server: a worker and a client run a 3-stage
// run with maintenance windows (open now), after-stage waits of a second and
// two approval gates (approved as soon as announced) to Completed, with a MaxEvents so small that it continues as new
// in the middle of staging, with upgrades in flight; a skip and a refused action go through the
// Update, status through the queries; then every execution's history
// replays with the replayer.
func TestRealServer(t *testing.T) {
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	c := ts.GetDefaultClient()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Approvers approve each gate as soon as they are told of it.
	approved := make(chan error, 10)
	fake := &FakeUpgrader{Delay: 200 * time.Millisecond, OnGate: func(g fleetupdate.AwaitGate) {
		go func() {
			_, err := Send(ctx, c, "real-run", fleetupdate.CompleteGate{Gate: g.Gate})
			approved <- err
		}()
	}}
	ts.NewWorkerWithOptions(TaskQueue(DefaultTaskQueue), func(r worker.Registry) { Register(r, fake) },
		worker.Options{DeadlockDetectionTimeout: DeadlockDetectionTimeout})

	// Every member has a daily window that opened at the start of this hour.
	opened := time.Now().UTC().Hour()
	run := threeStages(t, "real-run", 3, 1, func(string) *window.Schedule { return daily(opened) }, func(spec *fleetupdate.Spec) {
		approval := []fleetupdate.GateConfiguration{{Type: fleetupdate.Approval}}
		spec.Strategy.Stages[1].Groups[0].AfterGates = approval // dev
		spec.Strategy.Stages[2].BeforeGates = approval          // prod
	})
	wr, err := Start(ctx, c, client.StartWorkflowOptions{ID: "real-run"}, Input{Run: run, Config: Config{MaxEvents: 7}})
	require.NoError(t, err)
	firstRunID := wr.GetRunID() // Get follows continue-as-new and moves the handle on

	// Not started yet: a refused action comes back as Step's error.
	_, err = Send(ctx, c, "real-run", fleetupdate.Skip{Targets: []fleetupdate.SkipTarget{{Type: fleetupdate.TargetGroup, Name: "nowhere"}}})
	require.ErrorIs(t, err, fleetupdate.ErrUnknownTarget)
	var refused *RefusedError
	require.ErrorAs(t, err, &refused)
	assert.Equal(t, RefusedUnknownTarget, refused.Type)

	s, err := Send(ctx, c, "real-run", fleetupdate.Skip{Targets: []fleetupdate.SkipTarget{{Type: fleetupdate.TargetMember, Name: "prod-01"}}})
	require.NoError(t, err)
	assert.Equal(t, fleetupdate.NotStarted, s.Status.State)
	s, err = Send(ctx, c, "real-run", fleetupdate.Start{})
	require.NoError(t, err)
	assert.Equal(t, fleetupdate.Running, s.Status.State)

	var final fleetupdate.Status
	require.NoError(t, wr.Get(ctx, &final)) // follows continue-as-new
	assert.Equal(t, fleetupdate.Completed, final.Status.State)
	for range 2 { // both gates were announced and approved
		select {
		case err := <-approved:
			require.NoError(t, err)
		case <-ctx.Done():
			t.Fatal("an approval is missing")
		}
	}
	full, err := Status(ctx, c, "real-run")
	require.NoError(t, err)
	assert.Equal(t, map[fleetupdate.State]int{fleetupdate.Completed: 11, fleetupdate.Skipped: 1}, states(full))
	m, err := Member(ctx, c, "real-run", "prod-01")
	require.NoError(t, err)
	assert.Equal(t, fleetupdate.Skipped, m.Status.State)
	assert.Equal(t, 11, fake.Upgraded())
	for _, name := range []string{"canary-00", "dev-00", "prod-00"} {
		assert.Equal(t, 1, fake.Calls(name), "%s upgraded once", name)
	}

	histories := chain(ctx, t, c, "real-run", firstRunID)
	require.Greater(t, len(histories), 1, "the run continued as new")
	carried := 0
	for i, h := range histories {
		t.Logf("execution %d: %d history events", i, len(h.Events))
		require.NoError(t, replay(h), "execution %d", i)
		if a := h.Events[len(h.Events)-1].GetWorkflowExecutionContinuedAsNewEventAttributes(); a != nil {
			var next Input
			require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(a.Input, &next))
			carried += len(next.Run.InFlight())
		}
	}
	assert.Positive(t, carried, "the run continued as new with upgrades in flight")
	if *update {
		require.NoError(t, os.MkdirAll(historyDir, 0o755))
		for i, h := range histories {
			b, err := protojson.MarshalOptions{Indent: " "}.Marshal(h)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(historyDir, fmt.Sprintf("real-run-%d.json", i)), b, 0o644))
		}
	}
}

// chain returns the histories of a workflow's executions, first to last,
// following continue-as-new from runID.
func chain(ctx context.Context, t *testing.T, c client.Client, id, runID string) []*historypb.History {
	t.Helper()
	var out []*historypb.History
	for runID != "" {
		h := &historypb.History{}
		it := c.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			e, err := it.Next()
			require.NoError(t, err)
			h.Events = append(h.Events, e)
		}
		out = append(out, h)
		runID = ""
		if a := h.Events[len(h.Events)-1].GetWorkflowExecutionContinuedAsNewEventAttributes(); a != nil {
			runID = a.NewExecutionRunId
		}
	}
	return out
}

// TestRealServerScale measures history on a real server: set
// FLEETKIT_REAL_SCALE to a member count (it is skipped otherwise; 10,000
// takes many minutes). It logs each execution's history length and size.
func TestRealServerScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("FLEETKIT_REAL_SCALE"))
	if n <= 0 {
		t.Skip("set FLEETKIT_REAL_SCALE=<members> to run")
	}
	ts := temporaltest.NewServer(temporaltest.WithT(t), temporaltest.WithBaseClientOptions(client.Options{Logger: quietLogger()}))
	c := ts.GetDefaultClient()
	ts.NewWorkerWithOptions(TaskQueue(DefaultTaskQueue), func(r worker.Registry) { Register(r, &FakeUpgrader{}) },
		worker.Options{DeadlockDetectionTimeout: DeadlockDetectionTimeout})
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	// Windows would make a real-time run wait for hours: drop them.
	var raw struct {
		Spec    fleetupdate.Spec     `json:"spec"`
		Members []fleetupdate.Member `json:"members"`
		Catalog fleetupdate.Catalog  `json:"catalog"`
	}
	b, err := bigRun(t, n).MarshalJSON()
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &raw))
	for i := range raw.Members {
		raw.Members[i].AutoUpgradeWindow, raw.Members[i].NodeOSUpgradeWindow = nil, nil
	}
	for i := range raw.Spec.Strategy.Stages {
		raw.Spec.Strategy.Stages[i].AfterStageWaitInSeconds = 1
	}
	run, err := fleetupdate.New("scale", raw.Spec, raw.Members, raw.Catalog)
	require.NoError(t, err)
	start := time.Now()
	wr, err := Start(ctx, c, client.StartWorkflowOptions{ID: "scale"}, Input{Run: run, Start: true})
	require.NoError(t, err)
	first := wr.GetRunID()
	var final fleetupdate.Status
	require.NoError(t, wr.Get(ctx, &final))
	require.Equal(t, fleetupdate.Completed, final.Status.State)
	t.Logf("%d members in %v", n, time.Since(start).Round(time.Second))
	for i, h := range chain(ctx, t, c, "scale", first) {
		t.Logf("execution %2d: %5d history events, %7d bytes", i, len(h.Events), proto.Size(h))
	}
}
