package fleetupdate

import (
	"strconv"
	"time"
)

// OpID identifies one upgrade attempt: "<run>/<member>/<attempt>". It is
// deterministic, so a host that re-sends an UpgradeMember after a crash
// sends the same id.
type OpID string

func opID(run, member string, attempt int) OpID {
	return OpID(run + "/" + member + "/" + strconv.Itoa(attempt))
}

// Event is an input to [Step]: a user action, an outcome, a tick or a
// changed fact. Every event carries the host's time.
type Event interface {
	when() time.Time
}

// Start starts a NotStarted run or resumes a Stopped or Failed one.
type Start struct{ At time.Time }

// Stop stops starting new work; members in flight are still tracked.
type Stop struct{ At time.Time }

// Skip skips members, groups, stages or after-stage waits.
type Skip struct {
	At      time.Time
	Targets []SkipTarget
}

// TargetType is Azure's skip TargetType.
type TargetType string

// The skip target types.
const (
	TargetMember         TargetType = "Member"
	TargetGroup          TargetType = "Group"
	TargetStage          TargetType = "Stage"
	TargetAfterStageWait TargetType = "AfterStageWait" // Name is the stage's name
)

// SkipTarget is Azure's SkipTarget.
type SkipTarget struct {
	Type TargetType `json:"type"`
	Name string     `json:"name"`
}

// Tick tells the run that time has passed; hosts send one at each WakeAt.
type Tick struct{ At time.Time }

// UpgradeSucceeded reports that operation Op finished well.
type UpgradeSucceeded struct {
	At time.Time
	Op OpID
}

// UpgradeFailed reports that operation Op failed with an AKS error code
// and message.
type UpgradeFailed struct {
	At      time.Time
	Op      OpID
	Code    string
	Message string
}

// MemberChanged updates a member's data (versions, pools, windows, region),
// or with Removed reports that it left the fleet.
type MemberChanged struct {
	At      time.Time
	Member  Member
	Removed bool
}

// CatalogChanged replaces what each region offers.
type CatalogChanged struct {
	At      time.Time
	Catalog Catalog
}

func (e Start) when() time.Time            { return e.At }
func (e Stop) when() time.Time             { return e.At }
func (e Skip) when() time.Time             { return e.At }
func (e Tick) when() time.Time             { return e.At }
func (e UpgradeSucceeded) when() time.Time { return e.At }
func (e UpgradeFailed) when() time.Time    { return e.At }
func (e MemberChanged) when() time.Time    { return e.At }
func (e CatalogChanged) when() time.Time   { return e.At }

// Command is an output of [Step] for the host to perform.
type Command interface {
	command()
}

// UpgradeMember asks the host to upgrade one member. It is idempotent per Op.
type UpgradeMember struct {
	Op                OpID        `json:"op"`
	Member            string      `json:"member"`
	Type              UpgradeType `json:"type"`
	KubernetesVersion string      `json:"kubernetesVersion,omitempty"` // empty for NodeImageOnly
	NodeImages        []PoolImage `json:"nodeImages,omitempty"`        // sorted by pool; only pools that change
}

// PoolImage is the node image one pool moves to.
type PoolImage struct {
	Pool             string `json:"pool"`
	NodeImageVersion string `json:"nodeImageVersion"`
}

// WakeAt asks the host for a Tick at At. Extra or early ticks are harmless.
type WakeAt struct{ At time.Time }

func (UpgradeMember) command() {}
func (WakeAt) command()        {}
