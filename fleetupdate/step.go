package fleetupdate

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Step applies one event to a run and returns the next run and the commands
// the host must perform. It is pure: it reads no clock, does no I/O, and
// never changes r. An event that is not allowed now returns r itself, no
// commands, and an error wrapping a package sentinel.
//
// An event stamped before the run's clock is applied at the run's clock.
func Step(r Run, e Event) (Run, []Command, error) {
	if r.p == nil || r.s == nil {
		return r, nil, fmt.Errorf("%w: the run was not made by New", ErrInvalidTransition)
	}
	if e == nil {
		return r, nil, fmt.Errorf("%w: nil event", ErrInvalidTransition)
	}
	switch e.(type) {
	case Tick, MemberChanged, CatalogChanged:
		if r.s.phase == Completed || r.s.phase == Skipped {
			return r, nil, nil // final: facts no longer matter
		}
	}
	b := newStepper(r)
	if t := e.when(); t.After(b.s.clock) {
		b.s.clock = t.UTC()
	}
	var err error
	switch ev := e.(type) {
	case Start:
		err = b.start()
	case Stop:
		err = b.stop()
	case Skip:
		err = b.skip(ev.Targets)
	case Tick:
		b.tick()
	case UpgradeSucceeded:
		err = b.finished(ev.Op, "", "")
	case UpgradeFailed:
		code := ev.Code
		if code == "" {
			code = "UpgradeFailed"
		}
		err = b.finished(ev.Op, code, ev.Message)
	case MemberChanged:
		err = b.memberChanged(ev.Member, ev.Removed)
	case CatalogChanged:
		err = b.catalogChanged(ev.Catalog)
	default:
		err = fmt.Errorf("%w: unknown event type %T", ErrInvalidTransition, e)
	}
	if err != nil {
		return r, nil, err
	}
	if _, ok := e.(Tick); ok {
		// Only a tick does a wake-up's work (advance looks at every group);
		// until one comes, the wake-up stays owed (NextWake, Outstanding).
		b.dropPastWakes()
	}
	return Run{p: r.p, s: b.s}, b.cmds, nil
}

// stepper builds the next state. It owns b.s (a shallow copy) and any node,
// record or slice it created during this step; everything else is shared
// with the previous run and must be copied before it is changed.
type stepper struct {
	p    *plan
	s    *state
	gen  uint64
	cmds []Command

	stagesOwned, inflightOwned, wakesOwned bool
}

func newStepper(r Run) *stepper {
	b := &stepper{p: r.p, s: new(state)}
	*b.s = *r.s
	b.s.gen++
	b.gen = b.s.gen
	return b
}

func (b *stepper) member(id int32) *memberRec { return b.s.members.get(int(id)) }

func (b *stepper) mutMember(id int32) *memberRec {
	m := b.s.members.get(int(id))
	if m.gen == b.gen {
		return m
	}
	c := *m
	c.gen = b.gen
	b.s.members = b.s.members.set(b.gen, int(id), &c)
	return &c
}

func (b *stepper) group(g int32) *groupRec { return b.s.groups.get(int(g)) }

func (b *stepper) mutGroup(g int32) *groupRec {
	gr := b.s.groups.get(int(g))
	if gr.gen == b.gen {
		return gr
	}
	c := *gr
	c.gen = b.gen
	b.s.groups = b.s.groups.set(b.gen, int(g), &c)
	return &c
}

// mutBuckets returns the group's bucket list for changing (to add one).
func (b *stepper) mutBuckets(g int32) []*bucketRec {
	gr := b.mutGroup(g)
	if gr.bucketsGen != b.gen {
		gr.buckets = slices.Clone(gr.buckets)
		gr.bucketsGen = b.gen
	}
	return gr.buckets
}

// mutBucket returns bucket bi of group g for changing; only that bucket is
// copied, not its siblings.
func (b *stepper) mutBucket(g int32, bi int) *bucketRec {
	bk := b.group(g).buckets[bi]
	if bk.gen == b.gen {
		return bk
	}
	c := *bk
	c.gen = b.gen
	b.mutBuckets(g)[bi] = &c
	return &c
}

func (b *stepper) stage(i int) *stageRec {
	if !b.stagesOwned {
		b.s.stages = slices.Clone(b.s.stages)
		b.stagesOwned = true
	}
	return &b.s.stages[i]
}

func (b *stepper) emit(c Command) { b.cmds = append(b.cmds, c) }

// wakeAt records a wanted Tick and asks the host for it once.
func (b *stepper) wakeAt(t time.Time) {
	if !t.After(b.s.clock) {
		return
	}
	i, found := slices.BinarySearchFunc(b.s.wakes, t, func(a, t time.Time) int { return a.Compare(t) })
	if found {
		return
	}
	if !b.wakesOwned {
		b.s.wakes = slices.Clone(b.s.wakes)
		b.wakesOwned = true
	}
	b.s.wakes = slices.Insert(b.s.wakes, i, t)
	b.emit(WakeAt{At: t})
}

func (b *stepper) dropPastWakes() {
	n := 0
	for n < len(b.s.wakes) && !b.s.wakes[n].After(b.s.clock) {
		n++
	}
	if n > 0 {
		b.s.wakes = b.s.wakes[n:len(b.s.wakes):len(b.s.wakes)]
	}
}

func (b *stepper) setInflight(id int32, on bool) {
	if !b.inflightOwned {
		b.s.inflight = slices.Clone(b.s.inflight)
		b.inflightOwned = true
	}
	i, found := slices.BinarySearch(b.s.inflight, id)
	switch {
	case on && !found:
		b.s.inflight = slices.Insert(b.s.inflight, i, id)
	case !on && found:
		b.s.inflight = slices.Delete(b.s.inflight, i, i+1)
	}
}

// setState moves a member to a new state, keeping the group and stage
// counters in step. Every member state change goes through here.
func (b *stepper) setState(id int32, to State) *memberRec {
	m := b.mutMember(id)
	from := m.state
	if from == to {
		return m
	}
	g := b.p.groupOf[id]
	pg := &b.p.groups[g]
	gr := b.mutGroup(g)
	wasOpen := gr.unfinished(len(pg.members)) > 0
	for i, st := range [2]State{from, to} {
		d := int32(1 - 2*i) // leave from, enter to
		switch st {
		case Running:
			gr.running -= d
			b.stage(int(pg.stage)).running -= int(d)
		case Completed:
			gr.completed -= d
		case Skipped:
			gr.skipped -= d
		case Failed:
			gr.failed -= d
		}
	}
	m.state = to
	isOpen := gr.unfinished(len(pg.members)) > 0
	// openGroups is counted when the stage starts; before that it stays 0.
	if wasOpen != isOpen && b.s.stages[pg.stage].phase != stageNotStarted {
		st := b.stage(int(pg.stage))
		if isOpen {
			st.openGroups++
			gr.end = time.Time{}
		} else {
			st.openGroups--
			gr.end = b.s.clock
		}
	}
	if to == Running {
		b.setInflight(id, true)
	} else if from == Running {
		b.setInflight(id, false)
	}
	return m
}

func (b *stepper) start() error {
	switch b.s.phase {
	case NotStarted, Stopped, Failed:
	default:
		return fmt.Errorf("%w: cannot start a run that is %s", ErrInvalidTransition, b.r().runState())
	}
	if !b.s.started {
		b.s.started = true
		b.s.start = b.s.clock
		b.s.resolveConsistent(b.p) // pinned from here on
	}
	if b.s.phase == Failed {
		// "The restarted update run begins with the last unprocessed cluster";
		// failed members are tried again with their pinned inputs (Azure/AKS#5733).
		b.retryFailed()
	}
	b.s.phase = Running
	b.s.failing = false
	b.s.errCode, b.s.errMsg = "", ""
	b.s.end = time.Time{}
	b.advance(-1)
	return nil
}

// retryFailed puts the active stage's failed members back in their buckets.
func (b *stepper) retryFailed() {
	if b.s.stage >= len(b.p.stages) {
		return
	}
	for _, g := range b.p.stages[b.s.stage].groups {
		if b.group(g).failed == 0 {
			continue
		}
		for _, id := range b.p.groups[g].members {
			if b.member(id).state != Failed {
				continue
			}
			if why, ok := b.abandoned(g, id); ok {
				b.skipMember(id, why)
				continue
			}
			m := b.setState(id, NotStarted)
			m.errCode, m.errMsg, m.message = "", "", ""
			m.end = time.Time{}
			b.requeue(g, id)
		}
	}
}

func (b *stepper) stop() error {
	if b.s.phase != Running {
		return fmt.Errorf("%w: cannot stop a run that is %s", ErrInvalidTransition, b.r().runState())
	}
	if len(b.s.inflight) > 0 {
		b.s.phase = Stopping
		return nil
	}
	b.s.phase = Stopped
	return nil
}

// r views the state being built as a Run (for derived states in messages).
func (b *stepper) r() Run { return Run{p: b.p, s: b.s} }

func (b *stepper) tick() {
	if b.s.phase == Running {
		b.advance(-1)
	}
}

// finished records the outcome of an op; code is empty for success.
func (b *stepper) finished(op OpID, code, message string) error {
	id, ok := b.opMember(op)
	if !ok {
		return fmt.Errorf("%w: %q", ErrStaleOperation, op)
	}
	g := b.p.groupOf[id]
	switch {
	case code == "":
		m := b.setState(id, Completed)
		m.end = b.s.clock
		m.message = m.note
	case code == CodeNodeImageVersionNotAvailable:
		if why, ok := b.abandoned(g, id); ok {
			m := b.setState(id, Skipped)
			m.message, m.end = why, b.s.clock
		} else {
			b.waitForCatalog(g, id, message)
		}
	default:
		m := b.setState(id, Failed)
		m.end = b.s.clock
		m.errCode, m.errMsg = code, message
		b.fail(id)
	}
	switch b.s.phase {
	case Stopping:
		b.settle()
	case Running:
		b.advance(g)
	}
	return nil
}

// opMember finds the member whose op in flight is op.
func (b *stepper) opMember(op OpID) (int32, bool) {
	s := string(op)
	i := strings.LastIndexByte(s, '/')
	j := strings.IndexByte(s, '/')
	if i <= j || j < 0 || s[:j] != b.p.name {
		return 0, false
	}
	id, ok := b.p.byName[s[j+1:i]]
	if !ok {
		return 0, false
	}
	if _, err := strconv.Atoi(s[i+1:]); err != nil {
		return 0, false
	}
	m := b.member(id)
	if m.state != Running || m.op != op {
		return 0, false
	}
	return id, true
}

// abandoned says why a member that was in flight must not be tried again:
// its group (or stage) was skipped meanwhile, or it left the fleet.
func (b *stepper) abandoned(g, id int32) (string, bool) {
	switch {
	case b.group(g).userSkipped:
		return "skipped by user", true
	case b.member(id).removed:
		return "member left the fleet", true
	}
	return "", false
}

// fail applies fail-fast: the run stops starting work and ends Failed once
// nothing is in flight. Azure concepts doc: "Marks all parents (group ->
// stage -> run) as Failed with a summary error message"; "The update run
// status shows as Stopping until all in-progress cluster updates finish."
func (b *stepper) fail(id int32) {
	if b.s.errCode == "" {
		m := b.member(id)
		b.s.errCode = m.errCode
		b.s.errMsg = failureSummary(m.data.Name, m.errMsg)
	}
	b.s.failing = true
	if b.s.phase == Running || b.s.phase == Stopping {
		b.s.phase = Stopping
		b.settle()
	}
}

// failureSummary is the error a failed member gives its group, stage and run.
func failureSummary(member, message string) string {
	return fmt.Sprintf("member %q failed: %s", member, message)
}

// settle ends a Stopping run once nothing is in flight.
func (b *stepper) settle() {
	if b.s.phase != Stopping || len(b.s.inflight) > 0 {
		return
	}
	if b.s.failing {
		b.s.phase = Failed
		b.s.end = b.s.clock
	} else {
		b.s.phase = Stopped
	}
}

// advance makes all the progress the run can make now: it fills free slots
// in the active stage and moves through finished stages and waits. hint is
// the group whose slot just freed, or -1 to look at every group.
func (b *stepper) advance(hint int32) {
	for b.s.phase == Running && b.s.stage < len(b.p.stages) {
		i := b.s.stage
		ps := &b.p.stages[i]
		st := &b.s.stages[i]
		if st.phase == stageNotStarted {
			st = b.stage(i)
			st.phase = stageGroups
			st.start = b.s.clock
			for _, g := range ps.groups {
				gr := b.mutGroup(g)
				gr.start = b.s.clock
				if gr.unfinished(len(b.p.groups[g].members)) > 0 {
					st.openGroups++
				} else {
					gr.end = b.s.clock
				}
			}
			hint = -1
		}
		if st.phase == stageGroups {
			b.fill(i, hint)
			if b.s.phase != Running || b.s.stages[i].openGroups > 0 {
				return
			}
			st = b.stage(i)
			st.phase = stageDone
			if ps.wait > 0 && !st.waitSkipped {
				st.phase = stageWaiting
				st.waitEnd = b.s.clock.Add(ps.wait)
				b.wakeAt(st.waitEnd)
			}
		}
		if st.phase == stageWaiting {
			if !st.waitSkipped && b.s.clock.Before(st.waitEnd) {
				return
			}
			st = b.stage(i)
			st.phase = stageDone
		}
		st = b.stage(i)
		st.end = b.s.clock
		b.s.stage++
		hint = -1
	}
	if b.s.phase == Running && b.s.stage >= len(b.p.stages) {
		b.s.phase = Completed
		if b.allStagesSkipped() {
			b.s.phase = Skipped
		}
		b.s.end = b.s.clock
		b.s.wakes = nil // a final run ignores ticks: it owes none
	}
}

func (b *stepper) allStagesSkipped() bool {
	for i := range b.p.stages {
		if b.r().stageState(i) != Skipped {
			return false
		}
	}
	return true
}

// fill starts work in the stage's groups while slots are free.
func (b *stepper) fill(stage int, hint int32) {
	if hint >= 0 && b.p.groups[hint].stage != int32(stage) {
		return // a change in another stage frees nothing here
	}
	if hint >= 0 && !b.s.stages[stage].starved {
		b.fillGroup(stage, hint)
		return
	}
	if b.s.stages[stage].starved {
		b.stage(stage).starved = false
	}
	for _, g := range b.p.stages[stage].groups {
		b.fillGroup(stage, g)
		if b.s.phase != Running {
			return
		}
	}
}

func (b *stepper) fillGroup(stage int, g int32) {
	pg := &b.p.groups[g]
	for b.s.phase == Running {
		gr := b.group(g)
		if gr.userSkipped || gr.running >= int32(pg.limit) || gr.unfinished(len(pg.members))-gr.running <= 0 {
			return
		}
		if b.s.stages[stage].running >= b.p.stages[stage].limit {
			b.stage(stage).starved = true
			return
		}
		if !b.pick(g) {
			return
		}
	}
}
