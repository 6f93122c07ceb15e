package fleetupdate

// pvec is a persistent vector: an 8-way trie whose set copies only the path
// to the changed slot, so versions of a run share everything else. A node
// created during step gen may be updated in place by later sets of the same
// step, because no earlier version can reach it.
//
// It holds the run's gates, which few steps change; the members, groups
// and window buckets, which many steps change, are in fvecs. Nodes are
// small (8 slots) so that a step copies little: a path over 100,000 slots is
// 6 nodes of 96 bytes, each one allocation (the node and its slots
// together).
type pvec[T comparable] struct {
	root  *pnode[T]
	n     int
	shift uint // bits above the leaf level
}

const pbits = 3
const pwidth = 1 << pbits

// pnode is a trie node: interior nodes have kids, leaves vals. Both point
// into the allocation that holds the node (pinner, pleaf).
type pnode[T comparable] struct {
	gen  uint64
	kids *[pwidth]*pnode[T]
	vals *[pwidth]T
}

type pinner[T comparable] struct {
	n pnode[T]
	a [pwidth]*pnode[T]
}

type pleaf[T comparable] struct {
	n pnode[T]
	a [pwidth]T
}

func newInner[T comparable](gen uint64) *pnode[T] {
	x := &pinner[T]{}
	x.n.gen, x.n.kids = gen, &x.a
	return &x.n
}

func newLeaf[T comparable](gen uint64) *pnode[T] {
	x := &pleaf[T]{}
	x.n.gen, x.n.vals = gen, &x.a
	return &x.n
}

// copyFor returns n itself if step gen made it, else a copy owned by gen.
func (n *pnode[T]) copyFor(gen uint64) *pnode[T] {
	if n.gen == gen {
		return n
	}
	if n.kids != nil {
		m := newInner[T](gen)
		*m.kids = *n.kids
		return m
	}
	m := newLeaf[T](gen)
	*m.vals = *n.vals
	return m
}

// newPvec builds a vector holding vals, with each level's nodes allocated
// together.
func newPvec[T comparable](vals []T) pvec[T] {
	v := pvec[T]{n: len(vals)}
	leaves := make([]pleaf[T], max(1, (len(vals)+pwidth-1)/pwidth))
	level := make([]*pnode[T], len(leaves))
	for i := range leaves {
		l := &leaves[i]
		l.n.vals = &l.a
		copy(l.a[:], vals[i*pwidth:min((i+1)*pwidth, len(vals))])
		level[i] = &l.n
	}
	for len(level) > 1 {
		inner := make([]pinner[T], (len(level)+pwidth-1)/pwidth)
		up := make([]*pnode[T], len(inner))
		for i := range inner {
			x := &inner[i]
			x.n.kids = &x.a
			copy(x.a[:], level[i*pwidth:min((i+1)*pwidth, len(level))])
			up[i] = &x.n
		}
		level = up
		v.shift += pbits
	}
	v.root = level[0]
	return v
}

func (v pvec[T]) get(i int) T {
	n := v.root
	for s := v.shift; s > 0; s -= pbits {
		n = n.kids[(i>>s)&(pwidth-1)]
	}
	return n.vals[i&(pwidth-1)]
}

// set returns a vector with slot i holding x, owned by step gen.
func (v pvec[T]) set(gen uint64, i int, x T) pvec[T] {
	v.root = v.root.with(gen, v.shift, i, x)
	return v
}

func (n *pnode[T]) with(gen uint64, shift uint, i int, x T) *pnode[T] {
	m := n.copyFor(gen)
	if shift == 0 {
		m.vals[i&(pwidth-1)] = x
		return m
	}
	k := (i >> shift) & (pwidth - 1)
	m.kids[k] = m.kids[k].with(gen, shift-pbits, i, x)
	return m
}

// each calls f on every slot in order.
func (v pvec[T]) each(f func(i int, x T)) {
	i := 0
	var walk func(n *pnode[T])
	walk = func(n *pnode[T]) {
		if n.kids == nil {
			for _, x := range n.vals[:min(pwidth, v.n-i)] {
				f(i, x)
				i++
			}
			return
		}
		for _, k := range n.kids {
			if k == nil || i >= v.n {
				return
			}
			walk(k)
		}
	}
	walk(v.root)
}
