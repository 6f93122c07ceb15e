package forecast_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/forecast"
)

var (
	now   = time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
	plain = forecast.Assumptions{Duration: 40 * time.Minute, ApprovalDelay: 2 * time.Hour}
)

func at(h, m int) time.Time { return time.Date(2026, 3, 4, h, m, 0, 0, time.UTC) }

func row(t *testing.T, f forecast.Forecast, stage, group, member string) forecast.Row {
	t.Helper()
	for _, r := range f.Rows {
		if r.Stage == stage && r.Group == group && r.Member == member {
			return r
		}
	}
	t.Fatalf("no row %s/%s/%s", stage, group, member)
	return forecast.Row{}
}

func TestGateNeverApprovedHoldsItsStageAndSaysWhy(t *testing.T) {
	a := plain
	a.NeverApprove = true
	f, err := forecast.Run(exampleRun(), now, a)
	require.NoError(t, err)
	assert.Equal(t, forecast.Row{Stage: "canary", Group: "dev", Member: "dev-1", State: fleetupdate.Completed, Start: at(9, 0), Finish: at(9, 40)}, row(t, f, "canary", "dev", "dev-1"))
	us := row(t, f, "prod", "prod-us", "us-1")
	assert.Equal(t, fleetupdate.NotStarted, us.State)
	assert.True(t, us.Start.IsZero() && us.Finish.IsZero())
	assert.Equal(t, `approval gate "change board" (roll-1-30/prod/Before/0) is never approved (assumed)`, us.Why)
	assert.Equal(t, us.Why, row(t, f, "prod", "", "").Why)
	r := f.Rows[0]
	assert.Equal(t, fleetupdate.Pending, r.State)
	assert.True(t, r.Finish.IsZero())
	assert.Equal(t, `stage prod: approval gate "change board" (roll-1-30/prod/Before/0) is never approved (assumed)`, r.Why, "it ended before the horizon: nothing more could happen")
	assert.Contains(t, f.Assumptions, "approval gates are never approved")
}

func TestHorizonEndsTheForecast(t *testing.T) {
	a := plain
	a.Horizon = 8 * time.Hour
	f, err := forecast.Run(exampleRun(), now, a)
	require.NoError(t, err)
	assert.Equal(t, at(17, 0), f.Horizon)
	eu := row(t, f, "prod", "prod-eu", "eu-1")
	assert.Equal(t, fleetupdate.Pending, eu.State)
	assert.Equal(t, "not by the horizon 2026-03-04T17:00:00Z: maintenance window is not open; next opening 2026-03-04T22:00:00Z", eu.Why)
	assert.Equal(t, at(14, 0), row(t, f, "prod", "prod-us", "us-2").Finish, "what happens before the horizon is forecast")
	assert.True(t, strings.HasPrefix(f.Rows[0].Why, "not by the horizon 2026-03-04T17:00:00Z: "), f.Rows[0].Why)
}

// A run from its persisted form: the upgrade in flight finishes its
// duration after it started; the gate Pending is approved its delay after
// it was reached.
func TestMidFlightRunFinishesWhatIsInFlight(t *testing.T) {
	r := exampleRun()
	r, _, err := fleetupdate.Step(r, fleetupdate.Start{At: at(9, 0)})
	require.NoError(t, err)
	r = persisted(t, r)
	f, err := forecast.Run(r, at(9, 10), plain)
	require.NoError(t, err)
	dev := row(t, f, "canary", "dev", "dev-1")
	assert.Equal(t, at(9, 0), dev.Start, "the run's record")
	assert.Equal(t, at(9, 40), dev.Finish, "40 minutes after it started, not after now")
	late, err := forecast.Run(r, at(11, 0), plain)
	require.NoError(t, err)
	assert.Equal(t, at(11, 0), row(t, late, "canary", "dev", "dev-1").Finish, "overdue: it finishes at now")

	// At the gate: reached at 10:40, approved at 12:40 whenever the
	// forecast is made before then.
	r, _, err = fleetupdate.Step(r, fleetupdate.UpgradeSucceeded{At: at(9, 40), Op: "roll-1-30/dev-1/1"})
	require.NoError(t, err)
	r, _, err = fleetupdate.Step(r, fleetupdate.Tick{At: at(10, 40)})
	require.NoError(t, err)
	require.Equal(t, fleetupdate.Pending, r.State())
	f, err = forecast.Run(persisted(t, r), at(11, 30), plain)
	require.NoError(t, err)
	assert.Equal(t, at(12, 40), row(t, f, "prod", "prod-us", "us-1").Start)
	f, err = forecast.Run(persisted(t, r), at(13, 0), plain)
	require.NoError(t, err)
	assert.Equal(t, at(13, 0), row(t, f, "prod", "prod-us", "us-1").Start, "an approval overdue comes now")
}

func persisted(t *testing.T, r fleetupdate.Run) fleetupdate.Run {
	t.Helper()
	b, err := json.Marshal(r)
	require.NoError(t, err)
	var back fleetupdate.Run
	require.NoError(t, json.Unmarshal(b, &back))
	return back
}

func TestStoppedRunStaysStoppedUnlessResumeIsAssumed(t *testing.T) {
	r := exampleRun()
	r, _, _ = fleetupdate.Step(r, fleetupdate.Start{At: at(9, 0)})
	r, _, _ = fleetupdate.Step(r, fleetupdate.Stop{At: at(9, 5)})
	require.Equal(t, fleetupdate.Stopping, r.State())
	before, err := json.Marshal(r)
	require.NoError(t, err)

	f, err := forecast.Run(r, at(9, 5), plain)
	require.NoError(t, err)
	assert.Equal(t, at(9, 40), row(t, f, "canary", "dev", "dev-1").Finish, "in flight, it finishes")
	assert.Equal(t, fleetupdate.Stopped, f.Rows[0].State)
	assert.Equal(t, "the run is stopped, and resuming it is not assumed", row(t, f, "prod", "prod-us", "us-1").Why)

	r, _, _ = fleetupdate.Step(r, fleetupdate.UpgradeSucceeded{At: at(9, 40), Op: "roll-1-30/dev-1/1"})
	require.Equal(t, fleetupdate.Stopped, r.State())
	a := plain
	a.Resume = true
	f, err = forecast.Run(r, at(10, 0), a)
	require.NoError(t, err)
	assert.Equal(t, fleetupdate.Completed, f.Rows[0].State)
	assert.Contains(t, f.Assumptions, "no user acts but to resume the run")

	after, err := json.Marshal(exampleRunStopping(t))
	require.NoError(t, err)
	assert.JSONEq(t, string(before), string(after), "a forecast changes no run")
}

func exampleRunStopping(t *testing.T) fleetupdate.Run {
	r := exampleRun()
	r, _, _ = fleetupdate.Step(r, fleetupdate.Start{At: at(9, 0)})
	r, _, _ = fleetupdate.Step(r, fleetupdate.Stop{At: at(9, 5)})
	_, err := forecast.Run(r, at(9, 5), plain)
	require.NoError(t, err)
	return r
}

func TestMemberDurationAndFailedMembers(t *testing.T) {
	a := plain
	a.MemberDuration = func(c fleetupdate.UpgradeMember) time.Duration {
		if c.Member == "us-1" {
			return 3 * time.Hour
		}
		return 0 // Duration
	}
	f, err := forecast.Run(exampleRun(), now, a)
	require.NoError(t, err)
	assert.Equal(t, at(15, 40), row(t, f, "prod", "prod-us", "us-1").Finish)
	assert.Equal(t, at(16, 20), row(t, f, "prod", "prod-us", "us-2").Finish)

	a.MemberDuration = func(fleetupdate.UpgradeMember) time.Duration { return -time.Minute }
	_, err = forecast.Run(exampleRun(), now, a)
	assert.ErrorContains(t, err, `MemberDuration gave -1m0s for member "dev-1"`)
}

func TestBadInputsAreRefused(t *testing.T) {
	for _, c := range []struct {
		a    forecast.Assumptions
		want string
	}{
		{forecast.Assumptions{}, "Duration 0s: want a positive duration"},
		{forecast.Assumptions{Duration: -time.Minute}, "Duration -1m0s"},
		{forecast.Assumptions{Duration: time.Minute, P90Factor: 0.5}, "P90Factor 0.5: want 0, or a finite number from 1"},
		{forecast.Assumptions{Duration: time.Minute, P90Factor: math.NaN()}, "P90Factor NaN"},
		{forecast.Assumptions{Duration: time.Minute, P90Factor: math.Inf(1)}, "P90Factor +Inf"},
		{forecast.Assumptions{Duration: time.Minute, ApprovalDelay: -1}, "ApprovalDelay -1ns"},
		{forecast.Assumptions{Duration: time.Minute, Horizon: -1}, "Horizon -1ns"},
	} {
		_, err := forecast.Run(exampleRun(), now, c.a)
		assert.ErrorContains(t, err, c.want)
		_, err = forecast.Percentiles(exampleRun(), now, c.a, 10, 1)
		assert.ErrorContains(t, err, c.want)
	}
	_, err := forecast.Run(exampleRun(), now, forecast.Assumptions{ApprovalDelay: -1})
	assert.EqualError(t, err, "forecast: assumptions: Duration 0s: want a positive duration; ApprovalDelay -1ns: want 0 or more", "every problem, at once")
	_, err = forecast.Run(exampleRun(), time.Date(9899, 6, 1, 0, 0, 0, 0, time.UTC), plain)
	assert.ErrorContains(t, err, "the horizon 9900-06-01T00:00:00Z is not before 9900-01-01T00:00:00Z")
	_, err = forecast.Run(fleetupdate.Run{}, now, plain)
	assert.ErrorContains(t, err, "not made by fleetupdate.New")
	_, err = forecast.Run(exampleRun(), time.Time{}, plain)
	assert.ErrorContains(t, err, "now is the zero time")
	started, _, _ := fleetupdate.Step(exampleRun(), fleetupdate.Start{At: now})
	_, err = forecast.Run(started, now.Add(-time.Second), plain)
	assert.ErrorContains(t, err, "now 2026-03-04T08:59:59Z is before the run's clock 2026-03-04T09:00:00Z")
	_, err = forecast.Percentiles(exampleRun(), now, plain, 0, 1)
	assert.ErrorContains(t, err, "0 simulations: want at least 1")
}

// The JSON is a documented format: its field names are the contract.
func TestForecastJSON(t *testing.T) {
	a := plain
	a.NeverApprove = true
	f, err := forecast.Run(exampleRun(), now, a)
	require.NoError(t, err)
	b, err := json.Marshal(f)
	require.NoError(t, err)
	var doc struct {
		Run, Assumptions string
		From, Horizon    time.Time
		Rows             []map[string]any
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	assert.Equal(t, "roll-1-30", doc.Run)
	assert.Equal(t, now.AddDate(1, 0, 0), doc.Horizon)
	assert.Equal(t, map[string]any{"stage": "canary", "group": "dev", "member": "dev-1", "state": "Completed", "start": "2026-03-04T09:00:00Z", "finish": "2026-03-04T09:40:00Z"}, doc.Rows[3])
	assert.Equal(t, map[string]any{"stage": "prod", "group": "prod-us", "member": "us-1", "state": "NotStarted",
		"why": `approval gate "change board" (roll-1-30/prod/Before/0) is never approved (assumed)`}, doc.Rows[8])
}

func TestPercentilesAreSeededAndSpread(t *testing.T) {
	a := plain
	a.P90Factor = 3
	d1, err := forecast.Percentiles(exampleRun(), now, a, 50, 7)
	require.NoError(t, err)
	d2, err := forecast.Percentiles(exampleRun(), now, a, 50, 7)
	require.NoError(t, err)
	assert.Equal(t, d1, d2, "same seed, same distribution")
	d3, err := forecast.Percentiles(exampleRun(), now, a, 50, 8)
	require.NoError(t, err)
	assert.NotEqual(t, d1, d3, "another seed, other draws")
	for _, r := range d1.Rows {
		assert.Equal(t, 50, r.Finished)
		assert.False(t, r.Finish.P90.Before(r.Finish.P50), "p90 is not before p50")
	}
	assert.True(t, d1.Rows[0].Finish.P90.After(d1.Rows[0].Finish.P50), "durations spread, so the run's finish does")

	// Without spread every simulation is Run's forecast.
	f, err := forecast.Run(exampleRun(), now, plain)
	require.NoError(t, err)
	d, err := forecast.Percentiles(exampleRun(), now, plain, 3, 1)
	require.NoError(t, err)
	require.Len(t, d.Rows, len(f.Rows))
	for i, r := range f.Rows {
		want := forecast.Spread{Stage: r.Stage, Group: r.Group, Member: r.Member, Start: forecast.Quantiles{P50: r.Start, P90: r.Start}, Finish: forecast.Quantiles{P50: r.Finish, P90: r.Finish}, Finished: 3}
		assert.Equal(t, want, d.Rows[i])
	}
}

// A time that does not come counts as later than any: with the gate never
// approved, prod's members have no percentile and finish in no simulation.
func TestPercentilesOfWhatNeverHappens(t *testing.T) {
	a := plain
	a.NeverApprove, a.P90Factor = true, 2
	d, err := forecast.Percentiles(exampleRun(), now, a, 20, 1)
	require.NoError(t, err)
	for _, r := range d.Rows {
		if r.Group != "" && r.Stage == "prod" {
			assert.Equal(t, forecast.Spread{Stage: r.Stage, Group: r.Group, Member: r.Member}, r, "nothing in prod's groups")
		}
	}
	assert.Equal(t, "prod", d.Rows[4].Stage)
	assert.False(t, d.Rows[4].Start.P50.IsZero(), "the stage starts: it reaches its gate")
	assert.Zero(t, d.Rows[4].Finished)
	assert.Equal(t, 20, d.Rows[3].Finished, "dev-1 finishes in every one")
	b, err := json.Marshal(d.Rows[8])
	require.NoError(t, err)
	assert.JSONEq(t, `{"stage":"prod","group":"prod-us","member":"us-1","start":{},"finish":{},"finished":0}`, string(b))
}

// A stage over its budget shows Failed but has no completed time (it may
// be resumed): its row says why it does not finish, as Row.Why promises for
// every row without a Finish.
func TestFailedStageWithoutCompletedTimeSaysWhy(t *testing.T) {
	var spec fleetupdate.Spec
	require.NoError(t, json.Unmarshal([]byte(`{"strategy": {"stages": [{"name": "canary", "groups": [{"name": "dev"}]}]},
	  "managedClusterUpdate": {"upgrade": {"type": "ControlPlaneOnly", "kubernetesVersion": "1.30"}}}`), &spec))
	members := []fleetupdate.Member{{Name: "dev-1", Group: "dev", Region: "eastus", KubernetesVersion: "1.28.9"}}
	r, err := fleetupdate.New("skip-minor", spec, members, fleetupdate.Catalog{Regions: map[string]fleetupdate.RegionCatalog{"eastus": {KubernetesVersions: []string{"1.28.9", "1.30.5"}}}})
	require.NoError(t, err)
	f, err := forecast.Run(r, now, plain)
	require.NoError(t, err)
	require.Equal(t, fleetupdate.Failed, f.Rows[0].State)
	stage := row(t, f, "canary", "", "")
	assert.Equal(t, fleetupdate.Failed, stage.State)
	assert.True(t, stage.Finish.IsZero(), "the run records no completed time for the stage")
	assert.Equal(t, `the run failed: member "dev-1" failed: upgrade would skip a minor version: 1.28.9 to 1.30.5 (upgrade one minor version at a time)`, stage.Why)
}

// A run Failed at From with an after gate still Pending stays where it is
// without Resume: the forecast ends at once (as fake.Simulate does), and
// approves nothing that would complete a group of a failed run.
func TestFailedRunIsNotMovedOn(t *testing.T) {
	var spec fleetupdate.Spec
	require.NoError(t, json.Unmarshal([]byte(`{"strategy": {"stages": [{"name": "s", "maxConcurrency": "1", "groups": [{"name": "dev", "afterGates": [{"type": "Approval"}]}, {"name": "test"}]}]},
	  "managedClusterUpdate": {"upgrade": {"type": "ControlPlaneOnly", "kubernetesVersion": "1.30"}}}`), &spec))
	members := []fleetupdate.Member{
		{Name: "dev-1", Group: "dev", Region: "eastus", KubernetesVersion: "1.29.4"},
		{Name: "test-1", Group: "test", Region: "eastus", KubernetesVersion: "1.28.9"},
	}
	r, err := fleetupdate.New("failed", spec, members, fleetupdate.Catalog{Regions: map[string]fleetupdate.RegionCatalog{"eastus": {KubernetesVersions: []string{"1.28.9", "1.29.4", "1.30.5"}}}})
	require.NoError(t, err)
	r, _, err = fleetupdate.Step(r, fleetupdate.Start{At: at(9, 0)})
	require.NoError(t, err)
	r, _, err = fleetupdate.Step(r, fleetupdate.UpgradeSucceeded{At: at(9, 40), Op: "failed/dev-1/1"})
	require.NoError(t, err)
	require.Equal(t, fleetupdate.Failed, r.State())
	dev := r.Status().Stages[0].Groups[0]
	require.Equal(t, fleetupdate.Pending, dev.AfterGates[0].Status.State, "the gate was reached as the run failed")
	f, err := forecast.Run(persisted(t, r), at(10, 0), plain)
	require.NoError(t, err)
	assert.Equal(t, dev.Status.State, row(t, f, "s", "dev", "").State, "the group of a failed run stays as it is")
	assert.Equal(t, "the run failed: "+r.Status().Status.Error.Message, row(t, f, "s", "dev", "").Why)
}

// A draw longer than a Duration can hold is the longest one, not a
// negative one that finishes at once: float64(math.MaxInt64) is 2^63,
// which converts back to math.MinInt64 on amd64.
func TestPercentilesHugeDrawsDoNotFinishAtOnce(t *testing.T) {
	a := forecast.Assumptions{Duration: 100 * 365 * 24 * time.Hour, P90Factor: 10}
	d, err := forecast.Percentiles(exampleRun(), now, a, 50, 1)
	require.NoError(t, err)
	assert.Zero(t, d.Rows[3].Finished, "an upgrade of a hundred years or more does not finish within a year")
}

// Percentiles costs n forecasts' time, as documented, and does not panic
// for a large n by allocating for all of them at once: here the second
// forecast ends it with an error.
func TestPercentilesLargeNDoesNotPanic(t *testing.T) {
	calls := 0
	a := plain
	a.MemberDuration = func(c fleetupdate.UpgradeMember) time.Duration {
		if c.Member == "dev-1" {
			calls++
		}
		if calls > 1 {
			return -1
		}
		return 0
	}
	_, err := forecast.Percentiles(exampleRun(), now, a, math.MaxInt, 1)
	assert.ErrorContains(t, err, `MemberDuration gave -1ns for member "dev-1"`)
}

// now in another zone is the same instant: the same forecast, to the byte,
// with every time in UTC as the run keeps them.
func TestNowInAnotherZoneIsTheSameForecast(t *testing.T) {
	a := plain
	a.NeverApprove, a.Horizon, a.P90Factor = true, 20*time.Hour, 2
	east := now.In(time.FixedZone("UTC+2", 2*60*60))
	utc, err := forecast.Run(exampleRun(), now, a)
	require.NoError(t, err)
	other, err := forecast.Run(exampleRun(), east, a)
	require.NoError(t, err)
	b1, err := json.Marshal(utc)
	require.NoError(t, err)
	b2, err := json.Marshal(other)
	require.NoError(t, err)
	assert.Equal(t, string(b1), string(b2))
	d1, err := forecast.Percentiles(exampleRun(), now, a, 5, 1)
	require.NoError(t, err)
	d2, err := forecast.Percentiles(exampleRun(), east, a, 5, 1)
	require.NoError(t, err)
	b1, err = json.Marshal(d1)
	require.NoError(t, err)
	b2, err = json.Marshal(d2)
	require.NoError(t, err)
	assert.Equal(t, string(b1), string(b2))
}
