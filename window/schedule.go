// Package window models AKS planned-maintenance windows exactly as the AKS API
// spells them, and answers the two questions an upgrade orchestrator asks:
// is the window open now, and when does it next open.
//
// A [Schedule] is the AKS `maintenanceWindow` object (used by the
// aksManagedAutoUpgradeSchedule and aksManagedNodeOSUpgradeSchedule
// maintenance configurations); it unmarshals from and marshals to the same
// JSON. All evaluation is pure: no clock is read, and every answer depends only
// on the schedule and the time passed in.
//
// # Semantics
//
// Where AKS documents a rule, the rule is followed; where it is silent, the
// choice made here is stated and tested.
//
//   - Offsets are fixed: utcOffset never follows daylight saving time (AKS
//     maintenanceWindows spec: "this is a static offset"). An empty utcOffset
//     means +00:00.
//   - Every calendar rule (dayOfWeek, dayOfMonth, weekIndex, startDate,
//     notAllowedDates) is taken on the local date, that is the date at
//     utcOffset, because startTime is local.
//   - A window is the half-open interval [date+startTime, date+startTime+durationHours)
//     in local time; it may cross midnight. Only its start date has to match
//     the recurrence.
//   - startDate (local) makes the schedule inactive before it: only windows
//     whose start date is on or after startDate exist. With no startDate the
//     schedule behaves as if startDate were 1970-01-01.
//   - Interval anchoring. Daily: windows fall on startDate and every
//     intervalDays days after. Weekly: counting starts at the first dayOfWeek
//     on or after startDate, then every intervalWeeks weeks (the behaviour
//     reported in Azure/AKS#5720). Monthly (absolute and relative): counting
//     starts at the first month whose target day exists and falls on or after
//     startDate, then every intervalMonths months.
//   - dayOfMonth 29–31 skips months that lack the day (it never opens on a day
//     the user did not name); a skipped month still counts towards the
//     interval.
//   - weekIndex Last is the last such weekday of the month; First to Fourth
//     always exist.
//   - notAllowedDates block whole local days, both ends inclusive (AKS
//     MaintenanceConfiguration spec: "'utcOffset' applies to this field"). A
//     window that overlaps a blocked day is clipped to what remains.
//   - Windows that touch merge: a daily window with intervalDays 1 and
//     durationHours 24 is one continuous open period, broken only by
//     notAllowedDates. Such an open period may never end; see [Interval].
//   - A window gates only the start of an operation; that is the caller's
//     rule, and nothing here models completion.
//   - Dates (startDate, notAllowedDates) run from 0001-01-01 to 9998-12-31,
//     and no returned time reaches year 10000, which RFC 3339 cannot write;
//     see [MaxTime]. Dates before 1970 work like any other.
//
// The legacy `default` configuration form (timeInWeek, notAllowedTime)
// governs AKS's weekly platform releases, not Kubernetes or node-image
// upgrades, so it is rejected with [ErrLegacyForm].
package window

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrInvalidSchedule is wrapped by every error [Schedule.Validate] returns.
var ErrInvalidSchedule = errors.New("window: invalid schedule")

// MaxTime, 9999-01-01T00:00:00Z, is the end of the clock range a caller
// should accept, such as a reducer bounding event times. Go has no time.Time
// constants, so it is a variable; never change it.
//
// A run is persisted in RFC 3339, which cannot write years past 9999, so
// [Schedule.Validate] refuses every date after 9998-12-31 and
// [Schedule.Next] never returns a time in year 10000 or later, for any t: a
// window that would end there counts as never opening. For a schedule that
// passes Validate and any t before MaxTime, Next(t) therefore returns an
// interval whose Start and End are before year 10000. It finds one unless
// the next window is more than about a year away, which only dayOfMonth 29–31
// can cause (the 31st every 5 months can go 30 months without a window).
var MaxTime = time.Unix(maxClock, 0).UTC()

const (
	maxClock = 253370764800 // MaxTime in Unix seconds
	// endOfTime, 10000-01-01T00:00:00Z: no returned time reaches it.
	endOfTime = 253402300800
	// minClock is two days before 0001-01-01T00:00:00Z; no window starts
	// earlier (the first date, at +14:00, starts 14 hours before it).
	minClock = -62135596800 - 2*secondsPerDay
)

// ErrLegacyForm is returned when JSON in the legacy `default` maintenance
// configuration form (timeInWeek / notAllowedTime) is unmarshalled as a
// [Schedule].
var ErrLegacyForm = errors.New("window: the legacy timeInWeek/notAllowedTime form governs only AKS weekly releases, not upgrades; use a maintenanceWindow with a schedule")

// Weekday is a day name as AKS spells it ("Sunday" … "Saturday").
type Weekday string

// The seven day names AKS accepts.
const (
	Sunday    Weekday = "Sunday"
	Monday    Weekday = "Monday"
	Tuesday   Weekday = "Tuesday"
	Wednesday Weekday = "Wednesday"
	Thursday  Weekday = "Thursday"
	Friday    Weekday = "Friday"
	Saturday  Weekday = "Saturday"
)

var weekdays = [...]Weekday{Sunday, Monday, Tuesday, Wednesday, Thursday, Friday, Saturday}

// WeekIndex selects a week of the month for a [RelativeMonthlySchedule].
type WeekIndex string

// The week indexes AKS accepts. There is no "Fifth": every index names a day
// that exists in every month.
const (
	First  WeekIndex = "First"
	Second WeekIndex = "Second"
	Third  WeekIndex = "Third"
	Fourth WeekIndex = "Fourth"
	Last   WeekIndex = "Last"
)

var weekIndexes = [...]WeekIndex{First, Second, Third, Fourth, Last}

// DailySchedule recurs every IntervalDays days (1–7).
type DailySchedule struct {
	IntervalDays int `json:"intervalDays"`
}

// WeeklySchedule recurs on DayOfWeek every IntervalWeeks weeks (1–4).
type WeeklySchedule struct {
	IntervalWeeks int     `json:"intervalWeeks"`
	DayOfWeek     Weekday `json:"dayOfWeek"`
}

// AbsoluteMonthlySchedule recurs on DayOfMonth (1–31) every IntervalMonths
// months (1–6). Months that lack the day are skipped.
type AbsoluteMonthlySchedule struct {
	IntervalMonths int `json:"intervalMonths"`
	DayOfMonth     int `json:"dayOfMonth"`
}

// RelativeMonthlySchedule recurs on the WeekIndex-th DayOfWeek of the month
// every IntervalMonths months (1–6).
type RelativeMonthlySchedule struct {
	IntervalMonths int       `json:"intervalMonths"`
	WeekIndex      WeekIndex `json:"weekIndex"`
	DayOfWeek      Weekday   `json:"dayOfWeek"`
}

// Recurrence is the AKS `schedule` object: exactly one field is set.
type Recurrence struct {
	Daily           *DailySchedule           `json:"daily,omitempty"`
	Weekly          *WeeklySchedule          `json:"weekly,omitempty"`
	AbsoluteMonthly *AbsoluteMonthlySchedule `json:"absoluteMonthly,omitempty"`
	RelativeMonthly *RelativeMonthlySchedule `json:"relativeMonthly,omitempty"`
}

// DateSpan is a range of whole local days, "YYYY-MM-DD", both ends inclusive.
type DateSpan struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// Schedule is an AKS planned-maintenance window: the `maintenanceWindow`
// object of a maintenance configuration, with the same JSON.
//
// The zero value is not valid; see [Schedule.Validate]. An invalid schedule
// is never open and never opens.
type Schedule struct {
	Recurrence      Recurrence `json:"schedule"`
	DurationHours   int        `json:"durationHours"`             // 4–24; omitted in JSON: 24, see UnmarshalJSON
	UTCOffset       string     `json:"utcOffset,omitempty"`       // "±HH:mm"; empty means +00:00
	StartDate       string     `json:"startDate,omitempty"`       // "YYYY-MM-DD", local; empty: always active
	StartTime       string     `json:"startTime"`                 // "HH:mm", local
	NotAllowedDates []DateSpan `json:"notAllowedDates,omitempty"` // whole local days, inclusive
}

// UnmarshalJSON decodes the AKS maintenanceWindow object strictly: unknown
// fields are errors, and the legacy `default` form is rejected with
// [ErrLegacyForm]. It does not validate values; call [Schedule.Validate].
//
// An omitted (or null) durationHours decodes as AKS's default, 24
// (MaintenanceConfiguration.tsp: "durationHours ... default 24"). The default
// is applied here, where the field can be absent, and nowhere else: a Go
// value with DurationHours 0 is invalid rather than read as 24, so a
// Schedule's fields always mean what they say, equal schedules behave alike,
// and encoding writes the 24 out, so decode, encode, decode gives the same
// value. An empty notAllowedDates decodes as nil for the same reason.
// (AKS's newer maintenanceWindows resource defaults to 4; a Schedule is the
// maintenance configuration's object.)
func (s *Schedule) UnmarshalJSON(b []byte) error {
	type plain Schedule // no methods: avoids recursion
	p := plain{DurationHours: defaultDurationHours}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		var keys map[string]json.RawMessage
		if json.Unmarshal(b, &keys) == nil {
			if _, ok := keys["timeInWeek"]; ok {
				return ErrLegacyForm
			}
			if _, ok := keys["notAllowedTime"]; ok {
				return ErrLegacyForm
			}
			if _, ok := keys["maintenanceWindow"]; ok {
				return fmt.Errorf("window: got a maintenance configuration; pass its maintenanceWindow object: %w", err)
			}
		}
		return fmt.Errorf("window: maintenanceWindow: %w", err)
	}
	if len(p.NotAllowedDates) == 0 {
		p.NotAllowedDates = nil // omitempty drops it on encoding
	}
	*s = Schedule(p)
	return nil
}

// defaultDurationHours is AKS's default for an omitted durationHours
// (MaintenanceConfiguration.tsp).
const defaultDurationHours = 24

// Validate reports every way s breaks the AKS rules, each error naming the
// field and the bad value and wrapping [ErrInvalidSchedule]. A nil result
// means [Schedule.IsOpen] and [Schedule.Next] give meaningful answers.
func (s Schedule) Validate() error {
	_, err := s.compile()
	return err
}

// String renders s as its JSON; handy in messages and test failures.
func (s Schedule) String() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Schedule kinds, in the order the JSON lists them.
const (
	kindDaily = iota + 1
	kindWeekly
	kindAbsoluteMonthly
	kindRelativeMonthly
)

// compiled is a parsed, validated schedule in local seconds and local day
// numbers (days since 1970-01-01 at the schedule's offset).
type compiled struct {
	kind     int
	interval int64 // days (daily), days (weekly: 7·intervalWeeks) or months (monthly)
	dow      int   // 0 = Sunday
	dom      int   // absolute monthly
	widx     int   // relative monthly: 0..3 = First..Fourth, 4 = Last
	off      int64 // utcOffset in seconds
	st       int64 // startTime, seconds into the local day
	dur      int64 // seconds
	startDay int64 // first local day a window may start on
	anchor   int64 // daily/weekly: first window day; monthly: first window month (y·12+m-1)
	blocked  []span
}

// span is a half-open range of local seconds.
type span struct{ start, end int64 }

type fieldErrors []error

func (fe *fieldErrors) add(field string, value any, rule string) {
	*fe = append(*fe, fmt.Errorf("%w: %s %v: %s", ErrInvalidSchedule, field, quoteIfString(value), rule))
}

// quoteIfString quotes text values, so an empty or odd string shows in errors.
func quoteIfString(v any) any {
	switch v.(type) {
	case string, Weekday, WeekIndex:
		return fmt.Sprintf("%q", v)
	}
	return v
}

// compile parses and validates s. It allocates only for notAllowedDates and
// for errors.
func (s Schedule) compile() (compiled, error) {
	var c compiled
	var errs fieldErrors
	r := s.Recurrence
	n := 0
	if r.Daily != nil {
		n++
		c.kind = kindDaily
		c.interval = int64(r.Daily.IntervalDays)
		if r.Daily.IntervalDays < 1 || r.Daily.IntervalDays > 7 {
			errs.add("schedule.daily.intervalDays", r.Daily.IntervalDays, "must be 1–7")
		}
	}
	if r.Weekly != nil {
		n++
		c.kind = kindWeekly
		c.interval = 7 * int64(r.Weekly.IntervalWeeks)
		if r.Weekly.IntervalWeeks < 1 || r.Weekly.IntervalWeeks > 4 {
			errs.add("schedule.weekly.intervalWeeks", r.Weekly.IntervalWeeks, "must be 1–4")
		}
		c.dow = parseWeekday(r.Weekly.DayOfWeek, "schedule.weekly.dayOfWeek", &errs)
	}
	if r.AbsoluteMonthly != nil {
		n++
		c.kind = kindAbsoluteMonthly
		c.interval = int64(r.AbsoluteMonthly.IntervalMonths)
		if r.AbsoluteMonthly.IntervalMonths < 1 || r.AbsoluteMonthly.IntervalMonths > 6 {
			errs.add("schedule.absoluteMonthly.intervalMonths", r.AbsoluteMonthly.IntervalMonths, "must be 1–6")
		}
		c.dom = r.AbsoluteMonthly.DayOfMonth
		if c.dom < 1 || c.dom > 31 {
			errs.add("schedule.absoluteMonthly.dayOfMonth", c.dom, "must be 1–31")
		}
	}
	if r.RelativeMonthly != nil {
		n++
		c.kind = kindRelativeMonthly
		c.interval = int64(r.RelativeMonthly.IntervalMonths)
		if r.RelativeMonthly.IntervalMonths < 1 || r.RelativeMonthly.IntervalMonths > 6 {
			errs.add("schedule.relativeMonthly.intervalMonths", r.RelativeMonthly.IntervalMonths, "must be 1–6")
		}
		c.dow = parseWeekday(r.RelativeMonthly.DayOfWeek, "schedule.relativeMonthly.dayOfWeek", &errs)
		c.widx = -1
		for i, w := range weekIndexes {
			if r.RelativeMonthly.WeekIndex == w {
				c.widx = i
			}
		}
		if c.widx < 0 {
			errs.add("schedule.relativeMonthly.weekIndex", r.RelativeMonthly.WeekIndex, "must be First, Second, Third, Fourth or Last")
		}
	}
	if n != 1 {
		errs.add("schedule", fmt.Sprintf("%d kinds set", n), "exactly one of daily, weekly, absoluteMonthly, relativeMonthly must be set")
	}
	switch {
	case s.DurationHours == 0:
		errs.add("durationHours", s.DurationHours, "must be 4–24 (AKS's default of 24 applies only to JSON that omits it)")
	case s.DurationHours < 4 || s.DurationHours > 24:
		errs.add("durationHours", s.DurationHours, "must be 4–24")
	}
	c.dur = int64(s.DurationHours) * 3600
	if s.UTCOffset != "" {
		off, ok := parseOffset(s.UTCOffset)
		if !ok {
			errs.add("utcOffset", s.UTCOffset, "must be ±HH:mm between -14:00 and +14:00")
		}
		c.off = off
	}
	st, ok := parseClock(s.StartTime)
	if !ok {
		errs.add("startTime", s.StartTime, "must be HH:mm between 00:00 and 23:59")
	}
	c.st = st
	if s.StartDate != "" {
		d, bad := parseDate(s.StartDate)
		if bad != "" {
			errs.add("startDate", s.StartDate, bad)
		}
		c.startDay = d
	}
	if len(s.NotAllowedDates) > 0 {
		c.blocked = make([]span, 0, len(s.NotAllowedDates))
	}
	for i, sp := range s.NotAllowedDates {
		a, badA := parseDate(sp.Start)
		b, badB := parseDate(sp.End)
		okA, okB := badA == "", badB == ""
		if !okA {
			errs.add(fmt.Sprintf("notAllowedDates[%d].start", i), sp.Start, badA)
		}
		if !okB {
			errs.add(fmt.Sprintf("notAllowedDates[%d].end", i), sp.End, badB)
		}
		if okA && okB && a > b {
			errs.add(fmt.Sprintf("notAllowedDates[%d]", i), sp.Start+".."+sp.End, "start must not be after end")
		}
		if okA && okB && a <= b {
			c.blocked = append(c.blocked, span{a * secondsPerDay, (b + 1) * secondsPerDay})
		}
	}
	if len(errs) > 0 {
		return compiled{}, errors.Join(errs...)
	}
	c.blocked = mergeSpans(c.blocked)
	c.anchor = c.firstAnchor()
	return c, nil
}

func parseWeekday(w Weekday, field string, errs *fieldErrors) int {
	for i, d := range weekdays {
		if w == d {
			return i
		}
	}
	errs.add(field, w, "must be Sunday, Monday, Tuesday, Wednesday, Thursday, Friday or Saturday")
	return 0
}

// parseOffset parses "±HH:mm" into seconds east of UTC.
func parseOffset(s string) (int64, bool) {
	if len(s) != 6 || (s[0] != '+' && s[0] != '-') {
		return 0, false
	}
	h, ok1 := digits(s[1:3])
	m, ok2 := digits(s[4:6])
	if !ok1 || !ok2 || s[3] != ':' || m > 59 || h*60+m > 14*60 {
		return 0, false
	}
	off := int64(h*3600 + m*60)
	if s[0] == '-' {
		off = -off
	}
	return off, true
}

// parseClock parses "HH:mm" into seconds after local midnight.
func parseClock(s string) (int64, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	h, ok1 := digits(s[0:2])
	m, ok2 := digits(s[3:5])
	if !ok1 || !ok2 || h > 23 || m > 59 {
		return 0, false
	}
	return int64(h*3600 + m*60), true
}

// parseDate parses "YYYY-MM-DD", 0001-01-01 to 9998-12-31, into a day
// number. If s is not such a date it returns the rule s breaks.
func parseDate(s string) (int64, string) {
	const form = "must be a date YYYY-MM-DD"
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, form
	}
	y, ok1 := digits(s[0:4])
	m, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	switch {
	case !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m):
		return 0, form
	case y < 1:
		return 0, "must be on or after 0001-01-01"
	case y > 9998:
		return 0, "must be on or before 9998-12-31, so that windows end before year 10000 (see MaxTime)"
	}
	return dayNumber(y, m, d), ""
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, len(s) > 0
}

// mergeSpans sorts spans and merges those that overlap or touch.
func mergeSpans(in []span) []span {
	if len(in) < 2 {
		return in
	}
	slices.SortFunc(in, func(a, b span) int { return cmp.Compare(a.start, b.start) })
	out := in[:1]
	for _, sp := range in[1:] {
		last := &out[len(out)-1]
		if sp.start <= last.end {
			last.end = max(last.end, sp.end)
			continue
		}
		out = append(out, sp)
	}
	return out
}

// Summary is a short human description, such as
// "every 1 week(s) on Saturday at 02:00 +00:00 for 4h".
func (s Schedule) Summary() string {
	var b strings.Builder
	r := s.Recurrence
	switch {
	case r.Daily != nil:
		fmt.Fprintf(&b, "every %d day(s)", r.Daily.IntervalDays)
	case r.Weekly != nil:
		fmt.Fprintf(&b, "every %d week(s) on %s", r.Weekly.IntervalWeeks, r.Weekly.DayOfWeek)
	case r.AbsoluteMonthly != nil:
		fmt.Fprintf(&b, "every %d month(s) on day %d", r.AbsoluteMonthly.IntervalMonths, r.AbsoluteMonthly.DayOfMonth)
	case r.RelativeMonthly != nil:
		fmt.Fprintf(&b, "every %d month(s) on the %s %s", r.RelativeMonthly.IntervalMonths, r.RelativeMonthly.WeekIndex, r.RelativeMonthly.DayOfWeek)
	}
	off := s.UTCOffset
	if off == "" {
		off = "+00:00"
	}
	fmt.Fprintf(&b, " at %s %s for %dh", s.StartTime, off, s.DurationHours)
	return b.String()
}
