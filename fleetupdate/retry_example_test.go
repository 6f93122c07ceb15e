package fleetupdate_test

import (
	"fmt"
	"time"

	"github.com/fleetkit/fleetkit/fleetupdate"
)

// A run that went on past a failure (its group tolerates one) is retried:
// the next run holds the member that failed, not the one already at target,
// and pins the Kubernetes patch and node image the first run chose.
func ExampleRun_Retry() {
	const (
		old = "AKSUbuntu-2204gen2containerd-202405.13.0"
		img = "AKSUbuntu-2204gen2containerd-202405.20.0"
	)
	spec := fleetupdate.Spec{
		Strategy: &fleetupdate.Strategy{Stages: []fleetupdate.Stage{{Name: "prod", MaxAllowedFailures: "1",
			Groups: []fleetupdate.Group{{Name: "eu", MaxConcurrency: "3", MaxAllowedFailures: "1"}}}}},
		ManagedClusterUpdate: fleetupdate.ManagedClusterUpdate{
			Upgrade:            fleetupdate.UpgradeSpec{Type: fleetupdate.Full, KubernetesVersion: "1.30"},
			NodeImageSelection: &fleetupdate.NodeImageSelection{Type: fleetupdate.Consistent},
		},
	}
	member := func(name, k8s, image string) fleetupdate.Member {
		return fleetupdate.Member{Name: name, Group: "eu", Region: "westeurope", KubernetesVersion: k8s,
			NodePools: []fleetupdate.NodePool{{Name: "system", NodeImageVersion: image}}}
	}
	members := []fleetupdate.Member{member("eu-1", "1.29.4", old), member("eu-2", "1.29.4", old), member("eu-3", "1.30.5", img)}
	catalog := fleetupdate.Catalog{Regions: map[string]fleetupdate.RegionCatalog{
		"westeurope": {KubernetesVersions: []string{"1.29.4", "1.30.5"}, NodeImageVersions: []string{old, img}}}}

	run, _ := fleetupdate.New("roll-1-30", spec, members, catalog)
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	run, cmds, _ := fleetupdate.Step(run, fleetupdate.Start{At: now})
	for _, c := range cmds { // eu-1 fails, eu-2 succeeds
		if u, ok := c.(fleetupdate.UpgradeMember); ok {
			var ev fleetupdate.Event = fleetupdate.UpgradeSucceeded{At: now, Op: u.Op}
			if u.Member == "eu-1" {
				ev = fleetupdate.UpgradeFailed{At: now, Op: u.Op, Code: "QuotaExceeded", Message: "out of cores"}
			}
			run, _, _ = fleetupdate.Step(run, ev)
		}
	}
	fmt.Println(run.State())

	plan, err := run.Retry(fleetupdate.RetryOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, rr := range plan.Runs {
		up := rr.Spec.ManagedClusterUpdate
		fmt.Println(rr.Name, len(rr.Members), rr.Members[0].Name, up.Upgrade.KubernetesVersion, up.NodeImageSelection.Type, up.NodeImageSelection.CustomNodeImageVersions[0].Version)
		retry, err := fleetupdate.New(rr.Name, rr.Spec, rr.Members, plan.Catalog)
		if err != nil {
			fmt.Println(err)
			return
		}
		_, cmds, _ := fleetupdate.Step(retry, fleetupdate.Start{At: now.Add(time.Hour)})
		fmt.Printf("%+v\n", cmds[0])
	}
	// Output:
	// Completed
	// roll-1-30-retry-1 1 eu-1 1.30.5 Custom AKSUbuntu-2204gen2containerd-202405.20.0
	// {Op:roll-1-30-retry-1/eu-1/1 Member:eu-1 Type:Full KubernetesVersion:1.30.5 NodeImages:[{Pool:system NodeImageVersion:AKSUbuntu-2204gen2containerd-202405.20.0}]}
}
