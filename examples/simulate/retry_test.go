package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// section returns what follows the first line that starts with prefix.
func section(t *testing.T, out, prefix string) string {
	t.Helper()
	i := strings.Index(out, "\n"+prefix)
	require.GreaterOrEqual(t, i, 0, "no %q in:\n%s", prefix, out)
	return out[i+1:]
}

func TestRetryRetriesTheFailedMemberWithTheImagesTheRunChose(t *testing.T) {
	out := simulate(t, "-fail", "prod-eu-03", "-retry")
	first, retry, ok := strings.Cut(out, "\nRetry run ")
	require.True(t, ok, out)
	assert.Contains(t, first, "Run Failed after ")
	assert.Contains(t, first, "Consistent node images: AKSAzureLinux-V2gen2-202602.10.0, AKSUbuntu-2204gen2containerd-202602.10.0, AKSWindows-2022-containerd-20348.3320.260211")
	assert.True(t, strings.HasPrefix(retry, "simulation-retry-1 of simulation: 1 member(s), Full to Kubernetes 1.30.5, node images Custom AKSAzureLinux-V2gen2-202602.10.0, AKSUbuntu-2204gen2containerd-202602.10.0, AKSWindows-2022-containerd-20348.3320.260211\n"), retry)
	assert.Regexp(t, `production\s+prod-eu\s+prod-eu-03\s+d0 \S+\s+d0 \S+\s+Completed`, retry, "the second attempt succeeds")
	assert.Contains(t, retry, "Run Completed after ")
	assert.Contains(t, retry, "\nCustom node images: AKSAzureLinux-V2gen2-202602.10.0", "the summary names the selection the retry has")
	assert.Contains(t, retry, "Members: 1 completed, 0 skipped, 0 failed, 0 pending, 0 not started = 1 in the run.")
	assert.Equal(t, out, simulate(t, "-fail", "prod-eu-03", "-retry"), "deterministic")
}

func TestRetryUnfinishedTakesWhatTheFailedRunLeft(t *testing.T) {
	out := simulate(t, "-fail", "prod-eu-03", "-retry", "-retry-unfinished")
	assert.Contains(t, out, "Members: 21 completed, 1 skipped, 1 failed, 17 pending, 0 not started = 40 in the run.")
	retry := section(t, out, "Retry run ")
	assert.True(t, strings.HasPrefix(retry, "Retry run simulation-retry-1 of simulation: 18 member(s), Full to Kubernetes 1.30.5"), retry)
	assert.Contains(t, retry, "Members: 18 completed, 0 skipped, 0 failed, 0 pending, 0 not started = 18 in the run.")
	assert.NotContains(t, retry, "canary-01", "completed members are not retried")
}

func TestRetryOfACompletedRunSaysThereIsNothingToRetry(t *testing.T) {
	out := simulate(t, "-retry", "-retry-user-skipped")
	assert.Contains(t, out, "Members: 39 completed, 1 skipped, 0 failed, 0 pending, 0 not started = 40 in the run.", "the skipped member is already at target")
	assert.True(t, strings.HasSuffix(out, "\nRetry: nothing to retry in run simulation: no member failed or was skipped for a reason a retry can change.\n"), out)
}

func TestRetryFlagsAreChecked(t *testing.T) {
	var b strings.Builder
	for _, f := range []string{"-retry-user-skipped", "-retry-unfinished"} {
		err := run([]string{f}, &b)
		assert.ErrorContains(t, err, f+": only with -retry")
		assert.ErrorAs(t, err, new(usageError))
	}
	err := run([]string{"-retry", "-horizon", "1h"}, &b)
	assert.ErrorContains(t, err, `-retry: fleetupdate: not allowed now: run "simulation" is Running`)
	assert.ErrorContains(t, err, "a longer -horizon")
	assert.Equal(t, 2, realMain([]string{"-retry-unfinished"}, &b, &b))
	err = run([]string{"-retry", "-forecast", "run.json"}, &b)
	assert.ErrorContains(t, err, "-retry: not used with -forecast")
}
