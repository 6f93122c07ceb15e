package window

import (
	"testing"
	"time"
)

// The calendar arithmetic agrees with the time package on every day from
// 0001-01-01 to 10000-12-31, the range dates and windows can reach.
func TestCalendarArithmeticMatchesTimePackage(t *testing.T) {
	first := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix() / secondsPerDay
	last := time.Date(10000, 12, 31, 0, 0, 0, 0, time.UTC).Unix() / secondsPerDay
	for day := first; day <= last; day++ {
		wy, wm, wd := time.Unix(day*secondsPerDay, 0).UTC().Date()
		y, m, d := civil(day)
		if y != wy || m != int(wm) || d != wd {
			t.Fatalf("civil(%d) = %04d-%02d-%02d, want %s", day, y, m, d, time.Unix(day*secondsPerDay, 0).UTC().Format(time.DateOnly))
		}
		if got := dayNumber(y, m, d); got != day {
			t.Fatalf("dayNumber(%04d-%02d-%02d) = %d, want %d", y, m, d, got, day)
		}
		if d == 1 {
			if got, want := daysIn(y, m), time.Date(y, wm+1, 0, 0, 0, 0, 0, time.UTC).Day(); got != want {
				t.Fatalf("daysIn(%d, %d) = %d, want %d", y, m, got, want)
			}
		}
	}
}
