package window

import (
	"strconv"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// The oracle decides openness minute by minute from the rules as written in
// the package doc, using the time package's calendar, and finds intervals by
// scanning. It shares no code with the implementation.

const oracleHorizonDays = 1200 // > the longest gap: day 31 every 5 months skips 5 months in a row

type oracle struct {
	s          Schedule
	off        int64 // minutes
	st, dur    int64 // minutes
	start      time.Time
	occCache   map[int64]bool
	blockCache map[int64]bool
}

func newOracle(s Schedule) *oracle {
	o := &oracle{s: s, occCache: map[int64]bool{}, blockCache: map[int64]bool{}}
	if s.UTCOffset != "" {
		h, _ := strconv.Atoi(s.UTCOffset[1:3])
		m, _ := strconv.Atoi(s.UTCOffset[4:6])
		o.off = int64(h*60 + m)
		if s.UTCOffset[0] == '-' {
			o.off = -o.off
		}
	}
	h, _ := strconv.Atoi(s.StartTime[0:2])
	m, _ := strconv.Atoi(s.StartTime[3:5])
	o.st = int64(h*60 + m)
	o.dur = int64(s.DurationHours * 60)
	o.start = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	if s.StartDate != "" {
		o.start, _ = time.Parse("2006-01-02", s.StartDate)
	}
	return o
}

func dateOf(day int64) time.Time { return time.Unix(day*86400, 0).UTC() }

func (o *oracle) blocked(day int64) bool {
	if v, ok := o.blockCache[day]; ok {
		return v
	}
	v := false
	d := dateOf(day)
	for _, sp := range o.s.NotAllowedDates {
		a, _ := time.Parse("2006-01-02", sp.Start)
		b, _ := time.Parse("2006-01-02", sp.End)
		if !d.Before(a) && !d.After(b) {
			v = true
		}
	}
	o.blockCache[day] = v
	return v
}

// daysBetween counts whole days from a to b, both UTC midnights. A
// time.Duration would overflow past 292 years.
func daysBetween(a, b time.Time) int { return int((b.Unix() - a.Unix()) / 86400) }

func (o *oracle) occurs(day int64) bool {
	if v, ok := o.occCache[day]; ok {
		return v
	}
	v := o.occursUncached(dateOf(day))
	o.occCache[day] = v
	return v
}

func monthsBetween(a, b time.Time) int {
	return (b.Year()-a.Year())*12 + int(b.Month()) - int(a.Month())
}

func (o *oracle) occursUncached(d time.Time) bool {
	if d.Before(o.start) {
		return false
	}
	r := o.s.Recurrence
	switch {
	case r.Daily != nil:
		return daysBetween(o.start, d)%r.Daily.IntervalDays == 0
	case r.Weekly != nil:
		if string(r.Weekly.DayOfWeek) != d.Weekday().String() {
			return false
		}
		anchor := o.start
		for anchor.Weekday().String() != string(r.Weekly.DayOfWeek) {
			anchor = anchor.AddDate(0, 0, 1)
		}
		return daysBetween(anchor, d)/7%r.Weekly.IntervalWeeks == 0
	case r.AbsoluteMonthly != nil:
		if d.Day() != r.AbsoluteMonthly.DayOfMonth {
			return false
		}
		return o.monthOK(d, r.AbsoluteMonthly.IntervalMonths, func(m time.Time) (time.Time, bool) {
			t := m.AddDate(0, 0, r.AbsoluteMonthly.DayOfMonth-1)
			return t, t.Month() == m.Month()
		})
	case r.RelativeMonthly != nil:
		target := func(m time.Time) (time.Time, bool) {
			var hits []time.Time
			for x := m; x.Month() == m.Month(); x = x.AddDate(0, 0, 1) {
				if x.Weekday().String() == string(r.RelativeMonthly.DayOfWeek) {
					hits = append(hits, x)
				}
			}
			switch r.RelativeMonthly.WeekIndex {
			case First:
				return hits[0], true
			case Second:
				return hits[1], true
			case Third:
				return hits[2], true
			case Fourth:
				return hits[3], true
			}
			return hits[len(hits)-1], true
		}
		t, _ := target(time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC))
		if !t.Equal(d) {
			return false
		}
		return o.monthOK(d, r.RelativeMonthly.IntervalMonths, target)
	}
	return false
}

// monthOK: d is a target day on or after start; is its month in the
// interval sequence that starts at the first month with a target on or after
// start?
func (o *oracle) monthOK(d time.Time, interval int, target func(time.Time) (time.Time, bool)) bool {
	m := time.Date(o.start.Year(), o.start.Month(), 1, 0, 0, 0, 0, time.UTC)
	for {
		if t, ok := target(m); ok && !t.Before(o.start) {
			break
		}
		m = m.AddDate(0, 1, 0)
	}
	n := monthsBetween(m, d)
	return n >= 0 && n%interval == 0
}

// open reports whether local-time minute lm (minutes since 1970-01-01 local)
// is open.
func (o *oracle) openLocal(lm int64) bool {
	day := floorDiv(lm, 1440)
	tod := lm - day*1440
	if o.blocked(day) {
		return false
	}
	if o.occurs(day) && tod >= o.st && tod < o.st+o.dur {
		return true
	}
	return o.occurs(day-1) && tod+1440 >= o.st && tod+1440 < o.st+o.dur
}

func (o *oracle) open(t time.Time) bool {
	return o.openLocal(floorDiv(t.Unix(), 60) + o.off)
}

// next scans minutes. unbounded means the scan hit the horizon while open.
func (o *oracle) next(t time.Time) (start, end int64, ok, unbounded bool) {
	lm := floorDiv(t.Unix(), 60) + o.off
	limit := int64(oracleHorizonDays * 1440)
	m := lm
	if o.openLocal(m) {
		for i := int64(0); i < limit && o.openLocal(m-1); i++ {
			m--
		}
	} else {
		i := int64(0)
		for ; i < limit && !o.openLocal(m); i++ {
			m++
		}
		if i == limit {
			return 0, 0, false, false
		}
	}
	e := max(m, lm)
	i := int64(0)
	for ; i < limit && o.openLocal(e); i++ {
		e++
	}
	return (m - o.off) * 60, (e - o.off) * 60, true, i == limit
}

func weekdayGen() *rapid.Generator[Weekday] { return rapid.SampledFrom(weekdays[:]) }

func dateGen(from, to time.Time) *rapid.Generator[string] {
	days := int(to.Sub(from).Hours() / 24)
	return rapid.Custom(func(t *rapid.T) string {
		return from.AddDate(0, 0, rapid.IntRange(0, days).Draw(t, "day")).Format("2006-01-02")
	})
}

// scheduleGen draws valid schedules concentrated on the edge cases: days
// 28–31, large intervals, offsets moving the date, long blocked spans.
// startDate and notAllowedDates fall between lo and hi.
func scheduleGen(lo, hi time.Time) *rapid.Generator[Schedule] {
	return rapid.Custom(func(t *rapid.T) Schedule {
		var s Schedule
		switch rapid.IntRange(0, 3).Draw(t, "kind") {
		case 0:
			s.Recurrence.Daily = &DailySchedule{IntervalDays: rapid.IntRange(1, 7).Draw(t, "intervalDays")}
		case 1:
			s.Recurrence.Weekly = &WeeklySchedule{IntervalWeeks: rapid.IntRange(1, 4).Draw(t, "intervalWeeks"), DayOfWeek: weekdayGen().Draw(t, "dow")}
		case 2:
			dom := rapid.OneOf(rapid.IntRange(1, 31), rapid.IntRange(28, 31)).Draw(t, "dom")
			s.Recurrence.AbsoluteMonthly = &AbsoluteMonthlySchedule{IntervalMonths: rapid.IntRange(1, 6).Draw(t, "intervalMonths"), DayOfMonth: dom}
		default:
			s.Recurrence.RelativeMonthly = &RelativeMonthlySchedule{
				IntervalMonths: rapid.IntRange(1, 6).Draw(t, "intervalMonths"),
				WeekIndex:      rapid.SampledFrom(weekIndexes[:]).Draw(t, "weekIndex"),
				DayOfWeek:      weekdayGen().Draw(t, "dow"),
			}
		}
		s.DurationHours = rapid.OneOf(rapid.IntRange(4, 24), rapid.Just(24)).Draw(t, "durationHours")
		if rapid.Bool().Draw(t, "hasOffset") {
			offMin := rapid.IntRange(-14*60, 14*60).Draw(t, "offset")
			sign := "+"
			if offMin < 0 {
				sign, offMin = "-", -offMin
			}
			s.UTCOffset = sign + twoDigits(offMin/60) + ":" + twoDigits(offMin%60)
		}
		minute := rapid.IntRange(0, 24*60-1).Draw(t, "startTime")
		s.StartTime = twoDigits(minute/60) + ":" + twoDigits(minute%60)
		if rapid.Bool().Draw(t, "hasStartDate") {
			s.StartDate = dateGen(lo, hi).Draw(t, "startDate")
		}
		for i := rapid.IntRange(0, 3).Draw(t, "blocks"); i > 0; i-- {
			a := dateGen(lo, hi).Draw(t, "blockStart")
			at, _ := time.Parse("2006-01-02", a)
			bt := at.AddDate(0, 0, rapid.IntRange(0, 40).Draw(t, "blockDays"))
			if bt.Year() > 9998 {
				bt = time.Date(9998, 12, 31, 0, 0, 0, 0, time.UTC) // the last date Validate accepts
			}
			b := bt.Format("2006-01-02")
			s.NotAllowedDates = append(s.NotAllowedDates, DateSpan{Start: a, End: b})
		}
		return s
	})
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

func TestNextMatchesMinuteScanOracle(t *testing.T) {
	checkAgainstOracle(t,
		time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
}

// "A startDate before 1970 works" (issue 8): day numbers are negative there,
// and without a startDate counting still starts at 1970-01-01.
func TestNextMatchesMinuteScanOracleAcrossTheEpoch(t *testing.T) {
	checkAgainstOracle(t,
		time.Date(1963, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1971, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(1963, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(1972, 1, 1, 0, 0, 0, 0, time.UTC))
}

// "RFC 3339 cannot represent years past 9999" (issue 8): near the end of the
// dates Validate accepts, Next agrees with the oracle, except that a window
// ending in year 10000 or later is reported as none.
func TestNextMatchesMinuteScanOracleNearYear10000(t *testing.T) {
	checkAgainstOracle(t,
		time.Date(9995, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(9998, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(9997, 1, 1, 0, 0, 0, 0, time.UTC), MaxTime.Add(-time.Second))
}

// checkAgainstOracle compares IsOpen and Next with the oracle for schedules
// whose dates fall in [dateLo, dateHi], at times in [atLo, atHi].
func checkAgainstOracle(t *testing.T, dateLo, dateHi, atLo, atHi time.Time) {
	lo, hi := atLo.Unix(), atHi.Unix()
	rapid.Check(t, func(t *rapid.T) {
		s := scheduleGen(dateLo, dateHi).Draw(t, "schedule")
		if err := s.Validate(); err != nil {
			t.Fatalf("generator made an invalid schedule: %v", err)
		}
		o := newOracle(s)
		at := time.Unix(rapid.Int64Range(lo, hi).Draw(t, "at"), rapid.Int64Range(0, 999_999_999).Draw(t, "nanos")).UTC()

		if got, want := s.IsOpen(at), o.open(at); got != want {
			t.Fatalf("IsOpen(%s) = %v, oracle says %v", at, got, want)
		}
		iv, ok := s.Next(at)
		ws, we, wok, unbounded := o.next(at)
		if !wok {
			if ok && iv.Start.Unix() < at.Unix()+oracleHorizonDays*86400 {
				t.Fatalf("Next(%s) = %v, oracle found nothing within the horizon", at, iv)
			}
			return
		}
		if !unbounded && we >= endOfTime {
			if ok {
				t.Fatalf("Next(%s) = %v, but the oracle's [%s, %s) ends past year 9999: want none", at, iv, time.Unix(ws, 0).UTC(), time.Unix(we, 0).UTC())
			}
			return
		}
		if !ok {
			t.Fatalf("Next(%s) = none, oracle found [%s, %s)", at, time.Unix(ws, 0).UTC(), time.Unix(we, 0).UTC())
		}
		if iv.Start.Unix() != ws {
			// The oracle's backward scan is capped too.
			if !(iv.Start.Unix() < ws && ws <= at.Unix()-oracleHorizonDays*86400+86400) {
				t.Fatalf("Next(%s).Start = %s, oracle %s", at, iv.Start, time.Unix(ws, 0).UTC())
			}
		}
		switch {
		case unbounded:
			if !iv.Unbounded() && iv.End.Unix() < we {
				t.Fatalf("Next(%s).End = %s, oracle open past %s", at, iv.End, time.Unix(we, 0).UTC())
			}
		case iv.Unbounded():
			t.Fatalf("Next(%s) is unbounded, oracle ends at %s", at, time.Unix(we, 0).UTC())
		case iv.End.Unix() != we:
			t.Fatalf("Next(%s).End = %s, oracle %s", at, iv.End, time.Unix(we, 0).UTC())
		}
		if iv.Start.Location() != time.UTC || (!iv.Unbounded() && iv.End.Location() != time.UTC) {
			t.Fatalf("interval not in UTC: %v", iv)
		}
	})
}
