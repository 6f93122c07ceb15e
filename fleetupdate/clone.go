package fleetupdate

import (
	"encoding/json"
	"maps"
	"slices"

	"github.com/fleetkit/fleetkit/window"
)

// A Run is a value: it keeps deep copies of what it is given, so a caller
// that changes its members, spec or catalog afterwards changes nothing.

// cloneMember deep-copies a member.
func cloneMember(m Member) Member {
	cloneMemberShared(&m, nil)
	return m
}

// windowCopies holds the run's one copy of each window New was given: by
// JSON, and by the caller's pointer (members usually share a window value,
// and encoding each member's would dominate New). It also holds the rest
// of one allocation for New's node pools, so a member's do not need their own.
type windowCopies struct {
	byJSON map[string]*window.Schedule
	byPtr  map[*window.Schedule]*window.Schedule
	pools  []NodePool
}

// newWindowCopies is for copying members with pools node pools in all.
func newWindowCopies(pools int) *windowCopies {
	return &windowCopies{byJSON: map[string]*window.Schedule{}, byPtr: map[*window.Schedule]*window.Schedule{}, pools: make([]NodePool, pools)}
}

// cloneMemberShared makes *m a deep copy of itself; windows with equal JSON
// share one copy through shared (which may be nil), and node pools come
// from its allocation, capped so that an append copies. The run never
// changes a window.
func cloneMemberShared(m *Member, shared *windowCopies) {
	if n := len(m.NodePools); shared != nil && n > 0 && n <= len(shared.pools) {
		pools := shared.pools[:n:n]
		copy(pools, m.NodePools)
		m.NodePools, shared.pools = pools, shared.pools[n:]
	} else {
		m.NodePools = slices.Clone(m.NodePools)
	}
	m.Labels = maps.Clone(m.Labels)
	m.AutoUpgradeWindow = cloneSchedule(m.AutoUpgradeWindow, shared)
	m.NodeOSUpgradeWindow = cloneSchedule(m.NodeOSUpgradeWindow, shared)
}

// cloneSchedule deep-copies a window through its JSON, which is its
// definition (a schedule is small; Validate has already accepted it).
func cloneSchedule(s *window.Schedule, shared *windowCopies) *window.Schedule {
	if s == nil {
		return nil
	}
	if shared != nil {
		if c, ok := shared.byPtr[s]; ok {
			return c
		}
	}
	k := scheduleKey(s)
	if shared != nil {
		if c, ok := shared.byJSON[k]; ok {
			shared.byPtr[s] = c
			return c
		}
	}
	c := new(window.Schedule)
	if err := json.Unmarshal([]byte(k), c); err != nil {
		panic("fleetupdate: a validated window does not decode: " + err.Error())
	}
	if shared != nil {
		shared.byJSON[k], shared.byPtr[s] = c, c
	}
	return c
}

// cloneCatalog deep-copies a catalog.
func cloneCatalog(c Catalog) Catalog {
	if c.Regions == nil {
		return Catalog{}
	}
	out := Catalog{Regions: make(map[string]RegionCatalog, len(c.Regions))}
	for r, rc := range maps.All(c.Regions) {
		out.Regions[r] = RegionCatalog{KubernetesVersions: slices.Clone(rc.KubernetesVersions), NodeImageVersions: slices.Clone(rc.NodeImageVersions)}
	}
	return out
}
