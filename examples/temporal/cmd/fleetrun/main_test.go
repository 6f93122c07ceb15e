package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/server/temporaltest"

	"github.com/fleetkit/fleetkit/examples/temporal/fleetrun"
	"github.com/fleetkit/fleetkit/fleetupdate"
)

// The CLI against a real in-process server: a worker subcommand, then start
// (without starting), skip, a refused skip, resume, a refused early
// approval, approve when the gate is reached, wait for the end, and status of
// the run and of one member.
func TestCommands(t *testing.T) {
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	common := []string{"-address", ts.GetFrontendHostPort(), "-namespace", ts.GetDefaultNamespace()}
	cli := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, append(args[:1:1], append(common, args[1:]...)...), &out)
		return out.String(), err
	}

	workerCtx, stopWorker := context.WithCancel(ctx)
	workerDone := make(chan error, 1)
	go func() {
		var out bytes.Buffer
		workerDone <- run(workerCtx, append([]string{"worker"}, append(common, "-delay", "100ms")...), &out)
	}()
	defer func() {
		stopWorker()
		require.NoError(t, <-workerDone)
	}()

	out, err := cli("start", "-id", "cli-run", "-no-start")
	require.NoError(t, err)
	assert.Contains(t, out, "started run cli-run")

	out, err = cli("skip", "-id", "cli-run", "-member", "prod-us-02", "-wait", "canary,staging")
	require.NoError(t, err)
	assert.Regexp(t, `run cli-run\s+NotStarted`, out)
	assert.Regexp(t, `wait 10s\s+Skipped`, out)
	out, err = cli("status", "-id", "cli-run", "-member", "prod-us-02")
	require.NoError(t, err)
	assert.Contains(t, out, "member prod-us-02: Skipped")

	_, err = cli("skip", "-id", "cli-run", "-group", "nowhere")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"nowhere"`)

	out, err = cli("resume", "-id", "cli-run")
	require.NoError(t, err)
	assert.Regexp(t, `run cli-run\s+Running`, out)

	_, err = cli("approve", "-id", "cli-run", "-gate", "cli-run/production/Before/0")
	assert.ErrorContains(t, err, "pre-approved", "production's gate is not reached yet")

	// Production waits at its gate: wait until the workflow announces it
	// (a long poll of the history), then approve it.
	c := ts.GetDefaultClient()
	gate := awaitGate(ctx, t, c, "cli-run")
	assert.Equal(t, "cli-run/production/Before/0", gate)
	out, err = cli("status", "-id", "cli-run")
	require.NoError(t, err)
	assert.Regexp(t, `gate production sign-off\s+Pending\s+cli-run/production/Before/0`, out)
	out, err = cli("approve", "-id", "cli-run", "-gate", gate)
	require.NoError(t, err)
	assert.Regexp(t, `gate production sign-off\s+Completed`, out)

	// Wait for the end through the workflow's result, then read the status.
	var final struct{}
	require.NoError(t, c.GetWorkflow(ctx, "cli-run", "").Get(ctx, &final))
	out, err = cli("status", "-id", "cli-run")
	require.NoError(t, err)
	assert.Regexp(t, `run cli-run\s+Completed`, out)
	assert.Len(t, regexp.MustCompile(`member \S+\s+Completed`).FindAllString(out, -1), 11, out)
	assert.Regexp(t, `member prod-us-02\s+Skipped`, out)
	out, err = cli("status", "-id", "cli-run", "-member", "canary-00")
	require.NoError(t, err)
	assert.Contains(t, out, "member canary-00: Completed (operation cli-run/canary-00/1)")
	out, err = cli("status", "-id", "cli-run", "-json")
	require.NoError(t, err)
	assert.Contains(t, out, `"state": "Completed"`)
}

func TestUsage(t *testing.T) {
	var out bytes.Buffer
	assert.ErrorContains(t, run(context.Background(), nil, &out), "no command given")
	assert.Contains(t, out.String(), "usage: fleetrun")
	assert.ErrorContains(t, run(context.Background(), []string{"frobnicate"}, &out), `unknown command "frobnicate"`)
	assert.ErrorContains(t, run(context.Background(), []string{"approve", "-id", "x"}, &out), "-gate is required")
	assert.ErrorContains(t, run(context.Background(), []string{"status"}, &out), "-id is required")
	assert.ErrorContains(t, run(context.Background(), []string{"skip", "-id", "x"}, &out), "name at least one")
}

// awaitGate waits, by long-polling the workflow's history, until the
// workflow asks approvers about a gate, and returns the gate's id.
func awaitGate(ctx context.Context, t *testing.T, c client.Client, id string) string {
	t.Helper()
	it := c.GetWorkflowHistory(ctx, id, "", true, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(t, err)
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil && a.ActivityType.GetName() == fleetrun.GateActivityName {
			var g fleetupdate.AwaitGate
			require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(a.Input, &g))
			return string(g.Gate)
		}
	}
	t.Fatal("the workflow ended without reaching a gate")
	return ""
}
