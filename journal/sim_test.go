package journal

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"testing"
	"time"

	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/window"
)

var t0 = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

const (
	imgOld = "AKSUbuntu-2204gen2containerd-202405.13.0"
	imgNew = "AKSUbuntu-2204gen2containerd-202405.27.0"
)

func testCatalog() fleetupdate.Catalog {
	rc := fleetupdate.RegionCatalog{KubernetesVersions: []string{"1.29.4", "1.30.2", "1.30.5"}, NodeImageVersions: []string{imgOld, imgNew}}
	return fleetupdate.Catalog{Regions: map[string]fleetupdate.RegionCatalog{"eastus": rc, "westeurope": rc}}
}

// sharedWindows are the 12 schedules of fleetupdate's benchmarks: daily
// and weekly, with offsets, shared by many members as in real fleets.
func sharedWindows() []*window.Schedule {
	var out []*window.Schedule
	for i := range 8 {
		out = append(out, &window.Schedule{Recurrence: window.Recurrence{Daily: &window.DailySchedule{IntervalDays: 1}},
			StartTime: fmt.Sprintf("%02d:00", i*3), DurationHours: 4 + i%3*4, UTCOffset: []string{"+00:00", "-05:00", "+09:00", "+05:30"}[i%4]})
	}
	for _, d := range []window.Weekday{window.Saturday, window.Sunday, window.Tuesday, window.Thursday} {
		out = append(out, &window.Schedule{Recurrence: window.Recurrence{Weekly: &window.WeeklySchedule{IntervalWeeks: 1, DayOfWeek: d}}, StartTime: "01:00", DurationHours: 12})
	}
	return out
}

// fleet builds n members; 30% have no window, the rest share 12. With
// stages > 0 they are spread over stages × groups groups, with waits and
// concurrency limits above 1; otherwise the run goes one by one.
func fleet(n, stages, groups int) (fleetupdate.Spec, []fleetupdate.Member) {
	ws := sharedWindows()
	spec := fleetupdate.Spec{ManagedClusterUpdate: fleetupdate.ManagedClusterUpdate{Upgrade: fleetupdate.UpgradeSpec{Type: fleetupdate.Full, KubernetesVersion: "1.30"}}}
	if stages > 0 {
		spec.Strategy = &fleetupdate.Strategy{}
		for s := range stages {
			st := fleetupdate.Stage{Name: fmt.Sprintf("stage-%d", s), AfterStageWaitInSeconds: 1800 * (s % 2), MaxConcurrency: "8"}
			for g := range groups {
				st.Groups = append(st.Groups, fleetupdate.Group{Name: fmt.Sprintf("group-%d-%d", s, g), MaxConcurrency: []string{"1", "3", "25%"}[g%3]})
			}
			spec.Strategy.Stages = append(spec.Strategy.Stages, st)
		}
	}
	ms := make([]fleetupdate.Member, n)
	for i := range ms {
		ms[i] = fleetupdate.Member{Name: fmt.Sprintf("member-%06d", i), Region: []string{"eastus", "westeurope"}[i%2], KubernetesVersion: "1.29.4",
			NodePools: []fleetupdate.NodePool{{Name: "system", NodeImageVersion: imgOld}}}
		if stages > 0 {
			g := i % (stages * groups)
			ms[i].Group = fmt.Sprintf("group-%d-%d", g/groups, g%groups)
		}
		if i%10 >= 3 {
			ms[i].AutoUpgradeWindow = ws[(i*7)%len(ws)]
		}
	}
	return spec, ms
}

// cluster is where a simulated host sends upgrades. send is idempotent per
// op: it returns when the op completes, fixed the first time it is sent.
type cluster interface {
	send(c fleetupdate.UpgradeMember, now time.Time) time.Time
}

// upgradeTime is a member's upgrade duration: 10 to 40 minutes, fixed per
// member so that a restarted host and an uninterrupted one agree.
func upgradeTime(member string) time.Duration {
	h := fnv.New32a()
	h.Write([]byte(member))
	return time.Duration(10+h.Sum32()%31) * time.Minute
}

// memCluster is a cluster in memory.
type memCluster map[fleetupdate.OpID]time.Time

func (m memCluster) send(c fleetupdate.UpgradeMember, now time.Time) time.Time {
	if done, ok := m[c.Op]; ok {
		return done
	}
	m[c.Op] = now.Add(upgradeTime(c.Member))
	return m[c.Op]
}

// sim is a host on virtual time: a queue of outcomes and ticks, delivered
// in order of time, then outcomes before ticks, then op id, so that the
// order never depends on when an item was queued (a restarted host queues
// them in another order).
type sim struct {
	now   time.Time
	q     simQueue
	ticks map[time.Time]bool
	c     cluster
}

type simItem struct {
	at   time.Time
	tick bool
	op   fleetupdate.OpID
}

type simQueue []simItem

func (q simQueue) Len() int { return len(q) }
func (q simQueue) Less(i, j int) bool {
	a, b := q[i], q[j]
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	if a.tick != b.tick {
		return !a.tick
	}
	return a.op < b.op
}
func (q simQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *simQueue) Push(x any)   { *q = append(*q, x.(simItem)) }
func (q *simQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

func newSim(now time.Time, c cluster) *sim {
	return &sim{now: now, ticks: map[time.Time]bool{}, c: c}
}

// perform sends upgrades to the cluster and queues their outcomes, and
// queues a Tick for each WakeAt.
func (s *sim) perform(cmds []fleetupdate.Command) {
	for _, c := range cmds {
		switch c := c.(type) {
		case fleetupdate.UpgradeMember:
			heap.Push(&s.q, simItem{at: s.c.send(c, s.now), op: c.Op})
		case fleetupdate.WakeAt:
			if !s.ticks[c.At] {
				s.ticks[c.At] = true
				heap.Push(&s.q, simItem{at: c.At, tick: true})
			}
		}
	}
}

// next moves the clock to the earliest queued item and returns its event.
func (s *sim) next() (fleetupdate.Event, bool) {
	if s.q.Len() == 0 {
		return nil, false
	}
	it := heap.Pop(&s.q).(simItem)
	if it.at.After(s.now) {
		s.now = it.at
	}
	if it.tick {
		delete(s.ticks, it.at)
		return fleetupdate.Tick{At: s.now}, true
	}
	return fleetupdate.UpgradeSucceeded{At: s.now, Op: it.op}, true
}

// stepper is fleetupdate.Step or a Journal's Step.
type stepper func(fleetupdate.Event) (fleetupdate.Run, []fleetupdate.Command, error)

// drive runs a started or fresh run to its end: Start if it is NotStarted,
// then every queued item, refused ones (stale ticks) included. It calls
// after, if set, after each accepted step, and returns the events accepted.
func (s *sim) drive(tb testing.TB, run fleetupdate.Run, step stepper, after func(fleetupdate.Run, fleetupdate.Event)) (fleetupdate.Run, []fleetupdate.Event) {
	tb.Helper()
	var accepted []fleetupdate.Event
	apply := func(e fleetupdate.Event) {
		next, cmds, err := step(e)
		if err != nil {
			return // stale: the run is unchanged
		}
		run = next
		accepted = append(accepted, e)
		if after != nil {
			after(run, e)
		}
		s.perform(cmds)
	}
	if run.State() == fleetupdate.NotStarted {
		apply(fleetupdate.Start{At: s.now})
	}
	for !run.Done() {
		e, ok := s.next()
		if !ok {
			tb.Fatalf("run %s is stuck in %s with nothing queued", run.Name(), run.State())
		}
		apply(e)
	}
	return run, accepted
}

// memStep steps a run in memory.
func memStep(r *fleetupdate.Run) stepper {
	return func(e fleetupdate.Event) (fleetupdate.Run, []fleetupdate.Command, error) {
		next, cmds, err := fleetupdate.Step(*r, e)
		if err == nil {
			*r = next
		}
		return next, cmds, err
	}
}

func runJSON(tb testing.TB, r fleetupdate.Run) string {
	tb.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func statusJSON(tb testing.TB, r fleetupdate.Run) string {
	tb.Helper()
	b, err := json.Marshal(r.Status())
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}
