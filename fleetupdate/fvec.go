package fleetupdate

import (
	"math"
	"slices"
	"sync/atomic"
	"unsafe"
)

// fvec is a persistent vector for the run's members, groups, stages and
// each group's buckets, where a step changes a few slots of many: each slot
// keeps the history of its values, newest first, so a step that sets a slot
// adds one small entry instead of copying a path of a tree (a "fat node",
// Driscoll et al. 1989).
//
// The versions of one vector share a lineage; a version is the gen of the
// step that made it (state.gen), so versions grow along a lineage. A
// version reads slot i as the newest entry not newer than itself, so every
// version stays readable, by any number of goroutines, for as long as it
// is held. Only the lineage's newest version can be extended in place: a
// step claims it with a compare-and-swap of the lineage's head. A step of
// any other version (an older run stepped again, or two steps of one run
// at once) copies the version it was given into a lineage of its own, in
// O(slots), as the pick index does (index.go).
//
// A lineage is rebased into a fresh one once it holds more entries than
// four times its slots (and a few thousand), so the history a run keeps
// alive stays O(slots), and that copy costs O(1) per write amortised. The
// price is memory: a run holds up to about five values per member, where a
// tree holds one (a 100,000-member run: some 50 MB at worst).
type fvec[T comparable] struct {
	l   *lineage[T]
	ver uint64
}

// busy is a lineage's head while a step extends it, or once nothing may.
const busy = math.MaxUint64

type lineage[T comparable] struct {
	// head is the version a step may extend in place, or busy.
	head   atomic.Uint64
	slots  []atomic.Pointer[fentry[T]]
	writes int         // entries added since the lineage was made; only the claimant touches it
	spare  []fentry[T] // entries allocated ahead for the next writes; only the claimant touches it
	run    *lineageRun // what the run keeps with a members or groups lineage; nil until a claimant needs it
}

// lineageRun is what a run keeps with its members and groups lineages (a
// bucket lineage needs none of it): chunks for values a step allocates,
// like the entries, and the groups' pick indexes. Only the claimant
// touches it.
type lineageRun struct {
	chg    []stepChange   // the run's change list (stepper.commit)
	chgIDs []int32        // and its entries' ids
	pins   []pinnedInputs // members' pinned inputs (stepper.act)
	images []PoolImage    // and their images
	cmds   []Command      // a step's first command (stepper.cmdRoom)
	idx    []*groupIndex  // a groups lineage's: each group's pick index (index.go)

	// A groups lineage's, for what its steps change in a group's record:
	// bucket records (stepper.mutBucket), their entries in the group's
	// bucket lineage (whose own chunks stay tiny: a few writes each), and
	// groups' cold parts (stepper.setGroupCold).
	bks   []bucketRec
	bents []fentry[*bucketRec]
	gcold []groupCold
}

// extra returns l.run, made for the claimant if need be.
func (l *lineage[T]) extra() *lineageRun {
	if l.run == nil {
		l.run = &lineageRun{}
	}
	return l.run
}

// change returns a fresh entry of the run's change list with room for n
// ids, allocated like the vector's entries: the list lives as long as the
// lineage.
func (l *lineage[T]) change(n int) *stepChange {
	x := l.extra()
	c := &carve(&x.chg, 1, l.chunk())[0]
	*c = stepChange{ids: carve(&x.chgIDs, n, 8*l.chunk())[:0]}
	return c
}

// pin returns pinned inputs holding a copy of images, allocated like the
// vector's entries: a member's pinned inputs never change, and a lineage's
// members keep theirs (records copied to a new lineage point to them).
func (l *lineage[T]) pin(k8s string, images []PoolImage) *pinnedInputs {
	x := l.extra()
	p := &carve(&x.pins, 1, l.chunk())[0]
	p.KubernetesVersion = k8s
	if len(images) > 0 {
		p.NodeImages = carve(&x.images, len(images), l.chunk())
		copy(p.NodeImages, images)
	}
	return p
}

// entry returns a fresh entry. Entries are allocated in chunks that grow
// with the lineage's writes, so a step pays one allocation per many
// writes. A chunk lives as long as any of its entries, which costs nothing
// here: a lineage's entries stay reachable through its slots' histories
// until the lineage itself is dropped.
func (l *lineage[T]) entry() *fentry[T] { return &carve(&l.spare, 1, l.chunk())[0] }

// chunk is how many entries to allocate at once: as many as the lineage
// has had writes, from 2 up to 64, so a short-lived one wastes little.
func (l *lineage[T]) chunk() int { return min(max(l.writes, 2), 64) }

// rareChunk is chunk for values fewer steps make than entries (a step's
// first command, bucket records, groups' cold parts): at most 16, so the
// chunk a run ends with wastes little.
func (l *lineage[T]) rareChunk() int { return min(l.chunk(), 16) }

// carve takes n zero values off the front of *spare, its capacity capped at
// n, first refilling it with a chunk of max(n, about chunk) if it holds
// fewer.
func carve[E any](spare *[]E, n, chunk int) []E {
	if len(*spare) < n {
		*spare = make([]E, max(n, fit[E](chunk)))
	}
	s := (*spare)[:n:n]
	*spare = (*spare)[n:]
	return s
}

// fit returns how many Es a chunk of about n should hold to fill a size
// class: up to 512 bytes, n; above, the largest power of two of bytes not
// above n's, less the 8-byte header the runtime puts before a larger
// object with pointers (Go 1.22's malloc headers), which would otherwise
// take it to the next class: 64 entries of 80 bytes went to 5,376 bytes
// for 5,120, and 16 records of 48 to 896 for 768.
func fit[E any](n int) int {
	size := int(unsafe.Sizeof(*new(E)))
	b := n * size
	if b <= 512 {
		return n
	}
	p := 1024
	for p*2 <= b {
		p *= 2
	}
	if p > b {
		return 512 / size // between 512 and 1,024 bytes
	}
	return (p - 8) / size
}

// fentry is one value of a slot, held in the entry itself (a step that
// changes a record allocates once). ver and prev never change once the
// entry is published; val may, by the step that made it, before that step
// returns (no version that can see the entry exists yet), and by whoever
// made the vector, before anyone else can see it.
type fentry[T comparable] struct {
	ver  uint64
	prev *fentry[T]
	val  T
}

// newFvec makes version ver of a vector of n zero values, in a lineage of
// its own, for the caller to fill through get before sharing it.
func newFvec[T comparable](n int, ver uint64) fvec[T] {
	return newFvecCap[T](n, n, ver)
}

// newFvecCap is newFvec with room to grow to capacity slots (bvec).
func newFvecCap[T comparable](n, capacity int, ver uint64) fvec[T] {
	l := &lineage[T]{slots: make([]atomic.Pointer[fentry[T]], capacity)}
	es := make([]fentry[T], n)
	for i := range es {
		es[i].ver = ver
		l.slots[i].Store(&es[i])
	}
	l.head.Store(ver)
	return fvec[T]{l: l, ver: ver}
}

// len is the vector's length; a bvec's is its n, which may be less.
func (v fvec[T]) len() int { return len(v.l.slots) }

// get returns slot i's value. It must not be changed, except by a step
// that has it from its fwriter (set, mut).
func (v fvec[T]) get(i int) *T {
	e := v.l.slots[i].Load()
	for e.ver > v.ver {
		e = e.prev
	}
	return &e.val
}

// each calls f on every slot in order.
func (v fvec[T]) each(f func(i int, x *T)) {
	for i := range v.l.slots {
		f(i, v.get(i))
	}
}

// clone returns a copy of v's first n slots in a lineage of its own with
// room for capacity.
func (v fvec[T]) clone(n, capacity int) fvec[T] {
	c := newFvecCap[T](n, capacity, v.ver)
	for i := range n {
		*c.get(i) = *v.get(i)
	}
	return c
}

// diff calls f, in order, with the index of every slot whose value
// differs between v and w, two vectors of one length, among the slots ids
// names (nil: all).
func (v fvec[T]) diff(w fvec[T], ids []int32, f func(i int)) {
	if ids == nil {
		for i := range w.len() {
			if *v.get(i) != *w.get(i) {
				f(i)
			}
		}
		return
	}
	for _, i := range ids {
		if *v.get(int(i)) != *w.get(int(i)) {
			f(int(i))
		}
	}
}

// fwriter makes the next version of a vector field during one step.
// Reads of the field see the step's writes. commit ends the step's
// changes; abort takes them back, leaving the vector as it was given.
type fwriter[T comparable] struct {
	v        *fvec[T] // the field being built
	np       *int     // its length, for a vector that grows (bvec); else nil
	base     fvec[T]  // the version the step was given
	baseN    int      // and its length
	gen      uint64   // the step's
	claimed  bool     // *v is a version of our own, in base's lineage or a copy
	cloned   bool     // … in a copy
	mustCopy bool     // claim copies base even if it could extend it (set before init)
	few      [4]int32 // the first slots set, once each (most steps set one or two)
	nfew     int
	more     []int32 // the rest
}

// init readies w, a zero writer, to build the next version of *v.
func (w *fwriter[T]) init(v *fvec[T], gen uint64) {
	w.v, w.base, w.baseN, w.gen = v, *v, v.len(), gen
}

// initGrowing is init for a vector that grows, whose length is *n.
func (w *fwriter[T]) initGrowing(v *fvec[T], n *int, gen uint64) {
	w.v, w.np, w.base, w.baseN, w.gen = v, n, *v, *n, gen
}

// n is the length of the version being built.
func (w *fwriter[T]) n() int {
	if w.np != nil {
		return *w.np
	}
	return w.baseN
}

// set makes slot i hold x in the version being built, and returns the
// value held, for the step to change further.
func (w *fwriter[T]) set(i int, x T) *T {
	if !w.claimed {
		w.claim()
	}
	l := w.v.l
	top := l.slots[i].Load()
	if top != nil && top.ver == w.v.ver {
		top.val = x
		return &top.val
	}
	e := l.entry()
	*e = fentry[T]{ver: w.v.ver, prev: top, val: x}
	l.slots[i].Store(e)
	w.wrote(i)
	return &e.val
}

// mut returns slot i's value for the step to change: its own if it set the
// slot already, else a copy of the value it was given, set in its place.
// (Once claimed, a slot's newest entry is the given version's value: the
// claimant is the lineage's only writer and starts from its newest version,
// or from a copy of the given one.)
func (w *fwriter[T]) mut(i int) *T {
	if !w.claimed {
		w.claim()
	}
	l := w.v.l
	top := l.slots[i].Load()
	if top.ver == w.v.ver {
		return &top.val
	}
	e := l.entry()
	*e = fentry[T]{ver: w.v.ver, prev: top, val: top.val}
	l.slots[i].Store(e)
	w.wrote(i)
	return &e.val
}

// wrote notes that the step set slot i.
func (w *fwriter[T]) wrote(i int) {
	w.v.l.writes++
	if w.nfew < len(w.few) {
		w.few[w.nfew] = int32(i)
		w.nfew++
	} else {
		w.more = append(w.more, int32(i))
	}
}

// push appends x to a vector that grows.
func (w *fwriter[T]) push(x T) {
	if !w.claimed {
		w.claim()
	}
	n := *w.np
	if n == len(w.v.l.slots) {
		w.grow()
	}
	w.set(n, x)
	*w.np = n + 1
}

// grow moves the version being built to a lineage with twice the room. The
// values keep their addresses only for pointer types: bvec's are.
func (w *fwriter[T]) grow() {
	n := *w.np
	c := w.v.clone(n, 2*n+8)
	// Only the slots the step set are its own in the copy: one it sets
	// after this gets an entry of its own and is noted (Run.Changed).
	for i := range n {
		c.l.slots[i].Load().ver = w.base.ver
	}
	w.eachTouched(func(i int32) { c.l.slots[i].Load().ver = w.gen })
	c.l.head.Store(busy)
	if !w.cloned {
		w.release()
	}
	w.cloned = true
	*w.v = fvec[T]{l: c.l, ver: w.gen}
}

// expect makes room to note n slots set, at once.
func (w *fwriter[T]) expect(n int) {
	if n > len(w.few) {
		w.more = slices.Grow(w.more, n-len(w.few))
	}
}

// eachTouched calls f with every slot the step set.
func (w *fwriter[T]) eachTouched(f func(i int32)) {
	for _, i := range w.few[:w.nfew] {
		f(i)
	}
	for _, i := range w.more {
		f(i)
	}
}

// touched returns how many slots the step set.
func (w *fwriter[T]) touched() int { return w.nfew + len(w.more) }

// appendTouched appends the slots the step set to ids.
func (w *fwriter[T]) appendTouched(ids []int32) []int32 {
	return append(append(ids, w.few[:w.nfew]...), w.more...)
}

// claim takes base's lineage if base is its newest version, else copies
// base into a lineage of its own.
func (w *fwriter[T]) claim() {
	w.claimed = true
	if !w.mustCopy && w.base.l.head.CompareAndSwap(w.base.ver, busy) {
		*w.v = fvec[T]{l: w.base.l, ver: w.gen}
		return
	}
	w.cloned = true
	c := w.base.clone(w.baseN, len(w.base.l.slots))
	c.l.head.Store(busy)
	*w.v = fvec[T]{l: c.l, ver: w.gen}
}

// commit ends the step: the field holds the new version, which becomes its
// lineage's newest. It reports whether the vector moved to a fresh lineage.
func (w *fwriter[T]) commit() (rebased bool) {
	if !w.claimed {
		return false
	}
	v := *w.v
	if v.l.writes > 4*len(v.l.slots)+4096 {
		// Older versions keep the old lineage; its head stays busy.
		*w.v = v.clone(w.n(), len(v.l.slots))
		return true
	}
	v.l.head.Store(v.ver)
	return false
}

// abort takes back the step's writes: the given version is again its
// lineage's newest.
func (w *fwriter[T]) abort() {
	if !w.claimed {
		return
	}
	if !w.cloned {
		w.release()
	}
	*w.v = w.base
	if w.np != nil {
		*w.np = w.baseN
	}
}

// release takes the step's entries out of base's lineage and makes base
// its newest version again.
func (w *fwriter[T]) release() {
	l := w.base.l
	w.eachTouched(func(i int32) {
		if top := l.slots[i].Load(); top != nil && top.ver == w.gen {
			l.slots[i].Store(top.prev)
			l.writes--
		}
	})
	l.head.Store(w.base.ver)
}

// bvec is a group's window buckets: an fvec of record pointers that grows
// (a member that changes its window may bring a new one). Records keep
// their addresses across lineages, so a bucket a step changed stays its
// own (bucketRec.gen) and versions compare by pointer.
type bvec struct {
	v fvec[*bucketRec]
	n int
}

func newBvec(recs []*bucketRec, ver uint64) bvec {
	v := newFvecCap[*bucketRec](len(recs), len(recs)+len(recs)/8+4, ver)
	for i, r := range recs {
		*v.get(i) = r
	}
	return bvec{v: v, n: len(recs)}
}

func (b bvec) get(i int) *bucketRec { return *b.v.get(i) }

// each calls f on every bucket in order.
func (b bvec) each(f func(i int, x *bucketRec)) {
	for i := range b.n {
		f(i, b.get(i))
	}
}
