package fleetupdate

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/window"
)

var t0 = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC) // a Wednesday, noon UTC

const (
	ubuntu   = "AKSUbuntu-2204gen2containerd"
	imgOld   = ubuntu + "-202405.13.0"
	imgMid   = ubuntu + "-202405.20.0"
	imgNew   = ubuntu + "-202405.27.0"
	regionA  = "eastus"
	regionB  = "westeurope"
	k8sFrom  = "1.29.4"
	k8sTo    = "1.30"
	k8sToFix = "1.30.5"
)

// catalog offers 1.29.4, 1.30.2, 1.30.5 and all three images in both regions.
func catalog() Catalog {
	rc := RegionCatalog{KubernetesVersions: []string{"1.29.4", "1.30.2", "1.30.5"}, NodeImageVersions: []string{imgOld, imgMid, imgNew}}
	return Catalog{Regions: map[string]RegionCatalog{regionA: rc, regionB: rc}}
}

func member(name, group string) Member {
	return Member{Name: name, Group: group, Region: regionA, KubernetesVersion: k8sFrom,
		NodePools: []NodePool{{Name: "system", NodeImageVersion: imgOld}}}
}

func members(group string, names ...string) []Member {
	var out []Member
	for _, n := range names {
		out = append(out, member(n, group))
	}
	return out
}

func full(v string) ManagedClusterUpdate {
	return ManagedClusterUpdate{Upgrade: UpgradeSpec{Type: Full, KubernetesVersion: v}}
}

func dailyWindow(start string, hours int) *window.Schedule {
	return &window.Schedule{Recurrence: window.Recurrence{Daily: &window.DailySchedule{IntervalDays: 1}}, StartTime: start, DurationHours: hours}
}

// host drives a run in a test: it steps events, tracks ops in flight and
// checks invariants after every step.
type host struct {
	t    testing.TB
	run  Run
	now  time.Time
	ops  map[string]UpgradeMember // member → op in flight
	cmds []Command                // commands of the last step
	log  []Command                // every command so far
}

func newHost(t testing.TB, spec Spec, ms []Member, c Catalog) *host {
	t.Helper()
	r, err := New("run-1", spec, ms, c)
	require.NoError(t, err)
	return &host{t: t, run: r, now: t0, ops: map[string]UpgradeMember{}}
}

func (h *host) step(e Event) {
	h.t.Helper()
	next, cmds, err := Step(h.run, e)
	require.NoError(h.t, err, "%T", e)
	h.run, h.cmds = next, cmds
	h.log = append(h.log, cmds...)
	for _, c := range cmds {
		if u, ok := c.(UpgradeMember); ok {
			_, dup := h.ops[u.Member]
			require.False(h.t, dup, "second op for %s", u.Member)
			h.ops[u.Member] = u
		}
	}
}

// try steps e and returns the error without changing the host.
func (h *host) try(e Event) error {
	next, _, err := Step(h.run, e)
	if err == nil {
		h.run = next
	}
	return err
}

func (h *host) start()                  { h.t.Helper(); h.step(Start{At: h.now}) }
func (h *host) advance(d time.Duration) { h.now = h.now.Add(d) }

func (h *host) succeed(name string) {
	h.t.Helper()
	u, ok := h.ops[name]
	require.True(h.t, ok, "no op in flight for %s", name)
	delete(h.ops, name)
	h.step(UpgradeSucceeded{At: h.now, Op: u.Op})
}

func (h *host) failOp(name, code, msg string) {
	h.t.Helper()
	u, ok := h.ops[name]
	require.True(h.t, ok, "no op in flight for %s", name)
	delete(h.ops, name)
	h.step(UpgradeFailed{At: h.now, Op: u.Op, Code: code, Message: msg})
}

func (h *host) started() []string {
	var out []string
	for _, c := range h.cmds {
		if u, ok := c.(UpgradeMember); ok {
			out = append(out, u.Member)
		}
	}
	return out
}

func (h *host) wakes() []time.Time {
	var out []time.Time
	for _, c := range h.cmds {
		if w, ok := c.(WakeAt); ok {
			out = append(out, w.At)
		}
	}
	return out
}

func (h *host) member(name string) MemberStatus {
	for _, st := range h.run.Status().Stages {
		for _, g := range st.Groups {
			for _, m := range g.Members {
				if m.Name == name {
					return m
				}
			}
		}
	}
	h.t.Fatalf("member %s not in status", name)
	return MemberStatus{}
}

func (h *host) state(name string) State { return h.member(name).Status.State }

func (h *host) group(name string) GroupStatus {
	for _, st := range h.run.Status().Stages {
		for _, g := range st.Groups {
			if g.Name == name {
				return g
			}
		}
	}
	h.t.Fatalf("group %s not in status", name)
	return GroupStatus{}
}

func (h *host) stage(name string) StageStatus {
	for _, st := range h.run.Status().Stages {
		if st.Name == name {
			return st
		}
	}
	h.t.Fatalf("stage %s not in status", name)
	return StageStatus{}
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%03d", prefix, i)
	}
	return out
}
