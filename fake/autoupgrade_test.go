package fake_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/autoupgrade"
	"github.com/fleetkit/fleetkit/fake"
	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/window"
)

var (
	stable    = autoupgrade.Profile{Name: "stable", Channel: autoupgrade.Stable}
	nodeImage = autoupgrade.Profile{Name: "node-image", Channel: autoupgrade.NodeImage}
)

// smallFleet is six members on 1.30 (Stable at GenEpoch: 1.31 is the newest minor),
// two of them with a weekly Sunday window.
func smallFleet() *fake.Fleet {
	var ms []fleetupdate.Member
	for i := range 6 {
		m := fleetupdate.Member{
			Name: fmt.Sprintf("m%d", i), Region: train.Regions[i%len(train.Regions)], KubernetesVersion: "1.30.3",
			NodePools: []fleetupdate.NodePool{{Name: "system", NodeImageVersion: "AKSUbuntu-2204gen2containerd-202601.12.0"}},
		}
		if i%3 == 2 {
			m.AutoUpgradeWindow = &window.Schedule{DurationHours: 8, StartTime: "01:00", Recurrence: window.Recurrence{Weekly: &window.WeeklySchedule{IntervalWeeks: 1, DayOfWeek: window.Sunday}}}
			m.NodeOSUpgradeWindow = m.AutoUpgradeWindow
		}
		ms = append(ms, m)
	}
	return train.Fleet(ms)
}

func simulate(t *testing.T, h *fake.Host, profiles []autoupgrade.Profile, opt fake.AutoUpgradeOptions) fake.AutoUpgradeTrace {
	t.Helper()
	if opt.Start.IsZero() {
		opt.Start = fake.GenEpoch
	}
	tr, err := fake.SimulateAutoUpgrade(h, train, profiles, opt)
	require.NoError(t, err)
	return tr
}

func lastEvaluation(tr fake.AutoUpgradeTrace, profile string) autoupgrade.Evaluation {
	for i := len(tr.Evaluations) - 1; i >= 0; i-- {
		if tr.Evaluations[i].Profile == profile {
			return tr.Evaluations[i].Evaluation
		}
	}
	return autoupgrade.Evaluation{}
}

func TestAutoUpgradeKeepsAFleetOnItsChannels(t *testing.T) {
	tr := simulate(t, fake.NewHost(smallFleet(), 1), []autoupgrade.Profile{stable, nodeImage}, fake.AutoUpgradeOptions{})
	k8s := lastEvaluation(tr, "stable").Target.KubernetesVersion
	images := lastEvaluation(tr, "node-image").Target.NodeImages
	assert.Equal(t, "1.32.4", k8s, "1.32 went GA in May and 1.33 in August: Stable moved twice")
	assert.Equal(t, fake.GenEpoch.Add(180*day), tr.End)
	// A member may still wait for its weekly window to get the last targets.
	waiting := func(profile, member string) bool {
		for _, l := range lastEvaluation(tr, profile).LeftOut {
			if l.Member == member {
				return l.Reason == autoupgrade.InRun
			}
		}
		return false
	}
	for _, m := range tr.Members {
		now := m.Samples[len(m.Samples)-1]
		assert.True(t, now.KubernetesVersion == k8s || waiting("stable", m.Name), "%s is on %s or waiting for its window to get it", m.Name, k8s)
		// Same family and grammar, so string order is version order.
		assert.True(t, now.NodeImages[0] >= images[0] || waiting("node-image", m.Name), "%s is at the newest common image or waiting for its window to get it", m.Name)
		assert.Greater(t, len(m.Samples), 10, "%s was upgraded again and again", m.Name)
	}
	for _, r := range tr.Runs {
		if !r.Ended.IsZero() {
			assert.Equal(t, fleetupdate.Completed, r.State, r.Run.Name)
		}
	}
}

// Azure/AKS#5741: "a profile created after a patch release never triggers".
func TestWithoutCatchUpAProfileWaitsForTheNextRelease(t *testing.T) {
	opt := fake.AutoUpgradeOptions{Horizon: 30 * day}
	with := simulate(t, fake.NewHost(smallFleet(), 1), []autoupgrade.Profile{stable}, opt)
	require.NotEmpty(t, with.Runs)
	assert.Equal(t, fake.GenEpoch, with.Runs[0].Created, "with catch-up, at once")
	opt.NoCatchUp = true
	without := simulate(t, fake.NewHost(smallFleet(), 1), []autoupgrade.Profile{stable}, opt)
	require.NotEmpty(t, without.Runs)
	assert.Equal(t, release(t, "1.30.5").GA.Add(fake.DefaultRollout), without.Runs[0].Created, "without, when 1.30.5 has reached every region")
	assert.Equal(t, "1.30.5", without.Runs[0].Run.Spec.ManagedClusterUpdate.Upgrade.KubernetesVersion)
}

// Azure/AKS#5741: "a missed maintenance window or stopped cluster isn't retried".
func TestWithoutCatchUpAFailedMemberWaitsForTheNextRelease(t *testing.T) {
	stopped := func() *fake.Host {
		h := fake.NewHost(smallFleet(), 1)
		h.Script = map[string][]fake.Outcome{"m1": {{Code: "OperationNotAllowed", Message: "the cluster is stopped"}}}
		return h
	}
	upgradedAt := func(tr fake.AutoUpgradeTrace, member, version string) time.Time {
		for _, m := range tr.Members {
			for _, s := range m.Samples {
				if m.Name == member && s.KubernetesVersion == version {
					return s.At
				}
			}
		}
		return time.Time{}
	}
	opt := fake.AutoUpgradeOptions{Horizon: 60 * day}
	with := simulate(t, stopped(), []autoupgrade.Profile{stable}, opt)
	assert.Less(t, upgradedAt(with, "m1", "1.30.4").Sub(fake.GenEpoch), 2*day, "retried the next day, alone")
	opt.NoCatchUp = true
	without := simulate(t, stopped(), []autoupgrade.Profile{stable}, opt)
	assert.False(t, upgradedAt(without, "m0", "1.30.5").IsZero(), "the others get 1.30.5")
	assert.True(t, upgradedAt(without, "m1", "1.30.5").IsZero(), "m1 failed its attempt at 1.30.5 and never gets it")
	assert.True(t, upgradedAt(without, "m1", "1.30.6").After(release(t, "1.30.6").GA), "it waits for the next release")
}

// Runs outlive an evaluation interval: a member waiting for its weekly window finishes
// in a later interval, with the outcome the host decided when it started.
func TestRunsGoOnAcrossEvaluations(t *testing.T) {
	tr := simulate(t, fake.NewHost(smallFleet(), 1), []autoupgrade.Profile{stable}, fake.AutoUpgradeOptions{Horizon: 14 * day})
	long := 0
	for _, r := range tr.Runs {
		if r.Ended.Sub(r.Created) > day {
			long++
			assert.Equal(t, fleetupdate.Completed, r.State)
		}
	}
	assert.Positive(t, long)
	for _, m := range tr.Members {
		assert.Equal(t, "1.30.4", m.Samples[len(m.Samples)-1].KubernetesVersion, m.Name)
	}
}

// Azure/AKS#5765: chained, node images follow each control-plane upgrade.
func TestChainedProfileUpgradesNodeImagesAfterTheControlPlane(t *testing.T) {
	p := stable
	p.ChainNodeImageUpgrade = true
	tr := simulate(t, fake.NewHost(smallFleet(), 1), []autoupgrade.Profile{p}, fake.AutoUpgradeOptions{Horizon: 14 * day})
	var kinds []string
	for _, r := range tr.Runs {
		kinds = append(kinds, string(r.Run.Spec.ManagedClusterUpdate.Upgrade.Type))
		if r.Run.After != "" {
			after := tr.Runs[0]
			for _, c := range tr.Runs {
				if c.Run.Name == r.Run.After {
					after = c
				}
			}
			assert.False(t, r.Created.Before(after.Ended), "%s starts after %s has finished", r.Run.Name, after.Run.Name)
		}
	}
	assert.Equal(t, "ControlPlaneOnly", kinds[0])
	assert.Contains(t, kinds, "NodeImageOnly")
	for _, m := range tr.Members {
		now := m.Samples[len(m.Samples)-1]
		assert.Equal(t, "1.30.4", now.KubernetesVersion, m.Name)
		assert.NotEqual(t, "AKSUbuntu-2204gen2containerd-202601.12.0", now.NodeImages[0], m.Name)
	}
}

func TestAutoUpgradeSimulationIsReproducible(t *testing.T) {
	run := func() fake.AutoUpgradeTrace {
		h := fake.NewHost(smallFleet(), 7)
		h.FailureRate, h.Jitter = 0.1, 20*time.Minute
		return simulate(t, h, []autoupgrade.Profile{stable, nodeImage}, fake.AutoUpgradeOptions{Horizon: 60 * day})
	}
	a, b := run(), run()
	assert.True(t, reflect.DeepEqual(a, b))
	var names []string
	for _, r := range a.Runs {
		names = append(names, r.Run.Name)
	}
	assert.NotEmpty(t, names)
	assert.True(t, strings.HasPrefix(names[0], "stable-1-30-4-"), names[0])
}
