package window_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/fleetkit/fleetkit/window"
)

func ExampleSchedule_Next() {
	// The maintenanceWindow of an aksManagedAutoUpgradeSchedule configuration:
	// every other Saturday 22:00–04:00 at a fixed -08:00, never on March 22
	// (local), which clips the second window at local midnight.
	var s window.Schedule
	err := json.Unmarshal([]byte(`{
		"schedule": {"weekly": {"intervalWeeks": 2, "dayOfWeek": "Saturday"}},
		"durationHours": 6, "utcOffset": "-08:00", "startTime": "22:00",
		"startDate": "2026-03-01",
		"notAllowedDates": [{"start": "2026-03-22", "end": "2026-03-22"}]
	}`), &s)
	if err == nil {
		err = s.Validate()
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	for range 3 {
		iv, _ := s.Next(now)
		fmt.Println(iv.Start.Format(time.RFC3339), "to", iv.End.Format(time.RFC3339))
		now = iv.End
	}
	fmt.Println(s.IsOpen(time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC)))
	// Output:
	// 2026-03-08T06:00:00Z to 2026-03-08T12:00:00Z
	// 2026-03-22T06:00:00Z to 2026-03-22T08:00:00Z
	// 2026-04-05T06:00:00Z to 2026-04-05T12:00:00Z
	// true
}

func ExampleSchedule_Validate() {
	s := window.Schedule{
		Recurrence:    window.Recurrence{Weekly: &window.WeeklySchedule{IntervalWeeks: 6, DayOfWeek: "Caturday"}},
		DurationHours: 2,
		StartTime:     "02:00",
	}
	fmt.Println(s.Validate())
	// Output:
	// window: invalid schedule: schedule.weekly.intervalWeeks 6: must be 1–4
	// window: invalid schedule: schedule.weekly.dayOfWeek "Caturday": must be Sunday, Monday, Tuesday, Wednesday, Thursday, Friday or Saturday
	// window: invalid schedule: durationHours 2: must be 4–24
}
