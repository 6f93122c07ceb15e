package window

import (
	"testing"
	"time"
)

// blockedSaturdays is a weekly Saturday schedule with the first n Saturdays
// from 2026-01-03 blocked one date each, listed newest first (the worst order
// for a sort that expects sorted input) and never touching, so no two merge.
func blockedSaturdays(n int) Schedule {
	s := weekly(Saturday, 1, "02:00", 4)
	first := time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)
	for i := n - 1; i >= 0; i-- {
		d := first.AddDate(0, 0, 7*i).Format("2006-01-02")
		s.NotAllowedDates = append(s.NotAllowedDates, DateSpan{Start: d, End: d})
	}
	return s
}

// BenchmarkNextNotAllowedDates measures Next against many notAllowedDates.
//
//   - dates=N/skipped=0: N single-day blocks on Sundays; the next Saturday
//     window is free, so this is the cost of reading the dates.
//   - consecutive=N: each of the next N Saturday windows is blocked by its own
//     date, so Next skips N blocked occurrences in a row.
//   - touching=N: N consecutive days, each its own date; they merge into one
//     blocked span that a daily schedule skips in one step.
func BenchmarkNextNotAllowedDates(b *testing.B) {
	at := utc("2026-01-01 00:00")
	sundays := weekly(Saturday, 1, "02:00", 4)
	for i := 10_000 - 1; i >= 0; i-- {
		d := time.Date(2026, 1, 4, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 7*i).Format("2006-01-02")
		sundays.NotAllowedDates = append(sundays.NotAllowedDates, DateSpan{Start: d, End: d})
	}
	touching := daily(1, "02:00", 4)
	for i := range 10_000 {
		d := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i).Format("2006-01-02")
		touching.NotAllowedDates = append(touching.NotAllowedDates, DateSpan{Start: d, End: d})
	}
	cases := []struct {
		name string
		s    Schedule
	}{
		{"dates=10000/skipped=0", sundays},
		{"consecutive=1000", blockedSaturdays(1000)},
		{"consecutive=10000", blockedSaturdays(10_000)},
		{"touching=10000", touching},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			if _, ok := c.s.Next(at); !ok {
				b.Fatal("no window")
			}
			for b.Loop() {
				c.s.Next(at)
			}
		})
	}
}
