package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/forecast"
)

// saved simulates with args plus -save and returns the file's path.
func saved(t *testing.T, args ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run.json")
	out := simulate(t, append(args, "-save", path)...)
	assert.Contains(t, out, "Run saved to "+path+" (at ")
	return path
}

// With the simulation's durations fixed (-jitter 0), the forecast of a run
// cut after 30 hours ends when the whole simulation does.
func TestForecastOfASavedRunEndsWhenTheSimulationDoes(t *testing.T) {
	assert.Contains(t, simulate(t, "-jitter", "0"), "Run Completed after 34d10h45m0s of virtual time")
	path := saved(t, "-jitter", "0", "-horizon", "30h")
	out := simulate(t, "-forecast", path)
	assert.True(t, strings.HasPrefix(out, `Forecast of run "simulation" from d1 06:00 (2026-03-03T06:00:00Z), days and UTC clock since 2026-03-02T00:00:00Z; earlier times are the run's record.
Assumed: each upgrade takes 45m0s and succeeds; approval gates are approved when reached;`), out)
	assert.Contains(t, out, "STAGE       GROUP      MEMBER        START      FINISH     STATE      WHY NOT FINISHED\n(run)                                d0 00:00   d34 10:45  Completed")
	assert.Regexp(t, `production  prod-us    prod-us-02    d34 10:00  d34 10:45  Completed`, out)
	assert.Contains(t, out, "The run ends Completed at d34 10:45 (2026-04-05T10:45:00Z), 33d4h45m0s from now.")

	// The gated sample, cut while its first gate is approved two hours later.
	assert.Contains(t, simulate(t, "-sample", "gated", "-jitter", "0", "-approve", "after=2h"), "Run Completed after 34d10h45m0s")
	path = saved(t, "-sample", "gated", "-jitter", "0", "-approve", "after=2h", "-horizon", "2h")
	out = simulate(t, "-forecast", path, "-approve", "after=2h")
	assert.Contains(t, out, "The run ends Completed at d34 10:45 (2026-04-05T10:45:00Z)")
	out = simulate(t, "-forecast", path, "-approve", "never")
	assert.Contains(t, out, `The run does not finish: stage canary: approval gate "canary looks healthy" (simulation/canary/After/0) is never approved (assumed)`)
	assert.Regexp(t, `prod-us-10\s+-\s+-\s+NotStarted  stage canary: approval gate "canary looks healthy"`, out)
}

func TestForecastAsJSON(t *testing.T) {
	path := saved(t, "-horizon", "30h")
	out := simulate(t, "-forecast", path, "-json", "-horizon", "240h")
	var f forecast.Forecast
	require.NoError(t, json.Unmarshal([]byte(out), &f))
	assert.Equal(t, "simulation", f.Run)
	assert.Equal(t, "2026-03-03T06:00:00Z", f.From.Format("2006-01-02T15:04:05Z07:00"))
	assert.Equal(t, f.From.AddDate(0, 0, 10), f.Horizon)
	assert.Len(t, f.Rows, 1+3+6+40, "the run, 3 stages, 6 groups, 40 members")
	assert.Equal(t, fleetupdate.Pending, f.Rows[0].State, "it does not finish in 10 days: members wait for windows")
	assert.True(t, f.Rows[0].Finish.IsZero())
	assert.True(t, strings.HasPrefix(f.Rows[0].Why, "not by the horizon 2026-03-13T06:00:00Z"), f.Rows[0].Why)
	r, ok := f.Member("prod-us-02")
	require.True(t, ok)
	assert.Equal(t, "not by the horizon 2026-03-13T06:00:00Z: maintenance window is not open; next opening 2026-04-05T10:00:00Z", r.Why)
}

func TestForecastPercentiles(t *testing.T) {
	path := saved(t, "-horizon", "30h")
	out := simulate(t, "-forecast", path, "-duration", "45m", "-duration-p90", "2h", "-runs", "50")
	assert.Contains(t, out, "over 50 simulations (seed 1)")
	assert.Contains(t, out, "each upgrade takes 45m0s as a median, with a 90th percentile 2.67 times that (log-normal)")
	assert.Contains(t, out, "STAGE       GROUP      MEMBER        START p50  START p90  FINISH p50  FINISH p90  FINISHED\n")
	assert.Regexp(t, `\(run\)\s+d0 00:00\s+d0 00:00\s+d34 \d\d:\d\d\s+d34 \d\d:\d\d\s+50/50`, out)
	assert.Regexp(t, `The run ends by d34 \d\d:\d\d in half the simulations, by d34 \d\d:\d\d in nine of ten.`, out)
	assert.Equal(t, out, simulate(t, "-forecast", path, "-duration", "45m", "-duration-p90", "2h", "-runs", "50"), "seeded")
	assert.NotEqual(t, out, simulate(t, "-forecast", path, "-duration", "45m", "-duration-p90", "2h", "-runs", "50", "-seed", "2"))

	out = simulate(t, "-forecast", path, "-duration-p90", "2h", "-runs", "5", "-json")
	var d forecast.Distribution
	require.NoError(t, json.Unmarshal([]byte(out), &d))
	assert.Equal(t, 5, d.Simulations)
	assert.Equal(t, 5, d.Rows[0].Finished)

	gated := saved(t, "-sample", "gated", "-horizon", "2h")
	out = simulate(t, "-forecast", gated, "-duration-p90", "2h", "-runs", "5", "-approve", "never")
	assert.Contains(t, out, "The run does not finish by the horizon in half the simulations or more.")
}

func TestForecastFlagsAreValidated(t *testing.T) {
	path := saved(t, "-horizon", "2h")
	bad := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte("{\n  \"schemaVersion\": 2,\n  \"name\": }"), 0o600))
	null := filepath.Join(t.TempDir(), "null.json")
	require.NoError(t, os.WriteFile(null, []byte("null"), 0o600))
	for _, c := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"-json"}, "-json: only with -forecast", 2},
		{[]string{"-duration-p90", "1h"}, "-duration-p90: only with -forecast", 2},
		{[]string{"-runs", "5"}, "-runs: only with -forecast", 2},
		{[]string{"-forecast", ""}, "-forecast: want a file name", 2},
		{[]string{"-forecast", path, "-fail", "dev-01"}, "-fail: not used with -forecast", 2},
		{[]string{"-forecast", path, "-fail-rate", "0.1"}, "-fail-rate: not used with -forecast", 2},
		{[]string{"-forecast", path, "-strategy", "s.json"}, "-strategy: not used with -forecast", 2},
		{[]string{"-forecast", path, "-jitter", "1m"}, "-jitter: not used with -forecast", 2},
		{[]string{"-forecast", path, "-members", "400"}, "-members: not used with -forecast", 2},
		{[]string{"-forecast", path, "-html", "x.html"}, "-html: not used with -forecast", 2},
		{[]string{"-forecast", path, "-save", "x.json"}, "-save: not used with -forecast", 2},
		{[]string{"-forecast", path, "-duration-p90", "30m"}, "-duration-p90 30m0s: want more than -duration (45m0s), the median", 2},
		{[]string{"-forecast", path, "-runs", "5"}, "-runs: only with -duration-p90", 2},
		{[]string{"-forecast", path, "-duration-p90", "2h", "-runs", "0"}, "-runs 0: want from 1 to 10000", 2},
		{[]string{"-forecast", path, "-duration-p90", "2h", "-runs", "10001"}, "-runs 10001: want from 1 to 10000", 2},
		{[]string{"-forecast", path, "-approve", "within=2h"}, `-approve "within=2h": a forecast takes a fixed delay (after=DURATION), at-once or never`, 2},
		{[]string{"-forecast", path, "-approve", "soon"}, `-approve "soon": want at-once`, 2},
		{[]string{"-forecast", path, "-start", "2026-03-01T00:00:00Z"}, "-start 2026-03-01T00:00:00Z: the run's clock is already 2026-03-02T01:30:09Z; a forecast starts then or later", 2},
		{[]string{"-forecast", path, "-start", "soon"}, "-start: ", 2},
		{[]string{"-forecast", "/nonexistent.json"}, "no such file", 1},
		{[]string{"-forecast", bad}, "-forecast " + bad + ": line 3, column 11: invalid character '}'", 1},
		{[]string{"-forecast", null}, "the file holds no run (null)", 1},
	} {
		var out, errOut strings.Builder
		assert.Equal(t, c.code, realMain(c.args, &out, &errOut), "%v", c.args)
		assert.Contains(t, errOut.String(), c.want, "%v", c.args)
	}
	// A forecast from later than the run's clock.
	out := simulate(t, "-forecast", path, "-start", "2026-03-05T00:00:00Z")
	assert.Contains(t, out, "from d3 00:00 (2026-03-05T00:00:00Z)")
}

// A run that had ended before the forecast starts is not said to end some
// negative time from now.
func TestForecastOfAnEndedRun(t *testing.T) {
	path := saved(t, "-fail", "canary-01")
	for _, args := range [][]string{{}, {"-start", "2026-03-05T00:00:00Z"}, {"-start", "2026-03-05T00:00:00Z", "-duration-p90", "2h", "-runs", "3"}} {
		out := simulate(t, append([]string{"-forecast", path}, args...)...)
		assert.NotContains(t, out, "from now", "%v", args)
		assert.Regexp(t, `\nThe run had already ended (Failed )?at d0 00:40 \(2026-03-02T00:40:42Z\): a forecast adds nothing.\n$`, out, "%v", args)
	}
}

// A failed run is forecast as it stays, or, with -resume, as a user's
// Start would take it on: the failed member is tried again and succeeds.
func TestForecastResume(t *testing.T) {
	path := saved(t, "-fail", "canary-01", "-jitter", "0")
	assert.Contains(t, simulate(t, "-forecast", path), "The run had already ended Failed")
	out := simulate(t, "-forecast", path, "-resume")
	assert.Contains(t, out, "no user acts but to resume the run.")
	assert.Regexp(t, `canary\s+canary\s+canary-01\s+d0 00:45\s+d0 01:30\s+Completed`, out, "tried again at the forecast's start")
	assert.Contains(t, out, "The run ends Completed at d34 ")
	var errOut strings.Builder
	assert.Equal(t, 2, realMain([]string{"-resume"}, &strings.Builder{}, &errOut))
	assert.Contains(t, errOut.String(), "-resume: only with -forecast")
}
