// Command host is the smallest real fleetkit host: a loop over a real clock
// that commits every accepted event to a journal file (package journal)
// before acting on it, performs upgrades through an Upgrader a user
// implements against the Azure SDK (a fake one is shipped), and resumes
// where it left off when killed and started again on the same file. Only
// one host can have the file open: a second one exits with an error.
//
//	go run ./examples/host -journal /tmp/fleet.db    # kill it, run it again: it resumes
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/fleetkit/fleetkit/fleetupdate"
)

func main() {
	path := flag.String("journal", "fleetkit.db", "journal file the run is kept in")
	delay := flag.Duration("delay", 300*time.Millisecond, "how long each fake upgrade takes")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	clk := clock.New()
	h := &Host{Path: *path, Clock: clk, Upgrader: &FakeUpgrader{Clock: clk, Delay: *delay}, Log: os.Stdout}
	run, err := h.Run(ctx, demoPlan())
	if err != nil {
		fmt.Fprintln(os.Stderr, "host:", err)
		os.Exit(1)
	}
	fmt.Printf("run %s is %s; journal in %s\n", run.Name(), run.State(), *path)
}

// demoPlan is a small two-stage run over six clusters without maintenance
// windows, so it finishes in seconds.
func demoPlan() Plan {
	spec := fleetupdate.Spec{
		Strategy: &fleetupdate.Strategy{Stages: []fleetupdate.Stage{
			{Name: "test", Groups: []fleetupdate.Group{{Name: "test"}}},
			{Name: "prod", Groups: []fleetupdate.Group{{Name: "prod-eu"}, {Name: "prod-us", MaxConcurrency: "2"}}},
		}},
		ManagedClusterUpdate: fleetupdate.ManagedClusterUpdate{Upgrade: fleetupdate.UpgradeSpec{Type: fleetupdate.ControlPlaneOnly, KubernetesVersion: "1.30"}},
	}
	var members []fleetupdate.Member
	for i, g := range []string{"test", "test", "prod-eu", "prod-eu", "prod-us", "prod-us"} {
		members = append(members, fleetupdate.Member{Name: fmt.Sprintf("%s-%d", g, i), Group: g, Region: "eastus", KubernetesVersion: "1.29.9"})
	}
	catalog := fleetupdate.Catalog{Regions: map[string]fleetupdate.RegionCatalog{"eastus": {KubernetesVersions: []string{"1.29.9", "1.30.5"}}}}
	return Plan{Name: "demo", Spec: spec, Members: members, Catalog: catalog}
}
