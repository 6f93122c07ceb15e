package fleetupdate

import (
	"slices"
	"sync/atomic"
)

// fvec is a persistent vector for the run's members and groups, where a
// step changes a few slots of many: each slot keeps the history of its
// values, newest first, so a step that sets a slot adds one small entry
// instead of copying a path of a tree (a "fat node", Driscoll et al. 1989).
//
// The versions of one vector share a lineage. A version reads slot i as the
// newest entry not newer than itself, so every version stays readable, by
// any number of goroutines, for as long as it is held. Only the lineage's
// newest version can be extended in place: a step claims it with a
// compare-and-swap of the lineage's head. A step of any other version (an
// older run stepped again, or two steps of one run at once) copies the
// version it was given into a lineage of its own, in O(slots), as the pick
// index does (index.go).
//
// A lineage is rebased into a fresh one once it holds more entries than
// about twice its slots, so the history an old version keeps alive stays
// O(slots), and that copy costs O(1) per write amortised.
type fvec[T comparable] struct {
	l   *lineage[T]
	ver uint64
	ch  *fchange // the slots each version of l up to ver set, newest first
}

type lineage[T comparable] struct {
	// head is the version a step may extend in place, or 0 while a step
	// extends it (or after it was rebased or abandoned).
	head   atomic.Uint64
	slots  []atomic.Pointer[fentry[T]]
	writes int // entries added since the lineage was made; only the claimant touches it
}

// fentry is one value of a slot. ver and prev never change once the entry
// is published; val may, by the step that made it, before that step
// returns (no version that can see the entry exists yet).
type fentry[T comparable] struct {
	ver  uint64
	val  T
	prev *fentry[T]
}

// fchange lists the slots version ver set (maybe with repeats).
type fchange struct {
	ver  uint64
	ids  []int32
	prev *fchange
}

// newFvec makes a vector holding vals, in a lineage of its own.
func newFvec[T comparable](vals []T) fvec[T] {
	l := &lineage[T]{slots: make([]atomic.Pointer[fentry[T]], len(vals))}
	es := make([]fentry[T], len(vals))
	for i := range vals {
		es[i] = fentry[T]{ver: 1, val: vals[i]}
		l.slots[i].Store(&es[i])
	}
	l.head.Store(1)
	return fvec[T]{l: l, ver: 1}
}

func (v fvec[T]) len() int { return len(v.l.slots) }

func (v fvec[T]) get(i int) T {
	e := v.l.slots[i].Load()
	for e.ver > v.ver {
		e = e.prev
	}
	return e.val
}

// each calls f on every slot in order.
func (v fvec[T]) each(f func(i int, x T)) {
	for i := range v.l.slots {
		f(i, v.get(i))
	}
}

// values returns every slot's value, in order.
func (v fvec[T]) values() []T {
	out := make([]T, len(v.l.slots))
	for i := range out {
		out[i] = v.get(i)
	}
	return out
}

// diff calls f, once each and in order, with the index of every slot whose
// value may differ between v and w. For an earlier version v of w's
// lineage it costs O(slots set in between); else it compares every slot.
func (v fvec[T]) diff(w fvec[T], f func(i int)) {
	if v.l == w.l && v.ver <= w.ver {
		var ids []int32
		for c := w.ch; c != nil && c.ver > v.ver; c = c.prev {
			ids = append(ids, c.ids...)
		}
		slices.Sort(ids)
		for _, i := range slices.Compact(ids) {
			if v.get(int(i)) != w.get(int(i)) {
				f(int(i))
			}
		}
		return
	}
	if v.len() != w.len() {
		for i := range w.len() {
			f(i)
		}
		return
	}
	for i := range w.len() {
		if v.get(i) != w.get(i) {
			f(i)
		}
	}
}

// fwriter makes the next version of a vector field during one step.
// Reads of the field see the step's writes. commit ends the step's
// changes; abort takes them back, leaving the vector as it was given.
type fwriter[T comparable] struct {
	v       *fvec[T] // the field being built
	base    fvec[T]  // the version the step was given
	claimed bool     // *v is a version of our own, in base's lineage or a copy
	cloned  bool     // … in a copy
	touched []int32
}

func (w *fwriter[T]) init(v *fvec[T]) {
	*w = fwriter[T]{v: v, base: *v}
}

// set makes slot i hold x in the version being built.
func (w *fwriter[T]) set(i int, x T) {
	if !w.claimed {
		w.claim()
	}
	l := w.v.l
	top := l.slots[i].Load()
	if top.ver == w.v.ver {
		top.val = x
		return
	}
	l.slots[i].Store(&fentry[T]{ver: w.v.ver, val: x, prev: top})
	l.writes++
	w.touched = append(w.touched, int32(i))
}

// claim takes base's lineage if base is its newest version, else copies
// base into a lineage of its own.
func (w *fwriter[T]) claim() {
	w.claimed = true
	if w.base.l.head.CompareAndSwap(w.base.ver, 0) {
		*w.v = fvec[T]{l: w.base.l, ver: w.base.ver + 1, ch: w.base.ch}
		return
	}
	w.cloned = true
	c := newFvec(w.base.values())
	c.l.head.Store(0)
	*w.v = fvec[T]{l: c.l, ver: 2}
}

// commit ends the step: the field holds the new version, which becomes its
// lineage's newest.
func (w *fwriter[T]) commit() {
	if !w.claimed {
		return
	}
	v := *w.v
	if len(w.touched) > 0 {
		v.ch = &fchange{ver: v.ver, ids: w.touched, prev: v.ch}
	}
	if v.l.writes > 2*len(v.l.slots)+64 {
		// Rebase: older versions keep the old lineage (its head stays 0).
		v = newFvec(v.values())
	} else {
		v.l.head.Store(v.ver)
	}
	*w.v = v
}

// abort takes back the step's writes: the given version is again its
// lineage's newest.
func (w *fwriter[T]) abort() {
	if !w.claimed {
		return
	}
	*w.v = w.base
	if w.cloned {
		return
	}
	l := w.base.l
	nv := w.base.ver + 1
	for _, i := range w.touched {
		if top := l.slots[i].Load(); top.ver == nv {
			l.slots[i].Store(top.prev)
			l.writes--
		}
	}
	l.head.Store(w.base.ver)
}
