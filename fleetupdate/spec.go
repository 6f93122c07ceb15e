package fleetupdate

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fleetkit/fleetkit/internal/kversion"
	"github.com/fleetkit/fleetkit/internal/labelselector"
	"github.com/fleetkit/fleetkit/nodeimage"
	"github.com/fleetkit/fleetkit/window"
)

// Sentinel errors. Every error this package returns wraps one of them.
var (
	ErrInvalidSpec        = errors.New("fleetupdate: invalid update run")
	ErrInvalidTransition  = errors.New("fleetupdate: not allowed now")
	ErrUnknownTarget      = errors.New("fleetupdate: unknown skip target")
	ErrStaleOperation     = errors.New("fleetupdate: operation is not in flight")
	ErrUnsupportedVersion = errors.New("fleetupdate: unsupported encoding version")
	ErrInvalidEncoding    = errors.New("fleetupdate: invalid encoding")
)

// UpgradeType is Azure's ManagedClusterUpgradeType.
type UpgradeType string

// The upgrade types.
const (
	Full             UpgradeType = "Full"             // control plane and every node pool, node images included
	ControlPlaneOnly UpgradeType = "ControlPlaneOnly" // the control plane's Kubernetes version only
	NodeImageOnly    UpgradeType = "NodeImageOnly"    // node images only
)

// NodeImageSelectionType is Azure's NodeImageSelectionType.
type NodeImageSelectionType string

// The node image selections.
const (
	Latest     NodeImageSelectionType = "Latest"     // newest in the member's region when its upgrade starts
	Consistent NodeImageSelectionType = "Consistent" // newest available in every region of the run, pinned at the first Start
	Custom     NodeImageSelectionType = "Custom"     // customNodeImageVersions, at most one per family
)

// State is Azure's UpdateState.
type State string

// Azure's eight states.
const (
	NotStarted State = "NotStarted"
	Running    State = "Running"
	Stopping   State = "Stopping"
	Stopped    State = "Stopped"
	Skipped    State = "Skipped"
	Failed     State = "Failed"
	Pending    State = "Pending"
	Completed  State = "Completed"
)

// Spec is what an update run does: Azure's UpdateRun properties
// (`strategy`, `managedClusterUpdate`, `updateStrategyId`), with the same
// JSON. Unmarshalling is strict: unknown fields are refused at every level.
type Spec struct {
	// UpdateStrategyID is the ARM id of the FleetUpdateStrategy the inline
	// Strategy was copied from. It is kept and shown, never fetched: Azure
	// snapshots a strategy into the run when it is created, and so must the
	// caller. Set without Strategy, New refuses it.
	UpdateStrategyID     string               `json:"updateStrategyId,omitempty"`
	Strategy             *Strategy            `json:"strategy,omitempty"` // nil: one stage, one group, one by one
	ManagedClusterUpdate ManagedClusterUpdate `json:"managedClusterUpdate"`
}

// Strategy is Azure's UpdateRunStrategy: stages run one after another.
type Strategy struct {
	Stages []Stage `json:"stages"`
}

// Stage is Azure's UpdateStage: its groups run in parallel.
type Stage struct {
	Name   string  `json:"name"`
	Groups []Group `json:"groups,omitempty"` // required unless MemberSelector is set
	// AfterStageWaitInSeconds is Azure's int32: 0 to 2,147,483,647.
	AfterStageWaitInSeconds int    `json:"afterStageWaitInSeconds,omitempty"`
	MaxConcurrency          string `json:"maxConcurrency,omitempty"` // "N" or "P%"; default 50
	// MaxAllowedFailures is how many of the stage's members may fail before
	// the stage fails: "N", or "P%" of its members rounded up; default 0.
	MaxAllowedFailures string              `json:"maxAllowedFailures,omitempty"`
	MemberSelector     *MemberSelector     `json:"memberSelector,omitempty"` // pre-filters the groups' members; without groups, one implicit group
	BeforeGates        []GateConfiguration `json:"beforeGates,omitempty"`    // reached when the stage would start
	AfterGates         []GateConfiguration `json:"afterGates,omitempty"`     // reached with the after-stage wait
}

// Group is Azure's UpdateGroup: members whose Member.Group is Name (or,
// with a MemberSelector, whose labels it selects), updated up to
// MaxConcurrency at a time.
type Group struct {
	Name           string `json:"name"`
	MaxConcurrency string `json:"maxConcurrency,omitempty"` // "N" or "P%"; default 1
	// MaxAllowedFailures is how many of the group's members may fail before
	// the group fails: "N", or "P%" of its members rounded up; default 0,
	// whatever its stage allows.
	MaxAllowedFailures string              `json:"maxAllowedFailures,omitempty"`
	MemberSelector     *MemberSelector     `json:"memberSelector,omitempty"` // replaces matching Member.Group with Name
	BeforeGates        []GateConfiguration `json:"beforeGates,omitempty"`    // reached when the stage starts its groups
	AfterGates         []GateConfiguration `json:"afterGates,omitempty"`     // reached when every member has finished
}

// MemberSelector is Azure's MemberSelector: a Kubernetes label selector
// over Member.Labels ("env=prod,tier in (web,api),!canary").
type MemberSelector struct {
	ByLabel string `json:"byLabel"`
}

// GateType is Azure's GateType.
type GateType string

// The gate types.
const (
	Approval       GateType = "Approval"       // completed by a CompleteGate event
	ScheduledStart GateType = "ScheduledStart" // completes by itself at its next occurrence, or earlier by CompleteGate
)

// GateTiming says whether a gate stands before or after its stage or group
// (Azure's Timing).
type GateTiming string

// The gate timings.
const (
	Before GateTiming = "Before"
	After  GateTiming = "After"
)

// GateConfiguration is Azure's GateConfiguration: one gate before or after
// a stage or group.
type GateConfiguration struct {
	DisplayName                 string                       `json:"displayName,omitempty"` // 1–100 characters when set
	Type                        GateType                     `json:"type"`
	ScheduledStartConfiguration *ScheduledStartConfiguration `json:"scheduledStartConfiguration,omitempty"` // iff Type is ScheduledStart
}

// ScheduledStartConfiguration is Azure's ScheduledStartConfiguration: a
// weekly time at a fixed UTC offset.
type ScheduledStartConfiguration struct {
	StartDay  window.Weekday `json:"startDay"`  // "Monday" … "Sunday"
	StartTime string         `json:"startTime"` // "HH:mm"
	UTCOffset string         `json:"utcOffset"` // "±hh:mm", -13:59 to +14:00
}

// ManagedClusterUpdate is Azure's ManagedClusterUpdate.
type ManagedClusterUpdate struct {
	Upgrade            UpgradeSpec         `json:"upgrade"`
	NodeImageSelection *NodeImageSelection `json:"nodeImageSelection,omitempty"` // nil: Latest
}

// UpgradeSpec is Azure's ManagedClusterUpgradeSpec.
type UpgradeSpec struct {
	Type              UpgradeType `json:"type"`
	KubernetesVersion string      `json:"kubernetesVersion,omitempty"` // required for Full and ControlPlaneOnly, forbidden for NodeImageOnly
}

// NodeImageSelection is Azure's NodeImageSelection.
type NodeImageSelection struct {
	Type                    NodeImageSelectionType `json:"type"`
	CustomNodeImageVersions []NodeImageVersion     `json:"customNodeImageVersions,omitempty"` // iff Custom
}

// NodeImageVersion is Azure's NodeImageVersion: {"version": "AKSUbuntu-…"}.
type NodeImageVersion struct {
	Version string `json:"version"`
}

// Member is a fleet member cluster as the run sees it: plain input data.
type Member struct {
	Name                string           `json:"name"`
	Group               string           `json:"group,omitempty"`
	Region              string           `json:"region"`
	KubernetesVersion   string           `json:"kubernetesVersion"`
	NodePools           []NodePool       `json:"nodePools,omitempty"`
	AutoUpgradeWindow   *window.Schedule `json:"autoUpgradeWindow,omitempty"`   // gates Full and ControlPlaneOnly
	NodeOSUpgradeWindow *window.Schedule `json:"nodeOSUpgradeWindow,omitempty"` // gates NodeImageOnly
	ClusterResourceID   string           `json:"clusterResourceId,omitempty"`
	// Labels are the fleet member's labels (FleetMemberProperties.labels),
	// which memberSelector.byLabel selects on.
	Labels map[string]string `json:"labels,omitempty"`
	// LongTermSupport says the cluster is on AKS's long-term-support plan,
	// so it may skip minor versions (AKS docs: LTS clusters may upgrade
	// straight to a higher LTS version).
	LongTermSupport bool `json:"longTermSupport,omitempty"`
}

// NodePool is one agent pool of a member.
type NodePool struct {
	Name              string `json:"name"`
	NodeImageVersion  string `json:"nodeImageVersion"`            // e.g. AKSUbuntu-2204gen2containerd-202405.27.0
	KubernetesVersion string `json:"kubernetesVersion,omitempty"` // empty: same as the control plane
}

// Catalog is what each region offers now.
type Catalog struct {
	Regions map[string]RegionCatalog `json:"regions"`
}

// RegionCatalog lists a region's Kubernetes and node image versions.
type RegionCatalog struct {
	KubernetesVersions []string `json:"kubernetesVersions"`
	NodeImageVersions  []string `json:"nodeImageVersions"`
}

// Azure's name rule for fleets' child resources, stages and groups.
// validName: 1–50 characters matching ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$
// (checked by hand: New checks every member's name).
func validName(name string) bool {
	if len(name) < 1 || len(name) > 50 || name[0] == '-' || name[len(name)-1] == '-' {
		return false
	}
	for i := range len(name) {
		if c := name[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func checkName(field, name string) error {
	if !validName(name) {
		return fmt.Errorf("%w: %s %q: must be 1–50 characters of a-z, 0-9 and '-', starting and ending with a letter or digit", ErrInvalidSpec, field, name)
	}
	return nil
}

// concurrency is a parsed maxConcurrency: n clusters, or pct percent.
type concurrency struct{ n, pct int }

var concurrencyPattern = regexp.MustCompile(`^(?:([1-9]\d*)|([1-9]\d?|100)%)$`)

func parseConcurrency(field, s string) (concurrency, error) {
	m := concurrencyPattern.FindStringSubmatch(s)
	if m == nil {
		return concurrency{}, fmt.Errorf("%w: %s %q: must be a whole number from 1, or a percentage from 1%% to 100%%", ErrInvalidSpec, field, s)
	}
	if m[1] != "" {
		n, err := strconv.Atoi(m[1])
		if err != nil || n > math.MaxInt32 {
			return concurrency{}, fmt.Errorf("%w: %s %q: at most %d (Azure's int32)", ErrInvalidSpec, field, s, math.MaxInt32)
		}
		return concurrency{n: n}, nil
	}
	p, _ := strconv.Atoi(m[2])
	return concurrency{pct: p}, nil
}

// failures is a parsed maxAllowedFailures: n members, or pct percent.
type failures struct {
	n, pct int
	isPct  bool
}

var failuresPattern = regexp.MustCompile(`^(?:(0|[1-9]\d*)|(0|[1-9]\d?|100)%)$`)

func parseFailures(field, s string) (failures, error) {
	m := failuresPattern.FindStringSubmatch(s)
	if m == nil {
		return failures{}, fmt.Errorf("%w: %s %q: must be a whole number from 0, or a percentage from 0%% to 100%%", ErrInvalidSpec, field, s)
	}
	if m[1] != "" {
		n, err := strconv.Atoi(m[1])
		if err != nil || n > math.MaxInt32 {
			return failures{}, fmt.Errorf("%w: %s %q: at most %d (Azure's int32)", ErrInvalidSpec, field, s, math.MaxInt32)
		}
		return failures{n: n}, nil
	}
	p, _ := strconv.Atoi(m[2])
	return failures{pct: p, isPct: true}, nil
}

// resolve turns a budget into a number of members for a scope of size:
// percentages round up (Azure: resolvedThreshold = ceil(p * N)).
func (f failures) resolve(size int) int {
	if !f.isPct {
		return f.n
	}
	return (size*f.pct + 99) / 100
}

// resolve turns a limit into a number for a population of size: percentages
// round down with a minimum of 1 (Azure concepts doc, "Maximum concurrency").
func (c concurrency) resolve(size int) int {
	if c.pct == 0 {
		return c.n
	}
	return max(1, size*c.pct/100)
}

// Azure limits (concepts-update-orchestration.md).
const (
	maxGroupsPerStage     = 50
	maxStageConcurrency   = 50
	maxSelectorLength     = 512 // MemberSelector.byLabel
	maxDisplayName        = 100 // GateConfiguration.displayName
	defaultStageLimit     = 50
	defaultGroupLimit     = 1
	defaultStageName      = "default"
	defaultGroupName      = "default"
	codeUpgradeNotAllowed = "UpgradeNotAllowed"
)

// CodeNodeImageVersionNotAvailable is the AKS error code for a target node
// image not yet offered in the member's region. An UpgradeFailed with this
// code makes the member Pending until the catalog changes, as Fleet does
// (howto-monitor-update-runs.md), instead of failing the run.
const CodeNodeImageVersionNotAvailable = "NodeImageVersionNotAvailable"

// CodeKubernetesVersionNotAvailable is the error code status shows for a
// member Pending because its region does not offer the target Kubernetes
// version yet. Azure documents no code for this case; the name is
// fleetkit's, patterned on CodeNodeImageVersionNotAvailable.
const CodeKubernetesVersionNotAvailable = "KubernetesVersionNotAvailable"

// validated is what validation derives from a Spec, shared by New and decode.
type validated struct {
	upType    UpgradeType
	target    kversion.Version // zero for NodeImageOnly
	selection NodeImageSelectionType
	custom    nodeimage.Selection
	stages    []Stage // the strategy, or the implicit one-by-one stage
	stageLim  []concurrency
	groupLim  [][]concurrency
	stageFail []failures                  // maxAllowedFailures per stage; zero when unset
	groupFail [][]failures                // per group of each stage
	stageSel  []*labelselector.Selector   // memberSelector per stage; nil when unset
	groupSel  [][]*labelselector.Selector // per group of each stage
}

// problems collects validation errors, each wrapping ErrInvalidSpec.
type problems []error

func (p *problems) add(format string, a ...any) {
	*p = append(*p, fmt.Errorf("%w: "+format, append([]any{ErrInvalidSpec}, a...)...))
}

func validateSpec(spec Spec) (validated, problems) {
	var v validated
	var errs problems
	bad := errs.add

	up := spec.ManagedClusterUpdate.Upgrade
	v.upType = up.Type
	switch up.Type {
	case Full, ControlPlaneOnly:
		if up.KubernetesVersion == "" {
			bad("managedClusterUpdate.upgrade.kubernetesVersion: required when upgrade type is %s", up.Type)
		} else if t, err := kversion.Parse(up.KubernetesVersion); err != nil {
			bad("managedClusterUpdate.upgrade.kubernetesVersion %q: want 1.30 or 1.30.5", up.KubernetesVersion)
		} else {
			v.target = t
		}
	case NodeImageOnly:
		if up.KubernetesVersion != "" {
			bad("managedClusterUpdate.upgrade.kubernetesVersion %q: must not be set when upgrade type is NodeImageOnly", up.KubernetesVersion)
		}
	default:
		bad("managedClusterUpdate.upgrade.type %q: must be Full, ControlPlaneOnly or NodeImageOnly", up.Type)
	}

	v.selection = Latest
	if sel := spec.ManagedClusterUpdate.NodeImageSelection; sel != nil {
		v.selection = sel.Type
		switch sel.Type {
		case Latest, Consistent:
			if len(sel.CustomNodeImageVersions) > 0 {
				bad("managedClusterUpdate.nodeImageSelection.customNodeImageVersions: must be empty unless type is Custom")
			}
		case Custom:
			if len(sel.CustomNodeImageVersions) == 0 {
				bad("managedClusterUpdate.nodeImageSelection.customNodeImageVersions: required when type is Custom")
			}
			vs := make([]string, len(sel.CustomNodeImageVersions))
			for i, c := range sel.CustomNodeImageVersions {
				vs[i] = c.Version
			}
			custom, err := nodeimage.NewCustom(vs)
			if err != nil {
				bad("managedClusterUpdate.nodeImageSelection.customNodeImageVersions: %v", err)
			}
			v.custom = custom
		default:
			bad("managedClusterUpdate.nodeImageSelection.type %q: must be Latest, Consistent or Custom", sel.Type)
		}
	}

	if spec.Strategy == nil {
		if spec.UpdateStrategyID != "" {
			bad("updateStrategyId %q: fleetkit does not fetch strategies; pass the strategy inline as strategy (Azure snapshots it into the run the same way) and keep updateStrategyId next to it", spec.UpdateStrategyID)
		}
		v.stages = []Stage{{Name: defaultStageName, Groups: []Group{{Name: defaultGroupName}}}}
	} else {
		v.stages = spec.Strategy.Stages
		if len(v.stages) == 0 {
			bad("strategy.stages: at least one stage is required")
		}
	}
	stageSeen := map[string]bool{}
	groupSeen := map[string]string{}
	for i, st := range v.stages {
		where := fmt.Sprintf("strategy.stages[%d]", i)
		if err := checkName(where+".name", st.Name); err != nil {
			errs = append(errs, err)
		}
		if stageSeen[st.Name] {
			bad("%s.name %q: stage names must be unique", where, st.Name)
		}
		stageSeen[st.Name] = true
		if len(st.Groups) == 0 && st.MemberSelector == nil {
			bad("%s.groups: at least one group is required unless the stage has a memberSelector", where)
		}
		if len(st.Groups) > maxGroupsPerStage {
			bad("%s.groups: %d groups; at most %d per stage", where, len(st.Groups), maxGroupsPerStage)
		}
		if st.AfterStageWaitInSeconds < 0 || st.AfterStageWaitInSeconds > math.MaxInt32 {
			bad("%s.afterStageWaitInSeconds %d: must be from 0 to %d (Azure's int32)", where, st.AfterStageWaitInSeconds, math.MaxInt32)
		}
		sl := concurrency{n: defaultStageLimit}
		if st.MaxConcurrency != "" {
			c, err := parseConcurrency(where+".maxConcurrency", st.MaxConcurrency)
			if err != nil {
				errs = append(errs, err)
			} else if c.n > maxStageConcurrency {
				bad("%s.maxConcurrency %q: at most %d (Azure's system limit)", where, st.MaxConcurrency, maxStageConcurrency)
			} else {
				sl = c
			}
		}
		v.stageLim = append(v.stageLim, sl)
		sf, ss, serrs := checkScope(where, st.MaxAllowedFailures, st.MemberSelector, st.BeforeGates, st.AfterGates)
		errs = append(errs, serrs...)
		v.stageFail = append(v.stageFail, sf)
		v.stageSel = append(v.stageSel, ss)
		if len(st.Groups) == 0 && st.MemberSelector != nil {
			// Azure: "If specified without UpdateGroup, one implicit group
			// containing the selected members will be created"; it takes the
			// stage's name, which no other group may have.
			if prev, ok := groupSeen[st.Name]; ok {
				bad("%s.name %q: the stage's implicit group takes its name, which %s has", where, st.Name, prev)
			}
			groupSeen[st.Name] = where + " (its implicit group)"
		}
		var gls []concurrency
		var gfs []failures
		var gss []*labelselector.Selector
		for j, g := range st.Groups {
			gw := where + ".groups[" + strconv.Itoa(j) + "]"
			if !validName(g.Name) {
				errs = append(errs, checkName(gw+".name", g.Name))
			}
			if prev, ok := groupSeen[g.Name]; ok {
				bad("%s.name %q: group already named in %s", gw, g.Name, prev)
			}
			groupSeen[g.Name] = gw
			gl := concurrency{n: defaultGroupLimit}
			if g.MaxConcurrency != "" {
				c, err := parseConcurrency(gw+".maxConcurrency", g.MaxConcurrency)
				if err != nil {
					errs = append(errs, err)
				} else {
					gl = c
				}
			}
			gls = append(gls, gl)
			gf, gs, gerrs := checkScope(gw, g.MaxAllowedFailures, g.MemberSelector, g.BeforeGates, g.AfterGates)
			errs = append(errs, gerrs...)
			gfs = append(gfs, gf)
			gss = append(gss, gs)
		}
		v.groupLim = append(v.groupLim, gls)
		v.groupFail = append(v.groupFail, gfs)
		v.groupSel = append(v.groupSel, gss)
	}
	return v, errs
}

// checkScope checks what stages and groups share: failure budget, member
// selector and gates. It returns the parsed budget and selector.
func checkScope(where, maxFailures string, sel *MemberSelector, before, after []GateConfiguration) (failures, *labelselector.Selector, problems) {
	var errs problems
	bad := errs.add
	var budget failures
	if maxFailures != "" {
		f, err := parseFailures(where+".maxAllowedFailures", maxFailures)
		if err != nil {
			errs = append(errs, err)
		}
		budget = f
	}
	var selector *labelselector.Selector
	if sel != nil {
		if sel.ByLabel == "" || len(sel.ByLabel) > maxSelectorLength {
			bad("%s.memberSelector.byLabel: required, at most %d characters; got %d", where, maxSelectorLength, len(sel.ByLabel))
		} else if ls, err := labelselector.Parse(sel.ByLabel); err != nil {
			bad("%s.memberSelector.byLabel: %v", where, err)
		} else {
			selector = &ls
		}
	}
	for _, gs := range []struct {
		field  string
		gates  []GateConfiguration
		timing GateTiming
	}{{"beforeGates", before, Before}, {"afterGates", after, After}} {
		for k, g := range gs.gates {
			errs = append(errs, checkGate(fmt.Sprintf("%s.%s[%d]", where, gs.field, k), g, gs.timing)...)
		}
	}
	return budget, selector, errs
}

// Azure's patterns for a ScheduledStart gate (gate.tsp).
var (
	startTimePattern = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	utcOffsetPattern = regexp.MustCompile(`^[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00)$`)
)

func checkGate(where string, g GateConfiguration, timing GateTiming) problems {
	var errs problems
	bad := errs.add
	if n := utf8.RuneCountInString(g.DisplayName); n > maxDisplayName {
		bad("%s.displayName: %d characters; at most %d", where, n, maxDisplayName)
	}
	switch g.Type {
	case Approval:
		if g.ScheduledStartConfiguration != nil {
			bad("%s.scheduledStartConfiguration: only for type ScheduledStart", where)
		}
	case ScheduledStart:
		if timing == After {
			// Azure: ScheduledStart gates are allowed before a stage or group only.
			bad("%s.type ScheduledStart: allowed in beforeGates only", where)
		}
		c := g.ScheduledStartConfiguration
		if c == nil {
			bad("%s.scheduledStartConfiguration: required for type ScheduledStart", where)
			break
		}
		if _, ok := weekdayOf(c.StartDay); !ok {
			bad("%s.scheduledStartConfiguration.startDay %q: must be Monday, Tuesday, Wednesday, Thursday, Friday, Saturday or Sunday", where, c.StartDay)
		}
		if !startTimePattern.MatchString(c.StartTime) {
			bad("%s.scheduledStartConfiguration.startTime %q: want HH:mm, 00:00 to 23:59", where, c.StartTime)
		}
		if !utcOffsetPattern.MatchString(c.UTCOffset) {
			bad("%s.scheduledStartConfiguration.utcOffset %q: want ±hh:mm, -13:59 to +14:00", where, c.UTCOffset)
		}
	default:
		bad("%s.type %q: must be Approval or ScheduledStart", where, g.Type)
	}
	return errs
}

// weekdayOf maps Azure's DayOfWeek to time.Weekday.
func weekdayOf(d window.Weekday) (time.Weekday, bool) {
	for w := time.Sunday; w <= time.Saturday; w++ {
		if string(d) == w.String() {
			return w, true
		}
	}
	return 0, false
}

// nameOrder returns the members' indices in name order (then index order).
func nameOrder(members []Member) []int32 {
	order := make([]int32, len(members))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		if c := strings.Compare(members[a].Name, members[b].Name); c != 0 {
			return c
		}
		return int(a - b)
	})
	return order
}

// validateMembers checks what New is given; order is nameOrder(members).
func validateMembers(members []Member, up UpgradeType, order []int32) problems {
	var errs problems
	bad := errs.add
	repeated := make([]bool, len(members)) // a member before it has its name
	for k := 1; k < len(order); k++ {
		repeated[order[k]] = members[order[k]].Name == members[order[k-1]].Name
	}
	var seen validVersions
	for i := range members {
		m := &members[i]
		where := func() string { return "members[" + strconv.Itoa(i) + "]" }
		if !validName(m.Name) {
			errs = append(errs, checkName(where()+".name", m.Name))
		}
		if repeated[i] {
			bad("%s.name %q: member names must be unique", where(), m.Name)
		}
		errs = append(errs, validateMemberAt(where, m, up, &seen)...)
	}
	return errs
}

// validVersions remembers versions and windows already found valid: a
// fleet's members share a handful, and checking every member's again
// dominated New. Its zero value is ready.
type validVersions struct {
	k8s, images validSet
	windows     map[*window.Schedule]struct{} // a window is not changed during New
}

// validSet remembers strings a parser accepted. The last is compared first:
// the same string is usually the same pointer, which is cheap to compare.
type validSet struct {
	last string
	set  map[string]struct{}
}

// check is parse(v), remembered when nil.
func (c *validSet) check(v string, parse func(string) error) error {
	if v == c.last && v != "" {
		return nil
	}
	if _, ok := c.set[v]; ok {
		c.last = v
		return nil
	}
	if err := parse(v); err != nil {
		return err
	}
	if c.set == nil {
		c.set = map[string]struct{}{}
	}
	c.set[v], c.last = struct{}{}, v
	return nil
}

func parseK8s(v string) error   { _, err := kversion.Parse(v); return err }
func parseImage(v string) error { _, err := nodeimage.Parse(v); return err }

// windowErr is s.Validate(), remembered for s when nil.
func (seen *validVersions) windowErr(s *window.Schedule) error {
	if _, ok := seen.windows[s]; ok {
		return nil
	}
	if err := s.Validate(); err != nil {
		return err
	}
	if seen.windows == nil {
		seen.windows = map[*window.Schedule]struct{}{}
	}
	seen.windows[s] = struct{}{}
	return nil
}

// validateMember checks one member's data; MemberChanged uses it too.
func validateMember(where string, m Member, up UpgradeType) problems {
	return validateMemberAt(func() string { return where }, &m, up, &validVersions{})
}

// validateMemberAt is validateMember naming the member only on error;
// seen spares checking again what it has found valid.
func validateMemberAt(w func() string, m *Member, up UpgradeType, seen *validVersions) problems {
	var errs problems
	bad := errs.add
	if m.Group != "" && !validName(m.Group) {
		errs = append(errs, checkName(w()+".group", m.Group))
	}
	if m.Region == "" {
		bad("%s (%s).region: required", w(), m.Name)
	}
	if m.KubernetesVersion == "" && up != NodeImageOnly {
		bad("%s (%s).kubernetesVersion: required for a %s upgrade", w(), m.Name, up)
	}
	if m.KubernetesVersion != "" && seen.k8s.check(m.KubernetesVersion, parseK8s) != nil {
		bad("%s (%s).kubernetesVersion %q: want 1.30.5", w(), m.Name, m.KubernetesVersion)
	}
	for j, p := range m.NodePools {
		pw := func() string { return fmt.Sprintf("%s (%s).nodePools[%d]", w(), m.Name, j) }
		if p.Name == "" || slices.ContainsFunc(m.NodePools[:j], func(q NodePool) bool { return q.Name == p.Name }) {
			bad("%s.name %q: required and unique within the member", pw(), p.Name)
		}
		if p.NodeImageVersion != "" {
			if err := seen.images.check(p.NodeImageVersion, parseImage); err != nil {
				bad("%s.nodeImageVersion: %v", pw(), err)
			}
		}
		if p.KubernetesVersion != "" && seen.k8s.check(p.KubernetesVersion, parseK8s) != nil {
			bad("%s.kubernetesVersion %q: want 1.30.5", pw(), p.KubernetesVersion)
		}
	}
	for _, win := range []struct {
		field string
		s     *window.Schedule
	}{{"autoUpgradeWindow", m.AutoUpgradeWindow}, {"nodeOSUpgradeWindow", m.NodeOSUpgradeWindow}} {
		if win.s != nil {
			if err := seen.windowErr(win.s); err != nil {
				bad("%s (%s).%s: %v", w(), m.Name, win.field, err)
			}
		}
	}
	return errs
}

// compiledCatalog is a Catalog parsed once.
type compiledCatalog struct {
	src     Catalog
	images  nodeimage.Catalog
	regions map[string]catalogRegion
}

// catalogRegion is what decide reads of one region, worked out once per
// catalog so that a member's start parses and formats no catalog version.
type catalogRegion struct {
	k8s     []kversion.Version     // offered versions, in the catalog's order
	k8sText []string               // their String, for UpgradeMember
	latest  map[string]latestImage // family → its newest offered image
}

// latestImage is nodeimage.ResolveLatest's answer and its String.
type latestImage struct {
	img  nodeimage.Image
	text string
}

func compileCatalog(c Catalog) (compiledCatalog, error) {
	imgs := make(map[string][]string, len(c.Regions))
	regions := make(map[string]catalogRegion, len(c.Regions))
	var errs []string
	for r, rc := range c.Regions {
		imgs[r] = rc.NodeImageVersions
		var cr catalogRegion
		for _, k := range rc.KubernetesVersions {
			v, err := kversion.Parse(k)
			if err != nil {
				errs = append(errs, fmt.Sprintf("catalog region %q: kubernetesVersions %q: want 1.30.5", r, k))
			}
			cr.k8s = append(cr.k8s, v)
			cr.k8sText = append(cr.k8sText, v.String())
		}
		regions[r] = cr
	}
	if len(errs) > 0 {
		slices.Sort(errs)
		return compiledCatalog{}, fmt.Errorf("%w: %s", ErrInvalidSpec, strings.Join(errs, "; "))
	}
	ic, err := nodeimage.NewCatalog(imgs)
	if err != nil {
		return compiledCatalog{}, fmt.Errorf("%w: %v", ErrInvalidSpec, err)
	}
	for r, cr := range regions {
		for _, img := range ic.Images(r) {
			if _, ok := cr.latest[img.Family]; ok {
				continue
			}
			if cr.latest == nil {
				cr.latest = map[string]latestImage{}
			}
			l, _ := nodeimage.ResolveLatest(ic, r, img.Family)
			cr.latest[img.Family] = latestImage{l, l.String()}
		}
		regions[r] = cr
	}
	return compiledCatalog{src: cloneCatalog(c), images: ic, regions: regions}, nil
}
