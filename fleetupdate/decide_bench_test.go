package fleetupdate

import "testing"

// BenchmarkDecide measures plan.decide alone, per member: the work every
// member's first start pays in the run and in the floor alike.
func BenchmarkDecide(b *testing.B) {
	const n = 1000
	fourPools := func(m *Member) {
		m.NodePools = []NodePool{
			{Name: "user", NodeImageVersion: imgOld},
			{Name: "system", NodeImageVersion: imgMid},
			{Name: "arm64", NodeImageVersion: imgNew, KubernetesVersion: "1.29.4"},
			{Name: "gpu", NodeImageVersion: imgOld},
		}
	}
	for _, c := range []struct {
		name string
		sel  NodeImageSelectionType
		edit func(*Member)
	}{
		{"benchFleet", Latest, func(*Member) {}},
		{"pools=4/Latest", Latest, fourPools},
		{"pools=4/Consistent", Consistent, fourPools},
		{"atTarget", Latest, func(m *Member) { m.KubernetesVersion = "1.30.5"; m.NodePools[0].NodeImageVersion = imgNew }},
	} {
		b.Run(c.name, func(b *testing.B) {
			spec, ms := benchFleet(n, 0, 0, false)
			spec.ManagedClusterUpdate.NodeImageSelection = &NodeImageSelection{Type: c.sel}
			for i := range ms {
				c.edit(&ms[i])
			}
			r, err := New("bench", spec, ms, catalog())
			if err != nil {
				b.Fatal(err)
			}
			p, s := r.p, r.s
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p.decide(s.catalog, s.selection, s.unresolved, int32(i), &p.members[i])
				if i++; i == n {
					i = 0
				}
			}
		})
	}
}
