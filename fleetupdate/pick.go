package fleetupdate

// Picking: which member of a group goes next (the planner's order over
// maintenance-window buckets), and what happens to it (act).

import (
	"slices"
	"time"

	"github.com/fleetkit/fleetkit/planner"
)

// bucketKey ranks bucket bi of group g at the step's time. The bucket keeps
// its window's current interval, so a pick costs a few comparisons per
// window instead of a Next call, however many windows a group holds.
func (b *stepper) bucketKey(g int32, bi int) planner.Key {
	bk := b.group(g).buckets[bi]
	if bk.sched == nil {
		return planner.Key{Priority: planner.NoWindow}
	}
	if !bk.ivSeen || bk.ivOK && !bk.iv.Unbounded() && !b.s.clock.Before(bk.iv.End) {
		iv, ok := bk.sched.Next(b.s.clock)
		bk = b.mutBucket(g, bi)
		bk.iv, bk.ivOK, bk.ivSeen = iv, ok, true
	}
	p, opening := planner.ClassifyInterval(bk.iv, bk.ivOK, b.s.clock)
	return planner.Key{Priority: p, Opening: opening}
}

// eligible: the member waits in bucket bi for its turn.
func (b *stepper) eligible(id int32, bi int) bool {
	m := b.member(id)
	return int(m.bucket) == bi && m.eligible()
}

// head returns bucket bi's next member, persisting any advance past members
// that were taken, skipped or moved since (lazy deletion keeps picks O(1)
// amortised per member).
func (b *stepper) head(g int32, bi int) (int32, bool) {
	bk := b.group(g).buckets[bi]
	c, x := bk.cursor, bk.xhead
	for int(c) < len(bk.base) && !b.eligible(bk.base[c], bi) {
		c++
	}
	for int(x) < len(bk.extra) && !b.eligible(bk.extra[x], bi) {
		x++
	}
	if c != bk.cursor || x != bk.xhead {
		gb := b.mutBucket(g, bi)
		gb.cursor, gb.xhead = c, x
		bk = gb
	}
	best := int32(-1)
	if int(c) < len(bk.base) {
		best = bk.base[c]
	}
	if int(x) < len(bk.extra) && (best < 0 || bk.extra[x] < best) {
		best = bk.extra[x]
	}
	return best, best >= 0
}

type candidate struct {
	bucket int
	id     int32
	key    planner.Key
}

// pick takes the group's next member in Fleet's order and decides what to do
// with it. Buckets ranked before it whose window is closed are reached: their
// members go Pending, and the run asks to wake when the window opens. It
// returns false when no member can start now.
func (b *stepper) pick(g int32) bool {
	var buf [16]candidate
	cands := buf[:0]
	for bi := range b.group(g).buckets {
		id, ok := b.head(g, bi)
		if !ok {
			continue
		}
		k := b.bucketKey(g, bi)
		k.Name = b.p.members[id].Name
		if k.Priority == planner.OpenNow && b.group(g).buckets[bi].reached {
			b.mutBucket(g, bi).reached = false // open again: its members are no longer held
		}
		cands = append(cands, candidate{bi, id, k})
	}
	// A window gates only the start: open now, or no window at all.
	startable := func(c candidate) bool {
		return c.key.Priority == planner.OpenNow || c.key.Priority == planner.NoWindow
	}
	best := -1
	for i, c := range cands {
		if startable(c) && (best < 0 || c.key.Compare(cands[best].key) < 0) {
			best = i
		}
	}
	for _, c := range cands {
		if !startable(c) && (best < 0 || c.key.Compare(cands[best].key) < 0) {
			b.reach(g, c.bucket, c.key.Opening)
		}
	}
	if best < 0 {
		return false
	}
	b.take(g, cands[best].bucket, cands[best].id)
	return true
}

// reach marks a bucket whose window is closed as reached.
func (b *stepper) reach(g int32, bi int, opening time.Time) {
	bk := b.group(g).buckets[bi]
	if !bk.reached || !bk.opening.Equal(opening) {
		gb := b.mutBucket(g, bi)
		gb.reached, gb.opening = true, opening
	}
	if !opening.IsZero() {
		b.wakeAt(opening)
	}
}

// take removes id from the front of its bucket and acts on it.
func (b *stepper) take(g int32, bi int, id int32) {
	gb := b.mutBucket(g, bi)
	if int(gb.cursor) < len(gb.base) && gb.base[gb.cursor] == id {
		gb.cursor++
	} else {
		gb.xhead++
	}
	b.act(g, id)
}

// Verdicts of prepare.
const (
	vStart = iota
	vSkip
	vFail
	vWait
)

type verdict struct {
	kind int
	cmd  UpgradeMember
	note string // vStart: pools left alone; vSkip, vFail, vWait: why
	code string // vWait: the error code status shows
}

func (b *stepper) act(g int32, id int32) {
	rec := b.member(id)
	v := b.prepare(id, rec)
	switch v.kind {
	case vStart:
		m := b.setState(id, Running)
		m.attempt++
		m.op = opID(b.p.name, m.data.Name, int(m.attempt))
		if m.pinned == nil {
			c := v.cmd
			m.pinned = &c
		}
		m.note = v.note
		m.message = ""
		m.errCode, m.errMsg = "", ""
		m.waitCatalog = false
		m.start = b.s.clock
		m.end = time.Time{}
		b.emit(m.command())
	case vSkip:
		m := b.setState(id, Skipped)
		m.message = v.note
		m.errCode, m.errMsg = "", "" // it may have waited for the catalog
		m.start, m.end = b.s.clock, b.s.clock
	case vFail:
		m := b.setState(id, Failed)
		m.errCode, m.errMsg = codeUpgradeNotAllowed, v.note
		m.start, m.end = b.s.clock, b.s.clock
		b.memberFailed(id)
	case vWait:
		b.waitForCatalog(g, id, v.code, v.note)
	}
}

// waitForCatalog parks a member Pending until the catalog or the member
// changes. Status shows the reason as the member's message and, as in
// Azure's monitoring example, as its error {code, message}.
func (b *stepper) waitForCatalog(g int32, id int32, code, msg string) {
	m := b.setState(id, Pending)
	m.waitCatalog = true
	m.message = msg
	m.errCode, m.errMsg = code, msg
	gr := b.mutGroup(g)
	gr.catalogWait = append(slices.Clip(gr.catalogWait), id)
}

// requeue makes a member eligible again in its bucket.
func (b *stepper) requeue(g int32, id int32) {
	bk := b.mutBucket(g, int(b.member(id).bucket))
	rest := bk.extra[bk.xhead:]
	i, found := slices.BinarySearch(rest, id)
	if found {
		return
	}
	bk.extra = slices.Insert(slices.Clone(rest), i, id)
	bk.xhead = 0
}
