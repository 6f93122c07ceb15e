package autoupgrade

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/internal/kversion"
)

// Sentinel errors. Every error this package returns wraps one of them.
var (
	ErrInvalidProfile  = errors.New("autoupgrade: invalid profile")
	ErrInvalidMembers  = errors.New("autoupgrade: invalid members")
	ErrInvalidReleases = errors.New("autoupgrade: invalid releases")
	ErrInvalidHistory  = errors.New("autoupgrade: invalid history")
)

// Channel is Azure's UpgradeChannel: what a profile keeps its members on.
type Channel string

// The channels (Fleet autoupgradeprofile.tsp, UpgradeChannel).
const (
	Stable                  Channel = "Stable"                  // newest patch of minor N-1
	Rapid                   Channel = "Rapid"                   // newest patch of the newest minor N
	NodeImage               Channel = "NodeImage"               // node images only
	TargetKubernetesVersion Channel = "TargetKubernetesVersion" // newest patch of the minor the profile names
	SecurityPatch           Channel = "SecurityPatch"           // node images of Linux pools only
)

// kubernetes reports whether the channel upgrades Kubernetes versions.
func (c Channel) kubernetes() bool {
	return c == Stable || c == Rapid || c == TargetKubernetesVersion
}

// NodeImageSelection is Azure's AutoUpgradeNodeImageSelection: Latest or
// Consistent (a profile has no Custom).
type NodeImageSelection struct {
	Type fleetupdate.NodeImageSelectionType `json:"type"`
}

// Profile is an Azure Fleet auto-upgrade profile. Its JSON is Azure's
// AutoUpgradeProfile resource, {"name": …, "properties": {…}}, as
// `az fleet autoupgradeprofile show` prints it; read-only fields (id, type,
// eTag, systemData, resourceGroup, properties.provisioningState,
// properties.autoUpgradeProfileStatus) are accepted and dropped, and any other
// unknown field is refused. Two fields are fleetkit's own: strategy and
// chainNodeImageUpgrade.
type Profile struct {
	// Name is the profile's resource name; generated run names start with it.
	Name string
	// Channel is required.
	Channel Channel
	// TargetKubernetesVersion is "{major}.{minor}", such as "1.30": required
	// with the TargetKubernetesVersion channel and refused with the others.
	TargetKubernetesVersion string
	// LongTermSupport lets a TargetKubernetesVersion profile follow an LTS
	// minor older than N-2; refused with the other channels.
	LongTermSupport bool
	// NodeImageSelection is how Kubernetes upgrades pick node images; nil
	// means Latest. Refused with the NodeImage and SecurityPatch channels.
	NodeImageSelection *NodeImageSelection
	// UpdateStrategyID is the ARM id of the fleet's update strategy. Plan
	// cannot fetch it: a profile that names one carries its stages in
	// Strategy too (the snapshot Azure would take).
	UpdateStrategyID string
	// Strategy (fleetkit) is the strategy runs follow: the one
	// UpdateStrategyID names, or one given inline. Nil with no
	// UpdateStrategyID: every member, one by one.
	Strategy *fleetupdate.Strategy
	// Disabled stops the profile generating runs; runs already generated are
	// left alone.
	Disabled bool
	// ChainNodeImageUpgrade (fleetkit) runs each Kubernetes upgrade as a
	// ControlPlaneOnly run followed, once it is done, by a NodeImageOnly run
	// for the members it upgraded (Azure/AKS#5765). Kubernetes channels only.
	ChainNodeImageUpgrade bool
}

// properties is the JSON of AutoUpgradeProfileProperties.
type properties struct {
	Channel                 Channel               `json:"channel"`
	TargetKubernetesVersion string                `json:"targetKubernetesVersion,omitempty"`
	LongTermSupport         bool                  `json:"longTermSupport,omitempty"`
	NodeImageSelection      *NodeImageSelection   `json:"nodeImageSelection,omitempty"`
	UpdateStrategyID        string                `json:"updateStrategyId,omitempty"`
	Strategy                *fleetupdate.Strategy `json:"strategy,omitempty"`
	Disabled                bool                  `json:"disabled,omitempty"`
	ChainNodeImageUpgrade   bool                  `json:"chainNodeImageUpgrade,omitempty"`
}

type profileJSON struct {
	Name       string     `json:"name"`
	Properties properties `json:"properties"`
}

// MarshalJSON writes Azure's AutoUpgradeProfile resource shape.
func (p Profile) MarshalJSON() ([]byte, error) {
	return json.Marshal(profileJSON{Name: p.Name, Properties: properties{
		Channel: p.Channel, TargetKubernetesVersion: p.TargetKubernetesVersion, LongTermSupport: p.LongTermSupport,
		NodeImageSelection: p.NodeImageSelection, UpdateStrategyID: p.UpdateStrategyID, Strategy: p.Strategy,
		Disabled: p.Disabled, ChainNodeImageUpgrade: p.ChainNodeImageUpgrade,
	}})
}

// UnmarshalJSON reads Azure's AutoUpgradeProfile resource strictly: an
// unknown field is refused with its name. It checks the shape only; Validate
// checks Azure's rules.
func (p *Profile) UnmarshalJSON(b []byte) error {
	if err := onlyKeys(b, "profile", []string{"name", "properties"}, "id", "type", "eTag", "systemData", "resourceGroup"); err != nil {
		return err
	}
	var top struct {
		Name       string          `json:"name"`
		Properties json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(b, &top); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidProfile, err)
	}
	if len(top.Properties) == 0 || string(top.Properties) == "null" {
		return fmt.Errorf("%w: properties: required", ErrInvalidProfile)
	}
	if err := onlyKeys(top.Properties, "properties",
		[]string{"channel", "targetKubernetesVersion", "longTermSupport", "nodeImageSelection", "updateStrategyId", "strategy", "disabled", "chainNodeImageUpgrade"},
		"provisioningState", "autoUpgradeProfileStatus"); err != nil {
		return err
	}
	var raw struct {
		NodeImageSelection json.RawMessage `json:"nodeImageSelection"`
	}
	_ = json.Unmarshal(top.Properties, &raw)
	if len(raw.NodeImageSelection) > 0 && string(raw.NodeImageSelection) != "null" {
		if err := onlyKeys(raw.NodeImageSelection, "properties.nodeImageSelection", []string{"type"}); err != nil {
			return err
		}
	}
	var props struct {
		properties
		ProvisioningState        json.RawMessage `json:"provisioningState"`
		AutoUpgradeProfileStatus json.RawMessage `json:"autoUpgradeProfileStatus"`
	}
	if err := json.Unmarshal(top.Properties, &props); err != nil {
		return fmt.Errorf("%w: properties: %v", ErrInvalidProfile, err)
	}
	q := props.properties
	*p = Profile{
		Name: top.Name, Channel: q.Channel, TargetKubernetesVersion: q.TargetKubernetesVersion, LongTermSupport: q.LongTermSupport,
		NodeImageSelection: q.NodeImageSelection, UpdateStrategyID: q.UpdateStrategyID, Strategy: q.Strategy,
		Disabled: q.Disabled, ChainNodeImageUpgrade: q.ChainNodeImageUpgrade,
	}
	return nil
}

// ParseProfile decodes a profile's JSON and validates it.
func ParseProfile(b []byte) (Profile, error) {
	var p Profile
	if err := json.Unmarshal(b, &p); err != nil {
		return Profile{}, err
	}
	return p, p.Validate()
}

// onlyKeys checks that the JSON object b has no key outside allowed and
// ignored; where names the object in errors.
func onlyKeys(b []byte, where string, allowed []string, ignored ...string) error {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalidProfile, where, err)
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if !slices.Contains(allowed, k) && !slices.Contains(ignored, k) {
			return fmt.Errorf("%w: %s: unknown field %q", ErrInvalidProfile, where, k)
		}
	}
	return nil
}

// Azure's resource name rule for fleets' child resources (1–50 characters).
var namePattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// strategyIDPattern is the ARM id of a fleet's update strategy.
var strategyIDPattern = regexp.MustCompile(`(?i)^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.ContainerService/fleets/[^/]+/updateStrategies/[^/]+$`)

// Validate checks the profile against Azure's rules; every error names the
// field and wraps ErrInvalidProfile. Each rule's source is given beside it.
func (p Profile) Validate() error { return p.validate(true) }

// validate is Validate; Plan leaves the strategy to the check it makes of
// the strategy over the members.
func (p Profile) validate(strategy bool) error {
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidProfile}, a...)...))
	}
	// Fleet main.tsp: child resource names are 1–50 characters, ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$.
	if len(p.Name) > 50 || !namePattern.MatchString(p.Name) {
		bad("name %q: want 1 to 50 lowercase letters, digits and inner hyphens", p.Name)
	}
	switch p.Channel {
	case Stable, Rapid, NodeImage, TargetKubernetesVersion, SecurityPatch:
	case "":
		bad("properties.channel: required")
	default:
		bad("properties.channel %q: must be Stable, Rapid, NodeImage, TargetKubernetesVersion or SecurityPatch", p.Channel)
	}
	// autoupgradeprofile.tsp: targetKubernetesVersion "must not be empty" with
	// TargetKubernetesVersion and "must be empty" otherwise; format {major}.{minor}.
	if p.Channel == TargetKubernetesVersion {
		if p.TargetKubernetesVersion == "" {
			bad("properties.targetKubernetesVersion: required with channel TargetKubernetesVersion")
		} else if v, err := kversion.Parse(p.TargetKubernetesVersion); err != nil || v.HasPatch || !isDigit(p.TargetKubernetesVersion[0]) {
			bad("properties.targetKubernetesVersion %q: want {major}.{minor}, such as \"1.30\"", p.TargetKubernetesVersion)
		}
	} else if p.TargetKubernetesVersion != "" {
		bad("properties.targetKubernetesVersion %q: only with channel TargetKubernetesVersion", p.TargetKubernetesVersion)
	}
	// autoupgradeprofile.tsp: "If upgrade channel is not TargetKubernetesVersion, this field must be False."
	if p.LongTermSupport && p.Channel != TargetKubernetesVersion {
		bad("properties.longTermSupport: only with channel TargetKubernetesVersion")
	}
	if s := p.NodeImageSelection; s != nil {
		// CLI custom.py: "node_image_selection must NOT be populated when channel type NodeImage is selected";
		// fleetkit extends it to SecurityPatch, whose runs choose Linux images themselves.
		if p.Channel == NodeImage || p.Channel == SecurityPatch {
			bad("properties.nodeImageSelection: not with channel %s (node image channels choose their own images)", p.Channel)
		}
		// AutoUpgradeNodeImageSelection.type is Latest or Consistent (no Custom in a profile).
		if s.Type != fleetupdate.Latest && s.Type != fleetupdate.Consistent {
			bad("properties.nodeImageSelection.type %q: must be Latest or Consistent", s.Type)
		}
	}
	if p.UpdateStrategyID != "" {
		if !strategyIDPattern.MatchString(p.UpdateStrategyID) {
			bad("properties.updateStrategyId %q: want the ARM id of a fleet's update strategy", p.UpdateStrategyID)
		}
		if p.Strategy == nil {
			bad("properties.updateStrategyId: fleetkit cannot fetch it; give its stages as properties.strategy too")
		}
	}
	if p.Strategy != nil && strategy {
		if err := checkStrategy(*p.Strategy); err != nil {
			bad("properties.strategy: %v", err)
		}
	}
	if p.ChainNodeImageUpgrade && !p.Channel.kubernetes() {
		bad("properties.chainNodeImageUpgrade: only with channels Stable, Rapid and TargetKubernetesVersion")
	}
	return errors.Join(errs...)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// checkStrategy validates a strategy the way fleetupdate.New will.
func checkStrategy(s fleetupdate.Strategy) error {
	spec := fleetupdate.Spec{Strategy: &s, ManagedClusterUpdate: fleetupdate.ManagedClusterUpdate{Upgrade: fleetupdate.UpgradeSpec{Type: fleetupdate.NodeImageOnly}}}
	_, err := fleetupdate.New("strategy-check", spec, nil, fleetupdate.Catalog{})
	if err == nil {
		return nil
	}
	msg := strings.ReplaceAll(err.Error(), fleetupdate.ErrInvalidSpec.Error()+": ", "")
	return errors.New(strings.ReplaceAll(msg, "\n", "; "))
}

// compact JSON for keys and hashing.
func compact(v any) []byte {
	b, _ := json.Marshal(v)
	var out bytes.Buffer
	_ = json.Compact(&out, b)
	return out.Bytes()
}
