package window

import (
	"math"
	"slices"
	"time"
)

const secondsPerDay = 86400

// Interval is one open period of a schedule: [Start, End) in UTC.
//
// End is the zero Time when the period never ends: a daily window with
// intervalDays 1 and durationHours 24 is continuously open, and with no
// notAllowedDates ahead it has no end.
type Interval struct {
	Start time.Time
	End   time.Time
}

// Unbounded reports whether the interval never ends.
func (i Interval) Unbounded() bool { return i.End.IsZero() }

// Contains reports whether t lies in [Start, End).
func (i Interval) Contains(t time.Time) bool {
	return !t.Before(i.Start) && (i.Unbounded() || t.Before(i.End))
}

// IsOpen reports whether a maintenance operation may start at t. It is false
// for an invalid schedule.
func (s Schedule) IsOpen(t time.Time) bool {
	iv, ok := s.Next(t)
	return ok && iv.Contains(t)
}

// Next returns the open period that contains t (its full extent, so Start may
// be before t), or else the first one that starts after t. It returns false
// when the schedule is invalid or never opens again.
//
// Cost: O(1) in the distance to the next window (it jumps straight to the
// candidate occurrence, whatever the interval), plus O(n log n) in n =
// len(NotAllowedDates) to read and sort the blocked days, plus O(k) for k
// blocked spans it passes; it allocates only when NotAllowedDates is not
// empty.
func (s Schedule) Next(t time.Time) (Interval, bool) {
	c, err := s.compile()
	if err != nil {
		return Interval{}, false
	}
	return c.next(t)
}

// Compiled is a schedule parsed and checked once, for a caller that asks
// for its next window many times (a scheduler holding thousands of windows):
// its Next answers exactly what [Schedule.Next] answers, without parsing the
// schedule again. It shares nothing with the Schedule it came from.
type Compiled struct{ c compiled }

// Compile parses and checks s once; it fails exactly when [Schedule.Validate]
// does, with the same error.
func (s Schedule) Compile() (*Compiled, error) {
	c, err := s.compile()
	if err != nil {
		return nil, err
	}
	return &Compiled{c}, nil
}

// Next is [Schedule.Next] of the compiled schedule.
func (c *Compiled) Next(t time.Time) (Interval, bool) { return c.c.next(t) }

// NextUnix is Next in Unix seconds: for t = u.Unix() it returns the Unix
// seconds of Next(u)'s Start and End (whole seconds, since window bounds are
// whole minutes), End being [math.MaxInt64] for an interval that never ends.
// It does no allocation.
func (c *Compiled) NextUnix(t int64) (start, end int64, ok bool) {
	s, e, unbounded, ok := c.c.nextLocal(min(max(t, minClock), endOfTime) + c.c.off)
	if !ok {
		return 0, 0, false
	}
	if unbounded {
		return s - c.c.off, math.MaxInt64, true
	}
	return s - c.c.off, e - c.c.off, true
}

func (c *compiled) next(t time.Time) (Interval, bool) {
	// Clamping t changes no answer: no window starts before minClock, and
	// none ending at endOfTime or later is returned.
	l := min(max(t.Unix(), minClock), endOfTime) + c.off // local seconds, floored: window bounds are whole minutes
	s, e, unbounded, ok := c.nextLocal(l)
	if !ok {
		return Interval{}, false
	}
	iv := c.toUTC(s, e)
	if unbounded {
		iv.End = time.Time{}
	}
	return iv, true
}

// nextLocal is next in local seconds l: the open period's bounds in local
// seconds, unbounded when it never ends (e is then meaningless).
func (c *compiled) nextLocal(l int64) (s, e int64, unbounded, ok bool) {
	if c.kind == kindDaily && c.interval == 1 && c.dur == secondsPerDay {
		s, e, unbounded := c.nextContinuous(l)
		return s, e, unbounded, true
	}
	d, ok := c.firstOnOrAfter(max(floorDiv(l, secondsPerDay)-1, c.startDay))
	// Blocked spans are merged, so they are whole days at least a day apart,
	// and a window is at most a day long: at most one span meets a window,
	// and it cuts off the window's head or its tail, or all of it. Windows
	// only move forward, so the span that may meet the next one is found by
	// moving one cursor forward, once over the whole call.
	i := c.firstBlockEndingAfter(d*secondsPerDay + c.st)
	// Each pass returns or moves past a window; at most two windows end before
	// l and at most two start inside each blocked span, so this bound is
	// never reached.
	for range 2*(len(c.blocked)-i) + 8 {
		if !ok {
			return 0, 0, false, false
		}
		s0 := d*secondsPerDay + c.st
		e0 := s0 + c.dur
		for i < len(c.blocked) && c.blocked[i].end <= s0 {
			i++
		}
		s1, e1 := s0, e0
		next := d + 1
		if i < len(c.blocked) && c.blocked[i].start < e0 {
			b := c.blocked[i]
			if b.start <= s0 {
				s1 = b.end // empty when the block covers the whole window
				// Skip the whole span: the first window that can reach past
				// it starts on its last day.
				next = max(next, floorDiv(b.end, secondsPerDay)-1)
			} else {
				e1 = b.start
			}
		}
		if s1 < e1 && e1 > l {
			if e1-c.off >= endOfTime {
				// RFC 3339 cannot write it, and later windows end later.
				return 0, 0, false, false
			}
			return s1, e1, false, true
		}
		d, ok = c.firstOnOrAfter(next)
	}
	return 0, 0, false, false
}

// firstBlockEndingAfter returns the index of the first blocked span that ends
// after local second x, or len(c.blocked).
func (c *compiled) firstBlockEndingAfter(x int64) int {
	i, _ := slices.BinarySearchFunc(c.blocked, x, func(b span, x int64) int {
		if b.end <= x {
			return -1
		}
		return 1
	})
	return i
}

// nextContinuous handles the schedule that is open all the time from its
// first window on, except on blocked days. It returns the open period in
// local seconds, unbounded when it never ends.
func (c *compiled) nextContinuous(l int64) (s, e int64, unbounded bool) {
	cur := c.startDay*secondsPerDay + c.st
	// Spans that end by l are behind it; the last of them may be where the
	// open period holding l begins.
	i := c.firstBlockEndingAfter(l)
	if i > 0 {
		cur = max(cur, c.blocked[i-1].end)
	}
	for _, b := range c.blocked[i:] {
		if b.end <= cur {
			continue
		}
		if b.start > cur && b.start > l {
			return cur, b.start, false
		}
		cur = max(cur, b.end)
	}
	return cur, 0, true
}

func (c *compiled) toUTC(s, e int64) Interval {
	return Interval{
		Start: time.Unix(s-c.off, 0).UTC(),
		End:   time.Unix(e-c.off, 0).UTC(),
	}
}

// firstAnchor returns the first window day (daily, weekly) or month
// (monthly) on or after startDay.
func (c *compiled) firstAnchor() int64 {
	switch c.kind {
	case kindDaily:
		return c.startDay
	case kindWeekly:
		return c.startDay + int64((c.dow-weekday(c.startDay)+7)%7)
	}
	y, m, _ := civil(c.startDay)
	for mi := int64(y*12 + m - 1); ; mi++ {
		if d, ok := c.target(mi); ok && d >= c.startDay {
			return mi
		}
	}
}

// firstOnOrAfter returns the first window day on or after day x (x must be
// at least startDay), or false if there is none within a sane search. Day
// numbers before 1970 are negative, so "none" cannot be a negative day.
func (c *compiled) firstOnOrAfter(x int64) (int64, bool) {
	switch c.kind {
	case kindDaily, kindWeekly:
		if x <= c.anchor {
			return c.anchor, true
		}
		return c.anchor + ceilDiv(x-c.anchor, c.interval)*c.interval, true
	}
	y, m, _ := civil(x)
	mi := int64(y*12 + m - 1)
	if mi <= c.anchor {
		mi = c.anchor
	} else {
		mi = c.anchor + ceilDiv(mi-c.anchor, c.interval)*c.interval
	}
	// A missing day (the 31st in a 30-day month) is skipped; the month
	// sequence repeats within a year, so a few steps always suffice.
	for range 16 {
		if d, ok := c.target(mi); ok && d >= x {
			return d, true
		}
		mi += c.interval
	}
	return 0, false
}

// target returns the window day of month index mi (y·12+m-1), if that month
// has one.
func (c *compiled) target(mi int64) (int64, bool) {
	y, m := int(floorDiv(mi, 12)), int(mi-floorDiv(mi, 12)*12)+1
	n := daysIn(y, m)
	if c.kind == kindAbsoluteMonthly {
		if c.dom > n {
			return 0, false
		}
		return dayNumber(y, m, c.dom), true
	}
	if c.widx == 4 { // Last
		last := dayNumber(y, m, n)
		return last - int64((weekday(last)-c.dow+7)%7), true
	}
	first := dayNumber(y, m, 1)
	return first + int64((c.dow-weekday(first)+7)%7) + 7*int64(c.widx), true
}

// dayNumber is the number of days from 1970-01-01 to y-m-d in the proleptic
// Gregorian calendar. It is plain arithmetic (H. Hinnant's days_from_civil)
// rather than time.Date, which made reading 10,000 notAllowedDates cost
// milliseconds.
func dayNumber(y, m, d int) int64 {
	yy := int64(y)
	if m <= 2 {
		yy--
	}
	era := floorDiv(yy, 400)
	yoe := yy - era*400                           // [0, 399]
	doy := (153*int64((m+9)%12)+2)/5 + int64(d-1) // [0, 365], from March 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy        // [0, 146096]
	return era*146097 + doe - 719468
}

// civil is the inverse of dayNumber (H. Hinnant's civil_from_days).
func civil(day int64) (y, m, d int) {
	z := day + 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097                                  // [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // [0, 365]
	mp := (5*doy + 2) / 153                                // [0, 11], from March
	d = int(doy - (153*mp+2)/5 + 1)
	m = int((mp+2)%12) + 1
	y = int(yoe + era*400)
	if m <= 2 {
		y++
	}
	return y, m, d
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// weekday of a day number, 0 = Sunday (1970-01-01 was a Thursday).
func weekday(day int64) int {
	return int(((day+4)%7 + 7) % 7)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }
