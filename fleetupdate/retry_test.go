package fleetupdate

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const armImg = "AKSUbuntu-2204gen2arm64containerd-202405.13.0" // a family no region offers

// tolerant is a one-group strategy that tolerates every failure, so a run
// goes on past them (its members are in group "g").
func tolerant(mcu ManagedClusterUpdate) Spec {
	return Spec{Strategy: &Strategy{Stages: []Stage{{Name: "s", MaxAllowedFailures: "100%",
		Groups: []Group{{Name: "g", MaxConcurrency: "100%", MaxAllowedFailures: "100%"}}}}}, ManagedClusterUpdate: mcu}
}

// memberNames lists a retry run's members.
func memberNames(ms []Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

// pinnedOf returns the first UpgradeMember the host saw for a member.
func (h *host) pinnedOf(name string) UpgradeMember {
	h.t.Helper()
	for _, c := range h.log {
		if u, ok := c.(UpgradeMember); ok && u.Member == name {
			return u
		}
	}
	h.t.Fatalf("%s was never upgraded", name)
	return UpgradeMember{}
}

// classified builds a Completed Consistent run whose members end every way
// a member can: completed, failed (with and without an upgrade asked for),
// skipped at target, skipped for want of a consistent image, skipped by a
// user (alone and with its group), and gone from the fleet.
func classified(t *testing.T) *host {
	t.Helper()
	g1 := func(n string) Member { return member(n, "g1") }
	jump := g1("jump-1")
	jump.KubernetesVersion = "1.28.3" // would skip a minor: UpgradeNotAllowed
	done := g1("done-1")
	done.KubernetesVersion, done.NodePools[0].NodeImageVersion = k8sToFix, imgNew
	odd := g1("odd-1")
	odd.NodePools = append(odd.NodePools, NodePool{Name: "arm", NodeImageVersion: armImg})
	ms := []Member{g1("ok-1"), g1("fail-1"), jump, done, odd, g1("skip-1"), g1("gone-1"), member("g2-1", "g2")}
	spec := Spec{
		UpdateStrategyID: "/subscriptions/s/fleets/f/updateStrategies/two",
		Strategy: &Strategy{Stages: []Stage{
			{Name: "all", AfterStageWaitInSeconds: 60, MaxAllowedFailures: "10", Groups: []Group{
				{Name: "g1", MaxConcurrency: "10", MaxAllowedFailures: "10", AfterGates: []GateConfiguration{{Type: Approval}}},
				{Name: "g2"},
			}},
		}},
		ManagedClusterUpdate: ManagedClusterUpdate{Upgrade: UpgradeSpec{Type: Full, KubernetesVersion: k8sToFix}, NodeImageSelection: &NodeImageSelection{Type: Consistent}},
	}
	h := newHost(t, spec, ms, catalog())
	h.step(Skip{At: h.now, Targets: []SkipTarget{{Type: TargetMember, Name: "skip-1"}, {Type: TargetGroup, Name: "g2"}}})
	h.step(MemberChanged{At: h.now, Member: g1("gone-1"), Removed: true})
	h.start()
	h.advance(time.Hour)
	h.succeed("ok-1")
	h.failOp("fail-1", "QuotaExceeded", "out of quota")
	h.step(CompleteGate{At: h.now, Gate: "run-1/all/g1/After/0"})
	h.advance(time.Hour)
	h.step(Tick{At: h.now})
	require.Equal(t, Completed, h.run.State())
	for name, want := range map[string]State{"ok-1": Completed, "fail-1": Failed, "jump-1": Failed, "done-1": Skipped, "odd-1": Skipped, "skip-1": Skipped, "gone-1": Skipped, "g2-1": Skipped} {
		require.Equal(t, want, h.state(name), name)
	}
	require.Contains(t, h.member("odd-1").Message, "no consistent node image")
	require.Contains(t, h.member("done-1").Message, "already at target")
	return h
}

// Azure/AKS#5733: "if any clusters have been skipped by either the user
// electing to skip them, or failure threshold configuration means the update
// run has continued past the cluster", retry them with the same configuration.
func TestRetryTakesFailedAndSystemSkippedMembers(t *testing.T) {
	h := classified(t)
	plan, err := h.run.Retry(RetryOptions{})
	require.NoError(t, err)
	require.Len(t, plan.Runs, 2) // odd-1 needs a Consistent run of its own
	assert.Equal(t, "run-1-retry-1-1", plan.Runs[0].Name)
	assert.Equal(t, []string{"fail-1", "jump-1"}, memberNames(plan.Runs[0].Members))
	assert.Equal(t, "run-1-retry-1-2", plan.Runs[1].Name)
	assert.Equal(t, []string{"odd-1"}, memberNames(plan.Runs[1].Members))
	assert.Equal(t, catalog(), plan.Catalog)

	plan, err = h.run.Retry(RetryOptions{UserSkipped: true})
	require.NoError(t, err)
	require.Len(t, plan.Runs, 2)
	assert.Equal(t, []string{"fail-1", "g2-1", "jump-1", "skip-1"}, memberNames(plan.Runs[0].Members))
	assert.Equal(t, []string{"odd-1"}, memberNames(plan.Runs[1].Members))
}

func TestRetryPinsTheConsistentSelectionAndVersionAsCustom(t *testing.T) {
	h := classified(t)
	plan, err := h.run.Retry(RetryOptions{})
	require.NoError(t, err)
	spec := plan.Runs[0].Spec
	assert.Equal(t, UpgradeSpec{Type: Full, KubernetesVersion: k8sToFix}, spec.ManagedClusterUpdate.Upgrade)
	assert.Equal(t, &NodeImageSelection{Type: Custom, CustomNodeImageVersions: []NodeImageVersion{{Version: imgNew}}}, spec.ManagedClusterUpdate.NodeImageSelection)
	// The strategy, restricted to g1; its gates, budgets and wait stay; the
	// strategy resource it was copied from no longer matches it.
	assert.Empty(t, spec.UpdateStrategyID)
	assert.Equal(t, []Stage{{Name: "all", AfterStageWaitInSeconds: 60, MaxAllowedFailures: "10", Groups: []Group{
		{Name: "g1", MaxConcurrency: "10", MaxAllowedFailures: "10", AfterGates: []GateConfiguration{{Type: Approval}}},
	}}}, spec.Strategy.Stages)

	// The retry asks for exactly what the first run asked for.
	want := h.pinnedOf("fail-1")
	r2 := newHost(t, spec, plan.Runs[0].Members, plan.Catalog)
	r2.start()
	got := r2.ops["fail-1"]
	assert.Equal(t, OpID("run-1/fail-1/1"), got.Op) // newHost names every run run-1
	want.Op = got.Op
	assert.Equal(t, want, got)
	assert.Equal(t, Failed, r2.state("jump-1"), "the minor-version rule still holds")
}

// A member the first run skipped under Consistent because no consistent
// image existed for one of its pools is not pinned to that selection: the
// image it lacked would still be missing, and the retry would upgrade its
// Kubernetes and other pools and leave that pool alone, a partial upgrade
// the first run refused. It gets a Consistent run of its own, resolved
// when that run starts, with the Kubernetes patch the first run meant.
func TestRetryGivesMembersSkippedForWantOfAConsistentImageAConsistentRun(t *testing.T) {
	odd := member("odd-1", "g")
	odd.NodePools = append(odd.NodePools, NodePool{Name: "arm", NodeImageVersion: armImg})
	spec := tolerant(ManagedClusterUpdate{Upgrade: UpgradeSpec{Type: Full, KubernetesVersion: k8sTo}, NodeImageSelection: &NodeImageSelection{Type: Consistent}})
	h := newHost(t, spec, []Member{member("a-1", "g"), odd}, catalog())
	h.start()
	h.failOp("a-1", "QuotaExceeded", "no")
	require.Equal(t, Completed, h.run.State())
	require.Contains(t, h.member("odd-1").Message, "no consistent node image")

	plan, err := h.run.Retry(RetryOptions{})
	require.NoError(t, err)
	require.Len(t, plan.Runs, 2)
	pinned, fresh := plan.Runs[0], plan.Runs[1]
	assert.Equal(t, "run-1-retry-1-1", pinned.Name)
	assert.Equal(t, []string{"a-1"}, memberNames(pinned.Members))
	assert.Equal(t, ManagedClusterUpdate{Upgrade: UpgradeSpec{Type: Full, KubernetesVersion: k8sToFix},
		NodeImageSelection: &NodeImageSelection{Type: Custom, CustomNodeImageVersions: []NodeImageVersion{{Version: imgNew}}}}, pinned.Spec.ManagedClusterUpdate)
	assert.Equal(t, "run-1-retry-1-2", fresh.Name)
	assert.Equal(t, []string{"odd-1"}, memberNames(fresh.Members))
	assert.Equal(t, ManagedClusterUpdate{Upgrade: UpgradeSpec{Type: Full, KubernetesVersion: k8sToFix},
		NodeImageSelection: &NodeImageSelection{Type: Consistent}}, fresh.Spec.ManagedClusterUpdate)
	assert.Equal(t, spec.Strategy, fresh.Spec.Strategy)

	// Against the same catalog the missing family is still missing: the
	// retry skips it again rather than upgrade it in part.
	r2 := newHost(t, fresh.Spec, fresh.Members, plan.Catalog)
	r2.start()
	assert.NotContains(t, r2.ops, "odd-1")
	assert.Equal(t, Skipped, r2.state("odd-1"))
	assert.Contains(t, r2.member("odd-1").Message, "no consistent node image")

	// Once the region offers the family (and a newer patch), the retry
	// upgrades every pool, to the patch the first run meant.
	const armNew = "AKSUbuntu-2204gen2arm64containerd-202405.20.0"
	cat := catalog()
	cat.Regions[regionA] = RegionCatalog{KubernetesVersions: []string{"1.29.4", "1.30.5", "1.30.7"}, NodeImageVersions: []string{imgOld, imgMid, imgNew, armImg, armNew}}
	r3 := newHost(t, fresh.Spec, fresh.Members, cat)
	r3.start()
	assert.Equal(t, UpgradeMember{Op: "run-1/odd-1/1", Member: "odd-1", Type: Full, KubernetesVersion: k8sToFix,
		NodeImages: []PoolImage{{Pool: "arm", NodeImageVersion: armNew}, {Pool: "system", NodeImageVersion: imgNew}}}, r3.ops["odd-1"])
}

func TestRetryRefusesRunsThatAreNotDone(t *testing.T) {
	_, err := Run{}.Retry(RetryOptions{})
	require.ErrorIs(t, err, ErrInvalidTransition)

	spec := tolerant(ManagedClusterUpdate{Upgrade: UpgradeSpec{Type: Full, KubernetesVersion: k8sTo}, NodeImageSelection: &NodeImageSelection{Type: Consistent}})
	spec.Strategy.Stages[0].Groups[0].MaxConcurrency = "1"
	h := newHost(t, spec, members("g", "a", "b"), catalog())
	_, err = h.run.Retry(RetryOptions{})
	require.ErrorIs(t, err, ErrInvalidTransition)
	assert.Contains(t, err.Error(), "has not started")

	h.start()
	_, err = h.run.Retry(RetryOptions{})
	require.ErrorIs(t, err, ErrInvalidTransition)
	assert.Contains(t, err.Error(), `run "run-1" is Running`)

	h.step(Stop{At: h.now})
	require.Equal(t, Stopping, h.run.State())
	_, err = h.run.Retry(RetryOptions{})
	require.ErrorIs(t, err, ErrInvalidTransition)
	assert.Contains(t, err.Error(), "Stopping")

	h.failOp("a", "QuotaExceeded", "no")
	require.Equal(t, Stopped, h.run.State())
	plan, err := h.run.Retry(RetryOptions{})
	require.NoError(t, err)
	require.Len(t, plan.Runs, 1)
	assert.Equal(t, []string{"a"}, memberNames(plan.Runs[0].Members))

	// Unfinished also takes the member the stop left NotStarted. The first
	// run resolved its minor-only target to 1.30.5 for a and never reached
	// b, for which the target means 1.30.5 in the run's catalog too.
	plan, err = h.run.Retry(RetryOptions{Unfinished: true})
	require.NoError(t, err)
	require.Len(t, plan.Runs, 1)
	assert.Equal(t, []string{"a", "b"}, memberNames(plan.Runs[0].Members))
	assert.Equal(t, "1.30.5", plan.Runs[0].Spec.ManagedClusterUpdate.Upgrade.KubernetesVersion)

	// A region that no longer offers the minor: b keeps the target as
	// written, and so a run of its own.
	cat := catalog()
	cat.Regions[regionA] = RegionCatalog{KubernetesVersions: []string{"1.31.1"}, NodeImageVersions: cat.Regions[regionA].NodeImageVersions}
	h.step(CatalogChanged{At: h.now, Catalog: cat})
	plan, err = h.run.Retry(RetryOptions{Unfinished: true})
	require.NoError(t, err)
	require.Len(t, plan.Runs, 2)
	assert.Equal(t, []string{"a"}, memberNames(plan.Runs[0].Members))
	assert.Equal(t, "1.30.5", plan.Runs[0].Spec.ManagedClusterUpdate.Upgrade.KubernetesVersion)
	assert.Equal(t, []string{"b"}, memberNames(plan.Runs[1].Members))
	assert.Equal(t, "1.30", plan.Runs[1].Spec.ManagedClusterUpdate.Upgrade.KubernetesVersion)
}

func TestRetryOfARunWithNothingToRetryIsAnEmptyPlan(t *testing.T) {
	h := newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, members("", "a"), catalog())
	h.start()
	h.succeed("a")
	require.Equal(t, Completed, h.run.State())
	plan, err := h.run.Retry(RetryOptions{UserSkipped: true, Unfinished: true})
	require.NoError(t, err)
	assert.Empty(t, plan.Runs)
}

// Under Latest each member got the newest image and patch of its region:
// one Custom selection cannot hold both, so the retry is two runs.
func TestRetryOfLatestSplitsWhereTheFirstRunChoseDifferently(t *testing.T) {
	cat := catalog()
	cat.Regions[regionB] = RegionCatalog{KubernetesVersions: []string{"1.29.4", "1.30.2"}, NodeImageVersions: []string{imgOld, imgMid}}
	inB := func(n string) Member { m := member(n, "g"); m.Region = regionB; return m }
	jump := member("jump-1", "g")
	jump.KubernetesVersion = "1.28.3"
	ms := []Member{member("a-1", "g"), member("a-2", "g"), inB("b-1"), inB("b-2"), jump}
	spec := tolerant(ManagedClusterUpdate{Upgrade: UpgradeSpec{Type: Full, KubernetesVersion: k8sTo}})
	h := newHost(t, spec, ms, cat)
	h.start()
	for _, n := range []string{"a-1", "a-2", "b-1", "b-2"} {
		h.failOp(n, "QuotaExceeded", "no")
	}
	require.Equal(t, Failed, h.state("jump-1"))
	require.Equal(t, Completed, h.run.State())

	plan, err := h.run.Retry(RetryOptions{})
	require.NoError(t, err)
	require.Len(t, plan.Runs, 3)
	custom := func(img string) *NodeImageSelection {
		return &NodeImageSelection{Type: Custom, CustomNodeImageVersions: []NodeImageVersion{{Version: img}}}
	}
	a, b, latest := plan.Runs[0], plan.Runs[1], plan.Runs[2]
	assert.Equal(t, "run-1-retry-1-1", a.Name)
	assert.Equal(t, []string{"a-1", "a-2"}, memberNames(a.Members))
	assert.Equal(t, "1.30.5", a.Spec.ManagedClusterUpdate.Upgrade.KubernetesVersion)
	assert.Equal(t, custom(imgNew), a.Spec.ManagedClusterUpdate.NodeImageSelection)
	assert.Equal(t, "run-1-retry-1-2", b.Name)
	assert.Equal(t, []string{"b-1", "b-2"}, memberNames(b.Members))
	assert.Equal(t, "1.30.2", b.Spec.ManagedClusterUpdate.Upgrade.KubernetesVersion)
	assert.Equal(t, custom(imgMid), b.Spec.ManagedClusterUpdate.NodeImageSelection)
	// The first run chose no image for jump-1: it keeps Latest, with the
	// patch the target means in its region.
	assert.Equal(t, "run-1-retry-1-3", latest.Name)
	assert.Equal(t, []string{"jump-1"}, memberNames(latest.Members))
	assert.Equal(t, ManagedClusterUpdate{Upgrade: UpgradeSpec{Type: Full, KubernetesVersion: "1.30.5"}}, latest.Spec.ManagedClusterUpdate)

	for _, rr := range plan.Runs[:2] {
		r2 := newHost(t, rr.Spec, rr.Members, plan.Catalog)
		r2.start()
		for _, m := range rr.Members {
			want := h.pinnedOf(m.Name)
			got := r2.ops[m.Name]
			want.Op = got.Op
			assert.Equal(t, want, got, m.Name)
		}
	}
}

// A pin must not move a pool the first run left alone: a member whose pool
// was already at its region's newest image cannot share a run with one
// pinned to a newer image of that family.
func TestRetryKeepsPoolsTheFirstRunLeftAloneWhereTheyAre(t *testing.T) {
	cat := catalog()
	cat.Regions[regionB] = RegionCatalog{KubernetesVersions: []string{"1.29.4", "1.30.5"}, NodeImageVersions: []string{imgOld, imgMid}}
	inB := func(n, img string) Member {
		m := member(n, "")
		m.Region, m.NodePools[0].NodeImageVersion = regionB, img
		return m
	}
	ms := []Member{member("a-1", "g"), inB("b-1", imgMid), inB("b-2", imgOld)}
	spec := tolerant(full(k8sToFix))
	for i := range ms {
		ms[i].Group = "g"
	}
	h := newHost(t, spec, ms, cat)
	h.start()
	assert.Empty(t, h.ops["b-1"].NodeImages, "b-1's pool is at its region's newest")
	for _, n := range []string{"a-1", "b-1", "b-2"} {
		h.failOp(n, "QuotaExceeded", "no")
	}
	require.Equal(t, Completed, h.run.State())
	plan, err := h.run.Retry(RetryOptions{})
	require.NoError(t, err)
	require.Len(t, plan.Runs, 2)
	assert.Equal(t, []string{"a-1"}, memberNames(plan.Runs[0].Members))
	assert.Equal(t, []string{"b-1", "b-2"}, memberNames(plan.Runs[1].Members))
	assert.Equal(t, []NodeImageVersion{{Version: imgMid}}, plan.Runs[1].Spec.ManagedClusterUpdate.NodeImageSelection.CustomNodeImageVersions)
	for _, rr := range plan.Runs {
		r2 := newHost(t, rr.Spec, rr.Members, plan.Catalog)
		r2.start()
		for _, m := range rr.Members {
			want := h.pinnedOf(m.Name)
			got := r2.ops[m.Name]
			want.Op = got.Op
			assert.Equal(t, want, got, m.Name)
		}
	}
}

// With no image to pin (every pool already at its newest), the retry pins
// the images the pools have, so it moves none, as the first run did.
func TestRetryWithNoImagePinnedLeavesPoolsAlone(t *testing.T) {
	m := member("a", "")
	m.NodePools[0].NodeImageVersion = imgNew
	h := newHost(t, Spec{ManagedClusterUpdate: full(k8sToFix)}, []Member{m}, catalog())
	h.start()
	require.Empty(t, h.ops["a"].NodeImages)
	h.failOp("a", "QuotaExceeded", "no")
	plan, err := h.run.Retry(RetryOptions{})
	require.NoError(t, err)
	rr := plan.Runs[0]
	assert.Equal(t, []NodeImageVersion{{Version: imgNew}}, rr.Spec.ManagedClusterUpdate.NodeImageSelection.CustomNodeImageVersions)
	r2 := newHost(t, rr.Spec, rr.Members, plan.Catalog)
	r2.start()
	assert.Equal(t, UpgradeMember{Op: "run-1/a/1", Member: "a", Type: Full, KubernetesVersion: k8sToFix}, r2.ops["a"])
}

func TestRetryOfControlPlaneOnlyAndNodeImageOnly(t *testing.T) {
	for _, up := range []UpgradeType{ControlPlaneOnly, NodeImageOnly} {
		t.Run(string(up), func(t *testing.T) {
			mcu := ManagedClusterUpdate{Upgrade: UpgradeSpec{Type: up, KubernetesVersion: k8sTo}}
			if up == NodeImageOnly {
				mcu = ManagedClusterUpdate{Upgrade: UpgradeSpec{Type: up}, NodeImageSelection: &NodeImageSelection{Type: Consistent}}
			}
			h := newHost(t, Spec{ManagedClusterUpdate: mcu}, members("", "a"), catalog())
			h.start()
			h.failOp("a", "QuotaExceeded", "no")
			plan, err := h.run.Retry(RetryOptions{})
			require.NoError(t, err)
			rr := plan.Runs[0]
			r2 := newHost(t, rr.Spec, rr.Members, plan.Catalog)
			r2.start()
			want := h.pinnedOf("a")
			assert.Equal(t, want, r2.ops["a"])
			if up == ControlPlaneOnly {
				assert.Nil(t, rr.Spec.ManagedClusterUpdate.NodeImageSelection)
				assert.Equal(t, "1.30.5", rr.Spec.ManagedClusterUpdate.Upgrade.KubernetesVersion)
			} else {
				assert.Empty(t, rr.Spec.ManagedClusterUpdate.Upgrade.KubernetesVersion)
				assert.Equal(t, Custom, rr.Spec.ManagedClusterUpdate.NodeImageSelection.Type)
			}
		})
	}
}

// The run does not follow label changes, so neither does the retry: each
// member lands in the group the first run placed it in, and groups and
// stages left empty are dropped, the rest kept in order.
func TestRetryPlacesMembersInTheirFirstRunGroups(t *testing.T) {
	labelled := func(n, tier string) Member {
		m := member(n, "")
		m.Labels = map[string]string{"tier": tier}
		return m
	}
	spec := Spec{Strategy: &Strategy{Stages: []Stage{
		{Name: "canary", Groups: []Group{{Name: "c", MemberSelector: &MemberSelector{ByLabel: "tier=canary"}}}},
		{Name: "web", MemberSelector: &MemberSelector{ByLabel: "tier=web"}, MaxAllowedFailures: "5", MaxConcurrency: "5"},
		{Name: "db", Groups: []Group{{Name: "d1", MemberSelector: &MemberSelector{ByLabel: "tier=db"}}, {Name: "d2", MemberSelector: &MemberSelector{ByLabel: "tier=db2"}}}},
	}}, ManagedClusterUpdate: full(k8sTo)}
	ms := []Member{labelled("c-1", "canary"), labelled("w-1", "web"), labelled("w-2", "web"), labelled("d-1", "db"), labelled("e-1", "db2")}
	h := newHost(t, spec, ms, catalog())
	h.start()
	h.succeed("c-1")
	h.step(Tick{At: h.now})
	moved := labelled("w-1", "db") // the run ignores the new label
	h.step(MemberChanged{At: h.now, Member: moved})
	h.failOp("w-1", "QuotaExceeded", "no")
	h.succeed("w-2")
	h.succeed("d-1")
	h.failOp("e-1", "QuotaExceeded", "no")
	require.Equal(t, Failed, h.run.State())

	plan, err := h.run.Retry(RetryOptions{})
	require.NoError(t, err)
	rr := plan.Runs[0]
	assert.Equal(t, []string{"e-1", "w-1"}, memberNames(rr.Members))
	assert.Equal(t, map[string]string{"tier": "web"}, rr.Members[1].Labels, "placed by the labels the first run placed it by")
	assert.Equal(t, []Stage{
		{Name: "web", MemberSelector: &MemberSelector{ByLabel: "tier=web"}, MaxAllowedFailures: "5", MaxConcurrency: "5"},
		{Name: "db", Groups: []Group{{Name: "d2", MemberSelector: &MemberSelector{ByLabel: "tier=db2"}}}},
	}, rr.Spec.Strategy.Stages)
	r2, err := New(rr.Name, rr.Spec, rr.Members, plan.Catalog)
	require.NoError(t, err)
	st := r2.Status()
	require.Len(t, st.Stages, 2)
	assert.Equal(t, "w-1", st.Stages[0].Groups[0].Members[0].Name)
	assert.Equal(t, "e-1", st.Stages[1].Groups[0].Members[0].Name)
}

func TestRetryNames(t *testing.T) {
	long := strings.Repeat("a", 50)
	for _, c := range []struct {
		name, given string
		k           int
		want        []string
	}{
		{"roll", "", 1, []string{"roll-retry-1"}},
		{"roll-retry-1", "", 1, []string{"roll-retry-2"}},
		{"roll-retry-9", "", 1, []string{"roll-retry-10"}},
		{"roll-retry-1", "", 2, []string{"roll-retry-2-1", "roll-retry-2-2"}},
		{"roll-retry-1-2", "", 1, []string{"roll-retry-2-2"}},
		{"roll-retry-1-retry-4", "", 1, []string{"roll-retry-1-retry-5"}},
		{"retry-1", "", 1, []string{"retry-1-retry-1"}},
		{"roll-retry-99999999999999999999", "", 1, []string{"roll-retry-99999999999999999999-retry-1"}},
		{long, "", 1, []string{strings.Repeat("a", 42) + "-retry-1"}},
		{strings.Repeat("a", 42) + "-retry-1", "", 1, []string{strings.Repeat("a", 42) + "-retry-2"}},
		{strings.Repeat("a", 41) + "-retry-9", "", 1, []string{strings.Repeat("a", 41) + "-retry-10"}},
		{strings.Repeat("a", 42) + "-retry-9", "", 1, []string{strings.Repeat("a", 41) + "-retry-10"}},
		{strings.Repeat("a", 40) + "-b-retry-9", "", 1, []string{strings.Repeat("a", 40) + "-retry-10"}},
		{long, "", 12, []string{strings.Repeat("a", 39) + "-retry-1-1"}},
		{"roll", "again", 1, []string{"again"}},
		{"roll", "again", 2, []string{"again-1", "again-2"}},
	} {
		got, err := retryNames(c.name, c.given, c.k)
		require.NoError(t, err, c.name)
		assert.Equal(t, c.want, got[:len(c.want)], c.name)
		for _, n := range got {
			require.NoError(t, checkName("name", n))
		}
	}
	_, err := retryNames("roll", "Bad Name", 1)
	require.ErrorIs(t, err, ErrInvalidSpec)
	_, err = retryNames("roll", strings.Repeat("a", 49), 2)
	require.ErrorIs(t, err, ErrInvalidSpec, "a given name leaves room for the parts' numbers")
	_, err = retryNames("roll-retry-1"+strings.Repeat("-1", 21), "", 1)
	require.ErrorIs(t, err, ErrInvalidSpec)
}

// A run at the longest name New takes still retries, under a name New takes.
func TestRetryOfARunWithALongNameIsAccepted(t *testing.T) {
	name := "r" + strings.Repeat("-9", 24) + "x" // 50 characters
	r, err := New(name, Spec{ManagedClusterUpdate: full(k8sTo)}, members("", "a"), catalog())
	require.NoError(t, err)
	r, cmds, err := Step(r, Start{At: t0})
	require.NoError(t, err)
	r, _, err = Step(r, UpgradeFailed{At: t0, Op: cmds[0].(UpgradeMember).Op, Code: "X", Message: "no"})
	require.NoError(t, err)
	plan, err := r.Retry(RetryOptions{})
	require.NoError(t, err)
	rr := plan.Runs[0]
	assert.Equal(t, "r"+strings.Repeat("-9", 20)+"-retry-1", rr.Name)
	_, err = New(rr.Name, rr.Spec, rr.Members, plan.Catalog)
	require.NoError(t, err)
}

// Retry reads the run and changes nothing in it, and what it returns
// shares nothing with it.
func TestRetryChangesNothingInTheRun(t *testing.T) {
	h := classified(t)
	before := mustJSON(t, h.run)
	plan, err := h.run.Retry(RetryOptions{UserSkipped: true})
	require.NoError(t, err)
	again, err := h.run.Retry(RetryOptions{UserSkipped: true})
	require.NoError(t, err)
	assert.Equal(t, plan, again, "deterministic")
	for i := range plan.Runs[0].Members {
		m := &plan.Runs[0].Members[i]
		m.NodePools[0].NodeImageVersion = "scrambled"
		m.Labels = map[string]string{"x": "y"}
	}
	plan.Runs[0].Spec.Strategy.Stages[0].Name = "scrambled"
	plan.Catalog.Regions[regionA] = RegionCatalog{}
	assert.Equal(t, before, mustJSON(t, h.run))
}

// A run decoded from edited JSON that the decoder accepts but one run
// cannot pin (two images of one family for one member) is refused with an
// error naming the member.
func TestRetryRefusesPinsNoCustomSelectionHolds(t *testing.T) {
	m := member("a", "")
	m.NodePools = append(m.NodePools, NodePool{Name: "user", NodeImageVersion: imgOld})
	h := newHost(t, Spec{ManagedClusterUpdate: full(k8sToFix)}, []Member{m}, catalog())
	h.start()
	h.failOp("a", "QuotaExceeded", "no")
	b := mustJSON(t, h.run)
	edited := strings.Replace(b, `{"pool":"user","nodeImageVersion":"`+imgNew+`"}`, `{"pool":"user","nodeImageVersion":"`+imgMid+`"}`, 1)
	require.NotEqual(t, b, edited)
	var r Run
	require.NoError(t, json.Unmarshal([]byte(edited), &r))
	_, err := r.Retry(RetryOptions{})
	require.ErrorIs(t, err, ErrInvalidEncoding)
	assert.Contains(t, err.Error(), `member "a"`)
}

// Edited JSON that makes a run say it is done before it is started is
// refused by the decoder, so Retry never sees it; a run decoded from its
// own JSON retries the same way as the run it came from.
func TestRetryOfADecodedRunEqualsTheRun(t *testing.T) {
	h := classified(t)
	var r Run
	require.NoError(t, json.Unmarshal([]byte(mustJSON(t, h.run)), &r))
	want, err := h.run.Retry(RetryOptions{UserSkipped: true})
	require.NoError(t, err)
	got, err := r.Retry(RetryOptions{UserSkipped: true})
	require.NoError(t, err)
	assert.Equal(t, want, got)

	edited := strings.Replace(mustJSON(t, h.run), `"phase":"Completed"`, `"phase":"NotStarted"`, 1)
	require.Error(t, json.Unmarshal([]byte(edited), &r))
}

// A retry that fails again is retried again, with the same pins, under the
// next number.
func TestRetryOfARetryKeepsThePinsAndCountsOn(t *testing.T) {
	cat := catalog()
	cat.Regions[regionB] = RegionCatalog{KubernetesVersions: []string{"1.29.4", "1.30.2"}, NodeImageVersions: []string{imgOld, imgMid}}
	b := member("b", "")
	b.Region = regionB
	r, err := New("roll", Spec{ManagedClusterUpdate: full(k8sTo)}, []Member{b}, cat)
	require.NoError(t, err)
	var first UpgradeMember
	for i, want := range []string{"roll-retry-1", "roll-retry-2", "roll-retry-3"} {
		var cmds []Command
		r, cmds, err = Step(r, Start{At: t0})
		require.NoError(t, err)
		u := cmds[0].(UpgradeMember)
		if i == 0 {
			first = u
			assert.Equal(t, "1.30.2", u.KubernetesVersion)
		}
		r, _, err = Step(r, UpgradeFailed{At: t0, Op: u.Op, Code: "QuotaExceeded", Message: "no"})
		require.NoError(t, err)
		u.Op = first.Op
		assert.Equal(t, first, u, "attempt %d", i)
		plan, err := r.Retry(RetryOptions{})
		require.NoError(t, err)
		require.Len(t, plan.Runs, 1)
		rr := plan.Runs[0]
		assert.Equal(t, want, rr.Name)
		// Meanwhile the region got a newer patch and image: the pins hold.
		plan.Catalog.Regions[regionB] = catalog().Regions[regionB]
		r, err = New(rr.Name, rr.Spec, rr.Members, plan.Catalog)
		require.NoError(t, err)
	}
}

// A run whose every stage a user skipped is Skipped: nothing to retry but
// what the user skipped, when asked.
func TestRetryOfASkippedRun(t *testing.T) {
	h := newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, members("", "a", "b"), catalog())
	h.step(Skip{At: h.now, Targets: []SkipTarget{{Type: TargetStage, Name: "default"}}})
	h.start()
	require.Equal(t, Skipped, h.run.State())
	plan, err := h.run.Retry(RetryOptions{})
	require.NoError(t, err)
	assert.Empty(t, plan.Runs)
	plan, err = h.run.Retry(RetryOptions{UserSkipped: true})
	require.NoError(t, err)
	require.Len(t, plan.Runs, 1)
	assert.Equal(t, []string{"a", "b"}, memberNames(plan.Runs[0].Members))
	assert.Equal(t, "1.30.5", plan.Runs[0].Spec.ManagedClusterUpdate.Upgrade.KubernetesVersion)
}

// A member that leaves the fleet while it is being upgraded stays Running
// until its operation ends; if that fails, it is Failed but gone: the
// retry must leave it out (Run.Start would skip it too, facts.go).
func TestRetryLeavesOutAMemberThatLeftTheFleetDuringItsUpgrade(t *testing.T) {
	h := newHost(t, tolerant(full(k8sTo)), members("g", "a", "b"), catalog())
	h.start()
	h.step(MemberChanged{At: h.now, Member: member("a", "g"), Removed: true})
	require.Equal(t, Running, h.state("a"))
	h.failOp("a", "QuotaExceeded", "no")
	h.failOp("b", "QuotaExceeded", "no")
	require.Equal(t, Failed, h.state("a"))
	for _, opt := range []RetryOptions{{}, {UserSkipped: true, Unfinished: true}} {
		plan, err := h.run.Retry(opt)
		require.NoError(t, err)
		require.Len(t, plan.Runs, 1)
		assert.Equal(t, []string{"b"}, memberNames(plan.Runs[0].Members), "%+v", opt)
	}
}

// A user who skips a group (or its stage) while one of its members is being
// upgraded skips that member too once its operation ends: it is Failed if
// the upgrade failed, but Start would skip it as skipped by user (step.go
// abandoned), so the retry takes it only with UserSkipped.
func TestRetryTakesAFailedMemberOfAGroupAUserSkippedOnlyWithUserSkipped(t *testing.T) {
	for _, target := range []SkipTarget{{Type: TargetGroup, Name: "g"}, {Type: TargetStage, Name: "s"}} {
		t.Run(string(target.Type), func(t *testing.T) {
			spec := Spec{Strategy: &Strategy{Stages: []Stage{
				{Name: "s", MaxAllowedFailures: "100%", Groups: []Group{{Name: "g", MaxAllowedFailures: "100%"}}},
				{Name: "t", MaxAllowedFailures: "100%", Groups: []Group{{Name: "h", MaxAllowedFailures: "100%"}}},
			}}, ManagedClusterUpdate: full(k8sTo)}
			h := newHost(t, spec, append(members("g", "a"), member("b", "h")), catalog())
			h.start()
			h.step(Skip{At: h.now, Targets: []SkipTarget{target}})
			h.failOp("a", "QuotaExceeded", "no")
			require.Equal(t, Failed, h.state("a"))
			h.step(Tick{At: h.now})
			h.failOp("b", "QuotaExceeded", "no")
			require.Equal(t, Completed, h.run.State())

			plan, err := h.run.Retry(RetryOptions{})
			require.NoError(t, err)
			require.Len(t, plan.Runs, 1)
			assert.Equal(t, []string{"b"}, memberNames(plan.Runs[0].Members))
			plan, err = h.run.Retry(RetryOptions{UserSkipped: true})
			require.NoError(t, err)
			require.Len(t, plan.Runs, 1)
			assert.Equal(t, []string{"a", "b"}, memberNames(plan.Runs[0].Members))
		})
	}
}

// A member whose upgrade failed and that a stopped run left unfinished, put
// back in the queue by a restart (Start on the Failed run) or waiting for
// the catalog after NodeImageVersionNotAvailable, failed as much as a Failed
// one: the retry takes it without Unfinished, with the inputs it pinned.
func TestRetryTakesAMemberThatFailedAndWasLeftUnfinished(t *testing.T) {
	t.Run("requeued", func(t *testing.T) {
		a := member("a", "")
		a.AutoUpgradeWindow = dailyWindow("12:00", 4)
		h := newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, []Member{a, member("b", "")}, catalog())
		h.start()
		h.failOp("a", "QuotaExceeded", "no")
		require.Equal(t, Failed, h.run.State())
		h.advance(6 * time.Hour) // a's window has closed
		h.start()
		h.step(Stop{At: h.now})
		h.succeed("b")
		require.Equal(t, Stopped, h.run.State())
		require.Equal(t, NotStarted, h.state("a"))
		plan, err := h.run.Retry(RetryOptions{})
		require.NoError(t, err)
		require.Len(t, plan.Runs, 1)
		assert.Equal(t, []string{"a"}, memberNames(plan.Runs[0].Members))
		r2 := newHost(t, plan.Runs[0].Spec, plan.Runs[0].Members, plan.Catalog)
		r2.start()
		want := h.pinnedOf("a")
		want.Op = r2.ops["a"].Op
		assert.Equal(t, want, r2.ops["a"])
	})
	t.Run("waiting for the catalog", func(t *testing.T) {
		h := newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, members("", "a"), catalog())
		h.start()
		h.failOp("a", CodeNodeImageVersionNotAvailable, "not yet in eastus")
		h.step(Stop{At: h.now})
		require.Equal(t, Stopped, h.run.State())
		require.Equal(t, Pending, h.state("a"))
		plan, err := h.run.Retry(RetryOptions{})
		require.NoError(t, err)
		require.Len(t, plan.Runs, 1)
		assert.Equal(t, []string{"a"}, memberNames(plan.Runs[0].Members))
	})
}
