package journal

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
)

// checkPages checks the page structure of a bbolt file (format 2) before
// bbolt walks it: bbolt trusts its pages, and on damage it can panic in a
// goroutine of its own (rebuilding the free list), loop on a cycle of
// pages until memory runs out, or read out of bounds. Every page reachable
// from the current meta page must be in the file, reached once, of the
// right type, with elements inside the page and keys in order.
func checkPages(path string, b []byte) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrCorrupt, path, fmt.Sprintf(format, a...))
	}
	m, err := currentMeta(b)
	if err != nil {
		return bad("%v", err)
	}
	if uint64(len(b))/uint64(m.pageSize) < m.pgid {
		return bad("is truncated: %d bytes, its pages reach %d", len(b), m.pgid*uint64(m.pageSize))
	}
	c := &pageChecker{b: b, pageSize: uint64(m.pageSize), hwm: m.pgid, seen: map[uint64]bool{0: true, 1: true}}
	if m.freelist != noFreelist {
		if err := c.freelist(m.freelist); err != nil {
			return bad("%v", err)
		}
	}
	if m.root != 0 {
		if err := c.page(m.root, 0); err != nil {
			return bad("%v", err)
		}
	}
	return nil
}

const (
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	noFreelist     = ^uint64(0)
	pageHeader     = 16 // id u64, flags u16, count u16, overflow u32
	elemSize       = 16 // branch: pos, ksize u32, pgid u64; leaf: flags, pos, ksize, vsize u32
	branchFlag     = 0x01
	leafFlag       = 0x02
	freelistFlag   = 0x10
	bucketElem     = 0x01
	inBucketSize   = 16 // root pgid u64, sequence u64
	maxTreeDepth   = 64
	metaChecksumAt = 56
)

var ne = binary.NativeEndian // bbolt writes its pages in the machine's byte order

type boltMeta struct {
	pageSize       uint32
	root, freelist uint64
	pgid, txid     uint64
}

// currentMeta returns the meta page bbolt will use: the valid one with the
// higher transaction id.
func currentMeta(b []byte) (boltMeta, error) {
	read := func(off int) (boltMeta, bool) {
		if off < 0 || off+pageHeader+metaChecksumAt+8 > len(b) {
			return boltMeta{}, false
		}
		d := b[off+pageHeader:]
		h := fnv.New64a()
		h.Write(d[:metaChecksumAt])
		m := boltMeta{pageSize: ne.Uint32(d[8:]), root: ne.Uint64(d[16:]), freelist: ne.Uint64(d[32:]), pgid: ne.Uint64(d[40:]), txid: ne.Uint64(d[48:])}
		ok := ne.Uint32(d[0:]) == boltMagic && ne.Uint32(d[4:]) == boltVersion && ne.Uint64(d[metaChecksumAt:]) == h.Sum64() &&
			m.pageSize >= 512 && m.pageSize <= 1<<20 && m.pageSize&(m.pageSize-1) == 0 && m.pgid >= 2
		return m, ok
	}
	m0, ok0 := read(0)
	size := 4096
	if ok0 {
		size = int(m0.pageSize)
	}
	m1, ok1 := read(size)
	switch {
	case ok0 && ok1 && m1.txid > m0.txid, !ok0 && ok1:
		return m1, nil
	case ok0:
		return m0, nil
	}
	return boltMeta{}, fmt.Errorf("no valid meta page: not a bbolt database, or both its headers are damaged")
}

type pageChecker struct {
	b        []byte
	pageSize uint64
	hwm      uint64 // pages below it are in the file
	seen     map[uint64]bool
}

// span claims pages id to id+overflow and returns their bytes.
func (c *pageChecker) span(id uint64, want uint16) ([]byte, error) {
	if id < 2 || id >= c.hwm {
		return nil, fmt.Errorf("page %d is out of range [2, %d)", id, c.hwm)
	}
	off := id * c.pageSize
	h := c.b[off : off+pageHeader]
	if got := ne.Uint64(h); got != id {
		return nil, fmt.Errorf("page %d says it is page %d", id, got)
	}
	if flags := ne.Uint16(h[8:]); flags&want == 0 || flags&^(branchFlag|leafFlag|freelistFlag) != 0 || flags&(flags-1) != 0 {
		return nil, fmt.Errorf("page %d has type %#x where %#x belongs", id, flags, want)
	}
	overflow := uint64(ne.Uint32(h[12:]))
	if overflow >= c.hwm-id {
		return nil, fmt.Errorf("page %d overflows past the end of the file", id)
	}
	for p := id; p <= id+overflow; p++ {
		if c.seen[p] {
			return nil, fmt.Errorf("page %d is reached twice", p)
		}
		c.seen[p] = true
	}
	return c.b[off : off+(overflow+1)*c.pageSize], nil
}

func (c *pageChecker) freelist(id uint64) error {
	p, err := c.span(id, freelistFlag)
	if err != nil {
		return err
	}
	n, start := uint64(ne.Uint16(p[10:])), uint64(pageHeader)
	if n == 0xFFFF { // the real count is the first element
		if len(p) < pageHeader+8 {
			return fmt.Errorf("freelist page %d is too short", id)
		}
		n, start = ne.Uint64(p[pageHeader:]), pageHeader+8
	}
	if n > (uint64(len(p))-start)/8 {
		return fmt.Errorf("freelist page %d lists more pages than it holds", id)
	}
	for i := range n {
		if free := ne.Uint64(p[start+8*i:]); free < 2 || free >= c.hwm {
			return fmt.Errorf("freelist page %d lists page %d, out of range", id, free)
		}
	}
	return nil
}

// page checks the tree of a bucket rooted at page id.
func (c *pageChecker) page(id uint64, depth int) error {
	if depth > maxTreeDepth {
		return fmt.Errorf("page %d: buckets nest deeper than %d", id, maxTreeDepth)
	}
	p, err := c.span(id, branchFlag|leafFlag)
	if err != nil {
		return err
	}
	return c.node(p, fmt.Sprintf("page %d", id), depth)
}

// node checks one branch or leaf page p (a page in the file, or an inline
// bucket's page inside a value) and what it refers to.
func (c *pageChecker) node(p []byte, where string, depth int) error {
	if len(p) < pageHeader {
		return fmt.Errorf("%s is too short", where)
	}
	flags, count := ne.Uint16(p[8:]), int(ne.Uint16(p[10:]))
	if pageHeader+count*elemSize > len(p) {
		return fmt.Errorf("%s: %d elements do not fit", where, count)
	}
	var prev []byte
	for i := range count {
		e := pageHeader + i*elemSize
		var kpos, klen, vlen uint64
		if flags == branchFlag {
			kpos, klen = uint64(ne.Uint32(p[e:])), uint64(ne.Uint32(p[e+4:]))
		} else {
			kpos, klen, vlen = uint64(ne.Uint32(p[e+4:])), uint64(ne.Uint32(p[e+8:])), uint64(ne.Uint32(p[e+12:]))
		}
		start := uint64(e) + kpos
		if kpos < elemSize || start+klen+vlen > uint64(len(p)) {
			return fmt.Errorf("%s: element %d lies outside the page", where, i)
		}
		key := p[start : start+klen]
		if i > 0 && bytes.Compare(prev, key) >= 0 {
			return fmt.Errorf("%s: keys out of order at element %d", where, i)
		}
		prev = key
		if flags == branchFlag {
			if err := c.page(ne.Uint64(p[e+8:]), depth+1); err != nil {
				return err
			}
			continue
		}
		if ne.Uint32(p[e:])&bucketElem == 0 {
			continue
		}
		v := p[start+klen : start+klen+vlen]
		if len(v) < inBucketSize {
			return fmt.Errorf("%s: bucket %q has a short header", where, key)
		}
		if root := ne.Uint64(v); root != 0 {
			if err := c.page(root, depth+1); err != nil {
				return err
			}
			continue
		}
		inline := v[inBucketSize:]
		if len(inline) < pageHeader || ne.Uint16(inline[8:]) != leafFlag {
			return fmt.Errorf("inline bucket %q in %s is not a leaf", key, where)
		}
		if depth >= maxTreeDepth {
			return fmt.Errorf("%s: buckets nest deeper than %d", where, maxTreeDepth)
		}
		if err := c.node(inline, fmt.Sprintf("inline bucket %q in %s", key, where), depth+1); err != nil {
			return err
		}
	}
	return nil
}
