package fleetrun

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/fleetkit/fleetkit/fleetupdate"
)

// Histories recorded by TestRealServer (go test -run TestRealServer
// -update) replay with this build's workflow. A change to Step that alters
// its commands for the same events (an op, an activity where a timer was)
// breaks the replay, and so the build: either it is a mistake, or it is a
// new semantics version (bump fleetupdate.SemanticsVersion, record new
// histories, and keep the old version's workers until its runs finish).
func TestRecordedHistoriesReplay(t *testing.T) {
	files := historyFiles(t)
	for _, f := range files {
		require.NoError(t, replay(readHistory(t, f)), f)
	}
}

// A history recorded under another semantics version fails to replay
// (GetVersion's guard), rather than replaying with a reducer that would
// decide differently.
func TestOtherSemanticsVersionRefused(t *testing.T) {
	h := readHistory(t, historyFiles(t)[0])
	other, err := converter.GetDefaultDataConverter().ToPayloads(fleetupdate.SemanticsVersion - 1)
	require.NoError(t, err)
	found := false
	for _, e := range h.Events {
		if m := e.GetMarkerRecordedEventAttributes(); m != nil && m.MarkerName == "Version" {
			m.Details["version"] = other
			found = true
		}
	}
	require.True(t, found, "the history records the semantics version")
	require.ErrorContains(t, replay(h), "removed support of version")
}

// A reducer whose commands differ from those a history recorded fails the
// replay: here, one that numbers its operations differently.
func TestChangedCommandsFailReplay(t *testing.T) {
	h := readHistory(t, historyFiles(t)[0])
	defer func(s func(fleetupdate.Run, fleetupdate.Event) (fleetupdate.Run, []fleetupdate.Command, error)) {
		step = s
	}(step)
	step = func(r fleetupdate.Run, e fleetupdate.Event) (fleetupdate.Run, []fleetupdate.Command, error) {
		r, cmds, err := fleetupdate.Step(r, e)
		for i, c := range cmds {
			if u, ok := c.(fleetupdate.UpgradeMember); ok {
				u.Op += "-changed"
				cmds[i] = u
			}
		}
		return r, cmds, err
	}
	require.ErrorContains(t, replay(h), "a matching Activity command was expected")
}

// historyDir holds the histories recorded under this build's semantics
// version; the replay test replays every file in it.
var historyDir = filepath.Join("testdata", "histories", fmt.Sprintf("semantics-%d", fleetupdate.SemanticsVersion))

// replay replays one history with the workflow registered as workers do.
func replay(h *historypb.History) error {
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: WorkflowName})
	return r.ReplayWorkflowHistory(quietLogger(), h)
}

func historyFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(historyDir, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no histories recorded for semantics version %d in %s: record them with go test -run TestRealServer -update",
		fleetupdate.SemanticsVersion, historyDir)
	return files
}

func readHistory(t *testing.T, path string) *historypb.History {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	require.NoError(t, err)
	return h
}
