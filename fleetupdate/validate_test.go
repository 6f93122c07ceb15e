package fleetupdate

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/window"
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

// Issue 9: "unknown fields are refused at every level (today an unknown key inside upgrade or
// nodeImageSelection is dropped silently)"; keys match exactly, as Azure spells them.
func TestUnknownFieldsAreRefusedAtEveryLevel(t *testing.T) {
	for want, js := range map[string]string{
		`unknown field "colour"`:                                                                           `{"colour":1,"managedClusterUpdate":{"upgrade":{"type":"NodeImageOnly"}}}`,
		`strategy: unknown field "colour"`:                                                                 `{"strategy":{"stages":[],"colour":1}}`,
		`strategy.stages[0]: unknown field "colour"`:                                                       `{"strategy":{"stages":[{"name":"s","colour":1}]}}`,
		`strategy.stages[0]: unknown field "Name"`:                                                         `{"strategy":{"stages":[{"Name":"s"}]}}`,
		`strategy.stages[1].groups[0]: unknown field "colour"`:                                             `{"strategy":{"stages":[{"name":"s"},{"name":"t","groups":[{"name":"g","colour":1}]}]}}`,
		`strategy.stages[0].memberSelector: unknown field "x"`:                                             `{"strategy":{"stages":[{"name":"s","memberSelector":{"byLabel":"a=b","x":1}}]}}`,
		`strategy.stages[0].beforeGates[0]: unknown field "x"`:                                             `{"strategy":{"stages":[{"name":"s","beforeGates":[{"type":"Approval","x":1}]}]}}`,
		`strategy.stages[0].groups[0].afterGates[0]: unknown field "timeoutSeconds"`:                       `{"strategy":{"stages":[{"name":"s","groups":[{"name":"g","afterGates":[{"type":"Approval","timeoutSeconds":5}]}]}]}}`,
		`strategy.stages[0].beforeGates[0].scheduledStartConfiguration: unknown field "absoluteStartTime"`: `{"strategy":{"stages":[{"name":"s","beforeGates":[{"type":"ScheduledStart","scheduledStartConfiguration":{"startDay":"Friday","startTime":"18:00","utcOffset":"+00:00","absoluteStartTime":"x"}}]}]}}`,
		`managedClusterUpdate: unknown field "surge"`:                                                      `{"managedClusterUpdate":{"upgrade":{"type":"Full"},"surge":"33%"}}`,
		`managedClusterUpdate.upgrade: unknown field "surge"`:                                              `{"managedClusterUpdate":{"upgrade":{"type":"Full","surge":"33%"}}}`,
		`managedClusterUpdate.nodeImageSelection: unknown field "pinned"`:                                  `{"managedClusterUpdate":{"upgrade":{"type":"Full"},"nodeImageSelection":{"type":"Latest","pinned":true}}}`,
		`managedClusterUpdate.nodeImageSelection.customNodeImageVersions[1]: unknown field "v"`:            `{"managedClusterUpdate":{"upgrade":{"type":"Full"},"nodeImageSelection":{"type":"Custom","customNodeImageVersions":[{"version":"x"},{"v":"y"}]}}}`,
	} {
		var s Spec
		err := json.Unmarshal([]byte(js), &s)
		assert.ErrorIs(t, err, ErrInvalidSpec, js)
		assert.EqualError(t, err, "fleetupdate: invalid update run: "+want)
	}
}

// Issue 9: "an error names its field once (today: fleetupdate: invalid update run: update run:
// fleetupdate: invalid update run: strategy: fleetupdate: invalid update run: stage "s": …)".
func TestSpecErrorNamesItsFieldOnce(t *testing.T) {
	var s Spec
	err := json.Unmarshal([]byte(`{"strategy":{"stages":[{"name":"s","afterStageWaitInSeconds":"soon"}]}}`), &s)
	assert.EqualError(t, err, `fleetupdate: invalid update run: strategy.stages[0].afterStageWaitInSeconds: want a whole number in range, not JSON string`)
	assert.Equal(t, 1, strings.Count(err.Error(), "fleetupdate:"))
	assert.Equal(t, 1, strings.Count(err.Error(), "strategy"))
}

// Issue 9: "every Azure int32 is bounded (afterStageWaitInSeconds 9,300,000,000 is accepted today
// and the wait silently disappears)".
func TestAzureInt32FieldsAreBounded(t *testing.T) {
	spec := func(js string) Spec {
		var s Spec
		require.NoError(t, json.Unmarshal([]byte(`{"strategy":{"stages":[`+js+`]},"managedClusterUpdate":{"upgrade":{"type":"Full","kubernetesVersion":"1.30"}}}`), &s))
		return s
	}
	for js, want := range map[string]string{
		`{"name":"s","groups":[{"name":"g"}],"afterStageWaitInSeconds":9300000000}`:        `strategy.stages[0].afterStageWaitInSeconds 9300000000: must be from 0 to 2147483647`,
		`{"name":"s","groups":[{"name":"g"}],"afterStageWaitInSeconds":2147483648}`:        `strategy.stages[0].afterStageWaitInSeconds 2147483648: must be from 0 to 2147483647`,
		`{"name":"s","groups":[{"name":"g","maxConcurrency":"3000000000"}]}`:               `strategy.stages[0].groups[0].maxConcurrency "3000000000": at most 2147483647`,
		`{"name":"s","groups":[{"name":"g","maxAllowedFailures":"3000000000"}]}`:           `strategy.stages[0].groups[0].maxAllowedFailures "3000000000": at most 2147483647`,
		`{"name":"s","groups":[{"name":"g"}],"maxAllowedFailures":"99999999999999999999"}`: `strategy.stages[0].maxAllowedFailures "99999999999999999999": at most 2147483647`,
	} {
		_, err := New("run-1", spec(js), members("g", "a"), catalog())
		assert.ErrorIs(t, err, ErrInvalidSpec)
		assert.ErrorContains(t, err, want)
	}
	r, err := New("run-1", spec(`{"name":"s","groups":[{"name":"g"}],"afterStageWaitInSeconds":2147483647}`), members("g", "a"), catalog())
	require.NoError(t, err)
	assert.Equal(t, 2147483647, r.Status().Stages[0].AfterStageWaitStatus.WaitDurationInSeconds)
	var s Spec
	err = json.Unmarshal([]byte(`{"strategy":{"stages":[{"name":"s","afterStageWaitInSeconds":1e40}]}}`), &s)
	assert.EqualError(t, err, `fleetupdate: invalid update run: strategy.stages[0].afterStageWaitInSeconds: want a whole number in range, not JSON number 1e40`)
}

// Azure: "Setting both … is invalid", but its own examples set updateStrategyId next to the
// strategy it was copied from; the run keeps it and shows it (Run.Spec), and runs the inline copy.
func TestUpdateStrategyIDIsKeptNextToAnInlineStrategy(t *testing.T) {
	const id = "/subscriptions/x/resourceGroups/rg/providers/Microsoft.ContainerService/fleets/f/updateStrategies/s1"
	var s Spec
	require.NoError(t, json.Unmarshal([]byte(`{"updateStrategyId":"`+id+`","strategy":{"stages":[{"name":"s","groups":[{"name":"g"}]}]},
	  "managedClusterUpdate":{"upgrade":{"type":"Full","kubernetesVersion":"1.30"}}}`), &s))
	r, err := New("run-1", s, members("g", "a"), catalog())
	require.NoError(t, err)
	assert.Equal(t, id, r.Spec().UpdateStrategyID)
	assert.Contains(t, mustJSON(t, r.Spec()), `"updateStrategyId":"`+id+`"`)
	assert.Equal(t, "s", r.Status().Stages[0].Name, "the inline strategy runs")
}

// fleetkit cannot fetch a strategy resource: an updateStrategyId alone is refused, saying what to do.
func TestUpdateStrategyIDAloneIsRefused(t *testing.T) {
	var s Spec
	require.NoError(t, json.Unmarshal([]byte(`{"updateStrategyId":"/subscriptions/x","managedClusterUpdate":{"upgrade":{"type":"NodeImageOnly"}}}`), &s))
	_, err := New("run-1", s, members("g", "a"), catalog())
	assert.ErrorIs(t, err, ErrInvalidSpec)
	assert.ErrorContains(t, err, `updateStrategyId "/subscriptions/x": fleetkit does not fetch strategies; pass the strategy inline as strategy`)
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

}

// Azure's GateConfiguration rules (gate.tsp): type Approval or ScheduledStart; ScheduledStart only
// before a stage or group, with startDay, startTime "HH:mm" and utcOffset "±hh:mm"; displayName at
// most 100 characters.
func TestGateConfigurationIsChecked(t *testing.T) {
	sched := func(day, at, off string) *ScheduledStartConfiguration {
		return &ScheduledStartConfiguration{StartDay: window.Weekday(day), StartTime: at, UTCOffset: off}
	}
	for want, g := range map[string]struct {
		gate   GateConfiguration
		timing GateTiming
	}{
		`beforeGates[0].type "Manual": must be Approval or ScheduledStart`:             {GateConfiguration{Type: "Manual"}, Before},
		`afterGates[0].type ScheduledStart: allowed in beforeGates only`:               {GateConfiguration{Type: ScheduledStart, ScheduledStartConfiguration: sched("Friday", "18:00", "-05:00")}, After},
		`beforeGates[0].scheduledStartConfiguration: required for type ScheduledStart`: {GateConfiguration{Type: ScheduledStart}, Before},
		`beforeGates[0].scheduledStartConfiguration: only for type ScheduledStart`:     {GateConfiguration{Type: Approval, ScheduledStartConfiguration: sched("Friday", "18:00", "+00:00")}, Before},
		`beforeGates[0].scheduledStartConfiguration.startDay "Fri"`:                    {GateConfiguration{Type: ScheduledStart, ScheduledStartConfiguration: sched("Fri", "18:00", "+00:00")}, Before},
		`beforeGates[0].scheduledStartConfiguration.startTime "24:00"`:                 {GateConfiguration{Type: ScheduledStart, ScheduledStartConfiguration: sched("Friday", "24:00", "+00:00")}, Before},
		`beforeGates[0].scheduledStartConfiguration.utcOffset "+14:30"`:                {GateConfiguration{Type: ScheduledStart, ScheduledStartConfiguration: sched("Friday", "18:00", "+14:30")}, Before},
		`beforeGates[0].scheduledStartConfiguration.utcOffset "05:00"`:                 {GateConfiguration{Type: ScheduledStart, ScheduledStartConfiguration: sched("Friday", "18:00", "05:00")}, Before},
		`beforeGates[0].displayName: 101 characters; at most 100`:                      {GateConfiguration{Type: Approval, DisplayName: strings.Repeat("é", 101)}, Before},
	} {
		st := Stage{Name: "s", Groups: []Group{{Name: "g"}}}
		if g.timing == Before {
			st.BeforeGates = []GateConfiguration{g.gate}
		} else {
			st.AfterGates = []GateConfiguration{g.gate}
		}
		_, err := New("run-1", Spec{Strategy: strategy(st), ManagedClusterUpdate: full(k8sTo)}, members("g", "a"), catalog())
		assert.ErrorIs(t, err, ErrInvalidSpec)
		assert.ErrorContains(t, err, "strategy.stages[0]."+want)
	}
}

// New checks each distinct version and window once: a value found invalid
// is still reported for every member that has it, also after a valid one
// and right after itself.
func TestNewReportsASharedInvalidValueForEveryMember(t *testing.T) {
	bad := &window.Schedule{Recurrence: window.Recurrence{Daily: &window.DailySchedule{IntervalDays: 1}}, StartTime: "25:00", DurationHours: 4}
	ms := members("", "a", "b", "c", "d", "e", "f", "g", "h", "i")
	for _, i := range []int{1, 2} {
		ms[i].KubernetesVersion = "1.x"
	}
	for _, i := range []int{3, 4} {
		ms[i].NodePools[0].NodeImageVersion = "AKSUbuntu-2204gen2containerd-bad"
	}
	for _, i := range []int{5, 6} {
		ms[i].NodePools = append(ms[i].NodePools, NodePool{Name: "user", NodeImageVersion: imgOld, KubernetesVersion: "nope"})
	}
	for _, i := range []int{7, 8} {
		ms[i].AutoUpgradeWindow = bad
	}
	_, err := New("run-1", Spec{ManagedClusterUpdate: full(k8sTo)}, ms, catalog())
	require.Error(t, err)
	for _, want := range []string{
		`members[1] (b).kubernetesVersion "1.x"`, `members[2] (c).kubernetesVersion "1.x"`,
		"members[3] (d).nodePools[0].nodeImageVersion", "members[4] (e).nodePools[0].nodeImageVersion",
		`members[5] (f).nodePools[1].kubernetesVersion "nope"`, `members[6] (g).nodePools[1].kubernetesVersion "nope"`,
		"members[7] (h).autoUpgradeWindow", "members[8] (i).autoUpgradeWindow",
	} {
		assert.ErrorContains(t, err, want)
	}
	assert.NotContains(t, err.Error(), "members[0]")
	assert.Len(t, strings.Split(err.Error(), "\n"), 8, "one error per bad value")
}
