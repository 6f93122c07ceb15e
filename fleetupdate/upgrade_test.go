package fleetupdate

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func onlyUpgrade(t *testing.T, h *host) UpgradeMember {
	t.Helper()
	var ups []UpgradeMember
	for _, c := range h.cmds {
		if u, ok := c.(UpgradeMember); ok {
			ups = append(ups, u)
		}
	}
	require.Len(t, ups, 1)
	return ups[0]
}

// A minor-only target resolves to the newest patch offered in the member's region.
func TestMinorOnlyTargetResolvesToNewestPatchInRegion(t *testing.T) {
	h := newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, members("g", "a"), catalog())
	h.start()
	u := onlyUpgrade(t, h)
	assert.Equal(t, UpgradeMember{Op: "run-1/a/1", Member: "a", Type: Full, KubernetesVersion: "1.30.5",
		NodeImages: []PoolImage{{Pool: "system", NodeImageVersion: imgNew}}}, u)
}

// "Target Kubernetes version or node image not in the member's region → Pending naming version and
// region; eligible again on CatalogChanged."
func TestMemberPendingWhenTargetNotInRegion(t *testing.T) {
	c := catalog()
	c.Regions[regionA] = RegionCatalog{KubernetesVersions: []string{"1.29.4"}, NodeImageVersions: []string{imgOld, imgNew}}
	ms := members("g", "a", "b")
	ms[1].Region = regionB
	h := newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, ms, c)
	h.start()
	assert.Equal(t, []string{"b"}, h.started(), "a waits, the run tries the next member")
	a := h.member("a")
	assert.Equal(t, Pending, a.Status.State)
	assert.Equal(t, `target Kubernetes version 1.30 is not available in region "eastus"`, a.Message)
	h.succeed("b")
	assert.Equal(t, Pending, h.run.State())
	h.step(CatalogChanged{At: h.now, Catalog: catalog()})
	assert.Equal(t, []string{"a"}, h.started())
}

// Fleet: a member whose target node image is not yet in its region goes Pending, not Failed.
func TestNodeImageNotAvailableFailureMakesMemberPending(t *testing.T) {
	h := newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, members("g", "a", "b"), catalog())
	h.start()
	h.failOp("a", CodeNodeImageVersionNotAvailable, `target upgrade node image version "x" for agent pool pool is not available in region "eastus"`)
	assert.Equal(t, Pending, h.state("a"))
	assert.Equal(t, Running, h.run.State())
	assert.Equal(t, []string{"b"}, h.started())
	h.succeed("b")
	h.step(CatalogChanged{At: h.now, Catalog: catalog()})
	u := onlyUpgrade(t, h)
	assert.Equal(t, OpID("run-1/a/2"), u.Op, "a second attempt, same inputs")
	h.succeed("a")
	assert.Equal(t, Completed, h.run.State())
}

// "Latest = newest in the member's region when its upgrade starts."
func TestLatestIsNewestInRegionWhenUpgradeStarts(t *testing.T) {
	c := catalog()
	c.Regions[regionB] = RegionCatalog{KubernetesVersions: []string{"1.30.5"}, NodeImageVersions: []string{imgOld, imgMid}}
	ms := members("g", "a", "b")
	ms[1].Region = regionB
	h := newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, ms, c)
	h.start()
	assert.Equal(t, imgNew, onlyUpgrade(t, h).NodeImages[0].NodeImageVersion)
	// The region catches up before b starts: b gets the newer image.
	h.step(CatalogChanged{At: h.now, Catalog: catalog()})
	h.succeed("a")
	assert.Equal(t, imgNew, onlyUpgrade(t, h).NodeImages[0].NodeImageVersion)
}

// "Consistent = resolved at New (status shows it), pinned at first Start."
func TestConsistentResolvedAtNewAndPinnedAtFirstStart(t *testing.T) {
	c := catalog()
	c.Regions[regionB] = RegionCatalog{KubernetesVersions: []string{"1.30.5"}, NodeImageVersions: []string{imgOld}}
	ms := members("g", "a", "b")
	ms[1].Region = regionB
	spec := Spec{ManagedClusterUpdate: ManagedClusterUpdate{Upgrade: UpgradeSpec{Type: NodeImageOnly}, NodeImageSelection: &NodeImageSelection{Type: Consistent}}}
	h := newHost(t, spec, ms, c)
	sel := func() []NodeImageVersion { return h.run.Status().NodeImageSelection.SelectedNodeImageVersions }
	assert.Equal(t, []NodeImageVersion{{imgOld}}, sel(), "visible before the run starts")
	c.Regions[regionB] = RegionCatalog{NodeImageVersions: []string{imgOld, imgMid}}
	h.step(CatalogChanged{At: h.now, Catalog: c})
	assert.Equal(t, []NodeImageVersion{{imgMid}}, sel(), "re-resolved until Start")
	h.start()
	assert.Equal(t, []PoolImage{{Pool: "system", NodeImageVersion: imgMid}}, onlyUpgrade(t, h).NodeImages)
	h.step(CatalogChanged{At: h.now, Catalog: catalog()})
	assert.Equal(t, []NodeImageVersion{{imgMid}}, sel(), "pinned after Start")
	h.succeed("a")
	assert.Equal(t, []PoolImage{{Pool: "system", NodeImageVersion: imgMid}}, onlyUpgrade(t, h).NodeImages)
}

// "A member whose pool cannot be resolved under Consistent is Skipped with why."
func TestConsistentUnresolvedPoolSkipsMember(t *testing.T) {
	c := catalog()
	c.Regions[regionB] = RegionCatalog{KubernetesVersions: []string{"1.30.5"}, NodeImageVersions: []string{"AKSUbuntu-2204gen2containerd-202411.01.0"}}
	ms := members("g", "a", "b")
	ms[1].Region = regionB
	spec := Spec{ManagedClusterUpdate: ManagedClusterUpdate{Upgrade: UpgradeSpec{Type: NodeImageOnly}, NodeImageSelection: &NodeImageSelection{Type: Consistent}}}
	h := newHost(t, spec, ms, c)
	h.start()
	assert.Empty(t, h.started())
	a := h.member("a")
	assert.Equal(t, Skipped, a.Status.State)
	assert.Contains(t, a.Message, `no consistent node image for agent pool "system"`)
	assert.Equal(t, Skipped, h.run.State(), "all members skipped: the run is Skipped")
}

// Custom: "pools whose family has no version are not upgraded".
func TestCustomSelectionPerFamily(t *testing.T) {
	ms := members("g", "a")
	ms[0].NodePools = append(ms[0].NodePools, NodePool{Name: "win", NodeImageVersion: "AKSWindows-2022-containerd-20348.3000.250101"})
	spec := Spec{ManagedClusterUpdate: ManagedClusterUpdate{Upgrade: UpgradeSpec{Type: NodeImageOnly},
		NodeImageSelection: &NodeImageSelection{Type: Custom, CustomNodeImageVersions: []NodeImageVersion{{imgMid}}}}}
	h := newHost(t, spec, ms, catalog())
	h.start()
	u := onlyUpgrade(t, h)
	assert.Equal(t, []PoolImage{{Pool: "system", NodeImageVersion: imgMid}}, u.NodeImages)
	assert.Empty(t, u.KubernetesVersion)
	h.succeed("a")
	a := h.member("a")
	assert.Equal(t, Completed, a.Status.State)
	assert.Contains(t, a.Message, `no target node image version for family "AKSWindows-2022-containerd" of agent pool "win"`)
}

// "Pools already at or ahead of target are left alone with a message; the member still completes."
func TestPoolsAtTargetAreLeftAloneAndMemberCompletes(t *testing.T) {
	ms := members("g", "a")
	ms[0].NodePools = append(ms[0].NodePools, NodePool{Name: "user", NodeImageVersion: imgNew})
	h := newHost(t, Spec{ManagedClusterUpdate: ManagedClusterUpdate{Upgrade: UpgradeSpec{Type: NodeImageOnly}}}, ms, catalog())
	h.start()
	assert.Equal(t, []PoolImage{{Pool: "system", NodeImageVersion: imgNew}}, onlyUpgrade(t, h).NodeImages, "only pools that change")
	h.succeed("a")
	a := h.member("a")
	assert.Equal(t, Completed, a.Status.State)
	assert.Equal(t, `Skipped upgrade of following agent pool(s): current node image version "`+imgNew+`" of agent pool "user" is already at or ahead of target upgrade version "`+imgNew+`"`, a.Message)
}

// "member already at target … → Skipped with why."
func TestMemberAlreadyAtTargetIsSkipped(t *testing.T) {
	at := members("g", "cp", "full", "nio")
	for i := range at {
		at[i].KubernetesVersion = "1.30.5"
		at[i].NodePools[0].NodeImageVersion = imgNew
	}
	for _, c := range []struct {
		up   ManagedClusterUpdate
		want string
	}{
		{ManagedClusterUpdate{Upgrade: UpgradeSpec{Type: ControlPlaneOnly, KubernetesVersion: "1.30"}}, "control plane Kubernetes version 1.30.5 is already at or ahead of target 1.30.5"},
		{full("1.30.5"), "already at target: Kubernetes version 1.30.5 is already at or ahead of target 1.30.5; current node image version"},
		{ManagedClusterUpdate{Upgrade: UpgradeSpec{Type: NodeImageOnly}}, "already at target: current node image version"},
	} {
		h := newHost(t, Spec{ManagedClusterUpdate: c.up}, at[:1], catalog())
		h.start()
		assert.Empty(t, h.started(), c.up.Upgrade.Type)
		assert.Equal(t, Skipped, h.state("cp"))
		assert.Contains(t, h.member("cp").Message, c.want)
	}
	// A Full run still upgrades node images of a member whose control plane is at target.
	behind := members("g", "a")
	behind[0].KubernetesVersion = "1.30.5"
	h := newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, behind, catalog())
	h.start()
	assert.Equal(t, "1.30.5", onlyUpgrade(t, h).KubernetesVersion)
	h.succeed("a")
	assert.Equal(t, Completed, h.state("a"))
	assert.Empty(t, h.member("a").Message, "no pool was left alone; the control plane is no agent pool")
}

// "Version rules refused → Failed with code UpgradeNotAllowed" (no minor skip).
func TestMinorVersionSkipFailsWithUpgradeNotAllowed(t *testing.T) {
	ms := members("g", "a", "b")
	ms[0].KubernetesVersion = "1.28.9"
	h := newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, ms, catalog())
	h.start()
	a := h.member("a")
	assert.Equal(t, Failed, a.Status.State)
	assert.Equal(t, &ErrorDetail{Code: "UpgradeNotAllowed", Message: "upgrade would skip a minor version: 1.28.9 to 1.30.5 (upgrade one minor version at a time)"}, a.Status.Error)
	assert.Empty(t, h.started(), "fail-fast: nothing new starts")
	assert.Equal(t, Failed, h.run.State())
}

// "node pools … may lag by at most 3 minors … so a ControlPlaneOnly upgrade that would leave a pool
// too far behind is refused".
func TestControlPlaneOnlyRefusedWhenPoolWouldLagTooFar(t *testing.T) {
	ms := members("g", "a")
	ms[0].NodePools[0].KubernetesVersion = "1.26.3"
	h := newHost(t, Spec{ManagedClusterUpdate: ManagedClusterUpdate{Upgrade: UpgradeSpec{Type: ControlPlaneOnly, KubernetesVersion: "1.30"}}}, ms, catalog())
	h.start()
	a := h.member("a")
	assert.Equal(t, Failed, a.Status.State)
	assert.Contains(t, a.Status.Error.Message, `agent pool "system": node pool version skew not allowed: node pool 1.26.3 would trail control plane 1.30.5 by more than 3 minor versions`)
	ms[0].NodePools[0].KubernetesVersion = "1.27.3"
	h = newHost(t, Spec{ManagedClusterUpdate: ManagedClusterUpdate{Upgrade: UpgradeSpec{Type: ControlPlaneOnly, KubernetesVersion: "1.30"}}}, ms, catalog())
	h.start()
	assert.Equal(t, UpgradeMember{Op: "run-1/a/1", Member: "a", Type: ControlPlaneOnly, KubernetesVersion: "1.30.5"}, onlyUpgrade(t, h))
}

// AKS docs: LTS clusters may upgrade straight to a higher LTS version, so "one that would skip a
// minor version (non-LTS) … is Failed with code UpgradeNotAllowed" does not apply to them.
func TestLTSMemberMaySkipMinorVersions(t *testing.T) {
	ms := members("g", "a")
	ms[0].KubernetesVersion = "1.28.9"
	ms[0].LongTermSupport = true
	h := newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, ms, catalog())
	h.start()
	u := onlyUpgrade(t, h)
	assert.Equal(t, "1.30.5", u.KubernetesVersion)
	h.succeed("a")
	assert.Equal(t, Completed, h.run.State())
	var m Member
	require.NoError(t, json.Unmarshal([]byte(`{"name":"a","region":"eastus","kubernetesVersion":"1.28.9","longTermSupport":true}`), &m))
	assert.True(t, m.LongTermSupport)
}

// Azure's monitoring example (howto-monitor-update-runs.md): a member Pending because its region
// does not offer the target image shows state Pending with error {code NodeImageVersionNotAvailable,
// message}; so does one waiting for a Kubernetes version (code KubernetesVersionNotAvailable).
func TestPendingMemberShowsWhyAsAnError(t *testing.T) {
	c := catalog()
	c.Regions[regionA] = RegionCatalog{KubernetesVersions: []string{"1.29.4", "1.30.5"}, NodeImageVersions: []string{imgOld}}
	c.Regions[regionB] = RegionCatalog{KubernetesVersions: []string{"1.29.4"}, NodeImageVersions: []string{imgOld, imgNew}}
	ms := members("g", "a", "b")
	ms[1].Region = regionB
	spec := Spec{ManagedClusterUpdate: ManagedClusterUpdate{Upgrade: UpgradeSpec{Type: Full, KubernetesVersion: k8sToFix},
		NodeImageSelection: &NodeImageSelection{Type: Custom, CustomNodeImageVersions: []NodeImageVersion{{imgNew}}}}}
	h := newHost(t, spec, ms, c)
	h.start()
	a := h.member("a")
	assert.Equal(t, Pending, a.Status.State)
	want := `target upgrade node image version "` + imgNew + `" for agent pool "system" is not available in region "eastus"`
	assert.Equal(t, &ErrorDetail{Code: "NodeImageVersionNotAvailable", Message: want}, a.Status.Error)
	assert.Equal(t, want, a.Message)
	assert.Equal(t, &ErrorDetail{Code: "KubernetesVersionNotAvailable", Message: `target Kubernetes version 1.30.5 is not available in region "westeurope"`}, h.member("b").Status.Error)
	h.step(CatalogChanged{At: h.now, Catalog: catalog()})
	assert.Equal(t, []string{"a"}, h.started())
	assert.Nil(t, h.member("a").Status.Error, "running: the reason is gone")
	h.failOp("a", CodeNodeImageVersionNotAvailable, "not in eastus yet")
	assert.Equal(t, &ErrorDetail{Code: "NodeImageVersionNotAvailable", Message: "not in eastus yet"}, h.member("a").Status.Error)
}

// Under Custom, status shows the selected versions as nodeImageSelection.selectedNodeImageVersions,
// as it does under Consistent; under Latest there is no selection to show.
func TestCustomSelectionShowsSelectedVersions(t *testing.T) {
	win := "AKSWindows-2022-containerd-20348.3000.250101"
	spec := Spec{ManagedClusterUpdate: ManagedClusterUpdate{Upgrade: UpgradeSpec{Type: NodeImageOnly},
		NodeImageSelection: &NodeImageSelection{Type: Custom, CustomNodeImageVersions: []NodeImageVersion{{imgMid}, {win}}}}}
	h := newHost(t, spec, members("g", "a"), catalog())
	assert.Equal(t, &NodeImageSelectionStatus{SelectedNodeImageVersions: []NodeImageVersion{{imgMid}, {win}}}, h.run.Status().NodeImageSelection, "by family")
	h = newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, members("g", "a"), catalog())
	assert.Nil(t, h.run.Status().NodeImageSelection)
}
