package fleetupdate

import (
	"slices"
	"strings"
	"testing"
)

// checkIndex refuses an index broken in each of the ways its rules name, on
// runs it accepts as they are: a cold one (New's) holding a bucket in a
// heap or an interval, and a warm one missing a bucket that a reach would
// change from u, holding one in u or m above its key, or missing a reached
// one from r.
func TestCheckIndexRefusesBrokenIndexes(t *testing.T) {
	cold := func(t *testing.T) (Run, *groupIndex) {
		r := ownWindowsRun(t, 40)
		ix := ownedIndex(r.s.groups, 0)
		if ix == nil || !ix.cold {
			t.Fatal("New's index is not cold")
		}
		if err := r.checkIndexes(); err != nil {
			t.Fatal(err)
		}
		return r, ix
	}
	// warm returns a stepped run whose group has a bucket for which ok holds.
	// (Only the newest run owns the index: it is looked at after each step.)
	warm := func(t *testing.T, ok func(r Run, ix *groupIndex, bi int32, k int64) bool) (Run, *groupIndex, int32) {
		r := ownWindowsRun(t, 40)
		for range 80 {
			runs, _, err := hostEvents(r, 1)
			if err != nil {
				t.Fatal(err)
			}
			r = runs[len(runs)-1]
			ix := ownedIndex(r.s.groups, 0)
			if ix == nil || ix.cold {
				continue
			}
			if err := r.checkIndexes(); err != nil {
				t.Fatal(err)
			}
			waiting := map[int32]bool{}
			for _, id := range r.p.groups[0].members {
				if m := r.s.members.get(int(id)); m.eligible() {
					waiting[m.bucket] = true
				}
			}
			for bi := range int32(len(ix.bks)) {
				if bk := &ix.bks[bi]; bk.windowed && waiting[bi] && bk.known && ok(r, ix, bi, bk.key()) {
					return r, ix, bi
				}
			}
		}
		t.Fatal("no run has such a bucket")
		return Run{}, nil, 0
	}
	notOpen := func(r Run, ix *groupIndex, bi int32, k int64) bool {
		bk := &ix.bks[bi]
		return !(bk.ok && bk.s <= r.s.clock.Unix()) && (!bk.reached || bk.asked != k) && ix.u.pos[bi] >= 0
	}
	cases := []struct {
		name   string
		break_ func(t *testing.T) (Run, string)
	}{
		{"cold, a bucket in m", func(t *testing.T) (Run, string) {
			r, ix := cold(t)
			ix.m.push(0, 0, 0)
			return r, "not filled yet"
		}},
		{"cold, an interval", func(t *testing.T) (Run, string) {
			r, ix := cold(t)
			bk := &ix.bks[slices.IndexFunc(ix.bks, func(bk ixBucket) bool { return bk.win != nil })]
			bk.s, bk.e, bk.ok = bk.win.NextUnix(r.s.clock.Unix())
			bk.known = true
			return r, "not filled yet"
		}},
		{"not open, out of u", func(t *testing.T) (Run, string) {
			r, ix, bi := warm(t, notOpen)
			ix.u.remove(bi)
			return r, "not in u"
		}},
		{"in u above its key", func(t *testing.T) (Run, string) {
			r, ix, bi := warm(t, notOpen)
			ix.u.set(bi, ix.bks[bi].key()+1, 0)
			return r, "in u above its key"
		}},
		{"in m above its key", func(t *testing.T) (Run, string) {
			r, ix, bi := warm(t, func(r Run, ix *groupIndex, bi int32, k int64) bool { return k != never })
			ix.m.set(bi, ix.bks[bi].key()+1, ix.m.e[ix.m.pos[bi]].head)
			return r, "key in m above its own"
		}},
		{"reached, out of r", func(t *testing.T) (Run, string) {
			r, ix, bi := warm(t, func(r Run, ix *groupIndex, bi int32, k int64) bool { return ix.bks[bi].reached })
			ix.r.remove(bi)
			return r, "not in r"
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, want := c.break_(t)
			err := r.checkIndexes()
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("checkIndex gave %v; want an error saying %q", err, want)
			}
		})
	}
}
