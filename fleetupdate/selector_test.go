package fleetupdate

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func labelled(name, group string, labels map[string]string) Member {
	m := member(name, group)
	m.Labels = labels
	return m
}

func membersOf(h *host, group string) []string {
	var out []string
	for _, m := range h.group(group).Members {
		out = append(out, m.Name)
	}
	return out
}

// DESIGN: "On a group it replaces group-name matching (the name is only a label in status)."
// Azure: "label-based selection will override group name based selection".
func TestGroupSelectorReplacesGroupNameMatching(t *testing.T) {
	spec := Spec{Strategy: strategy(Stage{Name: "s", Groups: []Group{
		{Name: "web", MemberSelector: &MemberSelector{ByLabel: "tier in (web,frontend), env!=dev"}},
		{Name: "db"},
	}}), ManagedClusterUpdate: full(k8sTo)}
	ms := []Member{
		labelled("a", "web", nil),                                                   // named web, not selected
		labelled("b", "other", map[string]string{"tier": "frontend"}),               // selected
		labelled("c", "", map[string]string{"tier": "web", "env": "prod"}),          // selected
		labelled("d", "db", map[string]string{"tier": "web", "env": "dev"}),         // env=dev: db by name
		labelled("e", "elsewhere", map[string]string{"tier": "api", "env": "prod"}), // in no group
	}
	h := newHost(t, spec, ms, catalog())
	assert.Equal(t, []string{"b", "c"}, membersOf(h, "web"))
	assert.Equal(t, []string{"d"}, membersOf(h, "db"))
	_, ok := h.run.Member("e")
	assert.False(t, ok, "a member no group selects is not in the run")
}

// DESIGN: "On a stage with groups it pre-filters them." Azure: "members will be pre-filtered before
// group-level selection".
func TestStageSelectorPreFiltersItsGroups(t *testing.T) {
	spec := Spec{Strategy: strategy(Stage{Name: "s", MemberSelector: &MemberSelector{ByLabel: "env=prod"}, Groups: []Group{
		{Name: "g"},
		{Name: "canary", MemberSelector: &MemberSelector{ByLabel: "canary"}},
	}}), ManagedClusterUpdate: full(k8sTo)}
	ms := []Member{
		labelled("a", "g", map[string]string{"env": "prod"}),
		labelled("b", "g", map[string]string{"env": "dev"}),
		labelled("c", "", map[string]string{"env": "prod", "canary": ""}),
		labelled("d", "", map[string]string{"env": "dev", "canary": "yes"}),
	}
	h := newHost(t, spec, ms, catalog())
	assert.Equal(t, []string{"a"}, membersOf(h, "g"))
	assert.Equal(t, []string{"c"}, membersOf(h, "canary"))
}

// DESIGN: "on a stage without groups its members form one implicit group named after the stage".
// Azure: "If specified without UpdateGroup, one implicit group containing the selected members will
// be created", and "the stage maxConcurrency governs it directly".
func TestStageSelectorWithoutGroupsFormsOneImplicitGroup(t *testing.T) {
	spec := Spec{Strategy: strategy(
		Stage{Name: "canary", Groups: []Group{{Name: "c"}}},
		Stage{Name: "prod", MemberSelector: &MemberSelector{ByLabel: "!canary"}, MaxConcurrency: "2", MaxAllowedFailures: "1"},
	), ManagedClusterUpdate: full(k8sTo)}
	ms := []Member{
		labelled("a", "c", map[string]string{"canary": "true"}),
		labelled("b", "c", nil), // named c, but also selected by prod
		labelled("p1", "", nil),
		labelled("p2", "", map[string]string{"env": "prod"}),
		labelled("p3", "", nil),
	}
	_, err := New("run-1", spec, ms, catalog())
	assert.ErrorContains(t, err, `member "b" is selected into group "c" (strategy.stages[0].groups[0]) and group "prod" (strategy.stages[1], its implicit group)`)
	ms = append(ms[:1], ms[2:]...)
	h := newHost(t, spec, ms, catalog())
	st := h.stage("prod")
	require.Len(t, st.Groups, 1)
	assert.Equal(t, "prod", st.Groups[0].Name)
	assert.Equal(t, []string{"p1", "p2", "p3"}, membersOf(h, "prod"))
	assert.Equal(t, 2, st.Groups[0].MaxConcurrency, "the stage's limit")
	assert.Equal(t, 1, st.Groups[0].MaxAllowedFailures, "and the stage's budget")
	h.start()
	h.succeed("a")
	assert.Equal(t, []string{"p1", "p2"}, h.started())
	h.failOp("p1", "QuotaExceeded", "no cores")
	assert.Equal(t, Running, h.run.State(), "within the stage's budget")
	assert.Equal(t, []string{"p3"}, h.started())
	assert.NoError(t, h.try(Skip{At: h.now, Targets: []SkipTarget{{TargetGroup, "prod"}}}), "the implicit group is a skip target by the stage's name")
}

// DESIGN: "A member selected into two groups of one run is refused at New with both names."
func TestMemberSelectedIntoTwoGroupsIsRefused(t *testing.T) {
	spec := Spec{Strategy: strategy(
		Stage{Name: "s1", Groups: []Group{{Name: "a", MemberSelector: &MemberSelector{ByLabel: "tier=web"}}}},
		Stage{Name: "s2", Groups: []Group{{Name: "b", MemberSelector: &MemberSelector{ByLabel: "env=prod"}}, {Name: "c"}}},
	), ManagedClusterUpdate: full(k8sTo)}
	ms := []Member{
		labelled("x", "", map[string]string{"tier": "web", "env": "prod"}),
		labelled("y", "c", map[string]string{"tier": "web"}),
		labelled("z", "c", nil),
	}
	r, err := New("run-1", spec, ms, catalog())
	assert.ErrorIs(t, err, ErrInvalidSpec)
	assert.ErrorContains(t, err, `member "x" is selected into group "a" (strategy.stages[0].groups[0]) and group "b" (strategy.stages[1].groups[0]); a member may be in one group of a run`)
	assert.ErrorContains(t, err, `member "y" is selected into group "a" (strategy.stages[0].groups[0]) and group "c" (strategy.stages[1].groups[1])`)
	assert.NotContains(t, err.Error(), `"z"`)
	assert.Equal(t, Run{}, r)
}

// Azure: byLabel is a Kubernetes label selector, at most 512 characters; a stage's implicit group
// takes the stage's name, so no group may have it.
func TestMemberSelectorIsCheckedAtNew(t *testing.T) {
	for want, st := range map[string]Stage{
		`strategy.stages[0].memberSelector.byLabel: label selector "env in (a": end of selector (offset 9)`:              {Name: "s", MemberSelector: &MemberSelector{ByLabel: "env in (a"}},
		`strategy.stages[0].groups[0].memberSelector.byLabel: required`:                                                  {Name: "s", Groups: []Group{{Name: "g", MemberSelector: &MemberSelector{}}}},
		`strategy.stages[0].memberSelector.byLabel: required, at most 512 characters; got 513`:                           {Name: "s", MemberSelector: &MemberSelector{ByLabel: "a=" + string(make([]byte, 511))}},
		`strategy.stages[1].name "g": the stage's implicit group takes its name, which strategy.stages[0].groups[0] has`: {Name: "g", MemberSelector: &MemberSelector{ByLabel: "x"}},
	} {
		stages := []Stage{st}
		if st.Name == "g" {
			stages = []Stage{{Name: "s", Groups: []Group{{Name: "g"}}}, st}
		}
		_, err := New("run-1", Spec{Strategy: strategy(stages...), ManagedClusterUpdate: full(k8sTo)}, members("g", "a"), catalog())
		assert.ErrorIs(t, err, ErrInvalidSpec)
		assert.ErrorContains(t, err, want)
	}
}

// DESIGN: "Selection is resolved at New": a member whose labels change later stays where it was.
func TestSelectionIsResolvedAtNew(t *testing.T) {
	spec := Spec{Strategy: strategy(Stage{Name: "s", Groups: []Group{{Name: "web", MemberSelector: &MemberSelector{ByLabel: "tier=web"}}}}), ManagedClusterUpdate: full(k8sTo)}
	h := newHost(t, spec, []Member{labelled("a", "", map[string]string{"tier": "web"}), labelled("b", "", map[string]string{"tier": "web"})}, catalog())
	h.start()
	h.step(MemberChanged{At: h.now, Member: labelled("b", "", map[string]string{"tier": "db"})})
	h.succeed("a")
	assert.Equal(t, []string{"b"}, h.started())
}
