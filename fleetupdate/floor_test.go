package fleetupdate

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetkit/fleetkit/window"
)

// The floor: the simplest fast scheduler that makes the same picks and
// emits the same commands as fleetupdate for the benchmark fleets, so the
// benchmarks can say how far a step is from it. It keeps per-group queues
// and changes its state in place: nothing is persistent, nothing is copied,
// no status is kept. It decides each member's upgrade with the run's own
// plan.decide (the same work for both), and picks with the planner's order
// over window buckets: a heap of buckets by (interval start, head) whose
// expired intervals are refreshed when they reach the top, and a heap of
// buckets whose next opening has not yet been asked for as a wake-up.
//
// It handles what the benchmark fleets need: stages and groups with their
// concurrency limits, maintenance windows, and upgrades that succeed. It
// refuses plans with gates or after-stage waits, and verdicts other than
// an upgrade.

// floorPlan is what the floor computes once per fleet.
type floorPlan struct {
	p      *plan
	run    Run // the run at New: catalog and Consistent selection
	groups []floorGroupPlan
}

type floorGroupPlan struct {
	buckets []floorBucketPlan // in the order the group's members meet them, as the run's
	none    int               // the bucket of members with no window, or -1
}

type floorBucketPlan struct {
	win   *window.Compiled // nil: no window
	queue []int32          // member ids, sorted
}

func newFloorPlan(tb testing.TB, r Run) *floorPlan {
	p := r.p
	if len(p.gates) > 0 {
		tb.Fatal("floor: gates are not supported")
	}
	fp := &floorPlan{p: p, run: r, groups: make([]floorGroupPlan, len(p.groups))}
	for _, st := range p.stages {
		if st.wait > 0 {
			tb.Fatal("floor: after-stage waits are not supported")
		}
	}
	compiled := map[*window.Schedule]*window.Compiled{}
	for g, pg := range p.groups {
		gp := &fp.groups[g]
		gp.none = -1
		byWindow := map[*window.Schedule]int{}
		for _, id := range pg.members {
			w := windowFor(&p.members[id], p.v.upType)
			bi, ok := byWindow[w]
			if !ok {
				bi = len(gp.buckets)
				byWindow[w] = bi
				var c *window.Compiled
				if w != nil {
					if c = compiled[w]; c == nil {
						var err error
						if c, err = w.Compile(); err != nil {
							tb.Fatal(err)
						}
						compiled[w] = c
					}
				} else {
					gp.none = bi
				}
				gp.buckets = append(gp.buckets, floorBucketPlan{win: c})
			}
			gp.buckets[bi].queue = append(gp.buckets[bi].queue, id)
		}
	}
	return fp
}

// floor is one run of the floor.
type floor struct {
	*floorPlan
	clock   time.Time
	now     int64 // clock in Unix seconds
	started bool
	done    bool
	stage   int
	stageOn bool // the active stage has started its groups
	open    int  // groups of the active stage not done
	running int  // members in flight in the active stage
	starved bool
	state   []uint8 // per member: 0 waiting, 1 running, 2 done
	groups  []floorGroup
	wakes   []int64 // wake-ups asked for that no Tick has reached, sorted
	cmds    []Command
}

type floorGroup struct {
	running, left int
	buckets       []floorBucket
	m, u          ixHeap // the run's heap type: buckets by (key, head), keys stored
	indexed       bool   // its buckets are in the heaps
}

type floorBucket struct {
	next  int   // queue[:next] taken
	s, e  int64 // the window's current or next interval, in Unix seconds; valid until e
	ok    bool  // false: the window never opens again
	asked int64 // the opening a wake-up was asked for; math.MinInt64: none
}

func (f *floorPlan) start() *floor {
	fl := &floor{floorPlan: f, state: make([]uint8, len(f.p.members)), groups: make([]floorGroup, len(f.groups))}
	for g := range f.groups {
		gr := &fl.groups[g]
		gr.left = len(f.p.groups[g].members)
		n := len(f.groups[g].buckets)
		gr.buckets = make([]floorBucket, n)
		pos := make([]int32, 2*n)
		for i := range pos {
			pos[i] = -1
		}
		gr.m.pos, gr.u.pos = pos[:n:n], pos[n:]
		for bi := range gr.buckets {
			gr.buckets[bi].asked = math.MinInt64
		}
	}
	return fl
}

// key is the bucket's opening for the planner's order: never opening sorts last.
func (b *floorBucket) key() int64 {
	if !b.ok {
		return math.MaxInt64
	}
	return b.s
}

func (fl *floor) apply(e Event) ([]Command, error) {
	fl.cmds = nil
	if t := e.when(); t.After(fl.clock) {
		fl.clock = t.UTC()
		fl.now = fl.clock.Unix()
	}
	switch ev := e.(type) {
	case Start:
		fl.started = true
		fl.advance(-1)
	case Tick:
		if !fl.done {
			fl.advance(-1)
		}
	case UpgradeSucceeded:
		id := fl.opMember(ev.Op)
		if id < 0 || fl.state[id] != 1 {
			return nil, fmt.Errorf("%w: %q", ErrStaleOperation, ev.Op)
		}
		fl.state[id] = 2
		g := fl.p.groupOf[id]
		gr := &fl.groups[g]
		gr.running--
		gr.left--
		fl.running--
		if gr.left == 0 {
			fl.open--
		}
		fl.advance(g)
	default:
		return nil, fmt.Errorf("floor: %T is not supported", e)
	}
	if _, ok := e.(Tick); ok {
		// As in the run: a wake-up stays owed until a Tick reaches it.
		n := 0
		for n < len(fl.wakes) && fl.wakes[n] <= fl.now {
			n++
		}
		fl.wakes = fl.wakes[n:]
	}
	return fl.cmds, nil
}

func (fl *floor) opMember(op OpID) int32 {
	s := string(op)
	i, j := strings.IndexByte(s, '/'), strings.LastIndexByte(s, '/')
	if j <= i || i < 0 || s[:i] != fl.p.name {
		return -1
	}
	id, ok := fl.p.byName[s[i+1:j]]
	if !ok || s[j+1:] != "1" {
		return -1
	}
	return id
}

func (fl *floor) nextWake() (time.Time, bool) {
	if len(fl.wakes) == 0 {
		return time.Time{}, false
	}
	return time.Unix(fl.wakes[0], 0).UTC(), true
}

func (fl *floor) completed() bool { return fl.done }

// advance runs the active stage and moves on to the next while it can.
func (fl *floor) advance(hint int32) {
	for fl.stage < len(fl.p.stages) {
		ps := &fl.p.stages[fl.stage]
		if !fl.stageOn {
			fl.stageOn = true
			fl.open, fl.running, fl.starved = 0, 0, false
			for _, g := range ps.groups {
				if fl.groups[g].left > 0 {
					fl.open++
				}
			}
			hint = -1
		}
		switch {
		case hint >= 0 && fl.p.groups[hint].stage != int32(fl.stage):
		case hint >= 0 && !fl.starved:
			fl.fill(hint)
		default:
			fl.starved = false
			for _, g := range ps.groups {
				fl.fill(g)
			}
		}
		if fl.open > 0 {
			return
		}
		fl.stage++
		fl.stageOn = false
		hint = -1
	}
	fl.done = true
	fl.wakes = fl.wakes[:0]
}

func (fl *floor) fill(g int32) {
	gr := &fl.groups[g]
	limit := fl.p.groups[g].limit
	for gr.running < limit && gr.left-gr.running > 0 {
		if fl.running >= fl.p.stages[fl.stage].limit {
			fl.starved = true
			return
		}
		if !fl.pick(g) {
			return
		}
	}
}

// pick starts the group's next member in the planner's order, asking for a
// wake-up at each closed window ranked before it; false if none can start.
// Heap keys are lower bounds, made exact when they reach the top: a
// window's next interval starts after the one before.
func (fl *floor) pick(g int32) bool {
	gp, gr := &fl.floorPlan.groups[g], &fl.groups[g]
	if !gr.indexed {
		// First pick in this group: every bucket with a window goes in.
		gr.indexed = true
		for bi := range gr.buckets {
			if q := gp.buckets[bi].queue; bi != gp.none && len(q) > 0 {
				fl.refresh(g, int32(bi))
				k := gr.buckets[bi].key()
				gr.m.set(int32(bi), k, q[0])
				gr.u.set(int32(bi), k, 0)
			}
		}
	}
	t := fl.now
	best := -1
	for len(gr.m.e) > 0 {
		top := gr.m.e[0]
		bk := &gr.buckets[top.bi]
		if bk.ok && bk.e <= t {
			fl.refresh(g, top.bi)
			gr.m.set(top.bi, bk.key(), top.head)
			continue
		}
		if bk.ok && bk.s <= t {
			best = int(top.bi)
		}
		break
	}
	if best < 0 {
		noWindow := gp.none >= 0 && gr.buckets[gp.none].next < len(gp.buckets[gp.none].queue)
		limit := int64(math.MaxInt64)
		if noWindow {
			limit = t + int64(4*time.Hour/time.Second)
		}
		var reach []int32
		for len(gr.u.e) > 0 {
			top := gr.u.e[0]
			bk := &gr.buckets[top.bi]
			if bk.ok && bk.e <= t {
				fl.refresh(g, top.bi)
				gr.m.set(top.bi, bk.key(), gr.m.e[gr.m.pos[top.bi]].head)
			}
			if k := bk.key(); k != top.key {
				gr.u.set(top.bi, k, 0)
				continue
			}
			if bk.key() > limit {
				break
			}
			gr.u.remove(top.bi)
			if bk.asked != bk.key() {
				bk.asked = bk.key()
				reach = append(reach, top.bi)
			}
		}
		slices.Sort(reach)
		for _, bi := range reach {
			if bk := &gr.buckets[bi]; bk.ok {
				fl.wakeAt(bk.s)
			}
		}
		if noWindow {
			best = gp.none
		}
	}
	if best < 0 {
		return false
	}
	bk := &gr.buckets[best]
	q := gp.buckets[best].queue
	id := q[bk.next]
	bk.next++
	if best != gp.none {
		if bk.next == len(q) {
			gr.m.remove(int32(best))
			gr.u.remove(int32(best))
		} else {
			gr.m.set(int32(best), bk.key(), q[bk.next])
		}
	}
	fl.startMember(g, id)
	return true
}

// refresh computes the bucket's interval at the clock; a bucket whose
// opening was asked for and has moved on joins u again.
func (fl *floor) refresh(g, bi int32) {
	gr := &fl.groups[g]
	bk := &gr.buckets[bi]
	bk.s, bk.e, bk.ok = fl.floorPlan.groups[g].buckets[bi].win.NextUnix(fl.now)
	if bk.asked != bk.key() && gr.u.pos[bi] < 0 {
		gr.u.set(bi, bk.key(), 0)
	}
}

func (fl *floor) wakeAt(t int64) {
	if t <= fl.now {
		return
	}
	i, found := slices.BinarySearch(fl.wakes, t)
	if found {
		return
	}
	fl.wakes = slices.Insert(fl.wakes, i, t)
	fl.cmds = append(fl.cmds, WakeAt{At: time.Unix(t, 0).UTC()})
}

func (fl *floor) startMember(g, id int32) {
	v := fl.p.decide(fl.run.s.catalog, fl.run.s.selection, fl.run.s.unresolved, id, &fl.p.members[id])
	if v.kind != vStart {
		panic(fmt.Sprintf("floor: member %s: verdict %d is not supported", fl.p.members[id].Name, v.kind))
	}
	fl.state[id] = 1
	fl.groups[g].running++
	fl.running++
	c := v.cmd
	c.Op = OpID(fl.p.name + "/" + c.Member + "/" + strconv.Itoa(1))
	fl.cmds = append(fl.cmds, c)
}

// runSched drives fleetupdate's Run in the benchmark host.
type runSched struct{ r Run }

func (s *runSched) apply(e Event) ([]Command, error) {
	var cmds []Command
	var err error
	s.r, cmds, err = Step(s.r, e)
	return cmds, err
}

func (s *runSched) nextWake() (time.Time, bool) { return s.r.NextWake() }

// completed asks Done, as a host loop does (State derives the stage's state
// from its groups, to show Pending).
func (s *runSched) completed() bool { return s.r.Done() }

// floorShapes are the fleets BenchmarkFloor compares on.
var floorShapes = []struct {
	name  string
	fleet func(n int) (Spec, []Member)
}{
	{"oneByOne", func(n int) (Spec, []Member) { return benchFleet(n, 0, 0, false) }},
	{"staged", func(n int) (Spec, []Member) { return benchFleet(n, 10, 50, false) }},
	{"uniqueWindows", uniqueWindowFleet},
}

// checkFloorMatchesRun drives the run and the floor side by side and fails
// at the first event after which their commands differ.
func checkFloorMatchesRun(tb testing.TB, r Run, fp *floorPlan) int {
	tb.Helper()
	var want [][]Command
	events := driveToEnd(tb, &runSched{r}, func(_ Event, cmds []Command) { want = append(want, cmds) })
	i := 0
	driveToEnd(tb, fp.start(), func(e Event, cmds []Command) {
		if i >= len(want) || !reflect.DeepEqual(cmds, want[i]) {
			var w []Command
			if i < len(want) {
				w = want[i]
			}
			tb.Fatalf("event %d (%#v): the floor emitted %v, the run %v", i, e, cmds, w)
		}
		i++
	})
	if i != events {
		tb.Fatalf("the floor took %d events, the run %d", i, events)
	}
	return events
}

// The floor emits exactly the run's commands, event by event, on every
// benchmark shape (at the small size; the benchmarks check the large ones
// once per setup).
func TestFloorMatchesRun(t *testing.T) {
	sizes := []int{1, 7, 200, 1000}
	if testing.Short() {
		sizes = sizes[:3]
	}
	shapes := append(slices.Clone(floorShapes), struct {
		name  string
		fleet func(n int) (Spec, []Member)
	}{"partialDay", partialDayFleet})
	for _, shape := range shapes {
		for _, n := range sizes {
			t.Run(fmt.Sprintf("%s/members=%d", shape.name, n), func(t *testing.T) {
				spec, ms := shape.fleet(n)
				r, err := New("bench", spec, ms, catalog())
				if err != nil {
					t.Fatal(err)
				}
				checkFloorMatchesRun(t, r, newFloorPlan(t, r))
			})
		}
	}
}

// BenchmarkFloor runs whole runs of each shape with the floor and with
// fleetupdate, side by side, so benchstat can give the ratio per shape and
// size. The floor is checked against the run once per setup.
func BenchmarkFloor(b *testing.B) {
	for _, shape := range floorShapes {
		for _, n := range []int{1000, 10000, 100000} {
			var spec Spec
			var ms []Member
			var r Run
			var fp *floorPlan
			setup := func(b *testing.B) {
				if fp != nil {
					return
				}
				spec, ms = shape.fleet(n)
				var err error
				if r, err = New("bench", spec, ms, catalog()); err != nil {
					b.Fatal(err)
				}
				fp = newFloorPlan(b, r)
				checkFloorMatchesRun(b, r, fp)
			}
			b.Run(fmt.Sprintf("shape=%s/members=%d/impl=floor", shape.name, n), func(b *testing.B) {
				setup(b)
				benchDrive(b, func() scheduler { return fp.start() })
			})
			b.Run(fmt.Sprintf("shape=%s/members=%d/impl=run", shape.name, n), func(b *testing.B) {
				setup(b)
				benchDrive(b, freshRun(b, spec, ms))
			})
		}
	}
}

// uniqueWindowFleet gives each of n members (up to 119,040) a maintenance
// window of its own, as teams that each pick theirs do: weekly (every 1–4
// weeks, on any day) or daily (every 1–3 days), starting on any quarter
// hour, 4–8 hours long, at one of 8 UTC offsets. Window i is the i-th of a
// fixed permutation of all such windows, so every size draws from the same
// mix. All members are in one group, upgraded one by one.
func uniqueWindowFleet(n int) (Spec, []Member) {
	const space = 96 * 5 * 8 * 31
	if n > space {
		panic("uniqueWindowFleet: too many members")
	}
	offsets := []string{"+00:00", "-05:00", "+01:00", "+05:30", "-08:00", "+09:00", "+03:00", "-03:30"}
	days := []window.Weekday{window.Sunday, window.Monday, window.Tuesday, window.Wednesday, window.Thursday, window.Friday, window.Saturday}
	ms := make([]Member, n)
	for i := range ms {
		k := i * 7919 % space // 7919 is prime to space: a permutation
		quarter := k % 96
		k /= 96
		s := &window.Schedule{StartTime: fmt.Sprintf("%02d:%02d", quarter/4, quarter%4*15), DurationHours: 4 + k%5}
		k /= 5
		s.UTCOffset = offsets[k%8]
		k /= 8
		if rec := k % 31; rec < 3 {
			s.Recurrence.Daily = &window.DailySchedule{IntervalDays: 1 + rec}
		} else {
			s.Recurrence.Weekly = &window.WeeklySchedule{IntervalWeeks: 1 + (rec-3)/7, DayOfWeek: days[(rec-3)%7]}
		}
		ms[i] = member(fmt.Sprintf("member-%06d", i), "")
		ms[i].AutoUpgradeWindow = s
	}
	return Spec{ManagedClusterUpdate: full("1.30")}, ms
}

// partialDayFleet is the fleet of BenchmarkRunUniqueWindows: daily windows
// starting a minute apart from midnight on, so small fleets have hours with
// no window open, when every bucket is reached.
func partialDayFleet(n int) (Spec, []Member) {
	ms := make([]Member, n)
	for i := range ms {
		ms[i] = member(fmt.Sprintf("member-%06d", i), "")
		ms[i].AutoUpgradeWindow = dailyWindow(fmt.Sprintf("%02d:%02d", i/60%24, i%60), 4+i%5)
	}
	return Spec{ManagedClusterUpdate: full("1.30")}, ms
}
