package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/server/temporaltest"
)

// The CLI against a real in-process server: a worker subcommand, then start
// (without starting), skip, a refused skip, resume, wait for the end, and
// status of the run and of one member.
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

	_, err = cli("approve", "-id", "cli-run", "-gate", "g")
	assert.ErrorContains(t, err, "no gates yet")

	// Wait for the end through the workflow's result, then read the status.
	var final struct{}
	c := ts.GetDefaultClient()
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
	assert.ErrorContains(t, run(context.Background(), nil, &out), "usage: fleetrun")
	assert.ErrorContains(t, run(context.Background(), []string{"frobnicate"}, &out), `unknown command "frobnicate"`)
	assert.ErrorContains(t, run(context.Background(), []string{"status"}, &out), "-id is required")
	assert.ErrorContains(t, run(context.Background(), []string{"skip", "-id", "x"}, &out), "name at least one")
}
