package autoupgrade_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/fleetkit/fleetkit/autoupgrade"
	"github.com/fleetkit/fleetkit/fleetupdate"
)

// Fleet concepts doc, "Stable channel" and "Rapid channel" examples:
// "The latest supported minor Kubernetes version is 1.30. Any patch releases in
// the 1.29 minor range would be considered for Stable channel updates." "A new
// minor Kubernetes version of 1.31 is published. … Any cluster previously
// receiving updates from 1.29 would be updated to the most recent patch for
// 1.30." Rapid: "The latest supported minor version is 1.30. Any patch release
// in the 1.30 minor range …"; "A new minor Kubernetes version of 1.31 is
// published. 1.30 shifts to the Stable channel. Any cluster previously
// receiving updates from 1.30 would be updated to the most recent patch for
// 1.31 which is now the Rapid channel."
func TestStableIsNewestPatchOfMinorNMinusOneAndRapidOfMinorN(t *testing.T) {
	before := "1.28.9 1.28.13 1.29.4 1.29.9 1.30.2 1.30.5"
	after := before + " 1.31.1"
	for _, tc := range []struct {
		name     string
		channel  autoupgrade.Channel
		offered  string
		member   string
		target   string
		upgraded bool
	}{
		{"Stable, 1.30 newest: a 1.29 cluster gets 1.29's newest patch", autoupgrade.Stable, before, "1.29.4", "1.29.9", true},
		{"Stable, 1.30 newest: a 1.29.9 cluster is current", autoupgrade.Stable, before, "1.29.9", "1.29.9", false},
		{"Stable, 1.31 published: a 1.29 cluster moves to 1.30's newest patch", autoupgrade.Stable, after, "1.29.9", "1.30.5", true},
		{"Rapid, 1.30 newest: a 1.30 cluster gets 1.30's newest patch", autoupgrade.Rapid, before, "1.30.2", "1.30.5", true},
		{"Rapid, 1.31 published: a 1.30 cluster moves to 1.31's newest patch", autoupgrade.Rapid, after, "1.30.5", "1.31.1", true},
		{"Stable, 1.31 published: a 1.30 cluster gets 1.30's newest patch", autoupgrade.Stable, after, "1.30.2", "1.30.5", true},
		{"Stable: a cluster on 1.31 is ahead of 1.30 and left alone", autoupgrade.Stable, after, "1.31.1", "1.30.5", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := plan(t, autoupgrade.Profile{Name: "p", Channel: tc.channel}, []autoupgrade.Member{member("m", tc.member)}, offer(tc.offered, nil), nil)
			assert.Equal(t, tc.target, ev.Target.KubernetesVersion)
			if tc.upgraded {
				if assert.Len(t, ev.Runs, 1) {
					assert.Equal(t, fleetupdate.UpgradeSpec{Type: fleetupdate.Full, KubernetesVersion: tc.target}, ev.Runs[0].Spec.ManagedClusterUpdate.Upgrade)
				}
			} else {
				assert.Empty(t, ev.Runs)
			}
		})
	}
}

// Fleet concepts doc, "TargetKubernetesVersion channel": "You create an auto
// upgrade profile with TargetKubernetesVersion channel and specify a target
// Kubernetes version of "1.30". A new patch version 1.30.5 is published. Update
// run is automatically created with the target of 1.30.5." and "specify a
// target Kubernetes version of "1.29" and enable LongTermSupport … The latest
// community supported minor version is "1.33". A new patch version 1.29.5 is
// published. Update run is automatically created with the target of 1.29.5."
func TestTargetKubernetesVersionIsNewestPatchOfTheNamedMinor(t *testing.T) {
	tkv := func(v string, lts bool) autoupgrade.Profile {
		return autoupgrade.Profile{Name: "p", Channel: autoupgrade.TargetKubernetesVersion, TargetKubernetesVersion: v, LongTermSupport: lts}
	}
	ev := plan(t, tkv("1.30", false), []autoupgrade.Member{member("m", "1.30.2")}, offer("1.29.9 1.30.2 1.30.5 1.31.1", nil), nil)
	assert.Equal(t, "1.30.5", ev.Target.KubernetesVersion)
	assert.Equal(t, []string{"m"}, targeted(ev))

	lts := offer("1.29.4lts 1.29.5lts 1.31.3 1.32.2 1.33.1", nil)
	onLTS := member("m", "1.29.4")
	onLTS.LongTermSupport = true
	ev = plan(t, tkv("1.29", true), []autoupgrade.Member{onLTS}, lts, nil)
	assert.Equal(t, "1.29.5", ev.Target.KubernetesVersion)
	assert.Equal(t, []string{"m"}, targeted(ev))

	ev = plan(t, tkv("1.29", false), []autoupgrade.Member{onLTS}, lts, nil)
	assert.Empty(t, ev.Runs)
	assert.Equal(t, "Kubernetes 1.29 is outside AKS's support window (1.31 to 1.33); set longTermSupport to follow it as an LTS version", ev.Message)

	ev = plan(t, tkv("1.30", true), []autoupgrade.Member{onLTS}, offer("1.30.4 1.31.3 1.32.2 1.33.1", nil), nil)
	assert.Equal(t, "Kubernetes 1.30 is outside AKS's support window (1.31 to 1.33) and is not an LTS version", ev.Message)

	ev = plan(t, tkv("1.34", false), []autoupgrade.Member{onLTS}, offer("1.32.2 1.33.1 1.34.0p", nil), nil)
	assert.Equal(t, "Kubernetes 1.34 is not GA in every region of the fleet yet (the newest minor that is: 1.33)", ev.Message)
}

// Fleet concepts doc, "TargetKubernetesVersion channel": "if the generated update run
// includes clusters without LTS enabled, it will fail" — fleetkit leaves them out instead.
func TestNonLTSClusterIsLeftOutOfAnLTSTarget(t *testing.T) {
	p := autoupgrade.Profile{Name: "p", Channel: autoupgrade.TargetKubernetesVersion, TargetKubernetesVersion: "1.29", LongTermSupport: true}
	onLTS := member("lts", "1.29.4")
	onLTS.LongTermSupport = true
	ev := plan(t, p, []autoupgrade.Member{onLTS, member("community", "1.29.4")}, offer("1.29.4lts 1.29.5lts 1.31.3 1.32.2 1.33.1", nil), nil)
	assert.Equal(t, []string{"lts"}, targeted(ev))
	assert.Equal(t, autoupgrade.OutsideSupportWindow, reasons(ev)["community"])
	assert.Contains(t, ev.LeftOut[0].Message, "or put the cluster on AKS's long-term support plan")
}

// Fleet concepts doc: "Auto-upgrade only updates to GA versions of Kubernetes
// and doesn't update to preview versions."
func TestPreviewVersionsAreNeverTargeted(t *testing.T) {
	ev := plan(t, autoupgrade.Profile{Name: "p", Channel: autoupgrade.Rapid}, []autoupgrade.Member{member("m", "1.30.2")}, offer("1.29.9 1.30.2 1.30.5 1.31.0p 1.31.1p", nil), nil)
	assert.Equal(t, "1.30.5", ev.Target.KubernetesVersion, "a preview minor is not N")
	ev = plan(t, autoupgrade.Profile{Name: "p", Channel: autoupgrade.Rapid}, []autoupgrade.Member{member("m", "1.30.2")}, offer("1.29.9 1.30.2 1.30.5 1.30.6p", nil), nil)
	assert.Equal(t, "1.30.5", ev.Target.KubernetesVersion, "nor a preview patch the newest")
}

// The NodeImage channel "always uses consistent image" (update-automation.md):
// the newest image of each family offered in every region of the fleet.
func TestNodeImageTargetsTheNewestImageCommonToTheFleetsRegions(t *testing.T) {
	rel := offer("1.30.5", []string{ubuntu + "202603.02.0", ubuntu + "202603.09.0", windows + "20348.3207.260301"}, "eastus")
	rel.Regions["westeurope"] = autoupgrade.RegionReleases{KubernetesVersions: versions("1.30.5"), NodeImageVersions: []string{ubuntu + "202603.02.0", windows + "20348.3207.260301"}}
	a, b := member("a", "1.30.5", ubuntu+"202602.23.0", windows+"20348.3100.260201"), member("b", "1.30.5", ubuntu+"202603.02.0")
	b.Region = "westeurope"
	ev := plan(t, autoupgrade.Profile{Name: "p", Channel: autoupgrade.NodeImage}, []autoupgrade.Member{a, b}, rel, nil)
	assert.Equal(t, []string{ubuntu + "202603.02.0", windows + "20348.3207.260301"}, ev.Target.NodeImages)
	assert.Equal(t, []string{"a"}, targeted(ev), "b is at the common image already")
	assert.Equal(t, fleetupdate.ManagedClusterUpdate{Upgrade: fleetupdate.UpgradeSpec{Type: fleetupdate.NodeImageOnly},
		NodeImageSelection: &fleetupdate.NodeImageSelection{Type: fleetupdate.Consistent}}, ev.Runs[0].Spec.ManagedClusterUpdate)
}

// Fleet autoupgradeprofile.tsp, SecurityPatch: "Linux only; Windows nodes skipped."
func TestSecurityPatchUpgradesLinuxPoolsOnly(t *testing.T) {
	rel := offer("1.30.5", []string{ubuntu + "202603.09.0", windows + "20348.3207.260301"})
	onlyWindows := member("win", "1.30.5", windows+"20348.3100.260201")
	mixed := member("mixed", "1.30.5", ubuntu+"202603.02.0", windows+"20348.3100.260201")
	ev := plan(t, autoupgrade.Profile{Name: "p", Channel: autoupgrade.SecurityPatch}, []autoupgrade.Member{onlyWindows, mixed}, rel, nil)
	assert.Equal(t, []string{ubuntu + "202603.09.0"}, ev.Target.NodeImages)
	assert.Equal(t, []string{"mixed"}, targeted(ev))
	assert.Equal(t, &fleetupdate.NodeImageSelection{Type: fleetupdate.Custom, CustomNodeImageVersions: []fleetupdate.NodeImageVersion{{Version: ubuntu + "202603.09.0"}}},
		ev.Runs[0].Spec.ManagedClusterUpdate.NodeImageSelection, "a Custom selection without Windows leaves Windows pools alone")
}

// A Kubernetes channel's runs carry the profile's nodeImageSelection; nil is Latest (CLI default).
func TestKubernetesRunsUseTheProfilesNodeImageSelection(t *testing.T) {
	p := autoupgrade.Profile{Name: "p", Channel: autoupgrade.Rapid, NodeImageSelection: &autoupgrade.NodeImageSelection{Type: fleetupdate.Consistent}}
	ev := plan(t, p, []autoupgrade.Member{member("m", "1.30.2")}, offer("1.30.2 1.30.5", []string{ubuntu + "202603.02.0"}), nil)
	assert.Equal(t, &fleetupdate.NodeImageSelection{Type: fleetupdate.Consistent}, ev.Runs[0].Spec.ManagedClusterUpdate.NodeImageSelection)
	p.NodeImageSelection = nil
	ev = plan(t, p, []autoupgrade.Member{member("m", "1.30.2")}, offer("1.30.2 1.30.5", []string{ubuntu + "202603.02.0"}), nil)
	assert.Nil(t, ev.Runs[0].Spec.ManagedClusterUpdate.NodeImageSelection)
}

// A SecurityPatch profile with a strategy: its runs' Custom selection is built from the
// target, after the strategy has chosen the members.
func TestSecurityPatchWithAStrategy(t *testing.T) {
	p := autoupgrade.Profile{Name: "p", Channel: autoupgrade.SecurityPatch,
		Strategy: &fleetupdate.Strategy{Stages: []fleetupdate.Stage{{Name: "all", Groups: []fleetupdate.Group{{Name: "prod"}}}}}}
	m := member("m", "1.30.5", ubuntu+"202603.02.0")
	m.Group = "prod"
	ev := plan(t, p, []autoupgrade.Member{m}, offer("1.30.5", []string{ubuntu + "202603.09.0"}), nil)
	assert.Equal(t, []string{"m"}, targeted(ev))
}
