package journal_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/journal"
)

// A host commits each step before performing its commands, and after a
// restart loads the run and performs what it still owes.
func Example() {
	dir, err := os.MkdirTemp("", "journal-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "fleet.db")
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	spec := fleetupdate.Spec{ManagedClusterUpdate: fleetupdate.ManagedClusterUpdate{
		Upgrade: fleetupdate.UpgradeSpec{Type: fleetupdate.ControlPlaneOnly, KubernetesVersion: "1.30"}}}
	members := []fleetupdate.Member{
		{Name: "c1", Region: "eastus", KubernetesVersion: "1.29.9"},
		{Name: "c2", Region: "eastus", KubernetesVersion: "1.29.9"},
	}
	catalog := fleetupdate.Catalog{Regions: map[string]fleetupdate.RegionCatalog{"eastus": {KubernetesVersions: []string{"1.30.5"}}}}

	// First host: create the run and start it. Start is committed before
	// the upgrade it asks for is returned.
	s, err := journal.Open(path, nil)
	if err != nil {
		log.Fatal(err)
	}
	j, err := s.Create("roll", spec, members, catalog)
	if err != nil {
		log.Fatal(err)
	}
	_, cmds, err := j.Step(fleetupdate.Start{At: now})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("perform:", cmds[0].(fleetupdate.UpgradeMember).Op)
	s.Close() // the host dies here, the upgrade under way

	// Restarted host: load the run, perform what it owes, carry on.
	s, err = journal.Open(path, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	j, err = s.Load("roll")
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range j.Run().Outstanding() {
		fmt.Println("perform again:", c.(fleetupdate.UpgradeMember).Op)
	}
	run, cmds, err := j.Step(fleetupdate.UpgradeSucceeded{At: now.Add(20 * time.Minute), Op: "roll/c1/1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("perform:", cmds[0].(fleetupdate.UpgradeMember).Op, "while the run is", run.State())

	// Output:
	// perform: roll/c1/1
	// perform again: roll/c1/1
	// perform: roll/c2/1 while the run is Running
}
