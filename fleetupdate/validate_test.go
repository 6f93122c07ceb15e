package fleetupdate

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func strategy(stages ...Stage) *Strategy { return &Strategy{Stages: stages} }

func TestNewRejectsInvalidInputNamingFieldAndValue(t *testing.T) {
	ok := Spec{Strategy: strategy(Stage{Name: "s1", Groups: []Group{{Name: "g1"}}}), ManagedClusterUpdate: full(k8sTo)}
	many := make([]Group, 51)
	for i := range many {
		many[i] = Group{Name: "g" + strings.Repeat("x", i)}
	}
	cases := []struct {
		name string
		run  string
		spec func(*Spec)
		ms   func([]Member) []Member
		cat  func(*Catalog)
		want string
	}{
		{name: "run name", run: "Run_1", want: `name "Run_1"`},
		{name: "no stages", spec: func(s *Spec) { s.Strategy.Stages = nil }, want: "at least one stage"},
		{name: "stage name", spec: func(s *Spec) { s.Strategy.Stages[0].Name = "-bad" }, want: `strategy.stages[0].name "-bad"`},
		{name: "stage name too long", spec: func(s *Spec) { s.Strategy.Stages[0].Name = strings.Repeat("a", 51) }, want: "1–50 characters"},
		{name: "duplicate stage", spec: func(s *Spec) {
			s.Strategy.Stages = append(s.Strategy.Stages, Stage{Name: "s1", Groups: []Group{{Name: "g2"}}})
		}, want: `strategy.stages[1].name "s1": stage names must be unique`},
		{name: "stage without groups", spec: func(s *Spec) { s.Strategy.Stages[0].Groups = nil }, want: "strategy.stages[0].groups: at least one group"},
		{name: "group in two stages", spec: func(s *Spec) {
			s.Strategy.Stages = append(s.Strategy.Stages, Stage{Name: "s2", Groups: []Group{{Name: "g1"}}})
		}, want: `strategy.stages[1].groups[0].name "g1": group already named in strategy.stages[0].groups[0]`},
		{name: "group twice in a stage", spec: func(s *Spec) { s.Strategy.Stages[0].Groups = []Group{{Name: "g1"}, {Name: "g1"}} }, want: "group already named"},
		{name: "51 groups", spec: func(s *Spec) { s.Strategy.Stages[0].Groups = many }, want: "51 groups; at most 50"},
		{name: "negative wait", spec: func(s *Spec) { s.Strategy.Stages[0].AfterStageWaitInSeconds = -1 }, want: "afterStageWaitInSeconds -1"},
		{name: "group concurrency", spec: func(s *Spec) { s.Strategy.Stages[0].Groups[0].MaxConcurrency = "0" }, want: `groups[0].maxConcurrency "0"`},
		{name: "percentage over 100", spec: func(s *Spec) { s.Strategy.Stages[0].MaxConcurrency = "101%" }, want: `maxConcurrency "101%"`},
		{name: "stage concurrency over 50", spec: func(s *Spec) { s.Strategy.Stages[0].MaxConcurrency = "51" }, want: `maxConcurrency "51": at most 50`},
		{name: "version required", spec: func(s *Spec) { s.ManagedClusterUpdate.Upgrade.KubernetesVersion = "" }, want: "kubernetesVersion: required when upgrade type is Full"},
		{name: "version forbidden", spec: func(s *Spec) { s.ManagedClusterUpdate.Upgrade.Type = NodeImageOnly }, want: `kubernetesVersion "1.30": must not be set`},
		{name: "bad version", spec: func(s *Spec) { s.ManagedClusterUpdate.Upgrade.KubernetesVersion = "latest" }, want: `kubernetesVersion "latest"`},
		{name: "bad type", spec: func(s *Spec) { s.ManagedClusterUpdate.Upgrade.Type = "Everything" }, want: `upgrade.type "Everything"`},
		{name: "custom needs versions", spec: func(s *Spec) {
			s.ManagedClusterUpdate.NodeImageSelection = &NodeImageSelection{Type: Custom}
		}, want: "customNodeImageVersions: required when type is Custom"},
		{name: "versions need custom", spec: func(s *Spec) {
			s.ManagedClusterUpdate.NodeImageSelection = &NodeImageSelection{Type: Latest, CustomNodeImageVersions: []NodeImageVersion{{imgNew}}}
		}, want: "must be empty unless type is Custom"},
		{name: "two custom versions of a family", spec: func(s *Spec) {
			s.ManagedClusterUpdate.NodeImageSelection = &NodeImageSelection{Type: Custom, CustomNodeImageVersions: []NodeImageVersion{{imgNew}, {imgMid}}}
		}, want: "at most one version per family"},
		{name: "duplicate member", ms: func(m []Member) []Member { return append(m, m[0]) }, want: `members[1].name "a": member names must be unique`},
		{name: "member region", ms: func(m []Member) []Member { m[0].Region = ""; return m }, want: "members[0] (a).region: required"},
		{name: "member version", ms: func(m []Member) []Member { m[0].KubernetesVersion = "x"; return m }, want: `members[0] (a).kubernetesVersion "x"`},
		{name: "member pool image", ms: func(m []Member) []Member { m[0].NodePools[0].NodeImageVersion = "junk"; return m }, want: `nodePools[0].nodeImageVersion`},
		{name: "member window", ms: func(m []Member) []Member { m[0].AutoUpgradeWindow = dailyWindow("25:00", 4); return m }, want: `autoUpgradeWindow: window: invalid schedule: startTime "25:00"`},
		{name: "catalog", cat: func(c *Catalog) { c.Regions[regionA] = RegionCatalog{NodeImageVersions: []string{"nope"}} }, want: `region "eastus"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := ok
			st := *ok.Strategy
			st.Stages = append([]Stage(nil), st.Stages...)
			st.Stages[0].Groups = append([]Group(nil), st.Stages[0].Groups...)
			spec.Strategy = &st
			if c.spec != nil {
				c.spec(&spec)
			}
			ms := members("g1", "a")
			if c.ms != nil {
				ms = c.ms(ms)
			}
			cat := catalog()
			if c.cat != nil {
				c.cat(&cat)
			}
			name := "run-1"
			if c.run != "" {
				name = c.run
			}
			r, err := New(name, spec, ms, cat)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidSpec)
			assert.Contains(t, err.Error(), c.want)
			assert.Equal(t, Run{}, r, "nothing is half-built")
		})
	}
	_, err := New("run-1", ok, members("g1", "a"), catalog())
	assert.NoError(t, err)
}

// "A strategy that uses an Azure field this version does not implement yet … is rejected with an error naming the field".
func TestStrategyWithUnimplementedAzureFieldIsRejected(t *testing.T) {
	for field, js := range map[string]string{
		"beforeGates":        `{"stages":[{"name":"s","groups":[{"name":"g"}],"beforeGates":[{"type":"Approval"}]}]}`,
		"afterGates":         `{"stages":[{"name":"s","groups":[{"name":"g","afterGates":[{"type":"Approval"}]}]}]}`,
		"memberSelector":     `{"stages":[{"name":"s","memberSelector":{"byLabel":"env=prod"},"groups":[{"name":"g"}]}]}`,
		"maxAllowedFailures": `{"stages":[{"name":"s","groups":[{"name":"g","maxAllowedFailures":"1"}]}]}`,
		"colour":             `{"stages":[{"name":"s","groups":[{"name":"g"}]}],"colour":"blue"}`,
	} {
		var s Strategy
		err := json.Unmarshal([]byte(js), &s)
		require.Error(t, err, field)
		assert.ErrorIs(t, err, ErrInvalidSpec)
		assert.Contains(t, err.Error(), `"`+field+`"`)
	}
	var m ManagedClusterUpdate
	err := json.Unmarshal([]byte(`{"upgrade":{"type":"Full","kubernetesVersion":"1.30"},"surge":"33%"}`), &m)
	assert.ErrorContains(t, err, `unknown field "surge"`)
}

// "A user can json.Unmarshal the strategy and managedClusterUpdate of an Azure update run straight into them."
func TestSpecUnmarshalsAzureUpdateRunProperties(t *testing.T) {
	const props = `{
	  "provisioningState": "Succeeded",
	  "strategy": {"stages": [
	    {"name": "stage-1", "afterStageWaitInSeconds": 3600, "maxConcurrency": "25%",
	     "groups": [{"name": "group-a", "maxConcurrency": "50%"}, {"name": "group-b"}]},
	    {"name": "stage-2", "groups": [{"name": "group-c"}]}]},
	  "managedClusterUpdate": {"upgrade": {"type": "Full", "kubernetesVersion": "1.30.5"},
	                           "nodeImageSelection": {"type": "Consistent"}},
	  "status": {"status": {"state": "NotStarted"}}
	}`
	var s Spec
	require.NoError(t, json.Unmarshal([]byte(props), &s))
	assert.Equal(t, "25%", s.Strategy.Stages[0].MaxConcurrency)
	assert.Equal(t, 3600, s.Strategy.Stages[0].AfterStageWaitInSeconds)
	assert.Equal(t, Consistent, s.ManagedClusterUpdate.NodeImageSelection.Type)
	out := mustJSON(t, s)
	assert.JSONEq(t, `{"strategy":{"stages":[
	    {"name":"stage-1","afterStageWaitInSeconds":3600,"maxConcurrency":"25%","groups":[{"name":"group-a","maxConcurrency":"50%"},{"name":"group-b"}]},
	    {"name":"stage-2","groups":[{"name":"group-c"}]}]},
	  "managedClusterUpdate":{"upgrade":{"type":"Full","kubernetesVersion":"1.30.5"},"nodeImageSelection":{"type":"Consistent"}}}`, out)

	err := json.Unmarshal([]byte(`{"updateStrategyId":"/subscriptions/x","managedClusterUpdate":{"upgrade":{"type":"NodeImageOnly"}}}`), &s)
	assert.ErrorContains(t, err, "pass it inline")
}
