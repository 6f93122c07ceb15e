package window

import (
	"math"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// Compiled answers exactly what Schedule answers, in time.Time and in Unix
// seconds, for valid schedules and at any time, across the epoch and near
// year 10000 included.
func TestCompiledAgreesWithSchedule(t *testing.T) {
	lo := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)
	ranges := [][2]time.Time{
		{time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(1963, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1972, 1, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(9995, 6, 1, 0, 0, 0, 0, time.UTC), MaxTime.Add(-time.Second)},
	}
	rapid.Check(t, func(t *rapid.T) {
		rg := rapid.SampledFrom(ranges).Draw(t, "range")
		s := scheduleGen(rg[0], rg[1]).Draw(t, "schedule")
		c, err := s.Compile()
		if err != nil {
			t.Fatalf("Compile: %v", err)
		}
		at := time.Unix(rapid.Int64Range(lo.Unix(), MaxTime.Unix()).Draw(t, "far"), 0).UTC()
		if rapid.Bool().Draw(t, "near") {
			at = time.Unix(rapid.Int64Range(rg[0].Unix(), rg[1].Unix()).Draw(t, "at"), rapid.Int64Range(0, 999_999_999).Draw(t, "nanos")).UTC()
		}
		want, wok := s.Next(at)
		got, ok := c.Next(at)
		if ok != wok || got != want {
			t.Fatalf("Compiled.Next(%s) = %v, %v; Schedule.Next = %v, %v", at, got, ok, want, wok)
		}
		st, en, uok := c.NextUnix(at.Unix())
		if uok != wok {
			t.Fatalf("NextUnix(%d) ok = %v, want %v", at.Unix(), uok, wok)
		}
		if !wok {
			return
		}
		wantEnd := int64(math.MaxInt64)
		if !want.Unbounded() {
			wantEnd = want.End.Unix()
		}
		if st != want.Start.Unix() || en != wantEnd || want.Start.Nanosecond() != 0 || want.End.Nanosecond() != 0 {
			t.Fatalf("NextUnix(%d) = [%d, %d), want %v", at.Unix(), st, en, want)
		}
	})
}

func TestCompileFailsLikeValidate(t *testing.T) {
	bad := Schedule{StartTime: "25:00", DurationHours: 3}
	_, err := bad.Compile()
	if err == nil || err.Error() != bad.Validate().Error() {
		t.Fatalf("Compile: %v; Validate: %v", err, bad.Validate())
	}
}

// BenchmarkCompiledNext: Next without parsing the schedule each time.
func BenchmarkCompiledNext(b *testing.B) {
	at := utc("2026-03-04 12:00")
	for _, c := range []struct {
		name string
		s    Schedule
	}{{"weekly", weekly(Saturday, 1, "02:00", 4)}, {"daily", daily(1, "22:00", 4)}} {
		cs, err := c.s.Compile()
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name+"/time", func(b *testing.B) {
			for b.Loop() {
				cs.Next(at)
			}
		})
		b.Run(c.name+"/unix", func(b *testing.B) {
			u := at.Unix()
			for b.Loop() {
				cs.NextUnix(u)
			}
		})
	}
}
