package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/fleetkit/fleetkit/autoupgrade"
	"github.com/fleetkit/fleetkit/fake"
	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/window"
)

// groups in strategy order, with how many clusters each holds and where.
var groups = []struct {
	name    string
	size    int
	regions []string
}{
	{"canary", 3, []string{"eastus"}},
	{"dev", 5, []string{"eastus", "westus2"}},
	{"test", 6, []string{"westus2", "westeurope"}},
	{"prod-eu", 9, []string{"westeurope", "northeurope"}},
	{"prod-us", 10, []string{"eastus", "westus2"}},
	{"prod-asia", 7, []string{"japaneast", "australiaeast"}},
}

// strategy is the staged rollout both profiles use: canaries, a day's soak,
// staging, then production a few clusters at a time.
var strategy = &fleetupdate.Strategy{Stages: []fleetupdate.Stage{
	{Name: "canary", AfterStageWaitInSeconds: 86400, Groups: []fleetupdate.Group{{Name: "canary"}}},
	{Name: "staging", AfterStageWaitInSeconds: 7200, Groups: []fleetupdate.Group{{Name: "dev", MaxConcurrency: "2"}, {Name: "test", MaxConcurrency: "50%"}}},
	{Name: "production", MaxConcurrency: "4", Groups: []fleetupdate.Group{{Name: "prod-eu", MaxConcurrency: "2"}, {Name: "prod-us", MaxConcurrency: "2"}, {Name: "prod-asia"}}},
}}

// profiles are the fleet's two auto-upgrade profiles: Kubernetes on the
// Stable channel, node images weekly.
func profiles() []autoupgrade.Profile {
	return []autoupgrade.Profile{
		{Name: "stable", Channel: autoupgrade.Stable, Strategy: strategy},
		{Name: "node-image", Channel: autoupgrade.NodeImage, Strategy: strategy},
	}
}

var weekdays = []window.Weekday{window.Saturday, window.Sunday, window.Wednesday}

// members builds the 40-cluster fleet as it is on the first day: most on
// 1.30 (Stable's minor: 1.31 is the newest), some still on 1.29, one on 1.28
// (out of AKS's support window) and one already on 1.31; node images a few
// weeks to three months old; production behind weekly maintenance windows.
func members() []fleetupdate.Member {
	var out []fleetupdate.Member
	n := 0
	for _, g := range groups {
		for i := range g.size {
			m := fleetupdate.Member{
				Name:              fmt.Sprintf("%s-%02d", g.name, i+1),
				Group:             g.name,
				Region:            g.regions[i%len(g.regions)],
				KubernetesVersion: []string{"1.30.3", "1.30.2", "1.29.7", "1.30.3", "1.30.1"}[n%5],
				NodePools: []fleetupdate.NodePool{
					{Name: "system", NodeImageVersion: fmt.Sprintf("AKSUbuntu-2204gen2containerd-%s.0", []string{"202602.09", "202601.19", "202512.15", "202602.16"}[n%4])},
					{Name: "user", NodeImageVersion: fmt.Sprintf("AKSAzureLinux-V2gen2-%s.0", []string{"202602.10", "202601.27", "202602.03"}[n%3])},
				},
				ClusterResourceID: fmt.Sprintf("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/fleet-%s/providers/Microsoft.ContainerService/managedClusters/%s-%02d", g.name, g.name, i+1),
			}
			if g.name == "prod-us" && i%3 == 0 {
				m.NodePools = append(m.NodePools, fleetupdate.NodePool{Name: "win", NodeImageVersion: "AKSWindows-2022-containerd-20348.3120.260102"})
			}
			if strings.HasPrefix(g.name, "prod-") {
				w := &window.Schedule{DurationHours: 6, StartTime: "01:00", Recurrence: window.Recurrence{Weekly: &window.WeeklySchedule{IntervalWeeks: 1, DayOfWeek: weekdays[i%len(weekdays)]}}}
				m.AutoUpgradeWindow, m.NodeOSUpgradeWindow = w, w
			}
			out = append(out, m)
			n++
		}
	}
	out[13].KubernetesVersion = "1.28.11" // test-06: out of the support window
	out[7].KubernetesVersion = "1.31.1"   // test-02: ahead of Stable
	return out
}

// stopped is a cluster that is stopped for its first week of attempts:
// every upgrade fails until someone starts it again (Azure/AKS#5655).
const stopped = "prod-eu-04"

func newHost(seed uint64, failRate float64, train *fake.ReleaseTrain) *fake.Host {
	h := fake.NewHost(train.Fleet(members()), seed)
	h.Duration, h.Jitter, h.FailureRate = 45*time.Minute, 15*time.Minute, failRate
	h.Script = map[string][]fake.Outcome{}
	for range 6 {
		h.Script[stopped] = append(h.Script[stopped], fake.Outcome{Code: "OperationNotAllowed", Message: "the managed cluster is stopped"})
	}
	return h
}
