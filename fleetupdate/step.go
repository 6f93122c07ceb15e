package fleetupdate

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SemanticsVersion identifies what Step does: it changes whenever Step's
// result (the next run, its commands, or whether the event is refused) for
// the same run and event changes. Workflow engines that replay histories key
// their versioning on it (Temporal's GetVersion or worker versioning);
// journals need not, since a run's inputs and events stay valid across it.
//
// Version 1 was fleetkit's first release; version 2 refuses skips of
// finished stages and waits, events at or after MaxEventTime, and events
// without a time.
const SemanticsVersion = 2

// MaxEventTime bounds the time of events: Step refuses an event stamped at
// or after it. Every time a run computes from an event's (a wait of up to
// 68 years, the next window opening) then stays before year 10000, so the
// run can always be encoded in RFC 3339.
var MaxEventTime = time.Date(9900, 1, 1, 0, 0, 0, 0, time.UTC)

// Step applies one event to a run and returns the next run and the commands
// the host must perform. It is pure: it reads no clock, does no I/O, and
// never changes r. An event that is not allowed now returns r itself, no
// commands, and an error wrapping a package sentinel.
//
// An event stamped before the run's clock is applied at the run's clock.
func Step(r Run, e Event) (Run, []Command, error) {
	var b stepper
	next, cmds, err := step(r, e, &b)
	if err == nil {
		b.commit()
	}
	return next, cmds, err
}

// step is Step up to its commit: it builds the next run in b, whose stage,
// member and group vectors stay claimed (b.commit or b.abort ends that). On
// error it has aborted already.
func step(r Run, e Event, b *stepper) (Run, []Command, error) {
	if r.p == nil || r.s == nil {
		return r, nil, fmt.Errorf("%w: the run was not made by New", ErrInvalidTransition)
	}
	if e == nil {
		return r, nil, fmt.Errorf("%w: nil event", ErrInvalidTransition)
	}
	t := e.when()
	if t.IsZero() {
		return r, nil, fmt.Errorf("%w: %T has no time (At is the zero time.Time)", ErrInvalidTransition, e)
	}
	if !t.Before(MaxEventTime) {
		return r, nil, fmt.Errorf("%w: event time %s is not before %s", ErrInvalidTransition, t.Format(time.RFC3339), MaxEventTime.Format(time.RFC3339))
	}
	if phases, action, ok := accepts(e); ok && !slices.Contains(phases, r.s.phase) {
		if action == "" {
			return r, nil, nil // final: facts no longer matter
		}
		return r, nil, fmt.Errorf("%w: cannot %s that is %s", ErrInvalidTransition, action, r.runState())
	}
	var gate int32
	if ev, ok := e.(CompleteGate); ok {
		k, err := r.checkCompleteGate(ev.Gate)
		if err == errNoChange {
			return r, nil, nil
		}
		if err != nil {
			return r, nil, err
		}
		gate = k
	}
	b.init(r)
	if t.After(b.s.clock) {
		b.s.clock = t.UTC()
		b.now = b.s.clock.Unix()
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
	case CompleteGate:
		b.completeGate(gate)
	default:
		err = fmt.Errorf("%w: unknown event type %T", ErrInvalidTransition, e)
	}
	if err != nil {
		b.abort()
		return r, nil, err
	}
	if _, ok := e.(Tick); ok {
		// Only a tick does a wake-up's work (advance looks at every group);
		// until one comes, the wake-up stays owed (NextWake, Outstanding).
		b.dropPastWakes()
	}
	if len(b.cmds) == 0 {
		b.cmds = nil // stageBefore may have made room for none
	}
	return Run{p: r.p, s: b.s}, b.cmds, nil
}

// accepts is the one table of which run phases accept an event (phases as
// stored: Running includes a run shown Pending). An event not allowed in the
// run's phase is refused, naming action; a fact (no action) arriving after
// the run is final is accepted and changes nothing. Events not listed (ok
// false) are accepted in every phase: outcomes of ops in flight, and
// CompleteGate, which the gate's own state decides (a gate may be completed
// while Stopped). A switch, not a map: every step asks.
func accepts(e Event) (phases []State, action string, ok bool) {
	switch e.(type) {
	case Start:
		return startable, "start a run", true
	case Stop:
		return stoppable, "stop a run", true
	case Skip:
		return skippable, "skip in a run", true
	case Tick, MemberChanged, CatalogChanged:
		return notFinal, "", true
	}
	return nil, "", false
}

var (
	startable = []State{NotStarted, Stopped, Failed}
	stoppable = []State{Running}
	skippable = []State{NotStarted, Running, Stopped, Failed}
)

// notFinal: every phase but Completed and Skipped.
var notFinal = []State{NotStarted, Running, Stopping, Stopped, Failed}

// stepper builds the next state. It owns b.s (a shallow copy) and any node,
// record or slice it created during this step; everything else is shared
// with the previous run and must be copied before it is changed.
type stepper struct {
	p    *plan
	s    *state
	orig *state // the run's state as given to Step: never changed
	gen  uint64
	now  int64 // the clock in Unix seconds
	cmds []Command

	wakesOwned, coldOwned bool

	sw  fwriter[stageRec]
	mw  fwriter[memberRec]
	gw  fwriter[groupRec]
	bw0 bucketWriter    // the first group whose buckets the step changes (g < 0: none)
	bw  []bucketWriter  // the others, from bwPool
	bwp *[]bucketWriter // bw's pooled array, returned by releaseWriters
}

// bwPool holds the arrays of bucket writers that steps reuse: a step that
// starts a stage may change the buckets of each of its groups.
var bwPool = sync.Pool{New: func() any { return new([]bucketWriter) }}

// releaseWriters returns the bucket writers to the pool, holding nothing.
func (b *stepper) releaseWriters() {
	if b.bwp == nil {
		return
	}
	clear(b.bw)
	*b.bwp = b.bw[:0]
	bwPool.Put(b.bwp)
	b.bw, b.bwp = nil, nil
}

// init readies b, a zero stepper, to step r. (It sets fields rather than
// assigning a whole stepper: zeroing one again costs every step.)
func (b *stepper) init(r Run) {
	b.p, b.s, b.orig = r.p, new(state), r.s
	*b.s = *r.s
	b.s.gen++
	b.gen = b.s.gen
	b.now = b.s.clock.Unix()
	b.sw.init(&b.s.stages, b.gen)
	b.mw.init(&b.s.members, b.gen)
	b.gw.init(&b.s.groups, b.gen)
	b.bw0.g = -1
}

// commit ends the step's changes to the stage, member and group vectors,
// and notes the members' and groups' for Changed.
func (b *stepper) commit() {
	b.sw.commit() // stages are not in Changed: no list to restart
	if !b.mw.claimed && !b.gw.claimed {
		return // nothing claimed (a step that changes a bucket changes its group)
	}
	n := b.mw.touched() + b.gw.touched()
	b.bucketWriters(func(bw *bucketWriter) { n += 2 * bw.w.touched() })
	var c *stepChange
	if b.mw.claimed { // the claimed lineages are this step's alone
		c = b.s.members.l.change(n)
	} else {
		c = b.s.groups.l.change(n)
	}
	c.prev, c.nm = b.s.changes, int32(b.mw.touched())
	c.ids = b.gw.appendTouched(b.mw.appendTouched(c.ids))
	if l := b.s.groups.l; b.gw.claimed && l.run != nil && l.run.idx != nil {
		for _, g := range c.ids[c.nm:] {
			// A group changed without its index no longer owns it (index.go).
			if ix := l.run.idx[g]; ix != nil && ix.ver.Load() != b.gen {
				l.run.idx[g] = nil
			}
		}
	}
	b.bucketWriters(func(bw *bucketWriter) {
		bw.w.eachTouched(func(bi int32) { c.ids = append(c.ids, -bw.g-1, bi) })
		bw.w.commit() // records keep their addresses: nothing else moves
	})
	b.releaseWriters()
	b.s.changes = c
	rebased := b.mw.commit()
	groups := b.s.groups
	if b.gw.commit() {
		rebased = true
		// Hand the pick indexes to the new lineage, or the next picks
		// rebuild them; the old lineage's versions can no longer claim them.
		if old := groups.l.run; old != nil && old.idx != nil {
			b.s.groups.l.extra().idx = slices.Clone(old.idx)
			for _, ix := range old.idx {
				if ix != nil {
					ix.owner.CompareAndSwap(groups.l, b.s.groups.l)
				}
			}
		}
	}
	if rebased || b.mw.cloned || b.gw.cloned {
		// A new lineage starts a new list, so neither outgrows O(members).
		b.s.changes = nil
	}
}

// abort takes them back: the run given to Step is again the newest of its
// vectors, as if the step never happened.
func (b *stepper) abort() {
	if l := b.gw.base.l; b.gw.claimed && !b.gw.cloned {
		// The indexes this step claimed or built were changed by a step
		// that never was: they are nobody's. Before the lineage is given
		// back: the next step to claim it has this step's gen. (Refused
		// events are rare: a scan will do.)
		for g := range int32(len(b.p.groups)) {
			ix := l.index(g)
			if ix != nil && ix.ver.Load() == b.gen {
				ix.owner.Store(nil)
			}
		}
	}
	b.sw.abort()
	b.mw.abort()
	b.gw.abort()
	b.bucketWriters(func(bw *bucketWriter) { bw.w.abort() })
	b.releaseWriters()
}

func (b *stepper) member(id int32) *memberRec { return b.s.members.get(int(id)) }

func (b *stepper) mutMember(id int32) *memberRec { return b.mw.mut(int(id)) }

func (b *stepper) group(g int32) *groupRec { return b.s.groups.get(int(g)) }

func (b *stepper) mutGroup(g int32) *groupRec { return b.gw.mut(int(g)) }

// mutBucket returns bucket bi of group g for changing; only that bucket is
// copied, not its siblings.
func (b *stepper) mutBucket(g, bi int32) *bucketRec {
	gr := b.mutGroup(g)
	bk := gr.buckets.get(int(bi))
	if bk.gen == b.gen {
		return bk
	}
	// The record and its entry come from the groups lineage's chunks,
	// which mutGroup claimed for this step.
	gl := b.s.groups.l
	x, n := gl.extra(), gl.rareChunk()
	c := &carve(&x.bks, 1, n)[0]
	*c = *bk
	c.gen = b.gen
	w := b.buckets(g, gr)
	if !w.claimed {
		w.claim()
	}
	if l := w.v.l; len(l.spare) == 0 {
		l.spare = carve(&x.bents, 1, n)
	}
	w.set(int(bi), c)
	return c
}

// setGroupCold gives gr, this step's own, a changed copy of its cold part,
// from the groups lineage's chunks.
func (b *stepper) setGroupCold(gr *groupRec, change func(c *groupCold)) {
	gl := b.s.groups.l
	c := &carve(&gl.extra().gcold, 1, gl.rareChunk())[0]
	*c = *gr.groupCold
	change(c)
	gr.groupCold = c
}

// bucketWriter makes the next version of group g's buckets.
type bucketWriter struct {
	g int32
	w fwriter[*bucketRec]
}

// buckets returns the writer of group g's buckets; gr is the group's
// record, this step's own.
func (b *stepper) buckets(g int32, gr *groupRec) *fwriter[*bucketRec] {
	if b.bw0.g == g {
		return &b.bw0.w
	}
	for i := range b.bw {
		if b.bw[i].g == g {
			return &b.bw[i].w
		}
	}
	bw := &b.bw0
	if bw.g >= 0 {
		if b.bwp == nil {
			b.bwp = bwPool.Get().(*[]bucketWriter)
			b.bw = *b.bwp
		}
		b.bw = append(b.bw, bucketWriter{})
		bw = &b.bw[len(b.bw)-1]
	}
	bw.g = g
	bw.w.initGrowing(&gr.buckets.v, &gr.buckets.n, b.gen)
	return &bw.w
}

// bucketWriters calls f on each bucket writer the step made.
func (b *stepper) bucketWriters(f func(bw *bucketWriter)) {
	if b.bw0.g < 0 {
		return
	}
	f(&b.bw0)
	for i := range b.bw {
		f(&b.bw[i])
	}
}

// stage returns stage i's record for changing.
func (b *stepper) stage(i int) *stageRec { return b.sw.mut(i) }

// cold returns the state's cold part, copied for this step to change.
func (b *stepper) cold() *cold {
	if !b.coldOwned {
		c := *b.s.cold
		b.s.cold = &c
		b.coldOwned = true
	}
	return b.s.cold
}

func (b *stepper) emit(c Command) {
	if b.cmds == nil {
		b.cmds = b.cmdRoom()
	}
	b.cmds = append(b.cmds, c)
}

// cmdRoom returns room for the step's first command, from the chunks of a
// lineage the step claimed (most steps that emit have): one allocation per
// many steps. Its capacity is 1, so a host that appends copies it.
func (b *stepper) cmdRoom() []Command {
	var x *lineageRun
	var n int
	switch {
	case b.mw.claimed:
		x, n = b.s.members.l.extra(), b.s.members.l.rareChunk()
	case b.gw.claimed:
		x, n = b.s.groups.l.extra(), b.s.groups.l.rareChunk()
	default:
		return nil
	}
	return carve(&x.cmds, 1, n)[:0]
}

// wakeAt records a wanted Tick and asks the host for it once.
func (b *stepper) wakeAt(t time.Time) {
	if !t.After(b.s.clock) {
		return
	}
	i, found := slices.BinarySearchFunc(b.s.wakes, t, time.Time.Compare)
	if found {
		return
	}
	if !b.wakesOwned {
		b.cold().wakes = slices.Clone(b.s.wakes)
		b.wakesOwned = true
	}
	b.s.wakes = slices.Insert(b.s.wakes, i, t) // b.s.cold is ours
	b.emit(WakeAt{At: t})
}

func (b *stepper) dropPastWakes() {
	n := 0
	for n < len(b.s.wakes) && !b.s.wakes[n].After(b.s.clock) {
		n++
	}
	if n > 0 {
		b.cold().wakes = b.s.wakes[n:len(b.s.wakes):len(b.s.wakes)]
	}
}

// setState moves a member to a new state, keeping the group and stage
// counters in step. Every member state change goes through here.
func (b *stepper) setState(id int32, to State) *memberRec {
	m := b.mutMember(id)
	from := m.ms
	ms, _ := memberStateOf(to)
	if from == ms {
		return m
	}
	g := b.p.groupOf[id]
	// Only a member that finishes or stops being finished can change
	// whether its group is done (groupPhase counts unfinished members).
	settles := from.finished() != ms.finished()
	var wasDone bool
	if settles {
		wasDone = b.r().groupDone(g)
	}
	gr := b.mutGroup(g)
	gr.count(from, -1)
	gr.count(ms, 1)
	m.ms = ms
	if settles {
		b.regroup(g, wasDone)
	}
	if ms == msRunning {
		b.s.inflight++
	} else if from == msRunning {
		b.s.inflight--
	}
	return m
}

func (b *stepper) start() error {
	if !b.s.started {
		b.s.started = true
		b.cold().start = b.s.clock
		b.s.resolveConsistent(b.p) // pinned from here on
	}
	if b.s.phase == Failed {
		// "The restarted update run begins with the last unprocessed cluster";
		// failed members are tried again with their pinned inputs (Azure/AKS#5733).
		b.retryFailed()
	}
	b.cold().phase = Running
	b.s.failing = false
	if c := b.s.cold; c.errCode != "" || c.errMsg != "" || !c.end.IsZero() {
		c = b.cold()
		c.errCode, c.errMsg = "", ""
		c.end = time.Time{}
	}
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
			if b.member(id).state() != Failed {
				continue
			}
			if why, ok := b.abandoned(g, id); ok {
				b.skipMember(id, why)
				continue
			}
			m := b.setState(id, NotStarted)
			m.setText(memberText{note: m.tx().note})
			m.setEnd(time.Time{})
			b.requeue(g, id)
		}
	}
}

func (b *stepper) stop() error {
	if b.s.inflight > 0 {
		b.cold().phase = Stopping
		return nil
	}
	b.cold().phase = Stopped
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
		m.setEnd(b.s.clock)
		m.setText(memberText{note: m.tx().note, message: m.tx().note})
	case code == CodeNodeImageVersionNotAvailable:
		if why, ok := b.abandoned(g, id); ok {
			m := b.setState(id, Skipped)
			m.setText(memberText{note: m.tx().note, message: why})
			m.setEnd(b.s.clock)
		} else {
			b.waitForCatalog(g, id, code, message)
		}
	default:
		m := b.setState(id, Failed)
		m.setEnd(b.s.clock)
		m.setText(memberText{note: m.tx().note, message: m.tx().message, errCode: code, errMsg: message})
		b.memberFailed(id)
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
	m := b.member(id)
	if m.state() != Running || s[i+1:] != strconv.Itoa(int(m.attempt)) {
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

// settle ends a Stopping run once nothing is in flight.
func (b *stepper) settle() {
	if b.s.phase != Stopping || b.s.inflight > 0 {
		return
	}
	if b.s.failing {
		b.cold().phase = Failed
		b.cold().end = b.s.clock
	} else {
		b.cold().phase = Stopped
	}
}
