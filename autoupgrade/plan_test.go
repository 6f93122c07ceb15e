package autoupgrade_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/autoupgrade"
	"github.com/fleetkit/fleetkit/fleetupdate"
)

var (
	stable  = autoupgrade.Profile{Name: "stable", Channel: autoupgrade.Stable}
	current = offer("1.29.9 1.30.2 1.30.5 1.31.1", []string{ubuntu + "202603.02.0"})
)

// Fleet concepts doc: "disabled" stops new runs; "in-progress runs are unaffected".
func TestDisabledGeneratesNothing(t *testing.T) {
	p := stable
	p.Disabled, p.ChainNodeImageUpgrade = true, true
	cp := autoupgrade.GeneratedRun{Name: "cp", Profile: "stable", Spec: fleetupdate.Spec{ManagedClusterUpdate: fleetupdate.ManagedClusterUpdate{
		Upgrade: fleetupdate.UpgradeSpec{Type: fleetupdate.ControlPlaneOnly, KubernetesVersion: "1.30.5"}}}, Members: []fleetupdate.Member{member("a", "1.30.5").Member}}
	ev := plan(t, p, []autoupgrade.Member{member("a", "1.30.5"), member("b", "1.29.9")}, current, autoupgrade.History{finished(cp, fleetupdate.Completed, nil)})
	assert.Empty(t, ev.Runs, "neither the channel's run nor a chained one")
	assert.Equal(t, "the profile is disabled: it generates no runs, and runs already generated go on", ev.Message)
}

// Azure/AKS#5741: "a profile created after a patch release never triggers" — here
// the first evaluation targets every member behind.
func TestProfileCreatedAfterAReleaseActsAtOnce(t *testing.T) {
	ev := plan(t, stable, []autoupgrade.Member{member("a", "1.30.2"), member("b", "1.30.5"), member("c", "1.29.9")}, current, nil)
	assert.Equal(t, []string{"a,c"}, targeted(ev))
	assert.Equal(t, "2 members behind Kubernetes 1.30.5", ev.Runs[0].Why)
}

// Azure/AKS#5741: a member missed by a run (a window, a stopped cluster) "is never
// retried" — here members Pending, Skipped or NotStarted in a finished run are
// caught up by the next evaluation.
func TestMembersMissedByAnEarlierRunAreCaughtUp(t *testing.T) {
	ms := []autoupgrade.Member{member("a", "1.30.2"), member("b", "1.30.2"), member("c", "1.30.2")}
	first := plan(t, stable, ms, current, nil).Runs[0]
	// The run was stopped and then failed elsewhere: b was skipped by a user, c never reached.
	ms[0].KubernetesVersion = "1.30.5"
	h := autoupgrade.History{finished(first, fleetupdate.Failed, map[string]fleetupdate.State{"b": fleetupdate.Skipped, "c": fleetupdate.NotStarted})}
	ev := plan(t, stable, ms, current, h)
	assert.Equal(t, []string{"b,c"}, targeted(ev))
	assert.NotEqual(t, first.Name, ev.Runs[0].Name)
}

// fleetkit: an unfinished run holds its members not yet Completed, Skipped or Failed.
func TestMemberInAnUnfinishedRunIsHeld(t *testing.T) {
	ms := []autoupgrade.Member{member("a", "1.30.2"), member("b", "1.30.2")}
	first := plan(t, stable, ms, current, nil).Runs[0]
	rec := finished(first, fleetupdate.Pending, map[string]fleetupdate.State{"b": fleetupdate.Pending})
	ev := plan(t, stable, ms, current, autoupgrade.History{rec})
	assert.Equal(t, []string{"a"}, targeted(ev), "a is done in that run (its success not yet seen in its version), b still waits in it")
	assert.Equal(t, autoupgrade.InRun, reasons(ev)["b"])
	assert.Equal(t, "run "+first.Name+" has not finished with it; it is included again once that run is done", ev.LeftOut[0].Message)
}

// fleetkit: a Stopped run was paused by a user; it keeps its members.
func TestStoppedRunHoldsItsMembers(t *testing.T) {
	ms := []autoupgrade.Member{member("a", "1.30.2")}
	first := plan(t, stable, ms, current, nil).Runs[0]
	ev := plan(t, stable, ms, current, autoupgrade.History{finished(first, fleetupdate.Stopped, map[string]fleetupdate.State{"a": fleetupdate.NotStarted})})
	assert.Empty(t, ev.Runs)
	assert.Equal(t, autoupgrade.InRun, reasons(ev)["a"])
}

// fleetkit: a Failed run holds nobody; its members are caught up.
func TestFailedRunHoldsNobody(t *testing.T) {
	ms := []autoupgrade.Member{member("a", "1.30.2")}
	first := plan(t, stable, ms, current, nil).Runs[0]
	ev := plan(t, stable, ms, current, autoupgrade.History{finished(first, fleetupdate.Failed, map[string]fleetupdate.State{"a": fleetupdate.NotStarted})})
	assert.Equal(t, []string{"a"}, targeted(ev))
}

// fleetkit: runs of every profile hold members, so two profiles never upgrade one cluster at once.
func TestRunsOfOtherProfilesHoldMembersToo(t *testing.T) {
	ms := []autoupgrade.Member{member("a", "1.30.2", ubuntu+"202602.02.0")}
	nodes := autoupgrade.Profile{Name: "nodes", Channel: autoupgrade.NodeImage}
	stableRun := plan(t, stable, ms, current, nil).Runs[0]
	ev := plan(t, nodes, ms, current, autoupgrade.History{stableRun.Created()})
	assert.Empty(t, ev.Runs)
	assert.Equal(t, autoupgrade.InRun, reasons(ev)["a"])
}

// Azure/AKS#5655: a stopped cluster fails the whole run. fleetkit retries a member
// whose latest attempt failed in a run of its own.
func TestMemberThatFailedIsRetriedAlone(t *testing.T) {
	ms := []autoupgrade.Member{member("a", "1.30.2"), member("b", "1.30.2"), member("c", "1.30.2")}
	first := plan(t, stable, ms, current, nil).Runs[0]
	h := autoupgrade.History{finished(first, fleetupdate.Failed, map[string]fleetupdate.State{"a": fleetupdate.Failed, "b": fleetupdate.NotStarted, "c": fleetupdate.Failed})}
	ev := plan(t, stable, ms, current, h)
	assert.Equal(t, []string{"b", "a", "c"}, targeted(ev))
	assert.Equal(t, "retry of a, which failed in "+first.Name+", alone: Kubernetes 1.30.5", ev.Runs[1].Why)
}

// update-orchestration.md: "the name of the update run is based on the auto-upgrade
// profile's upgrade specification, which only changes when properties such as the
// node image or Kubernetes version change."
func TestSameUpgradeSpecificationGivesTheSameName(t *testing.T) {
	a := plan(t, stable, []autoupgrade.Member{member("a", "1.30.2")}, current, nil)
	b := plan(t, stable, []autoupgrade.Member{member("b", "1.29.9"), member("c", "1.30.2")}, current, nil)
	assert.Equal(t, a.Runs[0].Name, b.Runs[0].Name, "the members do not change the name")
	assert.Regexp(t, `^stable-1-30-5-[0-9a-f]{8}$`, a.Runs[0].Name)
	c := plan(t, stable, []autoupgrade.Member{member("a", "1.30.2")}, offer("1.29.9 1.30.2 1.30.6 1.31.1", nil), nil)
	assert.NotEqual(t, a.Runs[0].Name, c.Runs[0].Name, "a new patch does")
	n1 := plan(t, autoupgrade.Profile{Name: "n", Channel: autoupgrade.NodeImage}, []autoupgrade.Member{member("a", "1.30.5", ubuntu+"202602.02.0")}, current, nil)
	n2 := plan(t, autoupgrade.Profile{Name: "n", Channel: autoupgrade.NodeImage}, []autoupgrade.Member{member("a", "1.30.5", ubuntu+"202602.02.0")}, offer("1.30.5", []string{ubuntu + "202603.09.0"}), nil)
	assert.NotEqual(t, n1.Runs[0].Name, n2.Runs[0].Name, "so does a new node image")
}

// update-orchestration.md: if the run already exists, "the existing update run isn't
// modified" — fleetkit never generates a name the history holds.
func TestExistingRunIsNeverModified(t *testing.T) {
	ms := []autoupgrade.Member{member("a", "1.30.2")}
	first := plan(t, stable, ms, current, nil).Runs[0]
	h := autoupgrade.History{finished(first, fleetupdate.Completed, map[string]fleetupdate.State{"a": fleetupdate.Skipped})}
	second := plan(t, stable, ms, current, h).Runs[0]
	assert.Equal(t, first.Name+"-2", second.Name)
	h = append(h, finished(second, fleetupdate.Completed, map[string]fleetupdate.State{"a": fleetupdate.Skipped}))
	assert.Equal(t, first.Name+"-3", plan(t, stable, ms, current, h).Runs[0].Name)
}

// Fleet main.tsp: update run names are 1–50 of ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$.
func TestGeneratedNamesKeepAzuresRule(t *testing.T) {
	p := stable
	p.Name = strings.Repeat("long-", 9) + "name"
	p.ChainNodeImageUpgrade = true
	ev := plan(t, p, []autoupgrade.Member{member("a", "1.30.2")}, current, nil)
	name := ev.Runs[0].Name
	assert.LessOrEqual(t, len(name), 50)
	assert.Regexp(t, `^long-long-long-long-[a-z0-9-]*-1-30-5-cp-[0-9a-f]{8}$`, name)
	assert.False(t, strings.Contains(name, "--"))
}

// Fleet concepts doc: "Auto-upgrade doesn't move clusters between minor Kubernetes versions
// when there's more than one minor Kubernetes version difference (for example: 1.28 to 1.30)."
func TestMemberMoreThanOneMinorBehindIsLeftOut(t *testing.T) {
	ev := plan(t, autoupgrade.Profile{Name: "p", Channel: autoupgrade.Rapid}, []autoupgrade.Member{member("a", "1.29.9"), member("b", "1.30.2")}, current, nil)
	assert.Equal(t, []string{"b"}, targeted(ev))
	assert.Equal(t, autoupgrade.MinorVersionSkip, reasons(ev)["a"])
	assert.Equal(t, "Kubernetes 1.29.9 is more than one minor version behind 1.31.1 and auto-upgrade moves one minor at a time; upgrade it to 1.30 with an update run first", ev.LeftOut[0].Message)
}

// Fleet concepts doc: "Auto-upgrade requires the cluster's Kubernetes version to be within
// the AKS support window" — N-2 to N (AKS supported-kubernetes-versions.md), in every channel.
func TestMemberOutsideTheSupportWindowIsLeftOut(t *testing.T) {
	rel := offer("1.28.13 1.29.9 1.30.5 1.31.1", []string{ubuntu + "202603.02.0"})
	for _, c := range []autoupgrade.Channel{autoupgrade.Stable, autoupgrade.NodeImage} {
		ev := plan(t, autoupgrade.Profile{Name: "p", Channel: c}, []autoupgrade.Member{member("old", "1.28.9", ubuntu+"202602.02.0"), member("ok", "1.29.2", ubuntu+"202602.02.0")}, rel, nil)
		assert.Equal(t, []string{"ok"}, targeted(ev), c)
		assert.Equal(t, autoupgrade.OutsideSupportWindow, reasons(ev)["old"], c)
		assert.Equal(t, "Kubernetes 1.28.9 is outside AKS's support window (1.29 to 1.31): auto-upgrade only manages supported clusters; upgrade it to 1.29 with an update run", ev.LeftOut[0].Message)
	}
}

// AKS: an LTS cluster stays supported on an LTS minor older than N-2.
func TestLTSClusterOnAnLTSMinorIsInTheSupportWindow(t *testing.T) {
	m := member("lts", "1.27.3", ubuntu+"202602.02.0")
	m.LongTermSupport = true
	ev := plan(t, autoupgrade.Profile{Name: "p", Channel: autoupgrade.NodeImage}, []autoupgrade.Member{m}, offer("1.27.9lts 1.29.9 1.30.5 1.31.1", []string{ubuntu + "202603.02.0"}), nil)
	assert.Equal(t, []string{"lts"}, targeted(ev))
}

// fleetkit: the target is the newest version GA in every region the profile's members are
// in (AKS rolls a release out region by region over up to two weeks), so the fleet moves
// to one version, as Consistent node images do, and no run waits on a region.
func TestTargetIsTheNewestVersionGAInEveryRegionOfTheFleet(t *testing.T) {
	rel := offer("1.29.9 1.30.2 1.30.5 1.31.1 1.32.1", nil, "eastus")
	rel.Regions["westeurope"] = autoupgrade.RegionReleases{KubernetesVersions: versions("1.29.9 1.30.2 1.30.5p 1.31.1")}
	late := member("late", "1.30.2")
	late.Region = "westeurope"
	ev := plan(t, stable, []autoupgrade.Member{member("a", "1.29.9"), late}, rel, nil)
	assert.Equal(t, "1.30.2", ev.Target.KubernetesVersion, "1.32 is not GA in westeurope, so N is 1.31; 1.30.5 is not GA there either")
	assert.Equal(t, []string{"a"}, targeted(ev))
	ev = plan(t, stable, []autoupgrade.Member{member("a", "1.29.9")}, rel, nil)
	assert.Equal(t, "1.31.1", ev.Target.KubernetesVersion, "a fleet only in eastus follows eastus")
}

// A member's region must be one AKS's releases list.
func TestMemberInAnUnknownRegionIsLeftOut(t *testing.T) {
	m := member("m", "1.30.2")
	m.Region = "marsnorth"
	ev := plan(t, stable, []autoupgrade.Member{member("a", "1.30.2"), m}, current, nil)
	assert.Equal(t, []string{"a"}, targeted(ev))
	assert.Equal(t, autoupgrade.UnknownRegion, reasons(ev)["m"])
	assert.Equal(t, `AKS's releases list no region "marsnorth"; check the member's region`, ev.LeftOut[0].Message)
}

// autoupgradeprofile.tsp: with a strategy, the profile reaches the members its groups name.
func TestMemberInNoStageOfTheStrategyIsLeftOut(t *testing.T) {
	p := stable
	p.Strategy = &fleetupdate.Strategy{Stages: []fleetupdate.Stage{{Name: "all", Groups: []fleetupdate.Group{{Name: "prod"}}}}}
	a, b := member("a", "1.30.2"), member("b", "1.30.2")
	a.Group, b.Group = "prod", "lab"
	ev := plan(t, p, []autoupgrade.Member{a, b}, current, nil)
	assert.Equal(t, []string{"a"}, targeted(ev))
	assert.Equal(t, autoupgrade.NotInStrategy, reasons(ev)["b"])
}

// fleetupdate.New refuses invalid member data; Plan leaves that member out and carries on.
func TestInvalidMemberIsLeftOutWithFleetupdatesError(t *testing.T) {
	bad := member("bad", "1.30")
	bad.Region = ""
	ev := plan(t, stable, []autoupgrade.Member{member("a", "1.30.2"), bad}, current, nil)
	assert.Equal(t, []string{"a"}, targeted(ev))
	assert.Equal(t, autoupgrade.InvalidMember, reasons(ev)["bad"])
	assert.Contains(t, ev.LeftOut[0].Message, "(bad).region: required")
}

// fleetkit: a generated run keeps only the stages and groups that hold its members.
func TestGeneratedStrategyKeepsOnlyStagesWithMembers(t *testing.T) {
	p := stable
	p.Strategy = &fleetupdate.Strategy{Stages: []fleetupdate.Stage{
		{Name: "canary", Groups: []fleetupdate.Group{{Name: "canary"}}, AfterStageWaitInSeconds: 86400},
		{Name: "prod", MaxConcurrency: "2", Groups: []fleetupdate.Group{{Name: "eu"}, {Name: "us", MaxConcurrency: "50%"}}},
	}}
	a, b := member("a", "1.30.5"), member("b", "1.30.2")
	a.Group, b.Group = "canary", "us"
	ev := plan(t, p, []autoupgrade.Member{a, b}, current, nil)
	assert.Equal(t, &fleetupdate.Strategy{Stages: []fleetupdate.Stage{{Name: "prod", MaxConcurrency: "2", Groups: []fleetupdate.Group{{Name: "us", MaxConcurrency: "50%"}}}}}, ev.Runs[0].Spec.Strategy)
	assert.Len(t, p.Strategy.Stages, 2, "the profile's strategy is not changed")
}

// Azure/AKS#5765: chained, a Kubernetes upgrade runs as ControlPlaneOnly, then, once that
// run is done, as NodeImageOnly for the members it upgraded.
func TestChainedUpgradeIsControlPlaneOnlyThenNodeImageOnly(t *testing.T) {
	p := stable
	p.ChainNodeImageUpgrade = true
	p.NodeImageSelection = &autoupgrade.NodeImageSelection{Type: fleetupdate.Consistent}
	ms := []autoupgrade.Member{member("a", "1.30.2"), member("b", "1.30.2")}
	cp := plan(t, p, ms, current, nil).Runs[0]
	assert.Equal(t, fleetupdate.ManagedClusterUpdate{Upgrade: fleetupdate.UpgradeSpec{Type: fleetupdate.ControlPlaneOnly, KubernetesVersion: "1.30.5"}}, cp.Spec.ManagedClusterUpdate)

	ms[0].KubernetesVersion = "1.30.5"
	running := finished(cp, fleetupdate.Running, map[string]fleetupdate.State{"b": fleetupdate.Running})
	assert.Empty(t, plan(t, p, ms, current, autoupgrade.History{running}).Runs, "not before the whole run is done")

	ms[1].KubernetesVersion = "1.30.5"
	done := finished(cp, fleetupdate.Completed, nil)
	ev := plan(t, p, ms, current, autoupgrade.History{done})
	require.Len(t, ev.Runs, 1)
	nodes := ev.Runs[0]
	assert.Equal(t, cp.Name, nodes.After)
	assert.Equal(t, []string{"a,b"}, targeted(ev))
	assert.Equal(t, fleetupdate.ManagedClusterUpdate{Upgrade: fleetupdate.UpgradeSpec{Type: fleetupdate.NodeImageOnly},
		NodeImageSelection: &fleetupdate.NodeImageSelection{Type: fleetupdate.Consistent}}, nodes.Spec.ManagedClusterUpdate)
	assert.Regexp(t, `^stable-1-30-5-nodes-[0-9a-f]{8}$`, nodes.Name)

	rec := nodes.Record(mustRun(t, nodes))
	rec.State, rec.Members[0].State, rec.Members[1].State = fleetupdate.Failed, fleetupdate.Completed, fleetupdate.Failed
	ev = plan(t, p, ms, current, autoupgrade.History{done, rec})
	assert.Equal(t, []string{"b"}, targeted(ev), "a's node images are done; b's failed and are retried alone")
	assert.Equal(t, nodes.Name+"-2", ev.Runs[0].Name)
}

func mustRun(t *testing.T, g autoupgrade.GeneratedRun) fleetupdate.Run {
	t.Helper()
	r, err := g.New(current.Catalog())
	require.NoError(t, err)
	return r
}

// AKS supported-kubernetes-versions.md: node pools may trail the control plane by three
// minors (two before 1.28); a ControlPlaneOnly upgrade past that is left out.
func TestChainedUpgradeLeavesOutMembersWhosePoolsWouldFallTooFarBehind(t *testing.T) {
	p := autoupgrade.Profile{Name: "p", Channel: autoupgrade.Rapid, ChainNodeImageUpgrade: true}
	m := member("a", "1.30.2")
	m.NodePools[0].KubernetesVersion = "1.27.9"
	ev := plan(t, p, []autoupgrade.Member{m}, current, nil)
	assert.Empty(t, ev.Runs)
	assert.Equal(t, autoupgrade.NodePoolSkew, reasons(ev)["a"])
	p.ChainNodeImageUpgrade = false
	assert.Equal(t, []string{"a"}, targeted(plan(t, p, []autoupgrade.Member{m}, current, nil)), "a Full run moves the pools too")
}

// Fleet concepts doc, "Skipped": with Consistent images, a member with a pool that has no
// target image is skipped — every time, so Plan leaves it out and says why.
func TestMemberWithoutAConsistentImageIsLeftOut(t *testing.T) {
	p := stable
	p.NodeImageSelection = &autoupgrade.NodeImageSelection{Type: fleetupdate.Consistent}
	m := member("a", "1.30.2", azl+"202602.02.0")
	ev := plan(t, p, []autoupgrade.Member{m}, current, nil)
	assert.Equal(t, autoupgrade.NoConsistentNodeImage, reasons(ev)["a"])
	ev = plan(t, autoupgrade.Profile{Name: "n", Channel: autoupgrade.NodeImage}, []autoupgrade.Member{m, member("b", "1.30.2", ubuntu+"202602.02.0")}, current, nil)
	assert.Equal(t, []string{"b"}, targeted(ev))
	assert.Equal(t, autoupgrade.NoConsistentNodeImage, reasons(ev)["a"])
}

func TestPlanDoesNotDependOnTheOrderOfMembers(t *testing.T) {
	ms := []autoupgrade.Member{member("c", "1.30.2"), member("a", "1.29.9"), member("b", "1.28.1")}
	ev := plan(t, stable, ms, current, nil)
	slices.Reverse(ms)
	assert.Equal(t, ev, plan(t, stable, ms, current, nil))
}

func TestPlanRefusesInvalidInputsNamingTheField(t *testing.T) {
	_, err := autoupgrade.Plan(autoupgrade.Profile{Name: "p"}, nil, current, nil)
	assert.ErrorIs(t, err, autoupgrade.ErrInvalidProfile)
	_, err = autoupgrade.Plan(stable, nil, offer("1.30", nil), nil)
	assert.ErrorIs(t, err, autoupgrade.ErrInvalidReleases)
	assert.ErrorContains(t, err, `regions["eastus"].kubernetesVersions[0].version "1.30": want major.minor.patch`)
	_, err = autoupgrade.Plan(stable, nil, current, autoupgrade.History{{Name: "r", Type: fleetupdate.Full, State: "Done"}})
	assert.ErrorIs(t, err, autoupgrade.ErrInvalidHistory)
	assert.ErrorContains(t, err, `history[0] (r).state "Done"`)
	_, err = autoupgrade.Plan(stable, []autoupgrade.Member{member("a", "1.30.2"), member("a", "1.30.2")}, current, nil)
	assert.ErrorIs(t, err, autoupgrade.ErrInvalidMembers)
	assert.ErrorContains(t, err, `"a" is listed twice`)
}

func TestEvaluationIsPlainJSON(t *testing.T) {
	p := stable
	p.Strategy = &fleetupdate.Strategy{Stages: []fleetupdate.Stage{{Name: "all", Groups: []fleetupdate.Group{{Name: "prod"}}}}}
	a := member("a", "1.30.2")
	a.Group = "prod"
	ev := plan(t, p, []autoupgrade.Member{a}, current, nil)
	b, err := json.Marshal(ev)
	require.NoError(t, err)
	var back autoupgrade.Evaluation
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, ev, back)
}

func TestPlanRefusesAnInvalidStrategyNamingTheField(t *testing.T) {
	p := stable
	p.Strategy = &fleetupdate.Strategy{}
	_, err := autoupgrade.Plan(p, []autoupgrade.Member{member("a", "1.30.2")}, current, nil)
	assert.ErrorIs(t, err, autoupgrade.ErrInvalidProfile)
	assert.ErrorContains(t, err, "properties.strategy: strategy.stages: at least one stage is required")
}

// fleetkit: only a member's latest control-plane upgrade is followed by node images; an
// older one whose chained run failed is not redone.
func TestOnlyTheLatestControlPlaneUpgradeIsFollowed(t *testing.T) {
	p := stable
	p.ChainNodeImageUpgrade = true
	ms := []autoupgrade.Member{member("a", "1.30.2")}
	old := plan(t, p, ms, offer("1.29.9 1.30.2 1.30.4 1.31.1", nil), nil).Runs[0]
	ms[0].KubernetesVersion = "1.30.4"
	h := autoupgrade.History{finished(old, fleetupdate.Completed, nil)}
	nodes := plan(t, p, ms, offer("1.29.9 1.30.2 1.30.4 1.31.1", nil), h).Runs[0]
	require.Equal(t, old.Name, nodes.After)
	h = append(h, finished(nodes, fleetupdate.Failed, map[string]fleetupdate.State{"a": fleetupdate.Failed}))
	newer := plan(t, p, ms, current, h)
	require.Len(t, newer.Runs, 1, "1.30.5 is out: its control-plane run supersedes the failed node images")
	assert.Equal(t, fleetupdate.ControlPlaneOnly, newer.Runs[0].Spec.ManagedClusterUpdate.Upgrade.Type)
	ms[0].KubernetesVersion = "1.30.5"
	h = append(h, finished(newer.Runs[0], fleetupdate.Completed, nil))
	ev := plan(t, p, ms, current, h)
	require.Len(t, ev.Runs, 1)
	assert.Equal(t, newer.Runs[0].Name, ev.Runs[0].After, "node images follow the latest upgrade, not the old one")
}

// A member a run does not know (its strategy left it out) is recorded NotStarted.
func TestRecordOfARunShowsEachMembersState(t *testing.T) {
	g := plan(t, stable, []autoupgrade.Member{member("a", "1.30.2"), member("b", "1.30.2")}, current, nil).Runs[0]
	r := mustRun(t, g)
	r, _, err := fleetupdate.Step(r, fleetupdate.Start{At: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	rec := g.Record(r)
	assert.Equal(t, fleetupdate.Running, rec.State)
	assert.Equal(t, []autoupgrade.MemberOutcome{{Name: "a", State: fleetupdate.Running}, {Name: "b", State: fleetupdate.NotStarted}}, rec.Members)
	assert.Equal(t, "1.30.5", rec.KubernetesVersion)
}

// fleetkit: AKS withdraws patches; a run whose target is withdrawn from a member's region
// before the member started waits for it in vain, so it holds the member no more.
func TestRunWaitingForAWithdrawnVersionHoldsNoMore(t *testing.T) {
	ms := []autoupgrade.Member{member("a", "1.30.2"), member("b", "1.30.2")}
	first := plan(t, stable, ms, offer("1.29.9 1.30.2 1.30.4 1.31.1", nil), nil).Runs[0]
	ms[0].KubernetesVersion = "1.30.4"
	h := autoupgrade.History{finished(first, fleetupdate.Pending, map[string]fleetupdate.State{"b": fleetupdate.Pending})}
	ev := plan(t, stable, ms, offer("1.29.9 1.30.5 1.30.6 1.31.1", nil), h) // 1.30.4 withdrawn
	assert.Equal(t, []autoupgrade.StaleMember{{Run: first.Name, Member: "b", Message: `AKS no longer offers Kubernetes 1.30.4 in region "eastus"; skip the member in the run`}}, ev.Stale)
	assert.Equal(t, []string{"a,b"}, targeted(ev), "b is not held: it is in the new run")
}
