package planner

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/fleetkit/fleetkit/window"
)

var at = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC) // a Wednesday, noon

// dailyAt is a 4-hour window every day at hh:mm UTC.
func dailyAt(hhmm string) *window.Schedule {
	return &window.Schedule{Recurrence: window.Recurrence{Daily: &window.DailySchedule{IntervalDays: 1}}, StartTime: hhmm, DurationHours: 4}
}

func names(cs []Candidate) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

func TestClassify(t *testing.T) {
	cases := []struct {
		name    string
		s       *window.Schedule
		want    Priority
		opening time.Time
	}{
		{"open now reports the window's start", dailyAt("10:00"), OpenNow, at.Add(-2 * time.Hour)},
		{"opening at exactly four hours is soon", dailyAt("16:00"), OpensSoon, at.Add(4 * time.Hour)},
		{"opening in four hours and a minute is closed", dailyAt("16:01"), Closed, at.Add(4*time.Hour + time.Minute)},
		{"no window", nil, NoWindow, time.Time{}},
		{"invalid window never opens", &window.Schedule{}, Closed, time.Time{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, o := Classify(c.s, at)
			assert.Equal(t, c.want, p)
			assert.True(t, c.opening.Equal(o), "opening %s, want %s", o, c.opening)
		})
	}
}

// "1. Cluster with an open ongoing maintenance window" goes before everything.
func TestOpenWindowGoesFirst(t *testing.T) {
	got := Order([]Candidate{{"a-none", nil}, {"b-soon", dailyAt("14:00")}, {"c-open", dailyAt("11:00")}}, at)
	assert.Equal(t, []string{"c-open", "b-soon", "a-none"}, names(got))
}

// "2. Cluster with maintenance window opening in the next four hours" goes before no window.
func TestWindowOpeningWithinFourHoursBeforeNoWindow(t *testing.T) {
	got := Order([]Candidate{{"a-none", nil}, {"b-soon", dailyAt("15:59")}}, at)
	assert.Equal(t, []string{"b-soon", "a-none"}, names(got))
}

// "3. Cluster with no maintenance window" goes before "4. Cluster with a closed maintenance window".
func TestNoWindowBeforeClosedWindow(t *testing.T) {
	got := Order([]Candidate{{"a-closed", dailyAt("20:00")}, {"b-none", nil}}, at)
	assert.Equal(t, []string{"b-none", "a-closed"}, names(got))
}

func TestTiesBreakOnEarliestOpeningThenName(t *testing.T) {
	got := Order([]Candidate{
		{"d-closed-late", dailyAt("22:00")},
		{"c-closed-early", dailyAt("18:00")},
		{"b-open", dailyAt("11:00")},
		{"a-open-earlier", dailyAt("09:00")},
		{"z-none", nil}, {"y-none", nil},
		{"e-never", &window.Schedule{}},
	}, at)
	assert.Equal(t, []string{"a-open-earlier", "b-open", "y-none", "z-none", "c-closed-early", "d-closed-late", "e-never"}, names(got))
}

func TestOrderDoesNotModifyInput(t *testing.T) {
	in := []Candidate{{"b", nil}, {"a", nil}}
	_ = Order(in, at)
	assert.Equal(t, []string{"b", "a"}, names(in))
}

func TestPriorityString(t *testing.T) {
	assert.Equal(t, "OpensSoon", OpensSoon.String())
	assert.Equal(t, "Priority(9)", Priority(9).String())
}

func TestOrderProperties(t *testing.T) {
	shared := []*window.Schedule{nil, dailyAt("11:00"), dailyAt("13:30"), dailyAt("18:00"), dailyAt("00:00"), {}}
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 30).Draw(t, "n")
		in := make([]Candidate, n)
		for i := range in {
			in[i] = Candidate{
				Name:   rapid.StringMatching(`[a-e]{1,2}`).Draw(t, "name"),
				Window: rapid.SampledFrom(shared).Draw(t, "window"),
			}
		}
		when := at.Add(time.Duration(rapid.IntRange(0, 48*60).Draw(t, "minutes")) * time.Minute)
		got := Order(in, when)

		// A permutation: same multiset of (name, window).
		count := map[Candidate]int{}
		for _, c := range in {
			count[c]++
		}
		for _, c := range got {
			count[c]--
		}
		for c, k := range count {
			if k != 0 {
				t.Fatalf("candidate %v appears %d times too few in the output", c.Name, k)
			}
		}
		require.Len(t, got, n)
		// Priorities never decrease; keys are sorted.
		for i := 1; i < len(got); i++ {
			a, b := KeyOf(got[i-1].Name, got[i-1].Window, when), KeyOf(got[i].Name, got[i].Window, when)
			if a.Priority > b.Priority || a.Compare(b) > 0 {
				t.Fatalf("out of order at %d: %v then %v", i, a, b)
			}
		}
		// Deterministic.
		if again := Order(in, when); !slices.Equal(got, again) {
			t.Fatalf("two calls disagree")
		}
	})
}

func BenchmarkOrder(b *testing.B) {
	shared := []*window.Schedule{nil, dailyAt("11:00"), dailyAt("13:30"), dailyAt("18:00"), dailyAt("00:00")}
	in := make([]Candidate, 1000)
	for i := range in {
		in[i] = Candidate{Name: string(rune('a'+i%26)) + string(rune('a'+i/26%26)), Window: shared[i%len(shared)]}
	}
	b.ReportAllocs()
	for b.Loop() {
		Order(in, at)
	}
}

// The cache premise of ClassifyInterval: Next taken at t0 classifies any
// later time before the interval's end exactly as a fresh Classify does.
func TestClassifyIntervalMatchesClassifyUntilTheIntervalEnds(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := &window.Schedule{
			Recurrence:    window.Recurrence{Weekly: &window.WeeklySchedule{IntervalWeeks: rapid.IntRange(1, 4).Draw(t, "weeks"), DayOfWeek: window.Tuesday}},
			StartTime:     "21:30",
			DurationHours: rapid.IntRange(4, 24).Draw(t, "hours"),
			UTCOffset:     "+05:30",
		}
		t0 := at.Add(time.Duration(rapid.IntRange(0, 60*24*30).Draw(t, "t0")) * time.Minute)
		iv, ok := s.Next(t0)
		require.True(t, ok)
		later := t0.Add(time.Duration(rapid.Int64Range(0, int64(iv.End.Sub(t0))-1).Draw(t, "later")))
		p1, o1 := ClassifyInterval(iv, ok, later)
		p2, o2 := Classify(s, later)
		if p1 != p2 || !o1.Equal(o2) {
			t.Fatalf("at %s with interval %v from %s: %s %s, fresh %s %s", later, iv, t0, p1, o1, p2, o2)
		}
	})
}
