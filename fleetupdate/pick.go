package fleetupdate

// Picking: which member of a group goes next (the planner's order over
// maintenance-window buckets), and what happens to it (act).

import (
	"slices"
	"time"
)

// pick takes the group's next member in Fleet's order and decides what to
// do with it. It returns false when no member can start now.
//
// At a pick, every bucket with a member waiting ranks by the planner's key
// of its first member (a window gates only the start: open now, or no window
// at all, can start), and:
//
//   - every reached bucket whose window is open now is no longer reached
//     (its members stop showing Pending);
//   - every bucket ranked before the pick whose window is closed is reached:
//     its members show Pending, and the run asks to wake when it opens. Open
//     windows rank first, so this happens only when none is open: then the
//     buckets opening soon are reached if a member with no window is picked,
//     and all of them if no member can start.
//
// The index finds those buckets without looking at the others (index.go).
func (b *stepper) pick(g int32) bool {
	ix := b.index(g)
	if ix.cold {
		b.warm(ix)
	}
	t := b.now
	b.clearOpened(g, ix, t)
	best, id := b.firstOpen(ix, t)
	if best < 0 {
		limit := int64(never) // no member can start: every closed window ranks first
		noWindow := false
		if ix.none >= 0 {
			id, noWindow = b.head(ix, ix.none) // reachClosed leaves it: it has no window
		}
		if noWindow {
			limit = t + soon // windows opening soon rank before no window
			best = ix.none
		}
		b.reachClosed(g, ix, t, limit)
	}
	if best < 0 {
		return false
	}
	bk := &ix.bks[best]
	if bk.cursor < bk.end && ix.all[bk.cursor] == id {
		bk.cursor++
	} else {
		bk.xhead++
	}
	b.act(g, id)
	return true
}

// firstOpen returns the planner's first bucket among those whose window is
// open at t, and its head; or -1 if none is.
func (b *stepper) firstOpen(ix *groupIndex, t int64) (int32, int32) {
	for len(ix.m.e) > 0 {
		top := ix.m.e[0]
		bi := top.bi
		if ix.stale(bi, t) {
			b.refresh(ix, bi)
			continue
		}
		h, ok := b.head(ix, bi)
		if !ok {
			ix.drop(bi)
			continue
		}
		if h != top.head {
			ix.m.set(bi, top.key, h)
			continue
		}
		if top.key <= t {
			return bi, h
		}
		break
	}
	return -1, -1
}

// clearOpened clears the reached flag of every reached bucket with a member
// waiting whose window is open at t.
func (b *stepper) clearOpened(g int32, ix *groupIndex, t int64) {
	for len(ix.r.e) > 0 && ix.r.e[0].key <= t {
		top := ix.r.e[0]
		bi := top.bi
		bk := &ix.bks[bi]
		if _, ok := b.head(ix, bi); !ok {
			ix.drop(bi)
			continue
		}
		if ix.stale(bi, t) {
			b.refresh(ix, bi)
		}
		if k := bk.key(); k != top.key {
			ix.r.set(bi, k, 0)
			continue
		}
		// Fresh, and opened at or before t: open now.
		ix.r.remove(bi)
		bk.reached = false
		b.mutBucket(g, bi).reached = false // open: it joins u once a refresh finds it closed
	}
}

// reachClosed reaches, in bucket order, every bucket with a member waiting
// whose window opens at or before limit (all of them are closed at t) and
// that is not reached at that opening already.
func (b *stepper) reachClosed(g int32, ix *groupIndex, t, limit int64) {
	list := ix.scratch[:0]
	for len(ix.u.e) > 0 {
		top := ix.u.e[0]
		bi := top.bi
		bk := &ix.bks[bi]
		if ix.stale(bi, t) {
			b.refresh(ix, bi)
		}
		k := bk.key()
		if k != top.key {
			ix.u.set(bi, k, 0)
			continue
		}
		if k > limit {
			break
		}
		ix.u.remove(bi)
		if _, ok := b.head(ix, bi); !ok {
			ix.drop(bi)
			continue
		}
		if !bk.reached || bk.asked != k {
			list = append(list, bi)
		}
	}
	slices.Sort(list)
	for _, bi := range list {
		bk := &ix.bks[bi]
		k := bk.key()
		rec := b.mutBucket(g, bi)
		rec.reached, rec.opening = true, openingTime(k)
		bk.reached, bk.asked = true, k
		ix.r.set(bi, k, 0)
		if k != never {
			b.wakeAt(rec.opening)
		}
	}
	ix.scratch = list[:0]
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
		m.setText(memberText{note: v.note})
		m.waitCatalog = false
		m.setStart(b.s.clock)
		m.setEnd(time.Time{})
		if m.pinned != nil {
			b.emit(m.command(b.p))
			break
		}
		// The first attempt: the command takes decide's images, which are
		// its own, and the run pins a copy.
		m.pinned = b.s.members.l.pin(v.cmd.KubernetesVersion, v.cmd.NodeImages) // setState claimed it
		c := v.cmd
		c.Op = m.op(b.p.name)
		b.emit(c)
	case vSkip:
		m := b.setState(id, Skipped)
		m.setText(memberText{note: m.tx().note, message: v.note}) // no error: it may have waited for the catalog
		m.setStart(b.s.clock)
		m.setEnd(b.s.clock)
	case vFail:
		m := b.setState(id, Failed)
		m.setText(memberText{note: m.tx().note, message: m.tx().message, errCode: codeUpgradeNotAllowed, errMsg: v.note})
		m.setStart(b.s.clock)
		m.setEnd(b.s.clock)
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
	m.setText(memberText{note: m.tx().note, message: msg, errCode: code, errMsg: msg})
	gr := b.mutGroup(g)
	w := append(slices.Clip(gr.waiting()), id)
	b.setGroupCold(gr, func(c *groupCold) { c.catalogWait = &w })
}

// requeue makes a member eligible again in its bucket. The index, if this
// step cannot claim it, is not this lineage's any more and will be built
// again from the state at the next pick.
func (b *stepper) requeue(g int32, id int32) {
	if ix := b.ownIndex(g); ix != nil {
		b.enqueue(ix, b.member(id).bucket, id)
	}
}
