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

func simulateArgs(t *testing.T, args ...string) string {
	t.Helper()
	var b strings.Builder
	require.NoError(t, run(args, &b))
	return b.String()
}

// memberDays reads how long members spent behind a profile's target.
func memberDays(t *testing.T, out, profile string) int {
	t.Helper()
	m := regexp.MustCompile(profile + `: .*; (\d+) member-days behind`).FindStringSubmatch(out)
	require.NotNil(t, m, out)
	n, _ := strconv.Atoi(m[1])
	return n
}

func TestSixMonthsWithCatchUpPrintEveryRunAndDrawTheChart(t *testing.T) {
	dir := t.TempDir()
	page, svg := filepath.Join(dir, "au.html"), filepath.Join(dir, "au.svg")
	out := simulateArgs(t, "-html", page, "-svg", svg)
	assert.Contains(t, out, "Auto-upgrade of 40 clusters from 2026-03-02 for 183 days, evaluated every 24h0m0s, with catch-up")
	assert.Regexp(t, `d0\s+stable\s+stable-1-30-4-[0-9a-f]{8}\s+Full 1.30.4\s+38\s`, out, "a profile created after a release acts at once")
	assert.Regexp(t, `d\d+\s+stable\s+stable-1-31-3-[0-9a-f]{8}\s+Full 1.31.3`, out, "and follows Stable to 1.31 once 1.32 is GA everywhere")
	assert.Regexp(t, `stable-1-30-4-[0-9a-f]{8}-\d+\s+Full 1.30.4\s+1\s+Failed d\d+\s+retry of prod-eu-04`, out, "the stopped cluster is retried alone")
	assert.Regexp(t, `node-image\s+node-image-nodes-[0-9a-f]{8}\s+NodeImageOnly`, out)
	assert.Regexp(t, `d0\s+stable\s+test-06\s+OutsideSupportWindow\s+Kubernetes 1.28.11 is outside AKS's support window \(1.29 to 1.31\)`, out)
	assert.Contains(t, out, "Chart written to "+page)
	assert.Equal(t, out, simulateArgs(t, "-html", page, "-svg", svg), "same seed, same simulation")

	b, err := os.ReadFile(page)
	require.NoError(t, err)
	html := string(b)
	assert.True(t, strings.HasPrefix(html, "<!DOCTYPE html>"))
	assert.Contains(t, html, "<svg")
	assert.Contains(t, html, "prod-eu-04 <tspan")
	assert.Contains(t, html, "1.32 GA")
	own := strings.ReplaceAll(html, `xmlns="http://www.w3.org/2000/svg"`, "")
	assert.NotContains(t, own, "http", "no external resources")
	s, err := os.ReadFile(svg)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(s), "<svg"))
}

// Azure/AKS#5741: without catch-up, members a failed run never reached wait for the next
// release, and some fall out of the support window.
func TestWithoutCatchUpMembersFallBehind(t *testing.T) {
	with := simulateArgs(t)
	without := simulateArgs(t, "-no-catch-up")
	assert.Contains(t, without, "without catch-up (Azure's event-driven auto-upgrade")
	assert.NotRegexp(t, `(?m)^d0\s+stable`, without, "a profile created after a release waits for the next one")
	assert.Less(t, 3*memberDays(t, with, "stable"), 2*memberDays(t, without, "stable"), "catch-up cuts time behind by a third or more")
	assert.Less(t, memberDays(t, with, "node-image"), memberDays(t, without, "node-image"))
}

func TestFlagsAreChecked(t *testing.T) {
	var b strings.Builder
	assert.Error(t, run([]string{"-days", "0"}, &b))
	assert.Error(t, run([]string{"extra"}, &b))
	assert.Error(t, run([]string{"-html", "/nonexistent/dir/x.html", "-days", "3"}, &b))
	out := simulateArgs(t, "-days", "10", "-every", "72h", "-fail-rate", "0")
	assert.Contains(t, out, "for 10 days, evaluated every 72h0m0s")
}
