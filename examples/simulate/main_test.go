package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func simulate(t *testing.T, args ...string) string {
	t.Helper()
	var b strings.Builder
	require.NoError(t, run(args, &b))
	return b.String()
}

func TestSampleRunCompletesWithTimelineAndSummary(t *testing.T) {
	out := simulate(t)
	assert.Contains(t, out, "STAGE       GROUP      MEMBER        START      END        STATE      MESSAGE")
	assert.Regexp(t, `canary\s+canary\s+canary-01\s+d0 00:00`, out, "the canary goes first, at the start")
	assert.Contains(t, out, "Run Completed after ")
	assert.Contains(t, out, "Members: 39 completed, 1 skipped, 0 failed, 0 pending, 0 not started = 40 in the run.")
	assert.Contains(t, out, "Consistent node images: AKSAzureLinux-V2gen2-202602.10.0, AKSUbuntu-2204gen2containerd-202602.10.0")
	assert.Equal(t, out, simulate(t), "same seed, same simulation")
}

func TestFailureInjectionFailsTheRun(t *testing.T) {
	out := simulate(t, "-fail", "prod-eu-03")
	assert.Contains(t, out, "Run Failed after ")
	assert.Contains(t, out, `Error: UpgradeFailed: member "prod-eu-03" failed: injected failure`)
	assert.Regexp(t, `prod-eu-03\s+\S+ \S+\s+\S+ \S+\s+Failed\s+UpgradeFailed: injected failure`, out)
}

func TestFlagsChangeTheRun(t *testing.T) {
	out := simulate(t, "-upgrade-type", "NodeImageOnly", "-node-image-selection", "Latest", "-seed", "3", "-fail-rate", "0")
	assert.Contains(t, out, "Run Completed")
	assert.NotContains(t, out, "Consistent node images")
	out = simulate(t, "-upgrade-type", "ControlPlaneOnly", "-kubernetes-version", "1.30.2")
	assert.Contains(t, out, "Run Completed")
	var b strings.Builder
	assert.ErrorContains(t, run([]string{"-upgrade-type", "Everything"}, &b), `-upgrade-type "Everything": want Full, ControlPlaneOnly or NodeImageOnly`)
	assert.Error(t, run([]string{"-strategy", "/nonexistent.json"}, &b))
}

func TestUserFilesAreRead(t *testing.T) {
	dir := t.TempDir()
	strategy := filepath.Join(dir, "s.json")
	require.NoError(t, os.WriteFile(strategy, []byte(`{"stages":[{"name":"all","groups":[{"name":"canary"},{"name":"dev"}]}]}`), 0o600))
	out := simulate(t, "-strategy", strategy)
	assert.Contains(t, out, "Members: 7 completed, 0 skipped, 0 failed, 0 pending, 0 not started = 7 in the run (and 33 not in it).", "only the groups the strategy names")
	assert.True(t, strings.HasPrefix(out, "Not in the run: 33 of the fleet's 40 members, which no group of the strategy selects:\n"), "reported before the run")
	assert.Contains(t, out, "\n  prod-eu-01 (group \"prod-eu\", labels env=prod,geo=eu)\n")
	require.NoError(t, os.WriteFile(strategy, []byte(`{"stages":[{"name":"all","groups":[{"name":"dev","colour":"blue"}]}]}`), 0o600))
	var b strings.Builder
	assert.ErrorContains(t, run([]string{"-strategy", strategy}, &b), `stages[0].groups[0]: unknown field "colour"`)
}

func TestChartsAreSelfContained(t *testing.T) {
	dir := t.TempDir()
	page, svg := filepath.Join(dir, "run.html"), filepath.Join(dir, "run.svg")
	out := simulate(t, "-html", page, "-svg", svg, "-fail", "prod-us-03")
	assert.Contains(t, out, "Chart written to "+page)
	b, err := os.ReadFile(page)
	require.NoError(t, err)
	html := string(b)
	assert.True(t, strings.HasPrefix(html, "<!DOCTYPE html>"))
	assert.Contains(t, html, "<svg")
	assert.Contains(t, html, ">prod-us-03</text>")
	assert.Contains(t, html, `fill="#dc2626"`, "the failure is marked")
	own := strings.ReplaceAll(html, `xmlns="http://www.w3.org/2000/svg"`, "")
	assert.NotContains(t, own, "http", "no external resources")
	s, err := os.ReadFile(svg)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(s), "<svg"))
}

func TestGatedSampleUsesGatesBudgetsAndSelectors(t *testing.T) {
	out := simulate(t, "-sample", "gated")
	assert.Contains(t, out, "Run Completed after ")
	assert.Contains(t, out, "Members: 39 completed, 1 skipped, 0 failed, 0 pending, 0 not started = 40 in the run.", "label selectors put every member in a group")
	assert.Regexp(t, `canary\s+canary\s+canary-01`, out, "a stage without groups is one group named after it")
	assert.Regexp(t, `staging\s+pre-prod\s+dev-01`, out, "dev and test selected by label into one group")
	assert.Contains(t, out, "\nGates:\n")
	assert.Contains(t, out, `d0 00:49  reached   Approval "canary looks healthy" after stage canary`)
	assert.Contains(t, out, `d0 00:49  approved  Approval "canary looks healthy" after stage canary`, "approved at once by default")
	assert.Contains(t, out, `reached   ScheduledStart "EU business hours" before group prod-eu, opens d1 05:00`)
	assert.Contains(t, out, `d1 05:00  opened    ScheduledStart "EU business hours" before group prod-eu`, "Tuesday 06:00 at +01:00")
	assert.Regexp(t, `prod-eu\s+prod-eu-02\s+d1 05:00`, out, "prod-eu waits for its scheduled start")
	assert.NotContains(t, out, "Gates not passed")

	// Within its failure budgets the run carries on.
	out = simulate(t, "-sample", "gated", "-fail", "prod-us-03")
	assert.Contains(t, out, "Run Completed after ")
	assert.Regexp(t, `prod-us-03\s+\S+ \S+\s+\S+ \S+\s+Failed`, out)
	// Over the group's budget (1 of prod-eu) it fails.
	out = simulate(t, "-sample", "gated", "-fail", "prod-eu-03,prod-eu-04")
	assert.Contains(t, out, "Run Failed after ")
}

func TestApproveFlagChoosesWhenGatesAreApproved(t *testing.T) {
	out := simulate(t, "-sample", "gated", "-approve", "after=2h")
	assert.Contains(t, out, `d0 02:49  approved  Approval "canary looks healthy" after stage canary`, "2h after it was reached")
	assert.Contains(t, out, "Run Completed after ")

	out = simulate(t, "-sample", "gated", "-approve", "never")
	assert.Contains(t, out, "Run Pending after ")
	assert.Contains(t, out, "Members: 2 completed, 0 skipped, 0 failed, 0 pending, 38 not started = 40 in the run.", "only the canaries, before the first gate")
	assert.Contains(t, out, "Gates not passed:\n  Approval \"canary looks healthy\" after stage canary: Pending since d0 00:49\n")
	assert.NotContains(t, out, "approved")

	a := simulate(t, "-sample", "gated", "-approve", "within=6h", "-seed", "5")
	assert.Contains(t, a, "Run Completed after ")
	assert.Equal(t, a, simulate(t, "-sample", "gated", "-approve", "within=6h", "-seed", "5"), "the random delays come from the seed")

	var b strings.Builder
	for _, bad := range []string{"sometimes", "after=soon", "after=-1h", "within="} {
		assert.ErrorContains(t, run([]string{"-approve", bad}, &b), "-approve "+`"`+bad+`"`, bad)
	}
	assert.ErrorContains(t, run([]string{"-sample", "fancy"}, &b), `-sample "fancy": want basic or gated`)
}

func TestChartMarksGates(t *testing.T) {
	svg := filepath.Join(t.TempDir(), "run.svg")
	simulate(t, "-sample", "gated", "-approve", "never", "-svg", svg)
	b, err := os.ReadFile(svg)
	require.NoError(t, err)
	s := string(b)
	assert.Contains(t, s, `<title>Approval &#34;canary looks healthy&#34; after stage canary reached at d0 00:49</title>`)
	assert.NotContains(t, s, "passed at", "never approved")

	simulate(t, "-sample", "gated", "-svg", svg)
	b, err = os.ReadFile(svg)
	require.NoError(t, err)
	s = string(b)
	assert.Contains(t, s, `<title>ScheduledStart &#34;EU business hours&#34; before group prod-eu passed at d1 05:00</title>`)
	assert.Contains(t, s, "gate reached</text>")
	assert.Contains(t, s, "gate passed</text>")
}

func TestHelpExitsZero(t *testing.T) {
	var out, errOut strings.Builder
	assert.Equal(t, 0, realMain([]string{"-h"}, &out, &errOut))
	assert.Contains(t, out.String(), "-approve")
	assert.Empty(t, errOut.String())
	assert.Equal(t, 2, realMain([]string{"-nosuchflag"}, &out, &errOut))
	assert.Equal(t, 1, realMain([]string{"-strategy", "/nonexistent.json"}, &out, &errOut))
	assert.Contains(t, errOut.String(), "simulate: ")
}

func TestEveryFlagIsValidated(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-fail", "nosuchmember"}, `-fail "nosuchmember": the fleet has no member of that name`},
		{[]string{"-fail", " , "}, `-fail " , ": want comma-separated member names`},
		{[]string{"-fail-rate", "1.5"}, "-fail-rate 1.5: want a chance from 0 to 1"},
		{[]string{"-fail-rate", "-1"}, "-fail-rate -1: want a chance from 0 to 1"},
		{[]string{"-fail-rate", "NaN"}, "-fail-rate NaN: want a chance from 0 to 1"},
		{[]string{"-upgrade-type", "ControlPlaneOnly", "-node-image-selection", "Latest"}, "-node-image-selection Latest: a ControlPlaneOnly upgrade changes no node images"},
		{[]string{"-upgrade-type", "NodeImageOnly", "-kubernetes-version", "1.30"}, "-kubernetes-version 1.30: a NodeImageOnly upgrade has no Kubernetes version"},
		{[]string{"-node-image-selection", "Newest"}, `-node-image-selection "Newest": want Latest or Consistent`},
		{[]string{"-duration", "0s"}, "-duration 0s: want a positive duration"},
		{[]string{"-jitter", "-1m"}, "-jitter -1m0s: want from 0 to -duration (45m0s)"},
		{[]string{"-jitter", "1h"}, "-jitter 1h0m0s: want from 0 to -duration (45m0s)"},
		{[]string{"-horizon", "-1h"}, "-horizon -1h0m0s: want a positive duration"},
		{[]string{"-upgrade-type", "Everything"}, `-upgrade-type "Everything": want Full, ControlPlaneOnly or NodeImageOnly`},
		{[]string{"-kubernetes-version", "garbage"}, `-kubernetes-version "garbage": want a version such as 1.30 or 1.30.5`},
		{[]string{"-upgrade-type", "ControlPlaneOnly", "-kubernetes-version", ""}, `-kubernetes-version "": want a version`},
		{[]string{"-start", "yesterday"}, "-start: "},
		{[]string{"extra"}, `unexpected arguments ["extra"]`},
	} {
		var out, errOut strings.Builder
		assert.Equal(t, 2, realMain(c.args, &out, &errOut), "%v", c.args)
		assert.Contains(t, errOut.String(), c.want, "%v", c.args)
	}
	dir := t.TempDir()
	strategy := filepath.Join(dir, "s.json")
	require.NoError(t, os.WriteFile(strategy, []byte(`{"stages":[{"name":"all","groups":[{"name":"dev"}]}]}`), 0o600))
	var b strings.Builder
	assert.ErrorContains(t, run([]string{"-strategy", strategy, "-fail", "dev-01,prod-eu-03"}, &b), `-fail "prod-eu-03": the member is in no group of the strategy, so not in the run`)
	// Defaults that do not apply are not errors.
	assert.Contains(t, simulate(t, "-duration", "6m"), "Run Completed", "the default -jitter shrinks with a short -duration")
	assert.Contains(t, simulate(t, "-upgrade-type", "ControlPlaneOnly"), "Run Completed")
	assert.Contains(t, simulate(t, "-upgrade-type", "NodeImageOnly"), "Run Completed")
}

func TestJSONErrorsSayWhere(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.json")
	try := func(flag, body string) error {
		require.NoError(t, os.WriteFile(file, []byte(body), 0o600))
		var b strings.Builder
		return run([]string{flag, file}, &b)
	}
	assert.ErrorContains(t, try("-strategy", "{\n  \"stages\": [\n"), "strategy: line 2, column 14: unexpected end of JSON input")
	assert.ErrorContains(t, try("-strategy", "{\n  \"stages\": [}\n"), "strategy: line 2, column 14: invalid character '}'")
	assert.ErrorContains(t, try("-fleet", "{\"regions\": [\"eastus\"],\n \"members\": 7}"), "fleet: line 2, column 13: json: cannot unmarshal number")
	assert.ErrorContains(t, try("-fleet", `{"regions": []} {}`), "fleet: line 1, column 17: data after the JSON value")
	assert.ErrorContains(t, try("-fleet", ""), "fleet: line 1, column 1: unexpected end of JSON input")
}

func TestFleetFileIsStrict(t *testing.T) {
	dir := t.TempDir()
	fleet := filepath.Join(dir, "fleet.json")
	require.NoError(t, os.WriteFile(fleet, []byte(`{"regions":["eastus"],"kubernetesVersions":["1.30.5"],"nodeImages":[],"members":[{"name":"a","group":"canary","region":"eastus","kubernetesVersion":"1.29.4","colour":"blue"}]}`), 0o600))
	var b strings.Builder
	assert.ErrorContains(t, run([]string{"-fleet", fleet}, &b), `fleet: json: unknown field "colour"`)
	require.NoError(t, os.WriteFile(fleet, []byte(`{"regions":["eastus"],"kubernetesVersions":["1.30.5"],"nodeImages":[],"rolloutDays":3}`), 0o600))
	assert.ErrorContains(t, run([]string{"-fleet", fleet}, &b), `fleet: json: unknown field "rolloutDays"`)
}

func TestSummaryCountsEveryStateAndAddsUp(t *testing.T) {
	out := simulate(t, "-horizon", "1h")
	assert.Contains(t, out, "Run Running after ")
	assert.Contains(t, out, "Members: 1 completed, 0 skipped, 0 failed, 1 running, 0 pending, 38 not started = 40 in the run.")
	for _, args := range [][]string{{"-horizon", "100h", "-fail", "dev-02"}, {"-horizon", "20h", "-fail-rate", "0.3"}, {"-sample", "gated", "-approve", "never"}} {
		out = simulate(t, args...)
		line := regexp.MustCompile(`Members: (.*) = (\d+) in the run`).FindStringSubmatch(out)
		require.NotNil(t, line, "%v", args)
		sum := 0
		for _, n := range regexp.MustCompile(`(\d+) [a-z ]+`).FindAllStringSubmatch(line[1], -1) {
			v, _ := strconv.Atoi(n[1])
			sum += v
		}
		assert.Equal(t, line[2], strconv.Itoa(sum), "%v: %s", args, line[0])
		assert.Equal(t, "40", line[2], "%v", args)
	}
}

func TestMessagesAreWrappedNotCut(t *testing.T) {
	out := simulate(t)
	assert.NotContains(t, out, "...")
	// prod-us-03's message names the pool and the version at its end.
	assert.Regexp(t, `prod-us-03 .*Skipped upgrade of following agent pool\(s\): current node image version\n\s+"AKSUbuntu-2204gen2containerd-`, out)
	assert.Equal(t, []string{"a b", "c"}, wrap("a b c", 3))
	assert.Equal(t, []string{"a", "longword", "b"}, wrap("a longword b", 3))
	assert.Equal(t, []string{""}, wrap("", 3))
}
