package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunPrintsWindowsAndOrder(t *testing.T) {
	var b strings.Builder
	// Saturday 2026-03-07 07:00Z: prod-eastus (Sat 01:00 -05:00 = 06:00Z, 8h) is open;
	// test-westeurope opens at 21:00Z (more than 4h away: closed); the first Sunday of
	// March 2026 was the 1st, so prod-japaneast next opens on 2026-04-04T17:00Z.
	require.NoError(t, run(&b, time.Date(2026, 3, 7, 7, 0, 0, 0, time.UTC)))
	out := b.String()
	assert.Contains(t, out, "prod-eastus      every 1 week(s) on Saturday at 01:00 -05:00 for 8h")
	assert.Contains(t, out, "Sat 2026-03-07 06:00 → Sat 2026-03-07 14:00")
	order := out[strings.Index(out, "Fleet pick order"):]
	assert.Regexp(t, `(?s)1\. prod-eastus\s+OpenNow.*2\. dev-eastus\s+NoWindow.*3\. test-westeurope\s+Closed.*4\. prod-uksouth\s+Closed.*5\. prod-japaneast\s+Closed`, order)
}
