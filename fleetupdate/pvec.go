package fleetupdate

// pvec is a persistent fixed-length vector: a 32-way trie whose set copies
// only the path to the changed slot, so versions of a run share everything
// else. A node created during step gen may be updated in place by later sets
// of the same step, because no earlier version can reach it.
type pvec[T comparable] struct {
	root  *pnode[T]
	n     int
	shift uint // bits above the leaf level
}

type pnode[T comparable] struct {
	gen  uint64
	kids []*pnode[T] // interior nodes
	vals []T         // leaves
}

const pbits = 5
const pwidth = 1 << pbits

func newPvec[T comparable](vals []T) pvec[T] {
	v := pvec[T]{n: len(vals)}
	level := make([]*pnode[T], 0, (len(vals)+pwidth-1)/pwidth)
	for i := 0; i < len(vals); i += pwidth {
		level = append(level, &pnode[T]{vals: append([]T(nil), vals[i:min(i+pwidth, len(vals))]...)})
	}
	if len(level) == 0 {
		level = append(level, &pnode[T]{})
	}
	for len(level) > 1 {
		var up []*pnode[T]
		for i := 0; i < len(level); i += pwidth {
			up = append(up, &pnode[T]{kids: level[i:min(i+pwidth, len(level))]})
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
	m := n
	if n.gen != gen {
		m = &pnode[T]{gen: gen}
		if n.kids != nil {
			m.kids = append([]*pnode[T](nil), n.kids...)
		} else {
			m.vals = append([]T(nil), n.vals...)
		}
	}
	if shift == 0 {
		m.vals[i&(pwidth-1)] = x
		return m
	}
	k := (i >> shift) & (pwidth - 1)
	m.kids[k] = m.kids[k].with(gen, shift-pbits, i, x)
	return m
}

// push returns a vector one slot longer, holding x in its last slot,
// owned by step gen.
func (v pvec[T]) push(gen uint64, x T) pvec[T] {
	if v.n == pwidth<<v.shift {
		v.root = &pnode[T]{gen: gen, kids: []*pnode[T]{v.root}}
		v.shift += pbits
	}
	v.root = v.root.grow(gen, v.shift, v.n, x)
	v.n++
	return v
}

// grow is with for slot i = the vector's length: it adds the nodes and the
// slot the path to i lacks.
func (n *pnode[T]) grow(gen uint64, shift uint, i int, x T) *pnode[T] {
	m := n
	if n.gen != gen {
		m = &pnode[T]{gen: gen}
		if n.kids != nil {
			m.kids = append([]*pnode[T](nil), n.kids...)
		} else {
			m.vals = append([]T(nil), n.vals...)
		}
	}
	if shift == 0 {
		m.vals = append(m.vals, x)
		return m
	}
	k := (i >> shift) & (pwidth - 1)
	if k == len(m.kids) {
		m.kids = append(m.kids, &pnode[T]{gen: gen})
		if shift > pbits {
			m.kids[k].kids = []*pnode[T]{}
		}
	}
	m.kids[k] = m.kids[k].grow(gen, shift-pbits, i, x)
	return m
}

// each calls f on every slot in order.
func (v pvec[T]) each(f func(i int, x T)) {
	i := 0
	var walk func(n *pnode[T])
	walk = func(n *pnode[T]) {
		if n.kids == nil {
			for _, x := range n.vals {
				f(i, x)
				i++
			}
			return
		}
		for _, k := range n.kids {
			walk(k)
		}
	}
	walk(v.root)
}

// diff calls f with the index of every slot whose value may differ between
// v and w, two versions of one vector: subtrees they share are skipped, so
// the cost is O(changed slots × depth) for versions a few steps apart.
func (v pvec[T]) diff(w pvec[T], f func(i int)) {
	if v.n != w.n || v.shift != w.shift {
		for i := range w.n {
			f(i)
		}
		return
	}
	var walk func(a, b *pnode[T], base int, shift uint)
	walk = func(a, b *pnode[T], base int, shift uint) {
		if a == b {
			return
		}
		if b.kids == nil {
			for i := range b.vals {
				if a.vals[i] != b.vals[i] {
					f(base + i)
				}
			}
			return
		}
		for k := range b.kids {
			walk(a.kids[k], b.kids[k], base+k<<shift, shift-pbits)
		}
	}
	walk(v.root, w.root, 0, v.shift)
}
