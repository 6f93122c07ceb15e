package fleetupdate

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// One-field edits of real saved runs that decoded before and made the run
// stall, skip an approval, or send an upgrade nobody chose. Each must now be
// refused with an error naming the field.

type savedEdit struct {
	name  string
	run   func(t *testing.T) Run
	edit  func(doc map[string]any)
	field string // the error names it
}

func (c savedEdit) test(t *testing.T) {
	t.Run(c.name, func(t *testing.T) {
		r := c.run(t)
		var doc map[string]any
		require.NoError(t, json.Unmarshal([]byte(mustJSON(t, r)), &doc))
		var back Run
		require.NoError(t, json.Unmarshal([]byte(mustJSON(t, doc)), &back), "the unedited run decodes")
		c.edit(doc)
		var got Run
		err := json.Unmarshal([]byte(mustJSON(t, doc)), &got)
		require.Error(t, err, "the edited run decoded")
		assert.ErrorIs(t, err, ErrInvalidEncoding)
		assert.Contains(t, err.Error(), c.field)
		assert.Nil(t, got.p, "a refused run is not half-loaded")
	})
}

func st(doc map[string]any) map[string]any { return doc["state"].(map[string]any) }

func nth(doc map[string]any, list string, i int) map[string]any {
	return st(doc)[list].([]any)[i].(map[string]any)
}

// runAt builds a run from h after drive.
func runAt(mk func(t *testing.T) *host, drive func(h *host)) func(t *testing.T) Run {
	return func(t *testing.T) Run {
		h := mk(t)
		drive(h)
		return h.run
	}
}

// approvalBeforeTest: stage "test" holds behind a Pending approval gate.
func approvalBeforeTest(t *testing.T) *host {
	return gatedRun(t, func(test, _ *Stage) { test.BeforeGates = []GateConfiguration{approval("change board")} })
}

func TestDecodeRefusesEditedClock(t *testing.T) {
	savedEdit{"clock at MaxEventTime: no event could ever be applied",
		runAt(approvalBeforeTest, func(h *host) { h.start() }),
		func(doc map[string]any) { st(doc)["clock"] = "9999-12-31T23:59:59Z" },
		"state.clock"}.test(t)
}

var _ = time.Second
