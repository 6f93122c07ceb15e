package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/fleetkit/fleetkit/fake"
	"github.com/fleetkit/fleetkit/fleetupdate"
)

// resize makes the fleet n members long, to try a strategy (and its chart)
// on a bigger or smaller fleet: member i copies member i*len/n of the
// fleet, so each group keeps its share, and every member is renamed after
// its group and its place in it ("prod-eu-007"), its cluster resource id
// with it. Windows, versions, pools and labels are the copied member's.
func resize(f *fake.Fleet, n int) error {
	if n < 1 {
		return fmt.Errorf("-members %d: want at least 1", n)
	}
	if len(f.Members) == 0 {
		return fmt.Errorf("-members %d: the fleet has no members to copy", n)
	}
	out := make([]fleetupdate.Member, n)
	count := map[string]int{}
	for i := range out {
		m := f.Members[i*len(f.Members)/n]
		m.NodePools = slices.Clone(m.NodePools)
		m.Labels = maps.Clone(m.Labels)
		out[i] = m
		count[prefix(m)]++
	}
	next := map[string]int{}
	for i := range out {
		m := &out[i]
		p := prefix(*m)
		next[p]++
		name := fmt.Sprintf("%s-%0*d", p, max(2, len(fmt.Sprint(count[p]))), next[p])
		if base, ok := strings.CutSuffix(m.ClusterResourceID, "/"+m.Name); ok {
			m.ClusterResourceID = base + "/" + name
		}
		m.Name = name
	}
	f.Members = out
	return nil
}

// prefix is what resize names a member after: its group, or "member".
func prefix(m fleetupdate.Member) string {
	if m.Group == "" {
		return "member"
	}
	return m.Group
}
