package fleetupdate

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/window"
)

// richSnapshots are runs whose members use every field of the persisted
// form: labels (with escapes and non-ASCII), several node pools, both
// windows, changed data, pinned images, errors, notes and messages.
func richSnapshots(t testing.TB) [][]byte {
	t.Helper()
	ms := members("g1", "a1", "a2", "a3", "a4")
	ms[0].Labels = map[string]string{"env": "prod", `quote"d`: "ünï\u2028code", "tab\t": "<&>"}
	ms[1].NodePools = append(ms[1].NodePools, NodePool{Name: "user", NodeImageVersion: imgMid, KubernetesVersion: "1.29.4"})
	ms[1].ClusterResourceID = "/subscriptions/x/resourceGroups/y/providers/Microsoft.ContainerService/managedClusters/a2"
	ms[2].AutoUpgradeWindow = dailyWindow("20:00", 4)
	ms[2].NodeOSUpgradeWindow = &window.Schedule{Recurrence: window.Recurrence{Weekly: &window.WeeklySchedule{IntervalWeeks: 1, DayOfWeek: window.Sunday}},
		StartTime: "01:00", DurationHours: 6, UTCOffset: "+05:30", NotAllowedDates: []window.DateSpan{{Start: "2026-12-24", End: "2026-12-26"}}}
	ms[3].AutoUpgradeWindow = dailyWindow("20:00", 4)
	ms[3].LongTermSupport = true
	spec := Spec{Strategy: &Strategy{Stages: []Stage{{Name: "s1", Groups: []Group{{Name: "g1", MaxConcurrency: "2"}}}}}, ManagedClusterUpdate: full(k8sTo)}
	h := newHost(t, spec, ms, catalog())
	var out [][]byte
	add := func() { out = append(out, []byte(mustJSON(t, h.run))) }
	add()
	h.start()
	add()
	h.advance(time.Minute)
	changed := ms[3]
	changed.KubernetesVersion = "1.29.4"
	changed.Labels = map[string]string{"new": "label"}
	h.step(MemberChanged{At: h.now, Member: changed})
	add()
	h.failOp("a1", "QuotaExceeded", `no "quota" in région
eastus`)
	add()
	h.succeed("a2")
	add()
	return out
}

// decodeCorpus is every snapshot the fast path is compared on: the fuzz
// snapshots, the rich ones, part of a larger run, each also pretty-printed
// and with its keys sorted.
func decodeCorpus(t testing.TB) [][]byte {
	base := append(fuzzSnapshots(t), richSnapshots(t)...)
	enc, err := json.Marshal(midRun(t, 300))
	require.NoError(t, err)
	base = append(base, enc)
	var out [][]byte
	for _, b := range base {
		var pretty bytes.Buffer
		require.NoError(t, json.Indent(&pretty, b, "", " \t"))
		var v any
		require.NoError(t, json.Unmarshal(b, &v))
		sorted, err := json.Marshal(v)
		require.NoError(t, err)
		out = append(out, b, pretty.Bytes(), sorted)
	}
	return out
}

// sameAsSlowPath: if the fast path decodes doc, the usual path decodes it
// to the same persisted form, and the runs built from both encode to the
// same bytes (or fail with the same error). It reports whether the fast
// path decoded doc.
func sameAsSlowPath(t *testing.T, doc []byte) bool {
	t.Helper()
	fast, ok := fastRunJSON(doc)
	if !ok {
		return false
	}
	slow, err := slowRunJSON(doc)
	require.NoError(t, err, "the fast path accepted what the usual path refuses:\n%s", doc)
	require.Equal(t, slow, fast)
	r1, err1 := decodeRun(fast)
	r2, err2 := decodeRun(slow)
	if err1 != nil || err2 != nil {
		// Not the messages: New names the first bad catalog region in map order.
		require.Equal(t, err2 != nil, err1 != nil, "%v / %v", err2, err1)
		return true
	}
	require.Equal(t, mustJSON(t, r2), mustJSON(t, r1))
	return true
}

func TestFastDecodeEqualsSlowDecode(t *testing.T) {
	corpus := decodeCorpus(t)
	for _, doc := range corpus {
		require.True(t, sameAsSlowPath(t, doc), "the fast path takes a run as encoded:\n%s", doc)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	taken, tries := 0, 0
	for range 3000 {
		doc := corpus[rng.IntN(len(corpus))]
		var mutated []byte
		switch rng.IntN(3) {
		case 0:
			mutated = mutateJSON(doc, rng.Uint64(), []byte{byte(rng.Uint32())})
		case 1: // bytes flipped
			mutated = bytes.Clone(doc)
			for n := 1 + rng.IntN(3); n > 0; n-- {
				mutated[rng.IntN(len(mutated))] ^= byte(1 + rng.IntN(255))
			}
		default: // a snippet pasted over another place
			mutated = bytes.Clone(doc)
			i, j, n := rng.IntN(len(doc)), rng.IntN(len(doc)), 1+rng.IntN(24)
			copy(mutated[i:], doc[j:min(j+n, len(doc))])
		}
		tries++
		if sameAsSlowPath(t, mutated) {
			taken++
		}
	}
	t.Logf("the fast path decoded %d of %d mutated documents", taken, tries)
	assert.Greater(t, taken, tries/20, "mutations the fast path decodes are compared too")
}

// What the fast path leaves to the usual path gets the usual path's error.
func TestFastDecodeGivesUpOnTheUnusual(t *testing.T) {
	doc := richSnapshots(t)[4]
	for name, edit := range map[string]func(string) string{
		"null member":         func(s string) string { return replaceOnce(s, `"members":[{`, `"members":[null,{`) },
		"escaped key":         func(s string) string { return replaceOnce(s, `"region":`, `"regio\u006e":`) },
		"key in another case": func(s string) string { return replaceOnce(s, `"region":`, `"Region":`) },
		"key given twice": func(s string) string {
			return replaceOnce(s, `"region":"eastus"`, `"region":"eastus","region":"westus"`)
		},
		"label given twice":        func(s string) string { return replaceOnce(s, `"env":"prod"`, `"env":"prod","env":"dev"`) },
		"window key in other case": func(s string) string { return replaceOnce(s, `"startTime":"20:00"`, `"StartTime":"20:00"`) },
		"attempt as a float":       func(s string) string { return replaceOnce(s, `"attempt":1`, `"attempt":1.0`) },
		"attempt too large":        func(s string) string { return replaceOnce(s, `"attempt":1`, `"attempt":4294967297`) },
		"time not a string":        func(s string) string { return replaceOnce(s, `"startTime":"2026`, `"startTime":2026,"x":"`) },
		"members twice":            func(s string) string { return replaceOnce(s, `"members":[`, `"members":[],"members":[`) },
		"trailing data":            func(s string) string { return s + "x" },
	} {
		t.Run(name, func(t *testing.T) {
			bad := []byte(edit(string(doc)))
			require.NotEqual(t, string(doc), string(bad), "the edit applies")
			_, ok := fastRunJSON(bad)
			assert.False(t, ok)
			var r Run
			in, want := slowRunJSON(bad)
			if want == nil {
				_, want = decodeRun(in)
			}
			assert.Equal(t, want, r.UnmarshalJSON(bad))
		})
	}
}

func replaceOnce(s, old, new string) string {
	return string(bytes.Replace([]byte(s), []byte(old), []byte(new), 1))
}

// FuzzFastDecode: whatever the fast path decodes, the usual path decodes
// the same way.
func FuzzFastDecode(f *testing.F) {
	for _, doc := range append(fuzzSnapshots(f), richSnapshots(f)...) {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		sameAsSlowPath(t, doc)
	})
}
