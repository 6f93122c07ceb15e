package autoupgrade_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/autoupgrade"
	"github.com/fleetkit/fleetkit/fleetupdate"
)

// What `az fleet autoupgradeprofile show` prints, read-only fields included.
const azShow = `{
  "eTag": "\"a1b2\"",
  "id": "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.ContainerService/fleets/f/autoUpgradeProfiles/stable",
  "name": "stable",
  "resourceGroup": "rg",
  "systemData": {"createdAt": "2026-03-01T00:00:00Z"},
  "type": "Microsoft.ContainerService/fleets/autoUpgradeProfiles",
  "properties": {
    "autoUpgradeProfileStatus": {"lastTriggerStatus": "Succeeded"},
    "channel": "Stable",
    "disabled": false,
    "nodeImageSelection": {"type": "Consistent"},
    "provisioningState": "Succeeded",
    "updateStrategyId": "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.ContainerService/fleets/f/updateStrategies/rings",
    "strategy": {"stages": [{"name": "ring-0", "groups": [{"name": "canary"}]}]}
  }
}`

func TestProfileReadsAzureJSONAndDropsReadOnlyFields(t *testing.T) {
	p, err := autoupgrade.ParseProfile([]byte(azShow))
	require.NoError(t, err)
	assert.Equal(t, "stable", p.Name)
	assert.Equal(t, autoupgrade.Stable, p.Channel)
	assert.Equal(t, fleetupdate.Consistent, p.NodeImageSelection.Type)
	assert.Len(t, p.Strategy.Stages, 1)
	b, err := json.Marshal(p)
	require.NoError(t, err)
	assert.JSONEq(t, `{"name":"stable","properties":{"channel":"Stable","nodeImageSelection":{"type":"Consistent"},
		"updateStrategyId":"/subscriptions/0000/resourceGroups/rg/providers/Microsoft.ContainerService/fleets/f/updateStrategies/rings",
		"strategy":{"stages":[{"name":"ring-0","groups":[{"name":"canary"}]}]}}}`, string(b))
	var back autoupgrade.Profile
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, p, back)
}

func TestProfileRefusesUnknownFieldsByName(t *testing.T) {
	for name, js := range map[string]string{
		`profile: unknown field "location"`:                            `{"name":"p","location":"eastus","properties":{"channel":"Rapid"}}`,
		`properties: unknown field "chanel"`:                           `{"name":"p","properties":{"chanel":"Rapid"}}`,
		`properties.nodeImageSelection: unknown field "customVersion"`: `{"name":"p","properties":{"channel":"Rapid","nodeImageSelection":{"type":"Latest","customVersion":"x"}}}`,
		`unknown field "beforeGate"`:                                   `{"name":"p","properties":{"channel":"Rapid","strategy":{"stages":[{"name":"s","groups":[{"name":"g"}],"beforeGate":[]}]}}}`,
		`properties: required`:                                         `{"name":"p"}`,
	} {
		_, err := autoupgrade.ParseProfile([]byte(js))
		assert.ErrorContains(t, err, name)
		assert.ErrorIs(t, err, autoupgrade.ErrInvalidProfile)
	}
}

func profile(mut func(*autoupgrade.Profile)) autoupgrade.Profile {
	p := autoupgrade.Profile{Name: "p", Channel: autoupgrade.Stable}
	if mut != nil {
		mut(&p)
	}
	return p
}

func assertInvalid(t *testing.T, p autoupgrade.Profile, field string) {
	t.Helper()
	err := p.Validate()
	assert.ErrorIs(t, err, autoupgrade.ErrInvalidProfile)
	assert.ErrorContains(t, err, field)
}

// Fleet main.tsp: child resource names are 1–50 of ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$.
func TestProfileNameFollowsAzuresResourceNameRule(t *testing.T) {
	require.NoError(t, profile(nil).Validate())
	for _, n := range []string{"", "Stable", "-a", "a-", "a_b", "abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij"} {
		assertInvalid(t, profile(func(p *autoupgrade.Profile) { p.Name = n }), "name")
	}
}

// autoupgradeprofile.tsp: channel is a required UpgradeChannel.
func TestChannelIsRequiredAndOneOfAzures(t *testing.T) {
	assertInvalid(t, profile(func(p *autoupgrade.Profile) { p.Channel = "" }), "properties.channel: required")
	assertInvalid(t, profile(func(p *autoupgrade.Profile) { p.Channel = "Patch" }), `properties.channel "Patch"`)
	for _, c := range []autoupgrade.Channel{autoupgrade.Stable, autoupgrade.Rapid, autoupgrade.NodeImage, autoupgrade.SecurityPatch} {
		assert.NoError(t, profile(func(p *autoupgrade.Profile) { p.Channel = c }).Validate())
	}
}

// autoupgradeprofile.tsp: targetKubernetesVersion "must not be empty" with the
// TargetKubernetesVersion channel, "must be empty" otherwise.
func TestTargetKubernetesVersionIffTargetChannel(t *testing.T) {
	assertInvalid(t, profile(func(p *autoupgrade.Profile) { p.Channel = autoupgrade.TargetKubernetesVersion }), "properties.targetKubernetesVersion: required")
	assertInvalid(t, profile(func(p *autoupgrade.Profile) { p.TargetKubernetesVersion = "1.30" }), "only with channel TargetKubernetesVersion")
	assert.NoError(t, profile(func(p *autoupgrade.Profile) {
		p.Channel, p.TargetKubernetesVersion = autoupgrade.TargetKubernetesVersion, "1.30"
	}).Validate())
}

// autoupgradeprofile.tsp: the format is {major}.{minor}, such as "1.30".
func TestTargetKubernetesVersionIsMajorDotMinor(t *testing.T) {
	for _, v := range []string{"1.30.5", "v1.30", "1", "1.x", "latest"} {
		assertInvalid(t, profile(func(p *autoupgrade.Profile) {
			p.Channel, p.TargetKubernetesVersion = autoupgrade.TargetKubernetesVersion, v
		}), `properties.targetKubernetesVersion "`+v+`"`)
	}
}

// autoupgradeprofile.tsp: "If upgrade channel is not TargetKubernetesVersion, this field must be False."
func TestLongTermSupportOnlyWithTargetChannel(t *testing.T) {
	assertInvalid(t, profile(func(p *autoupgrade.Profile) { p.LongTermSupport = true }), "properties.longTermSupport")
	assert.NoError(t, profile(func(p *autoupgrade.Profile) {
		p.Channel, p.TargetKubernetesVersion, p.LongTermSupport = autoupgrade.TargetKubernetesVersion, "1.27", true
	}).Validate())
}

// CLI custom.py: "node_image_selection must NOT be populated when channel type NodeImage is selected".
func TestNoNodeImageSelectionOnNodeImageChannels(t *testing.T) {
	for _, c := range []autoupgrade.Channel{autoupgrade.NodeImage, autoupgrade.SecurityPatch} {
		assertInvalid(t, profile(func(p *autoupgrade.Profile) {
			p.Channel, p.NodeImageSelection = c, &autoupgrade.NodeImageSelection{Type: fleetupdate.Latest}
		}), "properties.nodeImageSelection: not with channel "+string(c))
	}
}

// autoupgradeprofile.tsp: AutoUpgradeNodeImageSelection is Latest or Consistent (no Custom).
func TestNodeImageSelectionIsLatestOrConsistent(t *testing.T) {
	assertInvalid(t, profile(func(p *autoupgrade.Profile) {
		p.NodeImageSelection = &autoupgrade.NodeImageSelection{Type: fleetupdate.Custom}
	}), `properties.nodeImageSelection.type "Custom"`)
}

// autoupgradeprofile.tsp: updateStrategyId is a fleet update strategy's ARM id;
// fleetkit cannot fetch it, so its stages come inline.
func TestUpdateStrategyIDNeedsItsStagesInline(t *testing.T) {
	id := "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.ContainerService/fleets/f/updateStrategies/rings"
	assertInvalid(t, profile(func(p *autoupgrade.Profile) { p.UpdateStrategyID = id }), "give its stages as properties.strategy too")
	assertInvalid(t, profile(func(p *autoupgrade.Profile) {
		p.UpdateStrategyID, p.Strategy = "rings", &fleetupdate.Strategy{Stages: []fleetupdate.Stage{{Name: "s", Groups: []fleetupdate.Group{{Name: "g"}}}}}
	}), `properties.updateStrategyId "rings"`)
}

// Fleet run.tsp: a strategy has at least one stage, unique names, no duplicate groups.
func TestStrategyIsValidatedAsUpdateRunsValidateIt(t *testing.T) {
	assertInvalid(t, profile(func(p *autoupgrade.Profile) {
		p.Strategy = &fleetupdate.Strategy{Stages: []fleetupdate.Stage{{Name: "s", Groups: []fleetupdate.Group{{Name: "g"}}}, {Name: "s", Groups: []fleetupdate.Group{{Name: "g"}}}}}
	}), "properties.strategy: strategy.stages[1].name \"s\": stage names must be unique")
}

// fleetkit: chaining splits Kubernetes upgrades, so only Kubernetes channels have it.
func TestChainingOnlyOnKubernetesChannels(t *testing.T) {
	assertInvalid(t, profile(func(p *autoupgrade.Profile) { p.Channel, p.ChainNodeImageUpgrade = autoupgrade.NodeImage, true }), "properties.chainNodeImageUpgrade")
	assert.NoError(t, profile(func(p *autoupgrade.Profile) { p.ChainNodeImageUpgrade = true }).Validate())
}

func TestValidateReportsEveryProblem(t *testing.T) {
	err := autoupgrade.Profile{Name: "P", Channel: autoupgrade.NodeImage, LongTermSupport: true}.Validate()
	assert.ErrorContains(t, err, "name")
	assert.ErrorContains(t, err, "properties.longTermSupport")
}
