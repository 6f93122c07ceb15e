package forecast_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/fleetkit/fleetkit/fake"
	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/forecast"
	"github.com/fleetkit/fleetkit/window"
)

// bigFleet is n members at 1.29.4 in three regions: a 1% canary group and
// four groups sharing the rest (5% at a time); a third have no window, the
// others one of four windows (members share windows, as in real fleets).
func bigFleet(n int) *fake.Fleet {
	old, next := "AKSUbuntu-2204gen2containerd-202602.01.0", "AKSUbuntu-2204gen2containerd-202602.15.0"
	f := &fake.Fleet{
		Regions:            []string{"eastus", "westeurope", "japaneast"},
		KubernetesVersions: []string{"1.29.4", "1.30.5"},
		NodeImages: []fake.Release{
			{Image: old, Published: fake.GenEpoch.AddDate(0, 0, -40)},
			{Image: next, Published: fake.GenEpoch.AddDate(0, 0, -20)},
		},
	}
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
			NodePools:         []fleetupdate.NodePool{{Name: "system", NodeImageVersion: old}},
			AutoUpgradeWindow: windows[i%len(windows)],
		})
	}
	return f
}

var bigSpec = fleetupdate.Spec{
	Strategy: &fleetupdate.Strategy{Stages: []fleetupdate.Stage{
		{Name: "canary", AfterStageWaitInSeconds: 3600, Groups: []fleetupdate.Group{{Name: "canary", MaxConcurrency: "10"}},
			AfterGates: []fleetupdate.GateConfiguration{{Type: fleetupdate.Approval}}},
		{Name: "rest", Groups: []fleetupdate.Group{{Name: "g0", MaxConcurrency: "5%"}, {Name: "g1", MaxConcurrency: "5%"}, {Name: "g2", MaxConcurrency: "5%"}, {Name: "g3", MaxConcurrency: "5%"}}},
	}},
	ManagedClusterUpdate: fleetupdate.ManagedClusterUpdate{
		Upgrade:            fleetupdate.UpgradeSpec{Type: fleetupdate.Full, KubernetesVersion: "1.30"},
		NodeImageSelection: &fleetupdate.NodeImageSelection{Type: fleetupdate.Latest},
	},
}

// BenchmarkForecast10k forecasts a new 10,000-member run to its end and,
// side by side, simulates it with fake.Simulate (no status changes
// recorded), which delivers the same events (events/op): their ratio is
// what the forecast's own bookkeeping costs. cpu-ns/op, the process's CPU
// time per op, is the steadier figure on a busy machine.
func BenchmarkForecast10k(b *testing.B) {
	f := bigFleet(10_000)
	run, err := fleetupdate.New("bench", bigSpec, f.Members, f.CatalogAt(fake.GenEpoch))
	if err != nil {
		b.Fatal(err)
	}
	a := forecast.Assumptions{Duration: 30 * time.Minute, ApprovalDelay: time.Hour}
	b.Run("forecast", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		for range b.N {
			fc, err := forecast.Run(run, fake.GenEpoch, a)
			if err != nil || fc.Rows[0].State != fleetupdate.Completed {
				b.Fatalf("forecast: %v, run %s", err, fc.Rows[0].State)
			}
		}
	})
	b.Run("simulate", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		events := 0
		for range b.N {
			b.StopTimer()
			h := fake.NewHost(f.Clone(), 1)
			h.Approvals.Delay = time.Hour
			b.StartTimer()
			tr := fake.Simulate(run, h, fake.Options{Start: fake.GenEpoch, NoChanges: true})
			if tr.Run.State() != fleetupdate.Completed {
				b.Fatalf("run ended %s", tr.Run.State())
			}
			events += len(tr.Entries)
		}
		b.ReportMetric(float64(events)/float64(b.N), "events/op")
	})
	b.Run("percentiles-10", func(b *testing.B) {
		b.ReportAllocs()
		a := a
		a.P90Factor = 2
		defer reportCPU(b)()
		for range b.N {
			if _, err := forecast.Percentiles(run, fake.GenEpoch, a, 10, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// reportCPU starts measuring CPU time; the function it returns reports it
// per op.
func reportCPU(b *testing.B) func() {
	cpu0, ok0 := cpuTime()
	return func() {
		if cpu1, ok := cpuTime(); ok && ok0 {
			b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
}
