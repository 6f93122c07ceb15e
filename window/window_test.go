package window

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

func weekly(day Weekday, interval int, start string, hours int) Schedule {
	return Schedule{Recurrence: Recurrence{Weekly: &WeeklySchedule{IntervalWeeks: interval, DayOfWeek: day}}, StartTime: start, DurationHours: hours}
}

func daily(interval int, start string, hours int) Schedule {
	return Schedule{Recurrence: Recurrence{Daily: &DailySchedule{IntervalDays: interval}}, StartTime: start, DurationHours: hours}
}

func absMonthly(interval, day int, start string, hours int) Schedule {
	return Schedule{Recurrence: Recurrence{AbsoluteMonthly: &AbsoluteMonthlySchedule{IntervalMonths: interval, DayOfMonth: day}}, StartTime: start, DurationHours: hours}
}

func relMonthly(interval int, idx WeekIndex, day Weekday, start string, hours int) Schedule {
	return Schedule{Recurrence: Recurrence{RelativeMonthly: &RelativeMonthlySchedule{IntervalMonths: interval, WeekIndex: idx, DayOfWeek: day}}, StartTime: start, DurationHours: hours}
}

type nextCase struct {
	name       string
	s          Schedule
	at         string
	start, end string // "" end: unbounded
}

func runNext(t *testing.T, cases []nextCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.NoError(t, c.s.Validate())
			iv, ok := c.s.Next(utc(c.at))
			require.True(t, ok)
			assert.Equal(t, utc(c.start), iv.Start, "start")
			if c.end == "" {
				assert.True(t, iv.Unbounded(), "want unbounded, got end %s", iv.End)
			} else {
				assert.Equal(t, utc(c.end), iv.End, "end")
			}
		})
	}
}

// "dayOfMonth 29–31 skips months that lack the day".
func TestDayOfMonthSkipsShortMonths(t *testing.T) {
	runNext(t, []nextCase{
		{"31st: Jan 31 then Mar 31, never Feb", absMonthly(1, 31, "02:00", 4), "2025-02-01 00:00", "2025-03-31 02:00", "2025-03-31 06:00"},
		{"30th skips Feb", absMonthly(1, 30, "02:00", 4), "2025-01-31 00:00", "2025-03-30 02:00", "2025-03-30 06:00"},
		{"29th skips Feb in a common year", absMonthly(1, 29, "02:00", 4), "2025-01-30 00:00", "2025-03-29 02:00", "2025-03-29 06:00"},
		{"29th opens Feb 29 in a leap year", absMonthly(1, 29, "02:00", 4), "2024-01-30 00:00", "2024-02-29 02:00", "2024-02-29 06:00"},
		{"31st every 2 months from Jan: Jan, Mar, May, Jul, (Sep, Nov skipped), Jan", absMonthly(2, 31, "00:00", 4), "2025-08-01 00:00", "2026-01-31 00:00", "2026-01-31 04:00"},
	})
}

// "weekIndex Last is the last such weekday of the month".
func TestWeekIndexLastInFourAndFiveWeekMonths(t *testing.T) {
	runNext(t, []nextCase{
		{"Feb 2025 has four Fridays: last is the 28th", relMonthly(1, Last, Friday, "10:00", 4), "2025-02-01 00:00", "2025-02-28 10:00", "2025-02-28 14:00"},
		{"Aug 2025 has five Fridays: last is the 29th", relMonthly(1, Last, Friday, "10:00", 4), "2025-08-01 00:00", "2025-08-29 10:00", "2025-08-29 14:00"},
		{"Fourth Friday of Aug 2025 is the 22nd", relMonthly(1, Fourth, Friday, "10:00", 4), "2025-08-01 00:00", "2025-08-22 10:00", "2025-08-22 14:00"},
		{"First Monday of Sep 2025 is the 1st", relMonthly(1, First, Monday, "10:00", 4), "2025-08-31 00:00", "2025-09-01 10:00", "2025-09-01 14:00"},
	})
}

// "weekday / day-of-month taken on the local (offset) date".
func TestOffsetMovesTheUTCDate(t *testing.T) {
	plus := weekly(Monday, 1, "01:00", 4)
	plus.UTCOffset = "+05:00" // Monday 01:00 local is Sunday 20:00 UTC
	minus := weekly(Saturday, 1, "22:00", 4)
	minus.UTCOffset = "-05:00" // Saturday 22:00 local is Sunday 03:00 UTC
	half := absMonthly(1, 1, "00:30", 4)
	half.UTCOffset = "+05:30" // the 1st at 00:30 local is the last day of the previous month, 19:00 UTC
	runNext(t, []nextCase{
		{"positive offset: local Monday starts on UTC Sunday", plus, "2026-03-01 00:00", "2026-03-01 20:00", "2026-03-02 00:00"},
		{"negative offset: local Saturday starts on UTC Sunday", minus, "2026-03-01 00:00", "2026-03-01 03:00", "2026-03-01 07:00"},
		{"half-hour offset: the 1st local starts the day before in UTC", half, "2026-03-15 00:00", "2026-03-31 19:00", "2026-03-31 23:00"},
	})
	assert.True(t, plus.IsOpen(utc("2026-03-01 21:00")), "open on UTC Sunday")
	assert.False(t, plus.IsOpen(utc("2026-03-02 01:00")), "closed at 01:00 UTC Monday")
}

// "fixed UTC offset, never DST": a -08:00 window opens at the same UTC time in
// January and in July, although US Pacific time shifts by an hour between them.
func TestFixedOffsetNeverFollowsDaylightSaving(t *testing.T) {
	s := daily(1, "22:00", 4)
	s.UTCOffset = "-08:00"
	runNext(t, []nextCase{
		{"winter", s, "2026-01-15 12:00", "2026-01-16 06:00", "2026-01-16 10:00"},
		{"summer", s, "2026-07-15 12:00", "2026-07-16 06:00", "2026-07-16 10:00"},
	})
}

// "interval anchoring per the reference (weekly: the first dayOfWeek on or after startDate)".
func TestWeeklyIntervalCountsFromFirstDayOfWeekOnOrAfterStartDate(t *testing.T) {
	s := weekly(Monday, 2, "03:00", 4)
	s.StartDate = "2026-01-07" // a Wednesday: Monday 2026-01-05 of that week is skipped
	runNext(t, []nextCase{
		{"first window is the following Monday", s, "2026-01-01 00:00", "2026-01-12 03:00", "2026-01-12 07:00"},
		{"then every two weeks, not the week after", s, "2026-01-12 08:00", "2026-01-26 03:00", "2026-01-26 07:00"},
	})
	s.StartDate = "2026-01-05" // the Monday itself counts
	runNext(t, []nextCase{{"startDate on the day itself", s, "2026-01-01 00:00", "2026-01-05 03:00", "2026-01-05 07:00"}})
}

// "daily and monthly: state your rule" — daily counts from startDate, monthly
// from the first month whose target day is on or after startDate.
func TestDailyAndMonthlyIntervalsCountFromStartDate(t *testing.T) {
	d := daily(3, "04:00", 4)
	d.StartDate = "2026-05-02"
	m := absMonthly(3, 15, "04:00", 4)
	m.StartDate = "2026-05-20" // May 15 is before startDate: June is the first month
	r := relMonthly(2, First, Tuesday, "04:00", 4)
	r.StartDate = "2026-09-02" // first Tuesday of Sep 2026 is the 1st: October starts
	runNext(t, []nextCase{
		{"daily every 3 days from startDate", d, "2026-05-03 00:00", "2026-05-05 04:00", "2026-05-05 08:00"},
		{"monthly starts at the first target on or after startDate", m, "2026-05-01 00:00", "2026-06-15 04:00", "2026-06-15 08:00"},
		{"then every 3 months", m, "2026-06-16 00:00", "2026-09-15 04:00", "2026-09-15 08:00"},
		{"relative monthly anchor month", r, "2026-08-01 00:00", "2026-10-06 04:00", "2026-10-06 08:00"},
		{"relative monthly every 2 months", r, "2026-10-07 00:00", "2026-12-01 04:00", "2026-12-01 08:00"},
	})
}

// "with no startDate, state your anchor": 1970-01-01.
func TestNoStartDateAnchorsAt1970(t *testing.T) {
	// 1970-01-01 is a Thursday: every-2-weeks Thursdays are days 0, 14, 28 … after it.
	s := weekly(Thursday, 2, "00:00", 4)
	// 2026-01-01 is day 20454 = 14·1461: a counted Thursday.
	runNext(t, []nextCase{
		{"counted Thursday", s, "2025-12-31 00:00", "2026-01-01 00:00", "2026-01-01 04:00"},
		{"the next counted one is two weeks later", s, "2026-01-02 00:00", "2026-01-15 00:00", "2026-01-15 04:00"},
	})
}

// "A startDate before 1970 works" (issue 8): intervals count from a startDate
// before the Unix epoch, before it and across it.
func TestStartDateBefore1970AnchorsIntervals(t *testing.T) {
	d := daily(3, "04:00", 4)
	d.StartDate = "1965-03-01" // 1970-01-01 is 1,767 = 3·589 days later: a window day
	w := weekly(Monday, 2, "04:00", 4)
	w.StartDate = "1965-03-03" // a Wednesday: counting starts Monday 1965-03-08
	m := absMonthly(5, 15, "04:00", 4)
	m.StartDate = "1965-03-20" // March 15 is before it: April 1965 is the first month
	r := relMonthly(2, First, Monday, "04:00", 4)
	r.StartDate = "1965-03-01" // itself the first Monday of March 1965
	runNext(t, []nextCase{
		{"daily: startDate is the first window", d, "1965-01-01 00:00", "1965-03-01 04:00", "1965-03-01 08:00"},
		{"daily: every 3 days from startDate", d, "1965-03-05 00:00", "1965-03-07 04:00", "1965-03-07 08:00"},
		{"daily: across the epoch", d, "1969-12-31 09:00", "1970-01-01 04:00", "1970-01-01 08:00"},
		{"daily: after the epoch", d, "1970-01-02 00:00", "1970-01-04 04:00", "1970-01-04 08:00"},
		{"weekly: first Monday on or after startDate, then every 2 weeks", w, "1965-03-09 00:00", "1965-03-22 04:00", "1965-03-22 08:00"},
		{"absoluteMonthly: first target on or after startDate", m, "1965-03-01 00:00", "1965-04-15 04:00", "1965-04-15 08:00"},
		{"absoluteMonthly: then every 5 months", m, "1965-04-16 00:00", "1965-09-15 04:00", "1965-09-15 08:00"},
		{"absoluteMonthly: across the epoch (Nov 1969 + 5 months)", m, "1969-12-01 00:00", "1970-04-15 04:00", "1970-04-15 08:00"},
		{"relativeMonthly: every 2 months from March 1965", r, "1965-03-02 00:00", "1965-05-03 04:00", "1965-05-03 08:00"},
	})
	assert.True(t, d.IsOpen(utc("1965-03-04 05:00")))
	assert.False(t, d.IsOpen(utc("1965-03-05 05:00")))
}

// "startDate in the future means inactive until then".
func TestFutureStartDateIsInactiveUntilThen(t *testing.T) {
	s := daily(1, "02:00", 4)
	s.StartDate = "2027-03-01"
	assert.False(t, s.IsOpen(utc("2026-06-01 03:00")))
	runNext(t, []nextCase{{"opens on startDate", s, "2026-06-01 03:00", "2027-03-01 02:00", "2027-03-01 06:00"}})
	// A window starting the day before startDate does not exist, even though it
	// would reach into startDate.
	late := daily(1, "22:00", 8)
	late.StartDate = "2027-03-01"
	assert.False(t, late.IsOpen(utc("2027-03-01 01:00")))
}

// "notAllowedDates are whole local days, inclusive, and an interval overlapping them is clipped".
func TestNotAllowedDatesClipWindows(t *testing.T) {
	s := daily(1, "22:00", 8) // 22:00–06:00 every night
	s.NotAllowedDates = []DateSpan{{Start: "2026-03-11", End: "2026-03-11"}}
	runNext(t, []nextCase{
		{"head kept, tail after midnight clipped", s, "2026-03-10 12:00", "2026-03-10 22:00", "2026-03-11 00:00"},
		{"blocked day's own window loses its head", s, "2026-03-11 01:00", "2026-03-12 00:00", "2026-03-12 06:00"},
	})
	assert.False(t, s.IsOpen(utc("2026-03-11 02:00")))
	assert.False(t, s.IsOpen(utc("2026-03-11 23:00")))
	long := s
	long.NotAllowedDates = []DateSpan{{Start: "2026-03-11", End: "2026-03-13"}}
	runNext(t, []nextCase{
		{"a window starting on a span's last day keeps what follows the span", long, "2026-03-11 01:00", "2026-03-14 00:00", "2026-03-14 06:00"},
	})

	off := daily(1, "02:00", 4)
	off.UTCOffset = "+02:00"
	// AKS's own example: 2022-12-23..2023-01-03 at +02:00 blocks 2022-12-22 22:00Z to 2023-01-03 22:00Z.
	off.NotAllowedDates = []DateSpan{{Start: "2022-12-23", End: "2023-01-03"}}
	runNext(t, []nextCase{{"inclusive span at an offset", off, "2022-12-22 12:00", "2023-01-04 00:00", "2023-01-04 04:00"}})
}

// "windows that cross midnight or span 24 h".
func TestWindowsCrossMidnight(t *testing.T) {
	s := weekly(Friday, 1, "23:00", 6)
	assert.True(t, s.IsOpen(utc("2026-03-07 04:59")), "Saturday early morning is inside Friday's window")
	assert.False(t, s.IsOpen(utc("2026-03-07 05:00")), "end is exclusive")
	assert.True(t, s.IsOpen(utc("2026-03-06 23:00")), "start is inclusive")
	runNext(t, []nextCase{{"containing window starts the day before", s, "2026-03-07 03:00", "2026-03-06 23:00", "2026-03-07 05:00"}})
}

// "windows longer than their period (daily, 24 h) merge into continuous open time".
func TestDailyTwentyFourHourWindowsMerge(t *testing.T) {
	s := daily(1, "06:00", 24)
	s.StartDate = "2026-01-01"
	runNext(t, []nextCase{
		{"open forever from the first window", s, "2026-02-10 03:00", "2026-01-01 06:00", ""},
		{"before startDate: next is the first window", s, "2025-12-01 00:00", "2026-01-01 06:00", ""},
	})
	s.NotAllowedDates = []DateSpan{{Start: "2026-03-01", End: "2026-03-02"}}
	runNext(t, []nextCase{
		{"a blocked span breaks the run", s, "2026-02-10 03:00", "2026-01-01 06:00", "2026-03-01 00:00"},
		{"and it resumes after", s, "2026-03-01 12:00", "2026-03-03 00:00", ""},
	})
	every2 := daily(2, "06:00", 24) // touches nothing: a day's gap between windows
	runNext(t, []nextCase{{"every other day does not merge", every2, "1970-01-01 07:00", "1970-01-01 06:00", "1970-01-02 06:00"}})
}

func TestNextIsConstantCostOverLongGaps(t *testing.T) {
	// Every 6 months on the 31st from August: Feb never has it, so windows are a year apart.
	s := absMonthly(6, 31, "00:00", 4)
	s.StartDate = "2026-08-01"
	runNext(t, []nextCase{{"a year-long gap", s, "2026-09-01 00:00", "2027-08-31 00:00", "2027-08-31 04:00"}})
	allocs := testing.AllocsPerRun(100, func() { s.Next(utc("2026-09-01 00:00")) })
	assert.Zero(t, allocs, "Next must not allocate without notAllowedDates")
}

func TestValidateNamesFieldAndValue(t *testing.T) {
	base := weekly(Saturday, 1, "02:00", 4)
	cases := []struct {
		name string
		mut  func(*Schedule)
		want string
	}{
		{"no kind", func(s *Schedule) { s.Recurrence = Recurrence{} }, "schedule"},
		{"two kinds", func(s *Schedule) { s.Recurrence.Daily = &DailySchedule{IntervalDays: 1} }, "exactly one"},
		{"intervalDays", func(s *Schedule) { s.Recurrence = Recurrence{Daily: &DailySchedule{IntervalDays: 8}} }, "schedule.daily.intervalDays 8"},
		{"intervalWeeks", func(s *Schedule) { s.Recurrence.Weekly.IntervalWeeks = 5 }, "schedule.weekly.intervalWeeks 5"},
		{"dayOfWeek", func(s *Schedule) { s.Recurrence.Weekly.DayOfWeek = "saturday" }, `schedule.weekly.dayOfWeek "saturday"`},
		{"intervalMonths", func(s *Schedule) {
			s.Recurrence = Recurrence{AbsoluteMonthly: &AbsoluteMonthlySchedule{IntervalMonths: 7, DayOfMonth: 1}}
		}, "schedule.absoluteMonthly.intervalMonths 7"},
		{"dayOfMonth", func(s *Schedule) {
			s.Recurrence = Recurrence{AbsoluteMonthly: &AbsoluteMonthlySchedule{IntervalMonths: 1, DayOfMonth: 32}}
		}, "schedule.absoluteMonthly.dayOfMonth 32"},
		{"weekIndex", func(s *Schedule) {
			s.Recurrence = Recurrence{RelativeMonthly: &RelativeMonthlySchedule{IntervalMonths: 1, WeekIndex: "Fifth", DayOfWeek: Monday}}
		}, `schedule.relativeMonthly.weekIndex "Fifth"`},
		{"durationHours low", func(s *Schedule) { s.DurationHours = 3 }, "durationHours 3"},
		{"durationHours high", func(s *Schedule) { s.DurationHours = 25 }, "durationHours 25"},
		{"utcOffset form", func(s *Schedule) { s.UTCOffset = "+5:00" }, `utcOffset "+5:00"`},
		{"utcOffset range", func(s *Schedule) { s.UTCOffset = "+15:00" }, `utcOffset "+15:00"`},
		{"startTime", func(s *Schedule) { s.StartTime = "24:00" }, `startTime "24:00"`},
		{"startDate", func(s *Schedule) { s.StartDate = "2026-02-30" }, `startDate "2026-02-30"`},
		{"notAllowedDates order", func(s *Schedule) { s.NotAllowedDates = []DateSpan{{"2026-03-02", "2026-03-01"}} }, "notAllowedDates[0]"},
		{"notAllowedDates form", func(s *Schedule) { s.NotAllowedDates = []DateSpan{{"2026-3-1", "2026-03-01"}} }, `notAllowedDates[0].start "2026-3-1"`},
		{"startDate after 9998", func(s *Schedule) { s.StartDate = "9999-01-01" }, `startDate "9999-01-01": must be on or before 9998-12-31`},
		{"startDate year 0", func(s *Schedule) { s.StartDate = "0000-12-31" }, `startDate "0000-12-31": must be on or after 0001-01-01`},
		{"startDate five-digit year", func(s *Schedule) { s.StartDate = "10000-01-01" }, `startDate "10000-01-01": must be a date`},
		{"startDate negative year", func(s *Schedule) { s.StartDate = "-001-01-01" }, `startDate "-001-01-01": must be a date`},
		{"notAllowedDates start after 9998", func(s *Schedule) { s.NotAllowedDates = []DateSpan{{"9999-06-01", "9998-12-31"}} }, `notAllowedDates[0].start "9999-06-01": must be on or before 9998-12-31`},
		{"notAllowedDates end after 9998", func(s *Schedule) { s.NotAllowedDates = []DateSpan{{"9998-12-31", "9999-01-01"}} }, `notAllowedDates[0].end "9999-01-01": must be on or before 9998-12-31`},
	}
	require.NoError(t, base.Validate())
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := base
			w := *base.Recurrence.Weekly
			s.Recurrence.Weekly = &w
			c.mut(&s)
			err := s.Validate()
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidSchedule)
			assert.Contains(t, err.Error(), c.want)
			assert.False(t, s.IsOpen(utc("2026-03-07 03:00")), "an invalid schedule is never open")
			_, ok := s.Next(utc("2026-03-07 03:00"))
			assert.False(t, ok)
		})
	}
}

func TestMaxTimeIsTheStartOf9999(t *testing.T) {
	assert.Equal(t, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), MaxTime)
	assert.Equal(t, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), int64(endOfTime))
	s := daily(1, "00:00", 4)
	s.StartDate = "9998-12-31"
	s.NotAllowedDates = []DateSpan{{"0001-01-01", "9998-12-30"}}
	require.NoError(t, s.Validate(), "the last accepted date")
}

// "RFC 3339 cannot represent years past 9999" (issue 8), the MaxTime claim:
// for a valid schedule and any t before MaxTime, Next returns an interval
// whose Start and End RFC 3339 can write, and finds it whenever the next
// window is less than a year away. For other times Next never returns such a
// time either.
func TestNextBeforeMaxTimeReturnsTimesRFC3339CanWrite(t *testing.T) {
	kinds := []struct {
		name  string
		s     Schedule
		found bool // Next before MaxTime always finds a window
	}{
		{"daily every 7 days", daily(7, "23:59", 24), true},
		{"daily continuous", daily(1, "00:00", 24), true},
		{"weekly every 4 weeks", weekly(Sunday, 4, "23:59", 24), true},
		{"absoluteMonthly every 6 months on the 28th", absMonthly(6, 28, "23:59", 24), true},
		{"absoluteMonthly every 6 months on the 31st", absMonthly(6, 31, "23:59", 24), false},
		{"absoluteMonthly every 5 months on the 31st", absMonthly(5, 31, "23:59", 24), false},
		{"relativeMonthly every 6 months on the last Saturday", relMonthly(6, Last, Saturday, "23:59", 24), true},
		{"relativeMonthly every 6 months on the first Sunday", relMonthly(6, First, Sunday, "00:00", 4), true},
	}
	ats := []time.Time{
		MaxTime.Add(-time.Nanosecond), MaxTime.Add(-time.Minute), MaxTime.Add(-24 * time.Hour), MaxTime.Add(-200 * 24 * time.Hour),
		MaxTime, MaxTime.Add(364 * 24 * time.Hour), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1_000_000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(1<<62, 0), time.Unix(-1<<62, 0), {}, time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(math.MaxInt64-62135596800, 0), time.Unix(math.MinInt64+1, 0), // the ends of time.Time's range
	}
	for _, k := range kinds {
		for _, off := range []string{"-14:00", "+14:00", ""} {
			for _, start := range []string{"", "9998-12-31", "9998-01-01", "0001-01-01"} {
				for _, blocked := range [][]DateSpan{nil, {{"9998-01-01", "9998-12-31"}}, {{"0001-01-01", "0001-01-01"}}} {
					s := k.s
					s.UTCOffset, s.StartDate, s.NotAllowedDates = off, start, blocked
					require.NoError(t, s.Validate(), s.String())
					for _, at := range ats {
						iv, ok := s.Next(at)
						if !ok {
							assert.False(t, k.found && at.Before(MaxTime), "%s: Next(%s) found nothing", s, at)
							continue
						}
						_, err := iv.Start.MarshalText()
						assert.NoError(t, err, "%s: Next(%s).Start", s, at)
						if !iv.Unbounded() {
							_, err = iv.End.MarshalText()
							assert.NoError(t, err, "%s: Next(%s).End", s, at)
							assert.True(t, iv.End.Year() < 10000 && iv.End.After(at) && iv.Start.Before(iv.End), "%s: Next(%s) = %v", s, at, iv)
						}
						assert.Equal(t, iv.Contains(at), s.IsOpen(at), "%s at %s", s, at)
					}
				}
			}
		}
	}

	// The 31st every 5 months from January 9998 skips to July 10000: none.
	s := absMonthly(5, 31, "00:00", 4)
	s.StartDate = "9998-01-01"
	iv, ok := s.Next(MaxTime.Add(-time.Nanosecond))
	assert.False(t, ok, "got %v", iv)
	iv, ok = s.Next(time.Date(9998, 1, 1, 0, 0, 0, 0, time.UTC))
	assert.True(t, ok)
	assert.Equal(t, time.Date(9998, 1, 31, 0, 0, 0, 0, time.UTC), iv.Start)
}

// The maintenanceWindow object as the AKS API returns it.
const aksJSON = `{
  "schedule": {"relativeMonthly": {"intervalMonths": 3, "weekIndex": "First", "dayOfWeek": "Monday"}},
  "durationHours": 10,
  "utcOffset": "+05:30",
  "startDate": "2023-01-01",
  "startTime": "08:30",
  "notAllowedDates": [{"start": "2023-02-18", "end": "2023-02-25"}, {"start": "2023-12-23", "end": "2024-01-05"}]
}`

func TestScheduleJSONRoundTripsAKSShape(t *testing.T) {
	var s Schedule
	require.NoError(t, json.Unmarshal([]byte(aksJSON), &s))
	require.NoError(t, s.Validate())
	assert.Equal(t, First, s.Recurrence.RelativeMonthly.WeekIndex)
	assert.Equal(t, "+05:30", s.UTCOffset)
	out, err := json.Marshal(s)
	require.NoError(t, err)
	assert.JSONEq(t, aksJSON, string(out))

	for _, kind := range []string{
		`{"daily": {"intervalDays": 2}}`,
		`{"weekly": {"intervalWeeks": 1, "dayOfWeek": "Sunday"}}`,
		`{"absoluteMonthly": {"intervalMonths": 1, "dayOfMonth": 31}}`,
	} {
		in := `{"schedule": ` + kind + `, "durationHours": 4, "startTime": "00:00"}`
		var s Schedule
		require.NoError(t, json.Unmarshal([]byte(in), &s), in)
		require.NoError(t, s.Validate())
		out, _ := json.Marshal(s)
		assert.JSONEq(t, in, string(out))
	}
}

// MaintenanceConfiguration.tsp: "durationHours ... default 24" (reference
// aks-windows-and-images.md §1.2; issue 9). Only JSON can omit a field, so
// only decoding applies the default.
func TestOmittedDurationHoursDefaultsTo24(t *testing.T) {
	for _, in := range []string{
		`{"schedule": {"weekly": {"intervalWeeks": 1, "dayOfWeek": "Sunday"}}, "startTime": "00:00"}`,
		`{"schedule": {"weekly": {"intervalWeeks": 1, "dayOfWeek": "Sunday"}}, "startTime": "00:00", "durationHours": null}`,
	} {
		var s Schedule
		require.NoError(t, json.Unmarshal([]byte(in), &s), in)
		assert.Equal(t, 24, s.DurationHours, in)
		require.NoError(t, s.Validate())
		iv, ok := s.Next(utc("2026-03-02 00:00"))
		require.True(t, ok)
		assert.Equal(t, utc("2026-03-08 00:00"), iv.Start)
		assert.Equal(t, utc("2026-03-09 00:00"), iv.End)

		out, err := json.Marshal(s)
		require.NoError(t, err)
		assert.Contains(t, string(out), `"durationHours":24`, "the default is written out")
		var back Schedule
		require.NoError(t, json.Unmarshal(out, &back))
		assert.Equal(t, s, back, "decode, encode, decode gives the same value")
	}

	var zero Schedule
	require.NoError(t, json.Unmarshal([]byte(`{"schedule": {"daily": {"intervalDays": 1}}, "startTime": "00:00", "durationHours": 0}`), &zero))
	assert.Equal(t, 0, zero.DurationHours, "an explicit 0 is not omitted")
	assert.ErrorContains(t, zero.Validate(), "durationHours 0: must be 4–24")

	literal := daily(1, "00:00", 0)
	assert.ErrorContains(t, literal.Validate(), "durationHours 0", "a Go value is not defaulted")
}

func TestUnmarshalRejectsLegacyAndUnknownFields(t *testing.T) {
	var s Schedule
	err := json.Unmarshal([]byte(`{"timeInWeek": [{"day": "Monday", "hourSlots": [1, 2]}]}`), &s)
	assert.ErrorIs(t, err, ErrLegacyForm)
	err = json.Unmarshal([]byte(`{"notAllowedTime": [{"start": "2021-05-25T13:00:00Z", "end": "2021-05-25T14:00:00Z"}]}`), &s)
	assert.ErrorIs(t, err, ErrLegacyForm)
	err = json.Unmarshal([]byte(`{"maintenanceWindow": {}}`), &s)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "pass its maintenanceWindow object")
	err = json.Unmarshal([]byte(`{"schedule": {"weekly": {"intervalWeeks": 1, "dayOfWeek": "Monday", "hours": 3}}, "durationHours": 4, "startTime": "00:00"}`), &s)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"hours"`)
	assert.False(t, errors.Is(err, ErrLegacyForm))
}

func TestSummary(t *testing.T) {
	s := weekly(Saturday, 1, "02:00", 4)
	assert.Equal(t, "every 1 week(s) on Saturday at 02:00 +00:00 for 4h", s.Summary())
}

func BenchmarkNext(b *testing.B) {
	far := absMonthly(6, 31, "00:00", 4)
	far.StartDate = "2026-08-01"
	blocked := weekly(Saturday, 1, "02:00", 4)
	blocked.NotAllowedDates = []DateSpan{{"2026-12-20", "2027-01-05"}, {"2026-11-26", "2026-11-27"}}
	for _, c := range []struct {
		name string
		s    Schedule
		at   time.Time
	}{
		{"weekly", weekly(Saturday, 1, "02:00", 4), utc("2026-03-01 00:00")},
		{"sixMonthGap", far, utc("2026-09-01 00:00")},
		{"notAllowedDates", blocked, utc("2026-12-19 00:00")},
		{"continuous", daily(1, "00:00", 24), utc("2026-12-19 00:00")},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.s.Next(c.at)
			}
		})
	}
}

func FuzzUnmarshalValidate(f *testing.F) {
	f.Add([]byte(aksJSON), int64(1700000000))
	f.Add([]byte(`{"schedule":{"daily":{"intervalDays":1}},"durationHours":24,"startTime":"00:00"}`), int64(0))
	f.Add([]byte(`{"schedule":{"absoluteMonthly":{"intervalMonths":5,"dayOfMonth":31}},"durationHours":4,"startTime":"23:59","utcOffset":"-14:00"}`), int64(-86400*400))
	f.Add([]byte(`{"timeInWeek":[]}`), int64(5))
	f.Add([]byte(`{"schedule":{"weekly":{"intervalWeeks":1,"dayOfWeek":"Sunday"}},"startTime":"00:00","notAllowedDates":[]}`), int64(0))
	f.Add([]byte(`{"schedule":{"absoluteMonthly":{"intervalMonths":5,"dayOfMonth":31}},"durationHours":24,"startTime":"23:59","utcOffset":"-14:00","startDate":"9998-01-01"}`), int64(253370764799))
	f.Fuzz(func(t *testing.T, data []byte, sec int64) {
		var s Schedule
		if json.Unmarshal(data, &s) != nil {
			return
		}
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back Schedule
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("re-unmarshal of %s: %v", out, err)
		}
		if !reflect.DeepEqual(s, back) {
			t.Fatalf("decode, encode, decode changed the value: %#v, then %#v", s, back)
		}
		at := time.Unix(sec%(1<<40), 0)
		open := s.IsOpen(at)
		iv, ok := s.Next(at)
		if s.Validate() != nil {
			if open || ok {
				t.Fatalf("invalid schedule %s answered open=%v next=%v", s, open, ok)
			}
			return
		}
		if ok && !iv.Unbounded() && !iv.Start.Before(iv.End) {
			t.Fatalf("empty interval %v for %s", iv, s)
		}
		if ok && !iv.Unbounded() && !iv.End.After(at) {
			t.Fatalf("interval %v ends before %s", iv, at)
		}
		if open != (ok && iv.Contains(at)) {
			t.Fatalf("IsOpen and Next disagree at %s for %s", at, s)
		}
		if ok {
			if _, err := iv.Start.MarshalText(); err != nil {
				t.Fatalf("Next(%s) for %s: start: %v", at, s, err)
			}
			if _, err := iv.End.MarshalText(); err != nil {
				t.Fatalf("Next(%s) for %s: end: %v", at, s, err)
			}
		}
	})
}
