package planner_test

import (
	"fmt"
	"time"

	"github.com/fleetkit/fleetkit/planner"
	"github.com/fleetkit/fleetkit/window"
)

func ExampleOrder() {
	nightly := &window.Schedule{
		Recurrence:    window.Recurrence{Daily: &window.DailySchedule{IntervalDays: 1}},
		StartTime:     "22:00",
		DurationHours: 6,
	}
	weekend := &window.Schedule{
		Recurrence:    window.Recurrence{Weekly: &window.WeeklySchedule{IntervalWeeks: 1, DayOfWeek: window.Saturday}},
		StartTime:     "00:00",
		DurationHours: 24,
	}
	now := time.Date(2026, 3, 4, 20, 0, 0, 0, time.UTC) // Wednesday 20:00
	order := planner.Order([]planner.Candidate{
		{Name: "prod-weu", Window: weekend},
		{Name: "prod-eus", Window: nightly},
		{Name: "dev-1", Window: nil},
	}, now)
	for _, c := range order {
		p, opens := planner.Classify(c.Window, now)
		fmt.Println(c.Name, p, opens.Format(time.RFC3339))
	}
	// Output:
	// prod-eus OpensSoon 2026-03-04T22:00:00Z
	// dev-1 NoWindow 0001-01-01T00:00:00Z
	// prod-weu Closed 2026-03-07T00:00:00Z
}
