package fleetupdate_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/window"
)

// A two-stage rollout driven by a tiny in-memory host: every upgrade takes
// ten minutes and succeeds.
func Example() {
	var spec fleetupdate.Spec
	_ = json.Unmarshal([]byte(`{
	  "strategy": {"stages": [
	    {"name": "canary", "groups": [{"name": "dev"}], "afterStageWaitInSeconds": 3600},
	    {"name": "prod", "groups": [{"name": "prod-eu"}, {"name": "prod-us"}]}]},
	  "managedClusterUpdate": {"upgrade": {"type": "Full", "kubernetesVersion": "1.30"},
	                           "nodeImageSelection": {"type": "Consistent"}}}`), &spec)

	nightly := &window.Schedule{Recurrence: window.Recurrence{Daily: &window.DailySchedule{IntervalDays: 1}}, StartTime: "22:00", DurationHours: 6}
	pools := []fleetupdate.NodePool{{Name: "system", NodeImageVersion: "AKSUbuntu-2204gen2containerd-202405.13.0"}}
	members := []fleetupdate.Member{
		{Name: "dev-1", Group: "dev", Region: "eastus", KubernetesVersion: "1.29.4", NodePools: pools},
		{Name: "eu-1", Group: "prod-eu", Region: "westeurope", KubernetesVersion: "1.29.4", NodePools: pools, AutoUpgradeWindow: nightly},
		{Name: "us-1", Group: "prod-us", Region: "eastus", KubernetesVersion: "1.29.4", NodePools: pools},
	}
	offer := fleetupdate.RegionCatalog{
		KubernetesVersions: []string{"1.29.4", "1.30.5"},
		NodeImageVersions:  []string{"AKSUbuntu-2204gen2containerd-202405.13.0", "AKSUbuntu-2204gen2containerd-202405.20.0"},
	}
	catalog := fleetupdate.Catalog{Regions: map[string]fleetupdate.RegionCatalog{"eastus": offer, "westeurope": offer}}

	run, err := fleetupdate.New("roll-1-30", spec, members, catalog)
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	var inFlight []fleetupdate.OpID
	cmds := []fleetupdate.Command(nil)
	run, cmds, _ = fleetupdate.Step(run, fleetupdate.Start{At: now})
	for {
		for _, c := range cmds {
			switch c := c.(type) {
			case fleetupdate.UpgradeMember:
				fmt.Printf("%s  upgrade %s to %s, images %v\n", now.Format("15:04"), c.Member, c.KubernetesVersion, c.NodeImages)
				inFlight = append(inFlight, c.Op)
			case fleetupdate.WakeAt:
				fmt.Printf("%s  wake me at %s\n", now.Format("15:04"), c.At.Format("15:04"))
			}
		}
		if s := run.State(); s == fleetupdate.Completed || s == fleetupdate.Failed {
			break
		}
		var ev fleetupdate.Event
		if len(inFlight) > 0 {
			now = now.Add(10 * time.Minute)
			ev, inFlight = fleetupdate.UpgradeSucceeded{At: now, Op: inFlight[0]}, inFlight[1:]
		} else if at, ok := run.NextWake(); ok {
			now = at
			ev = fleetupdate.Tick{At: now}
		}
		run, cmds, err = fleetupdate.Step(run, ev)
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	fmt.Println(run.State(), run.Status().Stages[1].Groups[0].Members[0].Status.StartTime.Format(time.Kitchen))
	// Output:
	// 12:00  upgrade dev-1 to 1.30.5, images [{system AKSUbuntu-2204gen2containerd-202405.20.0}]
	// 12:10  wake me at 13:10
	// 13:10  wake me at 22:00
	// 13:10  upgrade us-1 to 1.30.5, images [{system AKSUbuntu-2204gen2containerd-202405.20.0}]
	// 22:00  upgrade eu-1 to 1.30.5, images [{system AKSUbuntu-2204gen2containerd-202405.20.0}]
	// Completed 10:00PM
}
