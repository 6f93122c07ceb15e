package main

import (
	"os"
	"path/filepath"
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
	assert.Contains(t, out, "Members: 39 completed, 1 skipped, 0 failed, 0 pending, 0 not started.")
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
	assert.ErrorContains(t, run([]string{"-upgrade-type", "Everything"}, &b), `upgrade.type "Everything"`)
	assert.Error(t, run([]string{"-strategy", "/nonexistent.json"}, &b))
}

func TestUserFilesAreRead(t *testing.T) {
	dir := t.TempDir()
	strategy := filepath.Join(dir, "s.json")
	require.NoError(t, os.WriteFile(strategy, []byte(`{"stages":[{"name":"all","groups":[{"name":"canary"},{"name":"dev"}]}]}`), 0o600))
	out := simulate(t, "-strategy", strategy)
	assert.Contains(t, out, "Members: 7 completed", "only the groups the strategy names")
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
	assert.Contains(t, html, "prod-us / prod-us-03")
	assert.Contains(t, html, `fill="#dc2626"`, "the failure is marked")
	own := strings.ReplaceAll(html, `xmlns="http://www.w3.org/2000/svg"`, "")
	assert.NotContains(t, own, "http", "no external resources")
	s, err := os.ReadFile(svg)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(s), "<svg"))
}
