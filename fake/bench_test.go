package fake

import (
	"fmt"
	"testing"

	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/window"
)

// bigFleet is n members at 1.29.4 in three regions: a 1% canary group and
// four groups sharing the rest; a third have no window, the others one of
// four daily windows (members share windows, as in real fleets).
func bigFleet(n int) *Fleet {
	f := smallFleet()
	f.Members = nil
	windows := []*window.Schedule{nil,
		{Recurrence: window.Recurrence{Daily: &window.DailySchedule{IntervalDays: 1}}, StartTime: "00:00", DurationHours: 8},
		nil,
		{Recurrence: window.Recurrence{Daily: &window.DailySchedule{IntervalDays: 1}}, StartTime: "06:00", DurationHours: 12},
		{Recurrence: window.Recurrence{Daily: &window.DailySchedule{IntervalDays: 1}}, StartTime: "20:00", DurationHours: 6, UTCOffset: "+05:30"},
		{Recurrence: window.Recurrence{Weekly: &window.WeeklySchedule{IntervalWeeks: 1, DayOfWeek: window.Saturday}}, StartTime: "00:00", DurationHours: 24},
	}
	for i := range n {
		group := fmt.Sprintf("g%d", i%4)
		if i%100 == 0 {
			group = "canary"
		}
		f.Members = append(f.Members, fleetupdate.Member{
			Name:              fmt.Sprintf("m-%05d", i),
			Group:             group,
			Region:            f.Regions[i%len(f.Regions)],
			KubernetesVersion: "1.29.4",
			NodePools:         []fleetupdate.NodePool{{Name: "system", NodeImageVersion: "AKSUbuntu-2204gen2containerd-202402.01.0"}},
			AutoUpgradeWindow: windows[i%len(windows)],
		})
	}
	return f
}

var bigSpec = fleetupdate.Spec{
	Strategy: &fleetupdate.Strategy{Stages: []fleetupdate.Stage{
		{Name: "canary", AfterStageWaitInSeconds: 3600, Groups: []fleetupdate.Group{{Name: "canary", MaxConcurrency: "10"}}},
		{Name: "rest", Groups: []fleetupdate.Group{{Name: "g0", MaxConcurrency: "5%"}, {Name: "g1", MaxConcurrency: "5%"}, {Name: "g2", MaxConcurrency: "5%"}, {Name: "g3", MaxConcurrency: "5%"}}},
	}},
	ManagedClusterUpdate: fleetupdate.ManagedClusterUpdate{
		Upgrade:            fleetupdate.UpgradeSpec{Type: fleetupdate.Full, KubernetesVersion: "1.30"},
		NodeImageSelection: &fleetupdate.NodeImageSelection{Type: fleetupdate.Latest},
	},
}

// BenchmarkSimulate10k simulates a whole 10,000-member run, recording
// status changes and not; events/op is the number of events delivered, and
// ns/event the cost of one, the driver's and the run's together.
func BenchmarkSimulate10k(b *testing.B) {
	f := bigFleet(10_000)
	start := pub.AddDate(0, 0, 20) // the new image is everywhere
	run, err := fleetupdate.New("bench", bigSpec, f.Members, f.CatalogAt(start))
	if err != nil {
		b.Fatal(err)
	}
	for _, noChanges := range []bool{false, true} {
		b.Run(fmt.Sprintf("noChanges=%v", noChanges), func(b *testing.B) {
			b.ReportAllocs()
			events := 0
			for range b.N {
				b.StopTimer()
				h := NewHost(f.Clone(), 1)
				b.StartTimer()
				tr := Simulate(run, h, Options{Start: start, NoChanges: noChanges})
				if tr.Run.State() != fleetupdate.Completed {
					b.Fatalf("run ended %s", tr.Run.State())
				}
				events += len(tr.Entries)
			}
			b.ReportMetric(float64(events)/float64(b.N), "events/op")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
		})
	}
}
