package fleetupdate

import (
	"testing"

	"pgregory.net/rapid"
)

// A pvec behaves as a slice: sets show in the version they made and in no
// other, whatever the mix of steps.
func TestPvecIsASliceWithVersions(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 2000).Draw(t, "n")
		vals := make([]*int, n)
		cur := make([]int, n)
		for i := range vals {
			x := i
			cur[i], vals[i] = x, &x
		}
		v := newPvec(vals)
		type version struct {
			v    pvec[*int]
			want []int
		}
		versions := []version{{v, append([]int(nil), cur...)}}
		gen := uint64(0)
		for range rapid.IntRange(0, 40).Draw(t, "steps") {
			gen++
			for range rapid.IntRange(1, 5).Draw(t, "ops") {
				i := rapid.IntRange(0, len(cur)-1).Draw(t, "i")
				x := rapid.Int().Draw(t, "x")
				v = v.set(gen, i, &x)
				cur[i] = x
			}
			versions = append(versions, version{v, append([]int(nil), cur...)})
		}
		for k, ver := range versions {
			if ver.v.n != len(ver.want) {
				t.Fatalf("version %d: %d slots, want %d", k, ver.v.n, len(ver.want))
			}
			for i, w := range ver.want {
				if got := *ver.v.get(i); got != w {
					t.Fatalf("version %d slot %d = %d, want %d", k, i, got, w)
				}
			}
			i := 0
			ver.v.each(func(j int, x *int) {
				if j != i || *x != ver.want[i] {
					t.Fatalf("version %d: each gave slot %d = %d, want slot %d = %d", k, j, *x, i, ver.want[i])
				}
				i++
			})
			if i != len(ver.want) {
				t.Fatalf("version %d: each visited %d slots, want %d", k, i, len(ver.want))
			}
		}
	})
}
