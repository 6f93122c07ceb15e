package fleetupdate

import (
	"fmt"
	"testing"
)

// BenchmarkOldVersionStatus reads a run's status at its newest version and
// at one some thousands of steps older in the same lineages: a fat-node
// vector reads an old version's slot by walking the slot's newer entries
// (fvec.get), so Status must read a group's record once, not once for
// each of its members.
func BenchmarkOldVersionStatus(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		spec, ms := benchFleet(n, 1, 10, false)
		for i := range ms {
			ms[i].AutoUpgradeWindow, ms[i].NodeOSUpgradeWindow = nil, nil
		}
		spec.Strategy.Stages[0].MaxConcurrency = "10"
		r, err := New("bench", spec, ms, catalog())
		if err != nil {
			b.Fatal(err)
		}
		r, cmds, err := Step(r, Start{At: t0})
		if err != nil {
			b.Fatal(err)
		}
		versions := []Run{r}
		// Succeed ops until just before the groups' lineage would be rebased.
		for len(cmds) > 0 && len(versions) < 4000 {
			u, ok := cmds[0].(UpgradeMember)
			cmds = cmds[1:]
			if !ok {
				continue
			}
			var next []Command
			r, next, err = Step(r, UpgradeSucceeded{At: t0, Op: u.Op})
			if err != nil {
				b.Fatal(err)
			}
			versions = append(versions, r)
			cmds = append(cmds, next...)
		}
		if versions[0].s.groups.l != r.s.groups.l {
			b.Fatalf("the groups' lineage was rebased within %d steps", len(versions))
		}
		for _, v := range []struct {
			name string
			r    Run
		}{{"newest", r}, {"oldest", versions[0]}} {
			b.Run(fmt.Sprintf("members=%d/steps=%d/version=%s", n, len(versions), v.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					_ = v.r.Status()
				}
			})
		}
	}
}
