package fleetupdate

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/fleetkit/fleetkit/window"
)

// benchFleet builds n members in groups: 30% have no window, the rest share
// 12 schedules (daily and weekly, with offsets), as real fleets do.
//
// gated strategies have, on every stage and group, what Azure offers: an
// approval before each stage, a scheduled start before each group and an
// approval after it, an approval after each stage alongside a wait, and
// failure budgets of 10%.
func benchFleet(n, stages, groupsPerStage int, gated bool) (Spec, []Member) {
	var schedules []*window.Schedule
	for i := range 8 {
		s := dailyWindow(fmt.Sprintf("%02d:00", i*3), 4+i%3*4)
		s.UTCOffset = []string{"+00:00", "-05:00", "+09:00", "+05:30"}[i%4]
		schedules = append(schedules, s)
	}
	for _, d := range []window.Weekday{window.Saturday, window.Sunday, window.Tuesday, window.Thursday} {
		schedules = append(schedules, &window.Schedule{Recurrence: window.Recurrence{Weekly: &window.WeeklySchedule{IntervalWeeks: 1, DayOfWeek: d}}, StartTime: "01:00", DurationHours: 12})
	}
	var spec Spec
	spec.ManagedClusterUpdate = full("1.30")
	if stages > 0 {
		spec.Strategy = &Strategy{}
		for s := range stages {
			st := Stage{Name: fmt.Sprintf("stage-%d", s)}
			if gated {
				st.BeforeGates = []GateConfiguration{{Type: Approval}}
				st.AfterGates = []GateConfiguration{{Type: Approval}}
				st.AfterStageWaitInSeconds = 600
				st.MaxAllowedFailures = "10%"
			}
			for g := range groupsPerStage {
				gr := Group{Name: fmt.Sprintf("group-%d-%d", s, g)}
				if gated {
					gr.BeforeGates = []GateConfiguration{{Type: ScheduledStart, ScheduledStartConfiguration: &ScheduledStartConfiguration{
						StartDay: []window.Weekday{window.Sunday, window.Monday, window.Tuesday, window.Wednesday, window.Thursday, window.Friday, window.Saturday}[g%7], StartTime: "02:00", UTCOffset: "+00:00"}}}
					gr.AfterGates = []GateConfiguration{{Type: Approval}}
					gr.MaxAllowedFailures = "10%"
				}
				st.Groups = append(st.Groups, gr)
			}
			spec.Strategy.Stages = append(spec.Strategy.Stages, st)
		}
	}
	ms := make([]Member, n)
	for i := range ms {
		ms[i] = member(fmt.Sprintf("member-%06d", i), "")
		if stages > 0 {
			g := i % (stages * groupsPerStage)
			ms[i].Group = fmt.Sprintf("group-%d-%d", g/groupsPerStage, g%groupsPerStage)
		}
		if i%10 >= 3 {
			ms[i].AutoUpgradeWindow = schedules[(i*7)%len(schedules)]
		}
	}
	return spec, ms
}

// scheduler is what the benchmark host drives: a Run, or the floor.
type scheduler interface {
	apply(e Event) ([]Command, error)
	nextWake() (time.Time, bool)
	completed() bool
}

// driveToEnd runs s to its end with a host whose upgrades take 20 minutes
// and always succeed, and who approves every gate 5 minutes after it is
// reached; it returns the number of events it stepped. observe, if not nil,
// sees every event and its commands.
func driveToEnd(tb testing.TB, s scheduler, observe func(Event, []Command)) int {
	now := t0
	type op struct {
		at time.Time
		id OpID
	}
	type approval struct {
		at   time.Time
		gate GateID
	}
	var queue []op           // FIFO: every upgrade takes the same time
	var approvals []approval // FIFO: every approval takes the same time
	events := 0
	step := func(e Event) {
		cmds, err := s.apply(e)
		if err != nil {
			tb.Fatal(err)
		}
		if observe != nil {
			observe(e, cmds)
		}
		events++
		for _, c := range cmds {
			switch c := c.(type) {
			case UpgradeMember:
				queue = append(queue, op{now.Add(20 * time.Minute), c.Op})
			case AwaitGate:
				if c.Type == Approval {
					approvals = append(approvals, approval{now.Add(5 * time.Minute), c.Gate})
				}
			}
		}
	}
	step(Start{At: now})
	for !s.completed() {
		wake, hasWake := s.nextWake()
		if len(approvals) > 0 && (!hasWake || !approvals[0].at.After(wake)) && (len(queue) == 0 || !approvals[0].at.After(queue[0].at)) {
			a := approvals[0]
			approvals = approvals[1:]
			now = a.at
			step(CompleteGate{At: now, Gate: a.gate})
			continue
		}
		if len(queue) > 0 && (!hasWake || !queue[0].at.After(wake)) {
			o := queue[0]
			queue = queue[1:]
			now = o.at
			step(UpgradeSucceeded{At: now, Op: o.id})
			continue
		}
		if !hasWake {
			tb.Fatalf("stuck")
		}
		now = wake
		step(Tick{At: now})
	}
	return events
}

// benchRuns drives whole runs of the spec over ms and reports the cost per event.
func benchRuns(b *testing.B, spec Spec, ms []Member) {
	benchDrive(b, freshRun(b, spec, ms))
}

// freshRun returns a start for benchDrive that makes a new run each time:
// a run is driven once, as a host drives it (stepping an old run again
// would first copy its member vector, O(members)).
func freshRun(b *testing.B, spec Spec, ms []Member) func() scheduler {
	return func() scheduler {
		r, err := New("bench", spec, ms, catalog())
		if err != nil {
			b.Fatal(err)
		}
		return &runSched{r}
	}
}

// benchDrive drives a whole run from start() per iteration and reports the
// cost per event; start itself is not measured.
func benchDrive(b *testing.B, start func() scheduler) {
	events := 0
	var cpu time.Duration
	cpuOK := true
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		s := start()
		runtime.GC() // the setup's garbage is not the drive's to collect
		b.StartTimer()
		cpu0, ok0 := cpuTime()
		events += driveToEnd(b, s, nil)
		cpu1, ok1 := cpuTime()
		cpu += cpu1 - cpu0
		cpuOK = cpuOK && ok0 && ok1
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
	// CPU time per event includes GC but not waiting for the machine: on a
	// shared machine it is the steadier of the two figures.
	if cpuOK {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(events), "cpu-ns/event")
	}
	b.ReportMetric(float64(events)/float64(b.N), "events/run")
}

func BenchmarkRun(b *testing.B) {
	for _, shape := range []struct {
		name           string
		stages, groups int
		gated          bool
	}{{"oneByOne", 0, 0, false}, {"staged10x50", 10, 50, false}, {"gated10x50", 10, 50, true}} {
		for _, n := range []int{1000, 10000, 100000} {
			b.Run(fmt.Sprintf("%s/members=%d", shape.name, n), func(b *testing.B) {
				spec, ms := benchFleet(n, shape.stages, shape.groups, shape.gated)
				benchRuns(b, spec, ms)
			})
		}
	}
}

// BenchmarkRunUniqueWindows is the worst case for picks: every member of one
// group has its own window (AKS recommends staggering windows), so a pick
// classifies every remaining member's window.
func BenchmarkRunUniqueWindows(b *testing.B) {
	for _, n := range []int{500, 2000} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			ms := make([]Member, n)
			for i := range ms {
				ms[i] = member(fmt.Sprintf("member-%06d", i), "")
				ms[i].AutoUpgradeWindow = dailyWindow(fmt.Sprintf("%02d:%02d", i/60%24, i%60), 4+i%5)
			}
			benchRuns(b, Spec{ManagedClusterUpdate: full("1.30")}, ms)
		})
	}
}

// BenchmarkNew measures building a run: validation, the plan, deep copies
// of the inputs and the initial state.
func BenchmarkNew(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			spec, ms := benchFleet(n, 10, 50, false)
			b.ReportAllocs()
			cpu0, cpuOK := cpuTime()
			b.ResetTimer()
			for b.Loop() {
				if _, err := New("bench", spec, ms, catalog()); err != nil {
					b.Fatal(err)
				}
			}
			// CPU time (GC included) does not count waiting for a busy machine.
			if cpu1, ok := cpuTime(); ok && cpuOK {
				b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

// BenchmarkUniqueWindowsScale is the goal for picks with a window per
// member: the cost per event at 10,000 distinct windows against 500.
func BenchmarkUniqueWindowsScale(b *testing.B) {
	for _, n := range []int{500, 10000} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			spec, ms := uniqueWindowFleet(n)
			benchRuns(b, spec, ms)
		})
	}
}
