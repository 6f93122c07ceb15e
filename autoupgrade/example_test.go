package autoupgrade_test

import (
	"fmt"
	"slices"

	"github.com/fleetkit/fleetkit/autoupgrade"
	"github.com/fleetkit/fleetkit/fleetupdate"
)

func Example() {
	// Azure's AutoUpgradeProfile JSON, as `az fleet autoupgradeprofile show` prints it.
	profile, err := autoupgrade.ParseProfile([]byte(`{
		"name": "stable",
		"properties": {
			"channel": "Stable",
			"nodeImageSelection": {"type": "Consistent"},
			"strategy": {"stages": [
				{"name": "canary", "groups": [{"name": "canary"}], "afterStageWaitInSeconds": 86400},
				{"name": "prod", "groups": [{"name": "prod"}]}
			]}
		}
	}`))
	if err != nil {
		panic(err)
	}
	// What AKS offers now: 1.31 is the newest GA minor, so Stable means 1.30's newest
	// patch in every region of the fleet.
	k8s := []autoupgrade.KubernetesVersion{{Version: "1.29.9"}, {Version: "1.30.4"}, {Version: "1.30.5"}, {Version: "1.31.1"}, {Version: "1.32.0", IsPreview: true}}
	images := []string{"AKSUbuntu-2204gen2containerd-202603.02.0"}
	releases := autoupgrade.Releases{Regions: map[string]autoupgrade.RegionReleases{
		"eastus":     {KubernetesVersions: k8s, NodeImageVersions: images},
		"westeurope": {KubernetesVersions: append(slices.Clone(k8s[:2]), k8s[3:]...), NodeImageVersions: images}, // 1.30.5 has not reached it yet
	}}
	member := func(name, group, region, version string) fleetupdate.Member {
		return fleetupdate.Member{Name: name, Group: group, Region: region, KubernetesVersion: version,
			NodePools: []fleetupdate.NodePool{{Name: "system", NodeImageVersion: "AKSUbuntu-2204gen2containerd-202602.02.0"}}}
	}
	members := autoupgrade.Members([]fleetupdate.Member{
		member("canary-1", "canary", "eastus", "1.29.9"),
		member("prod-1", "prod", "eastus", "1.30.2"),
		member("prod-2", "prod", "westeurope", "1.30.2"),
		member("prod-3", "prod", "eastus", "1.28.3"),
	})
	show := func(ev autoupgrade.Evaluation) {
		for _, g := range ev.Runs {
			fmt.Printf("run %s: %s %s for", g.Name, g.Spec.ManagedClusterUpdate.Upgrade.Type, g.Spec.ManagedClusterUpdate.Upgrade.KubernetesVersion)
			for _, m := range g.Members {
				fmt.Print(" ", m.Name)
			}
			fmt.Printf(" (%s)\n", g.Why)
		}
		for _, l := range ev.LeftOut {
			fmt.Printf("left out %s: %s\n", l.Member, l.Reason)
		}
	}
	// The first evaluation: nothing has been generated yet.
	ev, err := autoupgrade.Plan(profile, members, releases, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("target:", ev.Target.KubernetesVersion)
	show(ev)

	// The host created and started that run: prod-1 failed, the others were upgraded.
	rec := ev.Runs[0].Created()
	rec.State = fleetupdate.Failed
	rec.Members[0].State, rec.Members[1].State, rec.Members[2].State = fleetupdate.Completed, fleetupdate.Failed, fleetupdate.Completed
	members[0].KubernetesVersion, members[2].KubernetesVersion = "1.30.4", "1.30.4"
	// A week later 1.30.5 has reached westeurope.
	releases.Regions["westeurope"] = releases.Regions["eastus"]
	ev, err = autoupgrade.Plan(profile, members, releases, autoupgrade.History{rec})
	if err != nil {
		panic(err)
	}
	fmt.Println("a week later:")
	show(ev)
	// Output:
	// target: 1.30.4
	// run stable-1-30-4-e6274592: Full 1.30.4 for canary-1 prod-1 prod-2 (3 members behind Kubernetes 1.30.4)
	// left out prod-3: OutsideSupportWindow
	// a week later:
	// run stable-1-30-5-53c120a7: Full 1.30.5 for canary-1 prod-2 (2 members behind Kubernetes 1.30.5)
	// run stable-1-30-5-53c120a7-2: Full 1.30.5 for prod-1 (retry of prod-1, which failed in stable-1-30-4-e6274592, alone: Kubernetes 1.30.5)
	// left out prod-3: OutsideSupportWindow
}
