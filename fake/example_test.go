package fake_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/fleetkit/fleetkit/fake"
	"github.com/fleetkit/fleetkit/fleetupdate"
)

// myStrategy is the strategy under test: canaries first, then everything
// else, production last and a few at a time.
var myStrategy = &fleetupdate.Strategy{Stages: []fleetupdate.Stage{
	{Name: "canary", AfterStageWaitInSeconds: 3600, Groups: []fleetupdate.Group{{Name: "canary"}}},
	{Name: "pre-prod", Groups: []fleetupdate.Group{{Name: "dev"}, {Name: "test"}}},
	{Name: "prod", MaxConcurrency: "3", Groups: []fleetupdate.Group{{Name: "prod-eu", MaxConcurrency: "2"}, {Name: "prod-us", MaxConcurrency: "2"}, {Name: "prod-asia"}}},
}}

var mySpec = fleetupdate.Spec{Strategy: myStrategy, ManagedClusterUpdate: fleetupdate.ManagedClusterUpdate{
	Upgrade:            fleetupdate.UpgradeSpec{Type: fleetupdate.Full, KubernetesVersion: "1.30"},
	NodeImageSelection: &fleetupdate.NodeImageSelection{Type: fleetupdate.Consistent},
}}

// A property test of your own strategy over random fleets: whatever the
// fleet, no production cluster starts before every canary is done, and
// never more than three production clusters are upgraded at once.
func TestMyStrategyNeverTouchesProdBeforeCanaries(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		fleet := fake.Fleets().Draw(t, "fleet")
		run, err := fleetupdate.New("prop", mySpec, fleet.Members, fleet.CatalogAt(fake.GenEpoch))
		if err != nil {
			t.Fatal(err)
		}
		host := fake.NewHost(fleet.Clone(), 1)
		host.FailureRate = 0.1
		trace := fake.Simulate(run, host, fake.Options{Start: fake.GenEpoch, Horizon: 90 * 24 * time.Hour})

		group := map[string]string{}
		for _, m := range fleet.Members {
			group[m.Name] = m.Group
		}
		canariesLeft := 0
		for _, m := range fleet.Members {
			if m.Group == "canary" {
				canariesLeft++
			}
		}
		inProd := map[string]bool{}
		for _, e := range trace.Entries {
			for _, c := range e.Changes {
				if c.Member == "" {
					continue
				}
				switch {
				case group[c.Member] == "canary" && c.From == fleetupdate.Running:
					canariesLeft--
				case len(group[c.Member]) > 5 && group[c.Member][:5] == "prod-" && c.To == fleetupdate.Running:
					if canariesLeft > 0 {
						t.Fatalf("%s started at %s with %d canaries unfinished", c.Member, e.At, canariesLeft)
					}
					inProd[c.Member] = true
				case inProd[c.Member] && c.From == fleetupdate.Running || c.From == fleetupdate.Stopping:
					delete(inProd, c.Member)
				}
			}
			if len(inProd) > 3 {
				t.Fatalf("%d production clusters at once at %s", len(inProd), e.At)
			}
		}
	})
}

// Generators also give single examples, for a quick look or a demo. In a
// property test, draw from them inside rapid.Check as in
// TestMyStrategyNeverTouchesProdBeforeCanaries.
func ExampleFleets() {
	for seed := 1; seed <= 3; seed++ {
		fleet := fake.Fleets().Example(seed)
		run, err := fleetupdate.New("demo", mySpec, fleet.Members, fleet.CatalogAt(fake.GenEpoch))
		if err != nil {
			fmt.Println(err)
			return
		}
		trace := fake.Simulate(run, fake.NewHost(fleet.Clone(), 1), fake.Options{Start: fake.GenEpoch})
		st := trace.Run.Status().Status
		why := ""
		if st.Error != nil {
			why = " (" + st.Error.Code + ")" // generated fleets include 1.28 clusters, which may not jump to 1.30
		}
		fmt.Printf("seed %d: %d members in %d regions: %s%s\n", seed, len(fleet.Members), len(fleet.Regions), st.State, why)
	}
	// Output:
	// seed 1: 1 members in 5 regions: Completed
	// seed 2: 39 members in 1 regions: Failed (UpgradeNotAllowed)
	// seed 3: 10 members in 2 regions: Failed (UpgradeNotAllowed)
}

// A host that crashes after every event, rebuilds the run from its journal
// and performs Run.Outstanding ends the run exactly as one that never
// stopped (host contract, rule 5).
func ExampleSimulate_restarts() {
	fleet := fake.Fleets().Example(7) // 7 members
	simulate := func(opt fake.Options) fake.Trace {
		run, err := fleetupdate.New("demo", mySpec, fleet.Members, fleet.CatalogAt(fake.GenEpoch))
		if err != nil {
			panic(err)
		}
		opt.Start = fake.GenEpoch
		return fake.Simulate(run, fake.NewHost(fleet.Clone(), 1), opt)
	}
	calm := simulate(fake.Options{})
	crashy := simulate(fake.Options{RestartEvery: true, Rebuild: fake.FromJournal, CrashBeforePerform: true})
	a, _ := json.Marshal(calm.Run.Status())
	b, _ := json.Marshal(crashy.Run.Status())
	fmt.Printf("%s; %d restarts; same status: %v; same end: %v\n", crashy.Run.State(), len(crashy.Restarts), string(a) == string(b), calm.End.Equal(crashy.End))
	// Output:
	// Completed; 15 restarts; same status: true; same end: true
}
