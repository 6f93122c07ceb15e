package forecast_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/forecast"
	"github.com/fleetkit/fleetkit/window"
)

// exampleRun is a two-stage run: a canary, then production behind an
// approval gate, with one member that upgrades only in a nightly window.
func exampleRun() fleetupdate.Run {
	var spec fleetupdate.Spec
	_ = json.Unmarshal([]byte(`{
	  "strategy": {"stages": [
	    {"name": "canary", "groups": [{"name": "dev"}], "afterStageWaitInSeconds": 3600},
	    {"name": "prod", "beforeGates": [{"displayName": "change board", "type": "Approval"}],
	     "groups": [{"name": "prod-eu"}, {"name": "prod-us"}]}]},
	  "managedClusterUpdate": {"upgrade": {"type": "Full", "kubernetesVersion": "1.30"},
	                           "nodeImageSelection": {"type": "Latest"}}}`), &spec)
	nightly := &window.Schedule{Recurrence: window.Recurrence{Daily: &window.DailySchedule{IntervalDays: 1}}, StartTime: "22:00", DurationHours: 6}
	pools := []fleetupdate.NodePool{{Name: "system", NodeImageVersion: "AKSUbuntu-2204gen2containerd-202405.13.0"}}
	members := []fleetupdate.Member{
		{Name: "dev-1", Group: "dev", Region: "eastus", KubernetesVersion: "1.29.4", NodePools: pools},
		{Name: "eu-1", Group: "prod-eu", Region: "eastus", KubernetesVersion: "1.29.4", NodePools: pools, AutoUpgradeWindow: nightly},
		{Name: "us-1", Group: "prod-us", Region: "eastus", KubernetesVersion: "1.29.4", NodePools: pools},
		{Name: "us-2", Group: "prod-us", Region: "eastus", KubernetesVersion: "1.29.4", NodePools: pools},
	}
	offer := fleetupdate.RegionCatalog{
		KubernetesVersions: []string{"1.29.4", "1.30.5"},
		NodeImageVersions:  []string{"AKSUbuntu-2204gen2containerd-202405.13.0", "AKSUbuntu-2204gen2containerd-202405.20.0"},
	}
	run, err := fleetupdate.New("roll-1-30", spec, members, fleetupdate.Catalog{Regions: map[string]fleetupdate.RegionCatalog{"eastus": offer}})
	if err != nil {
		panic(err)
	}
	return run
}

// When will each cluster be upgraded, if an upgrade takes 40 minutes and
// the change board approves two hours after it is asked?
func ExampleRun() {
	now := time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
	f, err := forecast.Run(exampleRun(), now, forecast.Assumptions{Duration: 40 * time.Minute, ApprovalDelay: 2 * time.Hour})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range f.Rows {
		fmt.Printf("%-6s %-6s %-7s %-5s  %s → %s\n", r.Kind(), r.Stage, r.Group, r.Member, r.Start.Format("Jan 2 15:04"), r.Finish.Format("Jan 2 15:04"))
	}
	// The prod stage starts at 10:40, when the canary's hour of waiting is
	// over, and its groups at 12:40, when the gate is approved; eu-1 waits
	// for its window at 22:00.
	fmt.Println(f.Assumptions)
	// Output:
	// run                          Mar 4 09:00 → Mar 4 22:40
	// stage  canary                Mar 4 09:00 → Mar 4 10:40
	// group  canary dev            Mar 4 09:00 → Mar 4 09:40
	// member canary dev     dev-1  Mar 4 09:00 → Mar 4 09:40
	// stage  prod                  Mar 4 10:40 → Mar 4 22:40
	// group  prod   prod-eu        Mar 4 12:40 → Mar 4 22:40
	// member prod   prod-eu eu-1   Mar 4 22:00 → Mar 4 22:40
	// group  prod   prod-us        Mar 4 12:40 → Mar 4 14:00
	// member prod   prod-us us-1   Mar 4 12:40 → Mar 4 13:20
	// member prod   prod-us us-2   Mar 4 13:20 → Mar 4 14:00
	// each upgrade takes 40m0s and succeeds; approval gates are approved 2h0m0s after they are reached; the catalog and the members stay as the run has them; no user acts
}

// With upgrades taking 40 minutes as a median and 2 hours in one case of
// ten, when is the run done, typically and in a bad case?
func ExamplePercentiles() {
	now := time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC)
	a := forecast.Assumptions{Duration: 40 * time.Minute, P90Factor: 3, ApprovalDelay: 2 * time.Hour}
	d, err := forecast.Percentiles(exampleRun(), now, a, 200, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range d.Rows {
		if r.Member != "" {
			fmt.Printf("%-5s finishes by %s (p50), %s (p90)\n", r.Member, r.Finish.P50.Format("Jan 2 15:04"), r.Finish.P90.Format("Jan 2 15:04"))
		}
	}
	run := d.Rows[0]
	fmt.Printf("run   finishes by %s (p50), %s (p90); %d of %d simulations finish\n", run.Finish.P50.Format("Jan 2 15:04"), run.Finish.P90.Format("Jan 2 15:04"), run.Finished, d.Simulations)
	// Output:
	// dev-1 finishes by Mar 4 09:37 (p50), Mar 4 10:26 (p90)
	// eu-1  finishes by Mar 4 22:39 (p50), Mar 5 00:16 (p90)
	// us-1  finishes by Mar 4 13:26 (p50), Mar 4 14:59 (p90)
	// us-2  finishes by Mar 4 14:14 (p50), Mar 4 16:35 (p90)
	// run   finishes by Mar 4 22:39 (p50), Mar 5 00:16 (p90); 200 of 200 simulations finish
}
