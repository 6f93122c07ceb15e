package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/window"
)

var t0 = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

func mockClock() *clock.Mock {
	m := clock.NewMock()
	m.Set(t0)
	return m
}

func noCreate(t *testing.T) func() (fleetupdate.Run, error) {
	return func() (fleetupdate.Run, error) {
		t.Fatal("a restarted host must load the run, not create one")
		return fleetupdate.Run{}, nil
	}
}

func saved(t *testing.T, path string) fleetupdate.Run {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var r fleetupdate.Run
	require.NoError(t, json.Unmarshal(b, &r))
	return r
}

func assertEveryMemberUpgradedOnce(t *testing.T, up *FakeUpgrader) {
	t.Helper()
	r, err := demoRun()
	require.NoError(t, err)
	for _, st := range r.Status().Stages {
		for _, g := range st.Groups {
			for _, m := range g.Members {
				assert.Equal(t, 1, up.Upgrades[m.Name], m.Name)
			}
		}
	}
	assert.Equal(t, 6, up.Ops())
}

func TestHostRunsToCompletionAndPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.json")
	clk := mockClock()
	up := &FakeUpgrader{Clock: clk}
	run, err := (&Host{Path: path, Clock: clk, Upgrader: up}).Run(context.Background(), demoRun)
	require.NoError(t, err)
	assert.Equal(t, fleetupdate.Completed, run.State())
	assert.Equal(t, fleetupdate.Completed, saved(t, path).State())
	assertEveryMemberUpgradedOnce(t, up)
	// A second start finds the finished run and does nothing.
	again, err := (&Host{Path: path, Clock: clk, Upgrader: up}).Run(context.Background(), noCreate(t))
	require.NoError(t, err)
	assert.Equal(t, fleetupdate.Completed, again.State())
	assertEveryMemberUpgradedOnce(t, up)
}

// Killed after persisting a step and before performing its commands: the
// restarted host finds those upgrades in flight in the state file and sends
// them; nothing is upgraded twice.
func TestHostResumesAfterKillBetweenPersistAndPerform(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.json")
	clk := mockClock()
	up := &FakeUpgrader{Clock: clk}
	ctx, kill := context.WithCancel(context.Background())
	persists := 0
	h := &Host{Path: path, Clock: clk, Upgrader: up}
	h.afterPersist = func() {
		if persists++; persists == 3 { // Start, test-0 done, test-1 done: the prod stage starts
			kill()
		}
	}
	_, err := h.Run(ctx, demoRun)
	require.ErrorIs(t, err, context.Canceled)

	mid := saved(t, path)
	var never []string
	for _, c := range mid.InFlight() {
		if up.Upgrades[c.Member] == 0 {
			never = append(never, c.Member)
		}
	}
	assert.ElementsMatch(t, []string{"prod-eu-2", "prod-us-4", "prod-us-5"}, never, "persisted but never performed")

	run, err := (&Host{Path: path, Clock: clk, Upgrader: up}).Run(context.Background(), noCreate(t))
	require.NoError(t, err)
	assert.Equal(t, fleetupdate.Completed, run.State())
	assertEveryMemberUpgradedOnce(t, up)
}

// Killed while an upgrade is under way: the restart re-sends the same op,
// and the upgrader attaches to it instead of upgrading again.
func TestHostResumesAfterKillMidUpgrade(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.json")
	clk := mockClock()
	up := &FakeUpgrader{Clock: clk, Hang: "prod-eu-2"}
	ctx, kill := context.WithCancel(context.Background())
	h := &Host{Path: path, Clock: clk, Upgrader: up}
	h.OnStep = func(r fleetupdate.Run, _ []fleetupdate.Command) {
		if in := r.InFlight(); len(in) == 1 && in[0].Member == "prod-eu-2" {
			kill()
		}
	}
	_, err := h.Run(ctx, demoRun)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, "demo/prod-eu-2/1", string(saved(t, path).InFlight()[0].Op))

	run, err := (&Host{Path: path, Clock: clk, Upgrader: up}).Run(context.Background(), noCreate(t))
	require.NoError(t, err)
	assert.Equal(t, fleetupdate.Completed, run.State())
	assertEveryMemberUpgradedOnce(t, up)
}

// WakeAt becomes a timer on the host's clock; its Tick starts the member
// whose window opened.
func TestHostTicksAtWakeAt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.json")
	clk := mockClock()
	up := &FakeUpgrader{Clock: clk}
	create := func() (fleetupdate.Run, error) {
		nightly := &window.Schedule{Recurrence: window.Recurrence{Daily: &window.DailySchedule{IntervalDays: 1}}, StartTime: "22:00", DurationHours: 4}
		return fleetupdate.New("night", fleetupdate.Spec{ManagedClusterUpdate: fleetupdate.ManagedClusterUpdate{Upgrade: fleetupdate.UpgradeSpec{Type: fleetupdate.ControlPlaneOnly, KubernetesVersion: "1.30"}}},
			[]fleetupdate.Member{{Name: "a", Region: "eastus", KubernetesVersion: "1.29.9", AutoUpgradeWindow: nightly}},
			fleetupdate.Catalog{Regions: map[string]fleetupdate.RegionCatalog{"eastus": {KubernetesVersions: []string{"1.30.5"}}}})
	}
	armed := make(chan time.Time, 1)
	h := &Host{Path: path, Clock: clk, Upgrader: up}
	h.OnStep = func(_ fleetupdate.Run, cmds []fleetupdate.Command) {
		for _, c := range cmds {
			if w, ok := c.(fleetupdate.WakeAt); ok {
				armed <- w.At
			}
		}
	}
	result := make(chan fleetupdate.Run, 1)
	go func() {
		r, err := h.Run(context.Background(), create)
		assert.NoError(t, err)
		result <- r
	}()
	at := <-armed
	assert.Equal(t, time.Date(2026, 3, 4, 22, 0, 0, 0, time.UTC), at)
	clk.Add(at.Sub(clk.Now()))
	r := <-result
	assert.Equal(t, fleetupdate.Completed, r.State())
	assert.Equal(t, at, r.Status().Stages[0].Groups[0].Members[0].Status.StartTime)
}

func TestHostReportsFailures(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.json")
	clk := mockClock()
	up := &FakeUpgrader{Clock: clk, Fail: map[string]string{"test-0": "QuotaExceeded"}}
	run, err := (&Host{Path: path, Clock: clk, Upgrader: up}).Run(context.Background(), demoRun)
	require.NoError(t, err)
	st := run.Status()
	assert.Equal(t, fleetupdate.Failed, st.Status.State)
	assert.Equal(t, "QuotaExceeded", st.Status.Error.Code)
}
