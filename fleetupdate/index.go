package fleetupdate

// The pick index: a group's window buckets kept in the planner's order, so
// a pick costs O(log windows) plus the changes it makes, however many
// distinct windows the group holds.
//
// Everything here is derived from the run's state (the members, their
// buckets, each bucket's reached flag and opening) and the clock: the codec
// does not persist it, a decoded run builds it at its first pick, and check
// verifies it. An index is built cold, with its queues and empty heaps, and
// the first pick fills the heaps at its clock in O(buckets) (warm): New's
// clock is the zero time, at which every interval would be stale by Start.
// It is a cache that one stretch of versions of the groups vector owns at a
// time, and the step that owns it changes it in place, so that a pick
// copies nothing, not even the group's record:
//
//   - The groups lineage holds each group's index (lineageRun.idx), and the
//     index names that lineage and the version of the last step that
//     changed it. A version of the lineage at or after that one owns it, as
//     long as the lineage still holds it: no step changed the group since
//     without the index (a step that changes a group record and not its
//     index drops the index from the lineage).
//   - Only a step that extends the lineage's newest version in place (fvec)
//     may claim it, by stamping it with its own version; the run it returns
//     owns it. The run given to Step is not changed: the index is no longer
//     its own, and if it is stepped again, that step copies the vector into
//     a lineage of its own and builds an index of its own from the run's
//     state (O(group size)). Two steps of the same run at once are safe:
//     one extends the lineage, the other copies.
//   - The index reflects its owner's state as the owner's step left it,
//     with intervals computed at that step's clock. Any run that owns it is
//     at that clock or later, which is all the lower bounds below need.
//
// Each bucket with a window and a member waiting is in the heap m, keyed by
// (opening, head): the start of its cached interval (math.MaxInt64 if it
// never opens again) and its first member waiting (ids are in name order).
// Keys are lower bounds of the true keys: an interval that has ended is
// refreshed when it reaches the top (a window's next start is after the
// end of the interval before), and a head that was taken or left is moved
// on, or the bucket dropped if none is left, when it reaches the top
// (members leave a queue, and join it only through requeue, which updates
// the heap). So the top, once fresh, is the planner's first bucket among
// the open ones, if it is open.
//
// A pick also has effects on buckets that are not picked (see pick): every
// reached bucket whose window is open has its reached flag cleared, and
// when no window is open, the buckets that rank before the pick are
// reached. Two more heaps find those without looking at the others: r holds
// the reached buckets by opening, and u the buckets that a reach would
// change (not reached, or reached at an opening they no longer have), by
// opening. Both are lazy in the same way as m: their keys are lower bounds,
// checked when they reach the top; u may hold buckets that no longer need a
// reach, which are dropped there. A bucket whose interval has opened by the
// clock stays out of u (most are picked while open, and never need it): a
// reach happens only when no window is open, after the pick's pass over m
// has refreshed every bucket keyed at or before the clock, and a refresh
// that finds its next opening still ahead puts it in u.

import (
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/fleetkit/fleetkit/planner"
	"github.com/fleetkit/fleetkit/window"
)

// never is the opening of a window that never opens again: it sorts last.
const never = math.MaxInt64

// soon is planner.SoonWithin in seconds.
const soon = int64(planner.SoonWithin / time.Second)

// groupIndex is a group's pick state. See the file comment.
type groupIndex struct {
	owner   atomic.Pointer[lineage[groupRec]] // the groups lineage it belongs to
	ver     atomic.Uint64                     // the version of the step that last changed it
	bks     []ixBucket
	none    int32 // the bucket of members with no window, or -1
	m, u, r ixHeap
	all     []int32 // the buckets' queues as built (ixBucket.cursor)
	scratch []int32
	cold    bool // the heaps are empty and no interval is known: the first pick fills them (warm)
}

// ixBucket is a bucket's queue and its window's interval.
type ixBucket struct {
	win      *window.Compiled // nil: no window, or one that never opens
	extra    *[]int32         // members queued again since the index was built (retries, catalog, moved in), sorted
	s, e     int64            // the window's current or next interval, Unix seconds; valid while the clock is before e
	asked    int64            // when reached: its opening as a key (never for none, math.MinInt64 if not whole seconds)
	cursor   int32            // ix.all[cursor:end]: members waiting when the index was built, sorted; cursor moves past those that left
	end      int32
	xhead    int32 // extra[:xhead] have left
	windowed bool
	ok       bool // the window opens again (s and e are meaningful)
	known    bool // s, e and ok have been computed
	reached  bool // the bucket record's reached flag
}

// ext returns the members queued again in bucket bk, with those that left.
func (bk *ixBucket) ext() []int32 {
	if bk.extra == nil {
		return nil
	}
	return *bk.extra
}

// key is the bucket's opening in the planner's order.
func (bk *ixBucket) key() int64 {
	if !bk.ok {
		return never
	}
	return bk.s
}

// openingKey is a bucket record's opening as a key.
func openingKey(t time.Time) int64 {
	switch {
	case t.IsZero():
		return never
	case t.Nanosecond() != 0:
		return math.MinInt64 // no window opens there: it equals no key
	}
	return t.Unix()
}

// openingTime is the opening a key stands for.
func openingTime(k int64) time.Time {
	if k == never {
		return time.Time{}
	}
	return time.Unix(k, 0).UTC()
}

// index returns group g's index, claimed by this step, or built for it.
func (b *stepper) index(g int32) *groupIndex {
	if ix := b.ownIndex(g); ix != nil {
		return ix
	}
	ix := b.buildIndex(g, b.group(g))
	holdIndex(b.s.groups.l, g, ix, len(b.p.groups), b.gen) // claimed by ownIndex
	return ix
}

// holdIndex makes ix, just built, group g's index in the groups lineage l
// (of groups groups), owned by version ver.
func holdIndex(l *lineage[groupRec], g int32, ix *groupIndex, groups int, ver uint64) {
	ix.owner.Store(l)
	ix.ver.Store(ver)
	x := l.extra()
	if x.idx == nil {
		x.idx = make([]*groupIndex, groups)
	}
	x.idx[g] = ix
}

// ownIndex returns group g's index if this step owns it or can claim it,
// else nil.
func (b *stepper) ownIndex(g int32) *groupIndex {
	if !b.gw.claimed {
		b.gw.claim()
	}
	l := b.s.groups.l
	ix := l.index(g)
	if ix == nil {
		return nil
	}
	owner, v := ix.owner.Load(), ix.ver.Load()
	switch {
	case owner == b.s.groups.l && v == b.gen:
		return ix // built or claimed by this step
	case b.gw.cloned || owner != b.gw.base.l || v > b.gw.base.ver:
		return nil // not the given run's, or not extended in place
	}
	ix.ver.Store(b.gen)
	return ix
}

// index returns the index the groups lineage l holds for group g, or nil.
func (l *lineage[T]) index(g int32) *groupIndex {
	if l.run == nil || l.run.idx == nil {
		return nil
	}
	return l.run.idx[g]
}

// ownedIndex returns group g's index if the groups vector v owns it (see
// the file comment), else nil.
func ownedIndex(v fvec[groupRec], g int32) *groupIndex {
	if ix := v.l.index(g); ix != nil && ix.owner.Load() == v.l && ix.ver.Load() <= v.ver {
		return ix
	}
	return nil
}

// buildIndexes gives every group of a new run its index, so that its steps
// never build one (New's work is O(members) already; a decoded run builds
// each at its first pick). The run's clock is zero: the intervals are
// lower bounds, refreshed as they reach the top.
func (s *state) buildIndexes(p *plan) {
	b := stepper{p: p, s: s, gen: s.gen, now: s.clock.Unix()}
	for g := range int32(len(p.groups)) {
		holdIndex(s.groups.l, g, b.buildIndex(g, s.groups.get(int(g))), len(p.groups), s.gen)
	}
}

// buildIndex builds group g's index from the state being built.
func (b *stepper) buildIndex(g int32, gr *groupRec) *groupIndex {
	n := gr.buckets.n
	ix := &groupIndex{bks: make([]ixBucket, n), none: -1}
	// The heaps' positions, the queues and the counting below share one
	// array: the queues, cut from it, keep it alive with the index.
	members := b.p.groups[g].members
	buf := make([]int32, 3*n+(n+1)+len(members))
	pos, buf := buf[:3*n], buf[3*n:]
	for i := range pos {
		pos[i] = -1
	}
	ix.m.pos, ix.u.pos, ix.r.pos = pos[:n:n], pos[n:2*n:2*n], pos[2*n:3*n:3*n] // capped: addBucket appends
	for bi := range n {
		rec := gr.buckets.get(bi)
		bk := &ix.bks[bi]
		bk.win, bk.windowed = rec.comp, rec.sched != nil
		bk.reached, bk.asked = rec.reached, openingKey(rec.opening)
		if !bk.windowed {
			ix.none = int32(bi)
		}
	}
	// Every queue is cut from one array (a group may hold a window per
	// member): count, then fill in member order, so each queue is sorted.
	at, all := buf[:n+1], buf[n+1:]
	for _, id := range members {
		if m := b.member(id); m.eligible() {
			at[m.bucket+1]++
		}
	}
	for bi := range n {
		at[bi+1] += at[bi]
	}
	ix.all = all
	for bi := range n {
		ix.bks[bi].cursor, ix.bks[bi].end = at[bi], at[bi]
	}
	for _, id := range members {
		if m := b.member(id); m.eligible() {
			bk := &ix.bks[m.bucket]
			all[bk.end] = id
			bk.end++
		}
	}
	queued := 0
	for bi := range ix.bks {
		if ix.bks[bi].windowed && ix.bks[bi].end > ix.bks[bi].cursor {
			queued++
		}
	}
	// Each heap may come to hold each of them (u and r: at most once).
	heaps := make([]ixEntry, 3*queued)
	ix.m.e, ix.u.e, ix.r.e = heaps[:0:queued], heaps[queued:queued:2*queued], heaps[2*queued:2*queued]
	ix.cold = true
	return ix
}

// warm fills a cold index's heaps at the step's clock: every interval at
// once, then each heap in O(buckets). New's clock is the zero time, so
// intervals it computed would all be stale at Start, and refreshing them
// one by one as they reach the top costs O(buckets log buckets).
func (b *stepper) warm(ix *groupIndex) {
	ix.cold = false
	for bi := range int32(len(ix.bks)) {
		bk := &ix.bks[bi]
		if !bk.windowed {
			continue
		}
		// Keys are lower bounds (see m above): the first queued may have
		// left, and a bucket may hold no member by now; a pick finds out at
		// the top, without loading every head's record now.
		h := ix.first(bk)
		if h < 0 {
			continue
		}
		b.interval(bk)
		ix.enter(bi, h, b.now, (*ixHeap).push)
	}
	ix.m.heapify()
	ix.u.heapify()
	ix.r.heapify()
}

// addBucket makes room for a bucket the group has just added.
func (ix *groupIndex) addBucket(rec *bucketRec) {
	bi := int32(len(ix.bks))
	ix.bks = append(ix.bks, ixBucket{win: rec.comp, windowed: rec.sched != nil, reached: rec.reached, asked: openingKey(rec.opening)})
	ix.m.pos = append(ix.m.pos, -1)
	ix.u.pos = append(ix.u.pos, -1)
	ix.r.pos = append(ix.r.pos, -1)
	if rec.sched == nil {
		ix.none = bi
	}
}

// waitsIn: member id waits for its turn in bucket bi.
func (b *stepper) waitsIn(id, bi int32) bool {
	m := b.member(id)
	return m.bucket == bi && m.eligible()
}

// head returns bucket bi's first member waiting, moving past those that
// have left (lazy deletion keeps picks O(1) amortised per member).
func (b *stepper) head(ix *groupIndex, bi int32) (int32, bool) {
	bk := &ix.bks[bi]
	for bk.cursor < bk.end && !b.waitsIn(ix.all[bk.cursor], bi) {
		bk.cursor++
	}
	ext := bk.ext()
	for int(bk.xhead) < len(ext) && !b.waitsIn(ext[bk.xhead], bi) {
		bk.xhead++
	}
	best := ix.first(bk)
	return best, best >= 0
}

// first returns bucket bk's first member queued, which may have left (a
// lower bound of its head, which head checks), or -1 if its queues are
// empty.
func (ix *groupIndex) first(bk *ixBucket) int32 {
	best := int32(-1)
	if bk.cursor < bk.end {
		best = ix.all[bk.cursor]
	}
	if ext := bk.ext(); int(bk.xhead) < len(ext) && (best < 0 || ext[bk.xhead] < best) {
		best = ext[bk.xhead]
	}
	return best
}

// refresh computes bucket bi's interval at the step's clock. Its key in m
// follows, and it joins u if it is reachable now.
func (b *stepper) refresh(ix *groupIndex, bi int32) {
	bk := &ix.bks[bi]
	b.interval(bk)
	if i := ix.m.pos[bi]; i >= 0 {
		ix.m.set(bi, bk.key(), ix.m.e[i].head)
	}
	if bk.reachable(b.now) && ix.u.pos[bi] < 0 {
		ix.u.set(bi, bk.key(), 0)
	}
}

// reachable: bucket bk, with a window and a member waiting, belongs in u:
// a reach would change it, and its interval has not opened by now. One that
// has opened stays out until a refresh finds it closed (see u above).
func (bk *ixBucket) reachable(now int64) bool {
	return (!bk.reached || bk.asked != bk.key()) && !(bk.ok && bk.s <= now)
}

// interval computes bucket bk's interval at the step's clock.
func (b *stepper) interval(bk *ixBucket) {
	if bk.win != nil {
		bk.s, bk.e, bk.ok = bk.win.NextUnix(b.now)
	} else {
		bk.s, bk.e, bk.ok = 0, 0, false
	}
	bk.known = true
}

// stale: bucket bi's interval has ended (or was never computed).
func (ix *groupIndex) stale(bi int32, t int64) bool {
	bk := &ix.bks[bi]
	return !bk.known || bk.ok && bk.e <= t
}

// place puts bucket bi, which has a window and a member waiting, in the heaps.
func (b *stepper) place(ix *groupIndex, bi int32) {
	h, ok := b.head(ix, bi)
	if !ok {
		return
	}
	if ix.stale(bi, b.now) {
		b.refresh(ix, bi)
	}
	ix.enter(bi, h, b.now, (*ixHeap).set)
}

// enter puts bucket bi, which has a window, an interval and head h, in
// each heap it belongs in at now: m always, u if reachable, r if reached.
// put is set, or push for a heap that heapify puts in order after.
func (ix *groupIndex) enter(bi, h int32, now int64, put func(h *ixHeap, bi int32, key int64, head int32)) {
	bk := &ix.bks[bi]
	k := bk.key()
	put(&ix.m, bi, k, h)
	if bk.reachable(now) {
		put(&ix.u, bi, k, 0)
	}
	if bk.reached {
		put(&ix.r, bi, k, 0)
	}
}

// drop takes bucket bi, found with no member waiting, out of the heaps.
func (ix *groupIndex) drop(bi int32) {
	ix.m.remove(bi)
	ix.u.remove(bi)
	ix.r.remove(bi)
}

// enqueue makes member id wait in bucket bi again.
func (b *stepper) enqueue(ix *groupIndex, bi, id int32) {
	bk := &ix.bks[bi]
	rest := bk.ext()[bk.xhead:]
	i, found := slices.BinarySearch(rest, id)
	if !found {
		q := slices.Insert(rest, i, id)
		if bk.extra == nil {
			bk.extra = &q
		} else {
			*bk.extra = q
		}
		bk.xhead = 0
	}
	if bk.windowed && !ix.cold {
		b.place(ix, bi)
	}
}

// ixHeap is a binary min-heap of buckets by (key, head) that knows where
// each bucket is.
type ixHeap struct {
	e   []ixEntry
	pos []int32 // bucket → index in e, or -1
}

type ixEntry struct {
	key  int64
	head int32
	bi   int32
}

func (a ixEntry) less(b ixEntry) bool { return a.key < b.key || a.key == b.key && a.head < b.head }

// set puts bucket bi in the heap with key (key, head), or moves it there.
func (h *ixHeap) set(bi int32, key int64, head int32) {
	x := ixEntry{key, head, bi}
	i := h.pos[bi]
	if i < 0 {
		h.e = append(h.e, x)
		h.up(len(h.e) - 1)
		return
	}
	old := h.e[i]
	h.e[i] = x
	if x.less(old) {
		h.up(int(i))
	} else {
		h.down(int(i))
	}
}

// push appends bucket bi with key (key, head), out of order: heapify
// restores the order.
func (h *ixHeap) push(bi int32, key int64, head int32) {
	h.pos[bi] = int32(len(h.e))
	h.e = append(h.e, ixEntry{key, head, bi})
}

// heapify puts the heap in order in O(len).
func (h *ixHeap) heapify() {
	for i := len(h.e)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

// remove takes bucket bi out of the heap, if it is there.
func (h *ixHeap) remove(bi int32) {
	i := int(h.pos[bi])
	if i < 0 {
		return
	}
	h.pos[bi] = -1
	last := len(h.e) - 1
	x := h.e[last]
	h.e = h.e[:last]
	if i == last {
		return
	}
	old := h.e[i]
	h.e[i] = x
	if x.less(old) {
		h.up(i)
	} else {
		h.down(i)
	}
}

func (h *ixHeap) up(i int) {
	x := h.e[i]
	for i > 0 {
		p := (i - 1) / 2
		if !x.less(h.e[p]) {
			break
		}
		h.e[i] = h.e[p]
		h.pos[h.e[i].bi] = int32(i)
		i = p
	}
	h.e[i] = x
	h.pos[x.bi] = int32(i)
}

func (h *ixHeap) down(i int) {
	x := h.e[i]
	n := len(h.e)
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && h.e[r].less(h.e[c]) {
			c = r
		}
		if !h.e[c].less(x) {
			break
		}
		h.e[i] = h.e[c]
		h.pos[h.e[i].bi] = int32(i)
		i = c
	}
	h.e[i] = x
	h.pos[x.bi] = int32(i)
}

// checkIndex verifies group g's index, if r owns it: that it is what
// buildIndex would make, up to its lazy parts. It must not run while a step
// of any run in r's groups lineage is under way (runs share versions: a step
// of another may claim the index as it is read). Decode runs it on a run
// nobody else holds yet.
func (r Run) checkIndex(g int32, gr *groupRec) error {
	ix := ownedIndex(r.s.groups, g)
	if ix == nil {
		return nil
	}
	f := fmt.Sprintf("state.groups[%d] (its index)", g)
	bad := func(format string, a ...any) error { return corruptf(f, format, a...) }
	n := gr.buckets.n
	if len(ix.bks) != n || len(ix.m.pos) != n || len(ix.u.pos) != n || len(ix.r.pos) != n {
		return bad("%d buckets, the group has %d", len(ix.bks), n)
	}
	for _, h := range []*ixHeap{&ix.m, &ix.u, &ix.r} {
		for i, x := range h.e {
			if h.pos[x.bi] != int32(i) || i > 0 && x.less(h.e[(i-1)/2]) {
				return bad("heap out of order at %d", i)
			}
		}
		in := 0
		for _, p := range h.pos {
			if p >= 0 {
				in++
			}
		}
		if in != len(h.e) {
			return bad("heap positions do not match its entries")
		}
	}
	if ix.cold && len(ix.m.e)+len(ix.u.e)+len(ix.r.e) > 0 {
		return bad("not filled yet, and its heaps hold buckets")
	}
	waiting := make([][]int32, n)
	for _, id := range r.p.groups[g].members {
		if m := r.s.members.get(int(id)); m.eligible() {
			waiting[m.bucket] = append(waiting[m.bucket], id)
		}
	}
	t := r.s.clock.Unix()
	none := int32(-1)
	for bi := range int32(n) {
		rec, bk := gr.buckets.get(int(bi)), &ix.bks[bi]
		if bk.windowed != (rec.sched != nil) || bk.win != rec.comp || bk.reached != rec.reached || bk.reached && bk.asked != openingKey(rec.opening) {
			return bad("bucket %d does not mirror its record", bi)
		}
		if !bk.windowed {
			none = bi
		}
		base := ix.all[bk.cursor:bk.end]
		if !slices.IsSorted(base) || !slices.IsSorted(bk.ext()[bk.xhead:]) {
			return bad("bucket %d: queue not sorted", bi)
		}
		for _, id := range waiting[bi] {
			_, inBase := slices.BinarySearch(base, id)
			_, inExtra := slices.BinarySearch(bk.ext()[bk.xhead:], id)
			if !inBase && !inExtra {
				return bad("member %q waits in bucket %d but is in no queue", r.p.members[id].Name, bi)
			}
		}
		if bk.known && !ix.stale(bi, t) && bk.win != nil {
			if s, e, ok := bk.win.NextUnix(t); ok != bk.ok || ok && (s != bk.s || e != bk.e) {
				return bad("bucket %d: interval [%d, %d) %t; the window's is [%d, %d) %t", bi, bk.s, bk.e, bk.ok, s, e, ok)
			}
		}
		if ix.cold && bk.known {
			return bad("not filled yet, and bucket %d has an interval", bi)
		}
		if !bk.windowed || len(waiting[bi]) == 0 || ix.cold {
			if bk.windowed && (ix.m.pos[bi] >= 0 && !bk.known) {
				return bad("bucket %d is in m with no interval", bi)
			}
			continue
		}
		k, head := bk.key(), waiting[bi][0]
		switch {
		case !bk.known:
			return bad("bucket %d has members waiting and no interval", bi)
		case ix.m.pos[bi] < 0:
			return bad("bucket %d has members waiting and is not in m", bi)
		case ix.m.e[ix.m.pos[bi]].key != k || ix.m.e[ix.m.pos[bi]].head > head:
			return bad("bucket %d: key in m above its own", bi)
		case ix.u.pos[bi] >= 0 && ix.u.e[ix.u.pos[bi]].key > k:
			return bad("bucket %d is in u above its key", bi)
		case ix.u.pos[bi] < 0 && bk.reachable(t):
			return bad("bucket %d would change on a reach, has not opened and is not in u", bi)
		case bk.reached && (ix.r.pos[bi] < 0 || ix.r.e[ix.r.pos[bi]].key > k):
			return bad("bucket %d is reached and not in r below its key", bi)
		}
	}
	if none != ix.none {
		return bad("bucket with no window %d, index says %d", none, ix.none)
	}
	return nil
}
