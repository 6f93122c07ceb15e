package fleetupdate

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/window"
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

func TestDecodeRefusesEditedGates(t *testing.T) {
	pending := runAt(approvalBeforeTest, func(h *host) { h.start() })
	scheduledGroup := runAt(func(t *testing.T) *host {
		return gatedRun(t, func(test, _ *Stage) {
			test.Groups[0].BeforeGates = []GateConfiguration{scheduled(window.Saturday, "23:00", "+00:00")}
		})
	}, func(h *host) { h.start() })
	for _, c := range []savedEdit{
		{"Pending approval set back to NotStarted: the stage waits for it forever", pending,
			func(doc map[string]any) { nth(doc, "gates", 0)["state"] = "NotStarted" }, "state.gates[0]"},
		{"Pending approval set to Completed: the stage starts unapproved", pending,
			func(doc map[string]any) { nth(doc, "gates", 0)["state"] = "Completed" }, "state.gates[0]"},
		{"ScheduledStart moved earlier: the group starts before its time", scheduledGroup,
			func(doc map[string]any) { nth(doc, "gates", 0)["startAt"] = "2026-03-04T12:00:00Z" }, "state.gates[0].startAt"},
		{"a NotStarted gate of a stage that is running its groups", runAt(func(t *testing.T) *host {
			return gatedRun(t, func(test, _ *Stage) { test.Groups[1].BeforeGates = []GateConfiguration{approval("")} })
		}, func(h *host) { h.start() }),
			func(doc map[string]any) {
				nth(doc, "gates", 0)["state"] = "NotStarted"
				delete(nth(doc, "gates", 0), "startTime")
			}, "state.gates[0]"},
		{"an approval gate with a time to complete by itself", pending,
			func(doc map[string]any) { nth(doc, "gates", 0)["startAt"] = "2026-03-04T13:00:00Z" }, "state.gates[0].startAt"},
	} {
		c.test(t)
	}
}

func TestDecodeRefusesRunsMissingAWakeUp(t *testing.T) {
	noWakes := func(doc map[string]any) { delete(st(doc), "wakes") }
	for _, c := range []savedEdit{
		{"after-stage wait under way", runAt(func(t *testing.T) *host { return newHost(t, twoStages(3600), twoStageMembers(), catalog()) },
			func(h *host) {
				h.start()
				for _, m := range []string{"t1-a", "t1-b", "t2-a", "t1-c"} {
					h.succeed(m)
				}
			}), noWakes, "state.stages[0].waitEnd"},
		{"ScheduledStart gate Pending", runAt(func(t *testing.T) *host {
			return gatedRun(t, func(test, _ *Stage) {
				test.BeforeGates = []GateConfiguration{scheduled(window.Saturday, "23:00", "+00:00")}
			})
		}, func(h *host) { h.start() }), noWakes, "state.gates[0].startAt"},
		{"member behind a closed window", runAt(func(t *testing.T) *host {
			ms := members("g1", "a1")
			ms[0].AutoUpgradeWindow = dailyWindow("20:00", 4)
			return newHost(t, Spec{Strategy: strategy(Stage{Name: "s1", Groups: []Group{{Name: "g1"}}}), ManagedClusterUpdate: full(k8sTo)}, ms, catalog())
		}, func(h *host) { h.start() }), noWakes, "state.groups[0].windows[0].opening"},
	} {
		c.test(t)
	}
}

func TestDecodeRefusesEditedTimesAndOutcomes(t *testing.T) {
	running := runAt(func(t *testing.T) *host { return newHost(t, twoStages(3600), twoStageMembers(), catalog()) },
		func(h *host) { h.start() })
	waiting := runAt(func(t *testing.T) *host { return newHost(t, twoStages(3600), twoStageMembers(), catalog()) },
		func(h *host) {
			h.start()
			h.advance(time.Hour)
			for _, m := range []string{"t1-a", "t1-b", "t2-a", "t1-c"} {
				h.succeed(m)
			}
			h.advance(time.Minute)
			h.step(Tick{At: h.now})
		})
	// Members sorted by name: p1-a, p1-b, t1-a, t1-b, t1-c, t2-a; groups t1, t2, p1.
	for _, c := range []savedEdit{
		{"an upgrade in flight marked Completed: the member completes without being upgraded", running,
			func(doc map[string]any) { nth(doc, "members", 2)["state"] = "Completed" }, "state.members[2]"},
		{"an upgrade in flight that started before the run did", running,
			func(doc map[string]any) { nth(doc, "members", 2)["startTime"] = "2026-03-01T00:00:00Z" }, "state.members[2].startTime"},
		{"a member not started marked Skipped", running,
			func(doc map[string]any) { nth(doc, "members", 4)["state"] = "Skipped" }, "state.members[4]"},
		{"a group of a stage not started given an end", running,
			func(doc map[string]any) { nth(doc, "groups", 2)["endTime"] = "2026-03-04T12:00:00Z" }, "state.groups[2]"},
		{"a group that is not done given an end", running,
			func(doc map[string]any) { nth(doc, "groups", 0)["endTime"] = "2026-03-04T12:00:00Z" }, "state.groups[0].endTime"},
		{"a member's error without a code", runAt(func(t *testing.T) *host { return newHost(t, twoStages(0), twoStageMembers(), catalog()) },
			func(h *host) {
				h.start()
				h.failOp("t1-a", "QuotaExceeded", "no quota")
			}),
			func(doc map[string]any) { delete(nth(doc, "members", 2)["error"].(map[string]any), "code") }, "state.members[2].error.code"},
		{"the after-stage wait shortened to before its groups were done", waiting,
			func(doc map[string]any) { nth(doc, "stages", 0)["waitEnd"] = "2026-03-04T13:00:00Z" }, "state.stages[0].waitEnd"},
		{"a run that has started without a startTime", running,
			func(doc map[string]any) { delete(st(doc), "startTime") }, "state.startTime"},
		{"a stage that is Done without an end", runAt(func(t *testing.T) *host { return newHost(t, twoStages(0), twoStageMembers(), catalog()) },
			func(h *host) {
				h.start()
				for _, m := range []string{"t1-a", "t1-b", "t2-a", "t1-c"} {
					h.succeed(m)
				}
			}),
			func(doc map[string]any) { delete(nth(doc, "stages", 0), "endTime") }, "state.stages[0].endTime"},
	} {
		c.test(t)
	}
}

func TestDecodeRefusesEditedPinnedInputs(t *testing.T) {
	inFlight := func(sel *NodeImageSelection) func(t *testing.T) Run {
		return runAt(func(t *testing.T) *host {
			spec := Spec{ManagedClusterUpdate: full(k8sTo)}
			spec.ManagedClusterUpdate.NodeImageSelection = sel
			return newHost(t, spec, members("g", "a", "b"), catalog())
		}, func(h *host) { h.start() })
	}
	latest := inFlight(nil)
	pinned := func(doc map[string]any) map[string]any { return nth(doc, "members", 0)["pinned"].(map[string]any) }
	image := func(doc map[string]any) map[string]any { return pinned(doc)["nodeImages"].([]any)[0].(map[string]any) }
	for _, c := range []savedEdit{
		{"Kubernetes version not the run's target", latest,
			func(doc map[string]any) { pinned(doc)["kubernetesVersion"] = "1.31.1" }, "state.members[0].pinned.kubernetesVersion"},
		{"a pool the member does not have", latest,
			func(doc map[string]any) { image(doc)["pool"] = "user" }, "state.members[0].pinned.nodeImages[0]"},
		{"a pool moved back to an older image", latest,
			func(doc map[string]any) { image(doc)["nodeImageVersion"] = imgOld }, "state.members[0].pinned.nodeImages[0]"},
		{"the member's pools changed under its pinned upgrade", latest,
			func(doc map[string]any) {
				doc["members"].([]any)[0].(map[string]any)["nodePools"] = []any{map[string]any{"name": "other", "nodeImageVersion": imgOld}}
			}, "state.members[0].pinned.nodeImages[0]"},
		{"an image the Consistent selection did not choose", inFlight(&NodeImageSelection{Type: Consistent}),
			func(doc map[string]any) { image(doc)["nodeImageVersion"] = imgMid }, "state.members[0].pinned.nodeImages[0]"},
		{"an image the Custom selection does not name", inFlight(&NodeImageSelection{Type: Custom, CustomNodeImageVersions: []NodeImageVersion{{imgMid}}}),
			func(doc map[string]any) { image(doc)["nodeImageVersion"] = imgNew }, "state.members[0].pinned.nodeImages[0]"},
	} {
		c.test(t)
	}
}

func TestDecodeRefusesEditedConsistentSelection(t *testing.T) {
	// Started under Consistent, every member still behind its window: the
	// selection is pinned and nothing has used it yet.
	behindWindows := runAt(func(t *testing.T) *host {
		ms := members("g", "a", "b")
		for i := range ms {
			ms[i].AutoUpgradeWindow = dailyWindow("20:00", 4)
		}
		spec := Spec{ManagedClusterUpdate: full(k8sTo)}
		spec.ManagedClusterUpdate.NodeImageSelection = &NodeImageSelection{Type: Consistent}
		return newHost(t, spec, ms, catalog())
	}, func(h *host) { h.start() })
	for _, c := range []savedEdit{
		{"selection dropped: every member would be Skipped for want of an image", behindWindows,
			func(doc map[string]any) { delete(st(doc), "selection") }, "state.selection"},
	} {
		c.test(t)
	}
}

func TestDecodeRefusesRunsNotAtRest(t *testing.T) {
	running := runAt(func(t *testing.T) *host { return newHost(t, twoStages(0), twoStageMembers(), catalog()) },
		func(h *host) { h.start() })
	lagging := catalog()
	lagging.Regions[regionA] = RegionCatalog{KubernetesVersions: []string{k8sFrom}, NodeImageVersions: []string{imgOld}}
	for _, c := range []savedEdit{
		{"an upgrade in flight set back to NotStarted: nothing in flight, nothing owed, and the member never starts", running,
			func(doc map[string]any) { nth(doc, "members", 2)["state"] = "NotStarted" }, "state.members[2]"},
		{"a stage's starved mark dropped: the group denied a slot is never looked at again", runAt(func(t *testing.T) *host {
			spec := Spec{Strategy: strategy(Stage{Name: "s", MaxConcurrency: "1", Groups: []Group{{Name: "a"}, {Name: "b"}}}), ManagedClusterUpdate: full(k8sTo)}
			return newHost(t, spec, append(members("a", "a1", "a2"), members("b", "b1")...), catalog())
		}, func(h *host) { h.start() }),
			func(doc map[string]any) { delete(nth(doc, "stages", 0), "starved") }, "state.stages[0].starved"},
		{"a member waiting for the catalog no longer waiting", runAt(func(t *testing.T) *host {
			return newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, members("g", "a"), lagging)
		}, func(h *host) { h.start() }),
			func(doc map[string]any) { delete(nth(doc, "members", 0), "waitCatalog") }, "state.members[0]"},
	} {
		c.test(t)
	}
}

// A saved run edited to give its members' times in another offset decodes
// to the same instants, written back in UTC as the run writes them, and
// steps on as the unedited run does.
func TestMemberTimesInAnotherOffsetDecodeAsTheSameInstants(t *testing.T) {
	h := newHost(t, Spec{Strategy: strategy(Stage{Name: "s", Groups: []Group{{Name: "g"}}}), ManagedClusterUpdate: full(k8sTo)}, members("g", "a", "b", "c"), catalog())
	h.start()
	h.advance(7*time.Minute + 123*time.Millisecond)
	h.succeed(h.started()[0]) // one Completed (start and end), one Running (start)
	saved := mustJSON(t, h.run)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(saved), &doc))
	east := time.FixedZone("", 5*3600+30*60)
	edited := 0
	for _, m := range st(doc)["members"].([]any) {
		for _, k := range []string{"startTime", "endTime"} {
			if v, ok := m.(map[string]any)[k].(string); ok {
				at, err := time.Parse(time.RFC3339Nano, v)
				require.NoError(t, err)
				m.(map[string]any)[k] = at.In(east).Format(time.RFC3339Nano)
				edited++
			}
		}
	}
	require.GreaterOrEqual(t, edited, 3, "a start and an end at least")
	editedJSON := mustJSON(t, doc)
	require.NotEqual(t, saved, editedJSON)
	var back Run
	require.NoError(t, json.Unmarshal([]byte(editedJSON), &back))
	assert.Equal(t, saved, mustJSON(t, back), "the same instants, in UTC")
	e := Tick{At: h.now.Add(time.Hour)}
	want, wcmds, err := Step(h.run, e)
	require.NoError(t, err)
	got, gcmds, err := Step(back, e)
	require.NoError(t, err)
	assert.Equal(t, wcmds, gcmds)
	assert.Equal(t, mustJSON(t, want), mustJSON(t, got))
}
