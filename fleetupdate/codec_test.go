package fleetupdate

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// v1Fixture is one step of a run recorded by fleetkit's first release
// (commit 0f106d5): the run in schema version 1 and its status before the
// step, the step's event in the wire format, and the commands (%#v) that
// release gave for it. testdata/v1-runs.json covers a staged run with
// windows, an after-stage wait, Consistent images, a failure and its retry,
// a member change, a stop and a skipped wait.
type v1Fixture struct {
	Run    json.RawMessage `json:"run"`
	Status json.RawMessage `json:"status"`
	Next   json.RawMessage `json:"next"`
	Cmds   string          `json:"cmds"`
}

// "Runs saved at schema version 1 still load": each decodes, shows the
// status it had, and gives the commands it gave.
func TestSchemaVersion1RunsStillLoad(t *testing.T) {
	b, err := os.ReadFile("testdata/v1-runs.json")
	require.NoError(t, err)
	var fx []v1Fixture
	require.NoError(t, json.Unmarshal(b, &fx))
	require.NotEmpty(t, fx)
	for i, f := range fx {
		var r Run
		require.NoError(t, json.Unmarshal(f.Run, &r), "fixture %d", i)
		assertSubset(t, f.Status, []byte(mustJSON(t, r.Status())), fmt.Sprintf("fixture %d status", i))
		ev, err := UnmarshalEvent(f.Next)
		require.NoError(t, err)
		_, cmds, err := Step(r, ev)
		require.NoError(t, err, "fixture %d", i)
		assert.Equal(t, f.Cmds, fmt.Sprintf("%#v", cmds), "fixture %d: commands for %s", i, f.Next)
		// Re-encoded, it is version 2 and stable.
		v2 := mustJSON(t, r)
		var back Run
		require.NoError(t, json.Unmarshal([]byte(v2), &back))
		assert.Equal(t, v2, mustJSON(t, back))
		assert.Contains(t, v2, `"schemaVersion":2`)
	}
}

// assertSubset checks that every key of old is in new with the same value
// (new may have more: status gains fields as fleetkit grows).
func assertSubset(t *testing.T, old, new []byte, what string) {
	t.Helper()
	var o, n any
	require.NoError(t, json.Unmarshal(old, &o))
	require.NoError(t, json.Unmarshal(new, &n))
	var walk func(path string, o, n any)
	walk = func(path string, o, n any) {
		switch o := o.(type) {
		case map[string]any:
			nm, ok := n.(map[string]any)
			if !assert.True(t, ok, "%s%s: not an object", what, path) {
				return
			}
			for k, v := range o {
				walk(path+"."+k, v, nm[k])
			}
		case []any:
			na, ok := n.([]any)
			if !assert.True(t, ok && len(na) == len(o), "%s%s: array differs", what, path) {
				return
			}
			for i := range o {
				walk(fmt.Sprintf("%s[%d]", path, i), o[i], na[i])
			}
		default:
			assert.Equal(t, o, n, "%s%s", what, path)
		}
	}
	walk("", o, n)
}

// snapshotFixture is a staged run part-way through: upgrades in flight, a
// member Pending behind its window, one completed and one failed member.
func snapshotFixture(t testing.TB) (*host, map[string]any) {
	t.Helper()
	ms := members("g1", "a1", "a2", "a3")
	ms[2].AutoUpgradeWindow = dailyWindow("20:00", 4)
	ms = append(ms, members("g2", "b1", "b2")...)
	spec := Spec{Strategy: &Strategy{Stages: []Stage{
		{Name: "s1", Groups: []Group{{Name: "g1", MaxConcurrency: "2"}, {Name: "g2"}}, AfterStageWaitInSeconds: 600},
	}}, ManagedClusterUpdate: full(k8sTo)}
	h := newHost(t, spec, ms, catalog())
	h.start()
	h.advance(time.Minute)
	h.succeed("a1")
	h.advance(time.Minute)
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(mustJSON(t, h.run)), &m))
	return h, m
}

func stateMember(m map[string]any, i int) map[string]any {
	return m["state"].(map[string]any)["members"].([]any)[i].(map[string]any)
}

// "Decoding ... refuses anything no sequence of events could produce, with
// an error naming the field": the edits the first release accepted.
func TestDecodeRefusesImpossibleRuns(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(m map[string]any)
		field string
	}{
		{"unknown run phase", func(m map[string]any) { m["state"].(map[string]any)["phase"] = "Bogus" }, "state.phase"},
		{"completed member set back to NotStarted", func(m map[string]any) { stateMember(m, 0)["state"] = "NotStarted" }, "state.members[0]"},
		{"stage marked done with members unfinished", func(m map[string]any) {
			m["state"].(map[string]any)["stages"].([]any)[0].(map[string]any)["phase"] = "Done"
		}, "state.stages[0].phase"},
		{"run Completed with upgrades in flight", func(m map[string]any) { m["state"].(map[string]any)["phase"] = "Completed" }, "state.phase"},
		{"an op's pinned inputs name another member", func(m map[string]any) {
			stateMember(m, 1)["pinned"].(map[string]any)["member"] = "b1"
		}, "unknown field"},
		{"two member records swapped", func(m map[string]any) {
			ms := m["state"].(map[string]any)["members"].([]any)
			ms[1], ms[3] = ms[3], ms[1]
		}, "state.members[1].name"},
		{"a member record dropped", func(m map[string]any) {
			ms := m["state"].(map[string]any)["members"].([]any)
			m["state"].(map[string]any)["members"] = ms[1:]
		}, "state.members"},
		{"Running member without inputs", func(m map[string]any) { delete(stateMember(m, 1), "pinned") }, "state.members[1].pinned"},
		{"attempt of a running member changed", func(m map[string]any) { stateMember(m, 1)["attempt"] = 0 }, "state.members[1]"},
		{"member renamed in its data", func(m map[string]any) {
			d := m["members"].([]any)[1].(map[string]any)
			stateMember(m, 1)["data"] = map[string]any{"name": "p1-a", "group": "g1", "region": d["region"], "kubernetesVersion": d["kubernetesVersion"]}
		}, "state.members[1].data"},
		{"window removed from its group", func(m map[string]any) {
			m["state"].(map[string]any)["groups"].([]any)[0].(map[string]any)["windows"] = []any{}
		}, "its maintenance window"},
		{"schema version unknown", func(m map[string]any) { m["schemaVersion"] = 99 }, "schemaVersion 99"},
		{"unknown field", func(m map[string]any) { m["state"].(map[string]any)["cursor"] = 3 }, "unknown field"},
		{"wake-up before the clock", func(m map[string]any) {
			m["state"].(map[string]any)["wakes"] = []any{"2000-01-01T00:00:00Z"}
		}, "state.wakes[0]"},
		{"failed member without error", func(m map[string]any) { stateMember(m, 0)["state"] = "Failed" }, "state.members[0].error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, m := snapshotFixture(t)
			c.edit(m)
			b, err := json.Marshal(m)
			require.NoError(t, err)
			var r Run
			err = json.Unmarshal(b, &r)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.field)
			assert.Nil(t, r.p, "a refused run is not half-loaded")
		})
	}
}

// The fixture itself decodes (so the refusals above are the edits').
func TestDecodeAcceptsRealSnapshot(t *testing.T) {
	h, m := snapshotFixture(t)
	b, err := json.Marshal(m)
	require.NoError(t, err)
	var r Run
	require.NoError(t, json.Unmarshal(b, &r))
	assert.Equal(t, mustJSON(t, h.run), mustJSON(t, r))
	assert.Equal(t, h.run.Outstanding(), r.Outstanding())
}

// "The persisted form is a public format": states and phases by name, no
// raw integers, no derived caches.
func TestPersistedFormHasNamesNotLayout(t *testing.T) {
	h, _ := snapshotFixture(t)
	s := mustJSON(t, h.run)
	for _, absent := range []string{`"cursor"`, `"base"`, `"bucket"`, `"op"`, `"running"`, `"stage":`, `"inflight"`} {
		assert.NotContains(t, s, absent)
	}
	assert.Contains(t, s, `"phase":"Groups"`)
	assert.Contains(t, s, `"state":"Running"`)
}

// FuzzDecodeMutatedRun applies structured mutations to real snapshots: a
// mutated run is refused, or decodes to a run that passes every invariant
// and re-encodes identically.
func FuzzDecodeMutatedRun(f *testing.F) {
	for i := range 40 {
		f.Add(uint64(i), uint64(i*7919), []byte{byte(i)})
	}
	snaps := fuzzSnapshots(f)
	f.Fuzz(func(t *testing.T, pick, how uint64, data []byte) {
		snap := snaps[pick%uint64(len(snaps))]
		mutated := mutateJSON(snap, how, data)
		var r Run
		if err := json.Unmarshal(mutated, &r); err != nil {
			if r.p != nil {
				t.Fatalf("refused run half-loaded: %v", err)
			}
			return
		}
		if err := r.check(); err != nil {
			t.Fatalf("decoded run breaks an invariant: %v", err)
		}
		enc, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("decoded run does not encode: %v", err)
		}
		var again Run
		if err := json.Unmarshal(enc, &again); err != nil {
			t.Fatalf("re-encoded run does not decode: %v", err)
		}
		if enc2, _ := json.Marshal(again); string(enc2) != string(enc) {
			t.Fatalf("re-encoding differs")
		}
		// It behaves: a tick and a start never panic.
		Step(r, Tick{At: r.Clock().Add(time.Hour)})
		Step(r, Start{At: r.Clock()})
	})
}

// fuzzSnapshots records a few runs at every step.
func fuzzSnapshots(t testing.TB) [][]byte {
	h, _ := snapshotFixture(t)
	var out [][]byte
	add := func() { out = append(out, []byte(mustJSON(t, h.run))) }
	add()
	h.advance(time.Minute)
	h.failOp("a2", "QuotaExceeded", "no quota")
	add()
	h.succeed("b1")
	add()
	h.step(Start{At: h.now})
	add()
	h.step(Stop{At: h.now})
	add()
	for _, name := range []string{"a2", "b2"} {
		if _, ok := h.ops[name]; ok {
			h.succeed(name)
			add()
		}
	}
	return out
}

// mutateJSON changes one thing in a JSON document, chosen by how: a value
// replaced by another found elsewhere in it, an array element dropped or
// duplicated, two elements swapped, or a byte flipped.
func mutateJSON(doc []byte, how uint64, data []byte) []byte {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return doc
	}
	var leaves []any
	var nodes []any
	var collect func(x any)
	collect = func(x any) {
		nodes = append(nodes, x)
		switch x := x.(type) {
		case map[string]any:
			for _, k := range sortedKeys(x) {
				collect(x[k])
			}
		case []any:
			for _, e := range x {
				collect(e)
			}
		default:
			leaves = append(leaves, x)
		}
	}
	collect(v)
	n := how / 8
	switch how % 8 {
	case 0, 1: // replace a value inside an object with another leaf
		for _, node := range nodes {
			if m, ok := node.(map[string]any); ok && len(m) > 0 {
				if n == 0 {
					keys := sortedKeys(m)
					m[keys[int(how>>16)%len(keys)]] = leaves[int(how>>24)%len(leaves)]
					break
				}
				n--
			}
		}
	case 2, 3: // drop, duplicate or swap array elements
		var arrays []*[]any
		var walk func(x any)
		walk = func(x any) {
			switch x := x.(type) {
			case map[string]any:
				for _, k := range sortedKeys(x) {
					if a, ok := x[k].([]any); ok && len(a) > 0 {
						a := a
						arrays = append(arrays, &a)
						defer func(k string, p *[]any) { x[k] = *p }(k, arrays[len(arrays)-1])
					}
					walk(x[k])
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			}
		}
		walk(v)
		if len(arrays) == 0 {
			return doc
		}
		p := arrays[int(n)%len(arrays)]
		a := *p
		i, j := int(how>>20)%len(a), int(how>>28)%len(a)
		switch (how >> 4) % 3 {
		case 0:
			*p = append(append([]any{}, a[:i]...), a[i+1:]...)
		case 1:
			*p = append(append([]any{}, a[:i+1]...), a[i:]...)
		case 2:
			a[i], a[j] = a[j], a[i]
		}
	case 4: // change a state or phase name
		states := []string{"NotStarted", "Running", "Stopping", "Stopped", "Skipped", "Failed", "Pending", "Completed", "Groups", "Waiting", "Done"}
		for _, node := range nodes {
			if m, ok := node.(map[string]any); ok {
				for _, k := range []string{"state", "phase"} {
					if _, ok := m[k].(string); ok {
						if n == 0 {
							m[k] = states[int(how>>16)%len(states)]
						}
						n--
					}
				}
			}
		}
	case 5: // swap two member names
		b, _ := json.Marshal(v)
		s := string(b)
		names := []string{`"a1"`, `"a2"`, `"a3"`, `"b1"`, `"b2"`}
		x, y := names[int(n)%5], names[int(how>>20)%5]
		s = strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(s, x, "\x00"), y, x), "\x00", y)
		return []byte(s)
	default: // flip bytes
		b := append([]byte(nil), doc...)
		for i, d := range data {
			if len(b) == 0 {
				break
			}
			b[(int(how>>3)+i*131)%len(b)] ^= d
		}
		return b
	}
	b, _ := json.Marshal(v)
	return b
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// "New deep-copies its inputs; nothing returned aliases the run."
func TestRunIsAValue(t *testing.T) {
	ms := members("g1", "a1", "a2")
	ms[0].AutoUpgradeWindow = dailyWindow("00:00", 24)
	ms[0].NodePools = append(ms[0].NodePools, NodePool{Name: "user", NodeImageVersion: imgOld})
	spec := Spec{Strategy: &Strategy{Stages: []Stage{{Name: "s1", Groups: []Group{{Name: "g1"}}}}}, ManagedClusterUpdate: full(k8sTo)}
	cat := catalog()
	r, err := New("run-1", spec, ms, cat)
	require.NoError(t, err)
	before := mustJSON(t, r)

	// Change everything given.
	ms[0].NodePools[0].NodeImageVersion = imgNew
	ms[0].AutoUpgradeWindow.StartTime = "12:00"
	ms[0].Name = "zz"
	spec.Strategy.Stages[0].Name = "other"
	rc := cat.Regions[regionA]
	rc.NodeImageVersions[0] = imgNew
	cat.Regions[regionB] = RegionCatalog{}
	require.Equal(t, before, mustJSON(t, r), "changing New's inputs changed the run")

	next, cmds, err := Step(r, Start{At: t0})
	require.NoError(t, err)
	after := mustJSON(t, next)
	// Change everything got.
	for _, c := range cmds {
		if u, ok := c.(UpgradeMember); ok {
			u.NodeImages[0].NodeImageVersion = "bogus"
		}
	}
	for _, u := range next.InFlight() {
		u.NodeImages[0].NodeImageVersion = "bogus"
	}
	for _, c := range next.Outstanding() {
		if u, ok := c.(UpgradeMember); ok {
			u.NodeImages[0].NodeImageVersion = "bogus"
		}
	}
	st := next.Status()
	st.Stages[0].Groups[0].Members[0].Name = "bogus"
	m := ms[1]
	m.AutoUpgradeWindow = dailyWindow("03:00", 4)
	changed, _, err := Step(next, MemberChanged{At: t0, Member: m})
	require.NoError(t, err)
	m.AutoUpgradeWindow.StartTime = "05:00"
	require.Equal(t, after, mustJSON(t, next), "changing what Step returned changed the run")
	assert.Contains(t, mustJSON(t, changed), `"startTime":"03:00"`)
	assert.True(t, reflect.DeepEqual(next.InFlight(), next.InFlight()))
}

// "The zero Run cannot be marshalled or passed as input": it encodes as
// null and decodes back to the zero Run, inside a struct too.
func TestZeroRunEncodesAsNull(t *testing.T) {
	type holder struct {
		Run Run `json:"run"`
	}
	b, err := json.Marshal(holder{})
	require.NoError(t, err)
	assert.JSONEq(t, `{"run":null}`, string(b))
	h := holder{Run: newHost(t, twoStages(0), twoStageMembers(), catalog()).run}
	require.NoError(t, json.Unmarshal(b, &h))
	assert.Nil(t, h.Run.p)
	assert.True(t, h.Run.Done())
}
