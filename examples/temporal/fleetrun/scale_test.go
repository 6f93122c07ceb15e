package fleetrun

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"

	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/window"
)

// bigRun is an n-member run shaped like a real fleet: three stages, six
// groups, members in six regions with two node pools, both maintenance
// windows (in 24 variants) and Azure resource ids; a Full upgrade with
// Consistent node images, 5% of each group at a time.
func bigRun(t testing.TB, n int) fleetupdate.Run {
	t.Helper()
	regions := []string{"eastus", "westus2", "westeurope", "northeurope", "japaneast", "australiaeast"}
	images := []string{"AKSUbuntu-2204gen2containerd-202601.06.0", "AKSUbuntu-2204gen2containerd-202602.03.0"}
	cat := fleetupdate.Catalog{Regions: map[string]fleetupdate.RegionCatalog{}}
	for _, r := range regions {
		cat.Regions[r] = fleetupdate.RegionCatalog{KubernetesVersions: []string{"1.29.9", "1.30.5"}, NodeImageVersions: images}
	}
	groups := []string{"canary", "dev", "test", "prod-eu", "prod-us", "prod-asia"}
	var members []fleetupdate.Member
	for i := range n {
		g := groups[0]
		if i >= n/100 { // 1% canary, the rest spread over the other groups
			g = groups[1+i%5]
		}
		w := &window.Schedule{Recurrence: window.Recurrence{Daily: &window.DailySchedule{IntervalDays: 1}}, DurationHours: 8, StartTime: fmt.Sprintf("%02d:00", i%24)}
		name := fmt.Sprintf("%s-%05d", g, i)
		members = append(members, fleetupdate.Member{
			Name: name, Group: g, Region: regions[i%len(regions)], KubernetesVersion: "1.29.9",
			NodePools:         []fleetupdate.NodePool{{Name: "system", NodeImageVersion: images[0]}, {Name: "user", NodeImageVersion: images[0]}},
			AutoUpgradeWindow: w, NodeOSUpgradeWindow: w,
			ClusterResourceID: "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-" + g + "/providers/Microsoft.ContainerService/managedClusters/" + name,
		})
	}
	spec := fleetupdate.Spec{
		Strategy: &fleetupdate.Strategy{Stages: []fleetupdate.Stage{
			{Name: "canary", Groups: []fleetupdate.Group{{Name: "canary", MaxConcurrency: "5%"}}, AfterStageWaitInSeconds: 3600},
			{Name: "staging", MaxConcurrency: "100%", Groups: []fleetupdate.Group{{Name: "dev", MaxConcurrency: "5%"}, {Name: "test", MaxConcurrency: "5%"}}, AfterStageWaitInSeconds: 3600},
			{Name: "prod", MaxConcurrency: "100%", Groups: []fleetupdate.Group{{Name: "prod-eu", MaxConcurrency: "5%"}, {Name: "prod-us", MaxConcurrency: "5%"}, {Name: "prod-asia", MaxConcurrency: "5%"}}},
		}},
		ManagedClusterUpdate: fleetupdate.ManagedClusterUpdate{
			Upgrade:            fleetupdate.UpgradeSpec{Type: fleetupdate.Full, KubernetesVersion: "1.30.5"},
			NodeImageSelection: &fleetupdate.NodeImageSelection{Type: fleetupdate.Consistent},
		},
	}
	r, err := fleetupdate.New("big", spec, members, cat)
	require.NoError(t, err)
	return r
}

// A 10,000-member run completes on the test suite with every execution's
// history bounded: each applies at most MaxEvents events plus the outcomes
// of the upgrades it drains, and its input (the run, compressed) stays far
// below Temporal's 2 MB payload limit.
func TestTenThousandMembers(t *testing.T) {
	if testing.Short() {
		t.Skip("a 10,000-member run takes a minute")
	}
	h := newHarness(t)
	h.Duration = 45 * time.Minute
	completed := map[int]int{} // activities completed per execution
	fired := map[int]int{}     // timers fired per execution
	h.Setup = func(env *testsuite.TestWorkflowEnvironment, exec int) {
		env.SetOnActivityCompletedListener(func(*activity.Info, converter.EncodedValue, error) { completed[exec]++ })
		env.SetOnTimerFiredListener(func(string) { fired[exec]++ })
	}
	run := bigRun(t, 10000)
	raw, err := json.Marshal(run)
	require.NoError(t, err)
	status, err := json.Marshal(run.Status())
	require.NoError(t, err)
	t.Logf("the run's JSON: %d B, in Input (gzip): %d B; its full status: %d B", len(raw), payloadSize(t, Input{Run: run}), len(status))
	start := time.Now()
	env := h.Run(Input{Run: run, Start: true})
	s := result(t, env)
	require.Equal(t, fleetupdate.Completed, s.Status.State)
	assert.Len(t, h.attempts, 10000)
	for op, n := range h.attempts {
		require.Equal(t, 1, n, "%s started once", op)
	}

	maxEvents, maxInput := 0, 0
	for i, e := range h.execs {
		events := completed[i] + fired[i]
		t.Logf("execution %2d: input %6d B, %4d upgrades started, %4d outcomes + %3d ticks applied, %3d timers, %3d upgrades carried over",
			i, e.InputSize, e.Upgrades, completed[i], fired[i], e.Timers, e.InFlightAtEnd)
		maxEvents, maxInput = max(maxEvents, events), max(maxInput, e.InputSize)
	}
	t.Logf("%d executions in %v; virtual time %v", len(h.execs), time.Since(start).Round(time.Second), env.Now().Sub(t0))
	// At most MaxEvents, plus the outcomes of the upgrades in flight when
	// draining began (at most 5% of each of prod's three groups, 3 × 99).
	assert.LessOrEqual(t, maxEvents, DefaultMaxEvents+3*99)
	assert.Less(t, maxInput, 512*1024, "below Temporal's 512 KB payload warning")
}
