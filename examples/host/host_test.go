package main

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/journal"
	"github.com/fleetkit/fleetkit/window"
)

var t0 = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

func mockClock() *clock.Mock {
	m := clock.NewMock()
	m.Set(t0)
	return m
}

// testOptions: no fsync (speed), and a locked file fails at once (no wait).
var testOptions = &journal.Options{NoSync: true, LockTimeout: -1}

func newHost(path string, clk clock.Clock, up Upgrader) *Host {
	return &Host{Path: path, Options: testOptions, Clock: clk, Upgrader: up}
}

// noPlan is a plan a restarted host must not need: the journal has the run.
func noPlan() Plan { p := demoPlan(); p.Members = nil; p.Spec = fleetupdate.Spec{}; return p }

// saved is the run the journal at path holds.
func saved(t *testing.T, path string) fleetupdate.Run {
	t.Helper()
	s, err := journal.Open(path, testOptions)
	require.NoError(t, err)
	defer s.Close()
	j, err := s.Load("demo")
	require.NoError(t, err)
	return j.Run()
}

func assertEveryMemberUpgradedOnce(t *testing.T, up *FakeUpgrader) {
	t.Helper()
	for _, m := range demoPlan().Members {
		assert.Equal(t, 1, up.Upgrades[m.Name], m.Name)
	}
	assert.Equal(t, 6, up.Ops())
}

func TestHostRunsToCompletionAndPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet.db")
	clk := mockClock()
	up := &FakeUpgrader{Clock: clk}
	run, err := newHost(path, clk, up).Run(context.Background(), demoPlan())
	require.NoError(t, err)
	assert.Equal(t, fleetupdate.Completed, run.State())
	assert.Equal(t, fleetupdate.Completed, saved(t, path).State())
	assertEveryMemberUpgradedOnce(t, up)
	// A second start finds the finished run and does nothing.
	again, err := newHost(path, clk, up).Run(context.Background(), noPlan())
	require.NoError(t, err)
	assert.Equal(t, fleetupdate.Completed, again.State())
	assertEveryMemberUpgradedOnce(t, up)
}

// Killed after persisting a step and before performing its commands: the
// restarted host finds those upgrades in flight in the journal and sends
// them; nothing is upgraded twice.
func TestHostResumesAfterKillBetweenPersistAndPerform(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet.db")
	clk := mockClock()
	up := &FakeUpgrader{Clock: clk}
	ctx, kill := context.WithCancel(context.Background())
	persists := 0
	h := newHost(path, clk, up)
	h.afterPersist = func() {
		if persists++; persists == 3 { // Start, test-0 done, test-1 done: the prod stage starts
			kill()
		}
	}
	_, err := h.Run(ctx, demoPlan())
	require.ErrorIs(t, err, context.Canceled)

	mid := saved(t, path)
	var never []string
	for _, c := range mid.InFlight() {
		if up.Upgrades[c.Member] == 0 {
			never = append(never, c.Member)
		}
	}
	assert.ElementsMatch(t, []string{"prod-eu-2", "prod-us-4", "prod-us-5"}, never, "persisted but never performed")

	run, err := newHost(path, clk, up).Run(context.Background(), noPlan())
	require.NoError(t, err)
	assert.Equal(t, fleetupdate.Completed, run.State())
	assertEveryMemberUpgradedOnce(t, up)
}

// Killed while an upgrade is under way: the restart re-sends the same op,
// and the upgrader attaches to it instead of upgrading again.
func TestHostResumesAfterKillMidUpgrade(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet.db")
	clk := mockClock()
	up := &FakeUpgrader{Clock: clk, Hang: "prod-eu-2"}
	ctx, kill := context.WithCancel(context.Background())
	h := newHost(path, clk, up)
	h.OnStep = func(r fleetupdate.Run, _ []fleetupdate.Command) {
		if in := r.InFlight(); len(in) == 1 && in[0].Member == "prod-eu-2" {
			kill()
		}
	}
	_, err := h.Run(ctx, demoPlan())
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, "demo/prod-eu-2/1", string(saved(t, path).InFlight()[0].Op))

	run, err := newHost(path, clk, up).Run(context.Background(), noPlan())
	require.NoError(t, err)
	assert.Equal(t, fleetupdate.Completed, run.State())
	assertEveryMemberUpgradedOnce(t, up)
}

// WakeAt becomes a timer on the host's clock; its Tick starts the member
// whose window opened.
func TestHostTicksAtWakeAt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet.db")
	clk := mockClock()
	up := &FakeUpgrader{Clock: clk}
	nightly := &window.Schedule{Recurrence: window.Recurrence{Daily: &window.DailySchedule{IntervalDays: 1}}, StartTime: "22:00", DurationHours: 4}
	plan := Plan{Name: "night", Spec: fleetupdate.Spec{ManagedClusterUpdate: fleetupdate.ManagedClusterUpdate{Upgrade: fleetupdate.UpgradeSpec{Type: fleetupdate.ControlPlaneOnly, KubernetesVersion: "1.30"}}},
		Members: []fleetupdate.Member{{Name: "a", Region: "eastus", KubernetesVersion: "1.29.9", AutoUpgradeWindow: nightly}},
		Catalog: fleetupdate.Catalog{Regions: map[string]fleetupdate.RegionCatalog{"eastus": {KubernetesVersions: []string{"1.30.5"}}}}}
	armed := make(chan time.Time, 1)
	h := newHost(path, clk, up)
	h.OnStep = func(_ fleetupdate.Run, cmds []fleetupdate.Command) {
		for _, c := range cmds {
			if w, ok := c.(fleetupdate.WakeAt); ok {
				armed <- w.At
			}
		}
	}
	result := make(chan fleetupdate.Run, 1)
	go func() {
		r, err := h.Run(context.Background(), plan)
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
	path := filepath.Join(t.TempDir(), "fleet.db")
	clk := mockClock()
	up := &FakeUpgrader{Clock: clk, Fail: map[string]string{"test-0": "QuotaExceeded"}}
	run, err := newHost(path, clk, up).Run(context.Background(), demoPlan())
	require.NoError(t, err)
	st := run.Status()
	assert.Equal(t, fleetupdate.Failed, st.Status.State)
	assert.Equal(t, "QuotaExceeded", st.Status.Error.Code)
}

// Two hosts on one journal file: the second gets a clear error naming the
// file while the first runs, and never starts a second copy of the rollout.
func TestSecondHostOnOneFileIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fleet.db")
	clk := mockClock()
	up := &FakeUpgrader{Clock: clk, Hang: "test-0"}
	ctx, kill := context.WithCancel(context.Background())
	running := make(chan struct{})
	var once sync.Once
	first := newHost(path, clk, up)
	first.OnStep = func(r fleetupdate.Run, _ []fleetupdate.Command) {
		if len(r.InFlight()) > 0 {
			once.Do(func() { close(running) })
		}
	}
	result := make(chan error, 1)
	go func() {
		_, err := first.Run(ctx, demoPlan())
		result <- err
	}()
	<-running

	second := &FakeUpgrader{Clock: clk}
	_, err := newHost(path, clk, second).Run(context.Background(), demoPlan())
	require.ErrorIs(t, err, journal.ErrLocked)
	assert.ErrorContains(t, err, path)
	assert.Zero(t, second.Ops(), "the second host upgraded nothing")

	kill()
	require.ErrorIs(t, <-result, context.Canceled)
	run, err := newHost(path, clk, up).Run(context.Background(), noPlan())
	require.NoError(t, err, "once the first host is gone, the next one runs")
	assert.Equal(t, fleetupdate.Completed, run.State())
}
