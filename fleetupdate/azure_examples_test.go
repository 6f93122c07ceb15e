package fleetupdate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// exampleFleet has a member for each group and label Azure's examples use.
func exampleFleet() ([]Member, Catalog) {
	one := Member{Name: "member-one", Group: "group-a", Region: regionA, KubernetesVersion: "1.25.6",
		NodePools: []NodePool{{Name: "system", NodeImageVersion: imgOld}}, Labels: map[string]string{"tier": "frontend"}}
	two := one
	two.Name, two.Group, two.Labels = "member-two", "group-b", map[string]string{"env": "production"}
	rc := RegionCatalog{KubernetesVersions: []string{"1.25.6", "1.26.1"}, NodeImageVersions: []string{imgOld, imgNew}}
	return []Member{one, two}, Catalog{Regions: map[string]RegionCatalog{regionA: rc}}
}

// readExample decodes a fixture (testdata/azure) the way a user would: an
// UpdateRun's properties into Spec, a FleetUpdateStrategy's into Strategy.
func readExample(t *testing.T, path string) Spec {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	if strings.Contains(path, "UpdateStrategies_") {
		var props struct {
			ProvisioningState string    `json:"provisioningState"`
			Strategy          *Strategy `json:"strategy"`
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.DisallowUnknownFields()
		require.NoError(t, d.Decode(&props))
		require.NotNil(t, props.Strategy)
		return Spec{Strategy: props.Strategy, ManagedClusterUpdate: full("1.26.1")}
	}
	var s Spec
	require.NoError(t, json.Unmarshal(b, &s))
	return s
}

// Issue 9, done when: "Every Azure example payload for update runs and strategies (2025-03-01,
// 2026-06-01, 2026-06-02-preview) unmarshals into Spec/Strategy and builds a run."
func TestAzureExamplePayloadsUnmarshalAndBuildARun(t *testing.T) {
	// What New still refuses, by fixture; "" builds a run.
	want := map[string]string{
		"2025-03-01_UpdateRuns_CreateOrUpdate.json":                "",
		"2025-03-01_UpdateRuns_Skip.json":                          "",
		"2025-03-01_UpdateStrategies_CreateOrUpdate.json":          "",
		"2026-06-01_UpdateRuns_Stop.json":                          "",
		"2026-06-01_UpdateRuns_ListByFleet.json":                   "",
		"2026-06-01_UpdateStrategies_Get.json":                     "",
		"2026-06-02-preview_UpdateRuns_CreateOrUpdate.json":        "",
		"2026-06-02-preview_UpdateRuns_Get.json":                   "",
		"2026-06-02-preview_UpdateRuns_Start.json":                 "",
		"2026-06-02-preview_UpdateStrategies_CreateOrUpdate.json":  "",
		"2025-03-01_UpdateRuns_CreateOrUpdate_MaximumSet_Gen.json": "managedClusterUpdate.nodeImageSelection.customNodeImageVersions: must be empty unless type is Custom",
	}
	files, err := filepath.Glob("testdata/azure/*.json")
	require.NoError(t, err)
	require.Len(t, files, len(want))
	ms, cat := exampleFleet()
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			w, ok := want[filepath.Base(f)]
			require.True(t, ok, "a fixture without an expectation")
			spec := readExample(t, f)
			r, err := New("run1", spec, ms, cat)
			if w != "" {
				assert.ErrorIs(t, err, ErrInvalidSpec)
				assert.ErrorContains(t, err, w)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, spec.UpdateStrategyID, r.Spec().UpdateStrategyID)
			st := r.Status()
			assert.Equal(t, len(spec.Strategy.Stages), len(st.Stages))
			// Each of the example fleet's members is selected into exactly one group.
			n := 0
			for _, s := range st.Stages {
				for _, g := range s.Groups {
					n += len(g.Members)
				}
			}
			assert.LessOrEqual(t, n, 2)
			assert.Positive(t, n)
			assert.Equal(t, Completed, driveHelpfully(t, r).State(), "and the run can be driven to its end")
		})
	}
}

// driveHelpfully runs r to its end with a host that approves every gate at
// once, whose upgrades succeed at once, and that ticks at each wake-up.
func driveHelpfully(t *testing.T, r Run) Run {
	t.Helper()
	now := t0
	step := func(e Event) {
		t.Helper()
		next, _, err := Step(r, e)
		require.NoError(t, err, "%#v", e)
		r = next
	}
	step(Start{At: now})
	for range 1000 {
		if r.Done() {
			return r
		}
		var next Event
		for _, c := range r.Outstanding() {
			switch c := c.(type) {
			case UpgradeMember:
				next = UpgradeSucceeded{At: now, Op: c.Op}
			case AwaitGate:
				if c.Type == Approval {
					next = CompleteGate{At: now, Gate: c.Gate}
				}
			}
			if next != nil {
				break
			}
		}
		if next == nil {
			w, ok := r.NextWake()
			require.True(t, ok, "stuck %s with nothing to do", r.State())
			now = w
			next = Tick{At: now}
		}
		step(next)
	}
	t.Fatalf("no end after 1000 steps: %s", r.State())
	return r
}
