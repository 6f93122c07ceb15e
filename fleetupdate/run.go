package fleetupdate

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fleetkit/fleetkit/internal/labelselector"
	"github.com/fleetkit/fleetkit/nodeimage"
	"github.com/fleetkit/fleetkit/window"
)

// Run is one update run: its plan (immutable after New) and its state at one
// point in time. A Run is a value: Step returns a new one and never changes
// the one it was given, and versions share structure, so keeping old runs
// is cheap. The zero Run is not usable; make one with New.
type Run struct {
	p *plan
	s *state
}

// plan is everything fixed at New.
type plan struct {
	name     string
	spec     json.RawMessage // the Spec as given to New, encoded: a deep copy that is cheap to make
	v        validated
	members  []Member         // the run's members as given to New, sorted by name; index = member id
	byName   map[string]int32 // member name → id
	groupOf  []int32          // member id → group id
	stages   []planStage
	groups   []planGroup
	gates    []planGate       // per stage: its before-gates, each group's before- and after-gates, its after-gates
	gateByID map[GateID]int32 // gate id → index in gates
}

type planStage struct {
	name        string
	groups      []int32 // global group ids
	limit       int     // resolved maxConcurrency across the stage
	maxFailures int     // resolved maxAllowedFailures over the stage's members; 0 when unset
	wait        time.Duration
	size        int
	before      []int32 // the stage's before-gates (indices into plan.gates)
	after       []int32 // its after-gates
	gates       []int32 // every gate of the stage and its groups, in plan order
}

type planGroup struct {
	name        string
	stage       int32
	limit       int     // resolved maxConcurrency, capped by the group size and the stage limit
	maxFailures int     // resolved maxAllowedFailures over the group's members; 0 when unset
	members     []int32 // ids, sorted (so by name)
	before      []int32 // the group's before-gates (indices into plan.gates)
	after       []int32 // its after-gates
}

// Stage phases, in the order a stage goes through them: NotStarted, Before
// (its before-gates are reached; its groups wait for them), Groups (its
// groups run), Waiting (its after-gates and its after-stage wait, together),
// Done. The values of NotStarted, Groups, Waiting and Done are those of
// schema version 1, which had no gates.
const (
	stageNotStarted = 0
	stageGroups     = 1
	stageWaiting    = 2 // after-gates and after-stage wait
	stageDone       = 3
	stageBefore     = 4
)

// Group phases, derived from the stage's phase, the group's gates and its
// members (groupPhase): nothing about them is stored but the gates' states.
type groupPhase uint8

const (
	groupNotStarted groupPhase = iota // its stage has not started its groups
	groupBefore                       // a before-gate holds it
	groupMembers                      // members to finish
	groupAfter                        // an after-gate holds it (not reached yet, or Pending)
	groupDone
)

// state is everything that changes. Fields are replaced, never mutated,
// unless owned by the step that is building them (see stepper).
type state struct {
	gen      uint64    // step counter; nodes created by step gen are its own to mutate
	clock    time.Time // never goes backwards
	failing  bool      // Stopping because a member failed: ends Failed, not Stopped
	started  bool      // the first Start happened: Consistent images are pinned
	inflight int32     // members with an op in flight (Running)
	*cold              // shared until a step changes it (stepper.cold)

	stage   int            // active stage; len(stages) once all are done
	stages  fvec[stageRec] // one per plan stage
	groups  fvec[groupRec]
	members fvec[memberRec]
	changes *stepChange // what the steps since the vectors' lineages were made set, newest first
}

// stepChange lists the members and groups one step set (Run.Changed). The
// list restarts whenever either vector moves to another lineage, so a run
// whose vectors are in the same lineages as an earlier version's holds, in
// its list after that version's, every slot set since.
type stepChange struct {
	prev *stepChange
	ids  []int32 // the members set, then the groups, then (-g-1, bucket) pairs
	nm   int32   // how many of ids are members
}

// running is the number of stage i's members in flight. Only the active
// stage has any: a stage with a member in flight is not done (the member's
// group is not), so the run cannot have moved past it.
func (s *state) running(i int) int {
	if i == s.stage {
		return int(s.inflight)
	}
	return 0
}

// cold is the part of the state that few steps change, kept apart so that
// a step copies it only when it does. Its fields are read through state;
// a step writes them only through stepper.cold.
type cold struct {
	phase   State // NotStarted, Running (shown as Pending when the stage is), Stopping, Stopped, Failed, Completed, Skipped; changes a few times a run
	start   time.Time
	end     time.Time
	errCode string // the run's summary error, set while failing or Failed
	errMsg  string

	catalog    *compiledCatalog
	selection  nodeimage.Selection // Consistent: the resolved (after Start: pinned) images
	unresolved map[int32]string    // Consistent: member id → why a pool has no target

	gates pvec[*gateRec] // one per plan gate; new in schema version 2
	wakes []time.Time    // requested wake-ups no Tick has reached yet, sorted, unique
}

type stageRec struct {
	*times            // start, end, waitEnd; written only through setTimes
	openGroups  int32 // groups not done (Run.groupDone); counted from stageGroups on, 0 before
	phase       int8  // stageNotStarted … stageBefore
	starved     bool  // a group wanted a slot the stage limit denied
	skipped     bool  // skipped by the user
	waitSkipped bool
}

// times holds when a stage started and ended and its wait ends, behind a
// pointer so that the records a step copies stay small; groupCold is its
// like for a group, with what else of a group changes a few times a run.
// Neither is changed once made: setTimes and stepper.setGroupCold make a
// new one.
type times struct {
	start, end time.Time
	waitEnd    time.Time
}

type groupCold struct {
	start, end  time.Time
	catalogWait *[]int32 // ids waiting for CatalogChanged (lazily pruned)
	userSkipped bool
}

// noTimes and noGroupCold are those of a record that has not started;
// never written.
var (
	noTimes     times
	noGroupCold groupCold
)

// setTimes gives a stage record's *times field a changed copy (groups':
// stepper.setGroupCold).
func setTimes(p **times, change func(t *times)) {
	t := **p
	change(&t)
	*p = &t
}

// gateRec is one gate's state. New in schema version 2; persist every field
// but gen.
//
// Invariants: state is NotStarted (not reached: start, end and startAt are
// zero), Pending (start is when it was reached), Completed or Skipped (end is
// when; start is zero for a gate skipped before it was reached). startAt is
// set exactly for a ScheduledStart gate that was reached: the next
// occurrence of its day and time at or after start. A Pending gate belongs to
// the run's active stage (its own gate or one of its groups').
type gateRec struct {
	gen     uint64
	state   State     // NotStarted, Pending, Completed or Skipped
	start   time.Time // when reached
	end     time.Time // when completed or skipped
	startAt time.Time // ScheduledStart: when it completes by itself
}

type groupRec struct {
	*groupCold // start, end, catalogWait, userSkipped; written only through stepper.setGroupCold
	running    int32
	completed  int32
	skipped    int32
	failed     int32
	buckets    bvec // the group's distinct windows, in the order the run met them
}

// waiting returns the ids waiting for CatalogChanged (some may have left).
func (g *groupRec) waiting() []int32 {
	if g.catalogWait == nil {
		return nil
	}
	return *g.catalogWait
}

// count adds d to the group's counter of members in state s, if it keeps one.
func (g *groupRec) count(s memberState, d int32) {
	switch s {
	case msRunning:
		g.running += d
	case msCompleted:
		g.completed += d
	case msSkipped:
		g.skipped += d
	case msFailed:
		g.failed += d
	}
}

// unfinished counts members not Completed, Skipped or Failed.
func (g *groupRec) unfinished(size int) int32 {
	return int32(size) - g.completed - g.skipped - g.failed
}

// bucketRec is one of a group's distinct maintenance windows: its members
// (memberRec.bucket) are picked in one queue, so a pick classifies each
// distinct window once instead of every member. The queues themselves are
// derived (groupIndex).
type bucketRec struct {
	gen         uint64
	*bucketKind           // never changes: a step that changes the record shares it
	reached     bool      // reached while closed: its NotStarted members show Pending
	opening     time.Time // next opening when reached
}

// bucketKind is a bucket's window, shared by every bucket (of any group)
// with the same window.
type bucketKind struct {
	key   string           // the window's JSON; "" for no window
	sched *window.Schedule // nil for no window
	comp  *window.Compiled // sched compiled; nil for no window
}

type memberRec struct {
	data             *Member
	pinned           *pinnedInputs // inputs of the first attempt; retries reuse them
	text             *memberText   // nil while every text is empty (most of the time)
	startSec, endSec int64         // the start and end times, packed (packTime)
	startNs, endNs   int32
	bucket           int32
	attempt          int32 // the op in flight, or the last one, is opID(run, member, attempt)
	ms               memberState
	waitCatalog      bool // Pending until CatalogChanged or MemberChanged
	removed          bool
}

// A member's times take 12 bytes each instead of time.Time's 24, as every
// step copies the records it changes: seconds since year 1 (so the zero
// time is 0) and nanoseconds, in UTC like the run's clock.
const unixToYear1 = 62135596800

func packTime(t time.Time) (int64, int32) {
	return t.Unix() + unixToYear1, int32(t.Nanosecond())
}

func unpackTime(sec int64, ns int32) time.Time {
	if sec == 0 && ns == 0 {
		return time.Time{}
	}
	return time.Unix(sec-unixToYear1, int64(ns)).UTC()
}

func (m *memberRec) start() time.Time     { return unpackTime(m.startSec, m.startNs) }
func (m *memberRec) end() time.Time       { return unpackTime(m.endSec, m.endNs) }
func (m *memberRec) setStart(t time.Time) { m.startSec, m.startNs = packTime(t) }
func (m *memberRec) setEnd(t time.Time)   { m.endSec, m.endNs = packTime(t) }

// memberState is a member's state in a byte, which keeps its record small.
type memberState uint8

// memberStates are the states a member can be in, by memberState.
var memberStates = [...]State{NotStarted, Running, Pending, Completed, Skipped, Failed}

// The memberStates that the step's counters name.
const (
	msRunning   memberState = 1
	msCompleted memberState = 3
	msSkipped   memberState = 4
	msFailed    memberState = 5
)

// finished: Completed, Skipped or Failed (groupRec.unfinished).
func (s memberState) finished() bool { return s >= msCompleted }

// memberStateOf returns the memberState of st, if st is a member state.
func memberStateOf(st State) (memberState, bool) {
	for i, s := range memberStates {
		if s == st {
			return memberState(i), true
		}
	}
	return 0, false
}

// state returns the member's state: NotStarted, Running, Pending,
// Completed, Skipped or Failed.
func (m *memberRec) state() State { return memberStates[m.ms] }

// memberText is a member's texts, behind a pointer so that the record a
// step copies stays small. It is never changed once made: setText makes a
// new one.
type memberText struct {
	note    string // message to show once completed (pools left alone)
	message string
	errCode string
	errMsg  string
}

var noText memberText

// tx returns the member's texts, for reading.
func (m *memberRec) tx() *memberText {
	if m.text == nil {
		return &noText
	}
	return m.text
}

// setText replaces the member's texts.
func (m *memberRec) setText(t memberText) {
	if t == noText {
		m.text = nil
		return
	}
	c := new(memberText) // t itself would be moved to the heap on every call
	*c = t
	m.text = c
}

// op returns the member's op in flight, or its last one ("" if none).
func (m *memberRec) op(run string) OpID {
	if m.attempt == 0 {
		return ""
	}
	return opID(run, m.data.Name, int(m.attempt))
}

// windowFor picks the member's window that gates this upgrade type (Fleet
// concepts doc: Full and control plane use aksManagedAutoUpgradeSchedule,
// node image only uses aksManagedNodeOSUpgradeSchedule).
func windowFor(m *Member, t UpgradeType) *window.Schedule {
	if t == NodeImageOnly {
		return m.NodeOSUpgradeWindow
	}
	return m.AutoUpgradeWindow
}

// compileWindow compiles a window the run holds (validated, so it compiles).
func compileWindow(s *window.Schedule) *window.Compiled {
	if s == nil {
		return nil
	}
	c, err := s.Compile()
	if err != nil {
		panic("fleetupdate: a validated window does not compile: " + err.Error())
	}
	return c
}

func scheduleKey(s *window.Schedule) string {
	if s == nil {
		return ""
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// New validates an update run and returns it NotStarted. Every error names
// the field and value and wraps ErrInvalidSpec; nothing is half-built.
//
// Each member goes to the group that selects it: by its memberSelector over
// Member.Labels, else by Member.Group naming it, within what its stage's
// memberSelector admits. Members no group selects are not in the run (with
// no strategy, every member is); a member two groups select is refused.
// Failure budgets and concurrency limits are resolved now. Consistent node
// images are resolved now, for status, and again at the first Start, when
// they are pinned.
func New(name string, spec Spec, members []Member, catalog Catalog) (Run, error) {
	r, err := newRun(name, spec, members, catalog)
	if err == nil {
		r.s.buildIndexes(r.p)
	}
	return r, err
}

// newRun is New without the picking indexes, for a decoded run, whose
// state replaces the one made here.
func newRun(name string, spec Spec, members []Member, catalog Catalog) (Run, error) {
	var errs []error
	if err := checkName("name", name); err != nil {
		errs = append(errs, err)
	}
	v, verrs := validateSpec(spec)
	errs = append(errs, verrs...)
	order := nameOrder(members)
	errs = append(errs, validateMembers(members, spec.ManagedClusterUpdate.Upgrade.Type, order)...)
	cat, err := compileCatalog(catalog)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return Run{}, errors.Join(errs...)
	}
	p, errs := buildPlan(name, spec, v, members, order)
	if len(errs) > 0 {
		return Run{}, errors.Join(errs...)
	}
	return Run{p: p, s: initialState(p, &cat)}, nil
}

// buildPlan makes the plan; order is nameOrder(members).
func buildPlan(name string, spec Spec, v validated, members []Member, order []int32) (*plan, problems) {
	specJSON, err := json.Marshal(spec)
	if err != nil {
		panic("fleetupdate: a validated spec does not encode: " + err.Error())
	}
	p := &plan{name: name, spec: specJSON, v: v, byName: make(map[string]int32, len(members)), gateByID: map[GateID]int32{}}
	// Who selects a group's members: the group's own memberSelector, else
	// Member.Group matching its name; a stage's memberSelector pre-filters
	// both, and without groups selects the members of its implicit group.
	byName := map[string]int32{}      // groups that match Member.Group
	var bySelector []int32            // groups with a selector of their own, and implicit groups
	var own []*labelselector.Selector // per group: its selector; for an implicit group, its stage's
	var where [][2]int                // per group, for errors: its stage and index there (-1: implicit)
	for si, st := range v.stages {
		ps := planStage{name: st.Name, wait: time.Duration(st.AfterStageWaitInSeconds) * time.Second}
		add := func(name string, sel *labelselector.Selector, w [2]int) {
			g := int32(len(p.groups))
			ps.groups = append(ps.groups, g)
			p.groups = append(p.groups, planGroup{name: name, stage: int32(si)})
			own = append(own, sel)
			where = append(where, w)
			if sel == nil {
				byName[name] = g
			} else {
				bySelector = append(bySelector, g)
			}
		}
		for gi, g := range st.Groups {
			add(g.Name, v.groupSel[si][gi], [2]int{si, gi})
		}
		if len(st.Groups) == 0 {
			add(st.Name, v.stageSel[si], [2]int{si, -1})
		}
		p.stages = append(p.stages, ps)
	}
	stageAdmits := func(g int32, m *Member) bool {
		sel := v.stageSel[p.groups[g].stage]
		return sel == nil || sel.Matches(m.Labels)
	}
	var errs problems
	p.members = make([]Member, 0, len(members))
	p.groupOf = make([]int32, 0, len(members))
	pools := 0
	for i := range members {
		pools += len(members[i].NodePools)
	}
	windows := newWindowCopies(pools)
	for _, i := range order {
		m := &members[i]
		var hits []int32
		if spec.Strategy == nil {
			hits = []int32{0}
		} else {
			if g, ok := byName[m.Group]; ok && stageAdmits(g, m) {
				hits = append(hits, g)
			}
			for _, g := range bySelector {
				if stageAdmits(g, m) && own[g].Matches(m.Labels) {
					hits = append(hits, g)
				}
			}
		}
		if len(hits) == 0 {
			continue // "a member whose group no stage names is not in the run"
		}
		if len(hits) > 1 {
			slices.Sort(hits)
			errs.add("member %q is selected into group %q (%s) and group %q (%s); a member may be in one group of a run",
				m.Name, p.groups[hits[0]].name, groupPath(where[hits[0]]), p.groups[hits[1]].name, groupPath(where[hits[1]]))
			continue
		}
		id := int32(len(p.members))
		p.members = append(p.members, *m)
		cloneMemberShared(&p.members[id], windows)
		p.byName[m.Name] = id
		p.groupOf = append(p.groupOf, hits[0])
	}
	// Each group's member ids (ascending) in one allocation.
	sizes := make([]int, len(p.groups))
	for _, g := range p.groupOf {
		sizes[g]++
	}
	ids := make([]int32, len(p.groupOf))
	for g, n := range sizes {
		if n > 0 {
			p.groups[g].members, ids = ids[:0:n], ids[n:]
		}
	}
	for id, g := range p.groupOf {
		p.groups[g].members = append(p.groups[g].members, int32(id))
	}
	// Azure concepts doc, "Maximum concurrency": percentages round down, minimum 1;
	// a group's limit is capped by its size and by the stage's.
	for si := range p.stages {
		ps := &p.stages[si]
		for _, g := range ps.groups {
			ps.size += len(p.groups[g].members)
		}
		st := &v.stages[si]
		ps.before = p.addGates(st.BeforeGates, int32(si), -1, Before)
		ps.gates = append(ps.gates, ps.before...)
		for gi, g := range ps.groups {
			if gi < len(st.Groups) {
				pg := &p.groups[g]
				pg.before = p.addGates(st.Groups[gi].BeforeGates, int32(si), g, Before)
				pg.after = p.addGates(st.Groups[gi].AfterGates, int32(si), g, After)
				ps.gates = append(append(ps.gates, pg.before...), pg.after...)
			}
		}
		ps.after = p.addGates(st.AfterGates, int32(si), -1, After)
		ps.gates = append(ps.gates, ps.after...)
		ps.limit = v.stageLim[si].resolve(ps.size)
		// Azure: "resolvedThreshold = ceil(p * N)", resolved when the run is created.
		ps.maxFailures = v.stageFail[si].resolve(ps.size)
		for gi, g := range ps.groups {
			pg := &p.groups[g]
			if gi >= len(st.Groups) {
				// The implicit group: "the stage maxConcurrency governs it
				// directly" (Azure FAQ), and so, here, does the stage's budget.
				pg.limit = max(1, min(ps.limit, len(pg.members)))
				pg.maxFailures = ps.maxFailures
				continue
			}
			pg.limit = max(1, min(v.groupLim[si][gi].resolve(len(pg.members)), len(pg.members), ps.limit))
			pg.maxFailures = v.groupFail[si][gi].resolve(len(pg.members))
		}
	}
	return p, errs
}

// groupPath names a group in the spec by its stage and index there (-1:
// the stage's implicit group).
func groupPath(at [2]int) string {
	if at[1] < 0 {
		return fmt.Sprintf("strategy.stages[%d], its implicit group", at[0])
	}
	return fmt.Sprintf("strategy.stages[%d].groups[%d]", at[0], at[1])
}

func initialState(p *plan, cat *compiledCatalog) *state {
	s := &state{cold: &cold{phase: NotStarted, catalog: cat}}
	// Records are made in place, in the vectors' entries (allocated together).
	s.members = newFvec[memberRec](len(p.members), s.gen)
	s.groups = newFvec[groupRec](len(p.groups), s.gen)
	// Each distinct window key gets a number; members share window copies
	// (cloneMemberShared), so a member's costs a lookup by pointer.
	var kinds []*bucketKind
	kindOf := map[*window.Schedule]int32{}
	kindByKey := map[string]int32{}
	// A group's buckets are in the order its members (ascending ids) meet
	// them; members are visited in id order, which is memory order.
	type groupKind struct{ group, kind int32 }
	bucketAt := map[groupKind]int32{}
	var found []groupKind // every group's buckets, as met
	sizes := make([]int32, len(p.groups))
	for id := range p.members {
		m, g := s.members.get(id), p.groupOf[id]
		m.data = &p.members[id]
		w := windowFor(m.data, p.v.upType)
		kind, ok := kindOf[w]
		if !ok {
			key := scheduleKey(w)
			if kind, ok = kindByKey[key]; !ok {
				kind = int32(len(kinds))
				kinds = append(kinds, &bucketKind{key: key, sched: w, comp: compileWindow(w)})
				kindByKey[key] = kind
			}
			kindOf[w] = kind
		}
		bi, ok := bucketAt[groupKind{g, kind}]
		if !ok {
			bi = sizes[g]
			sizes[g]++
			bucketAt[groupKind{g, kind}] = bi
			found = append(found, groupKind{g, kind})
		}
		m.bucket = bi
	}
	// The buckets in one allocation, laid out group by group; next[g] is
	// where group g's next bucket goes.
	next := make([]int32, len(p.groups))
	for g := 1; g < len(next); g++ {
		next[g] = next[g-1] + sizes[g-1]
	}
	bucketRecs := make([]bucketRec, len(found))
	bks := make([]*bucketRec, len(found))
	for _, f := range found {
		k := kinds[f.kind]
		b := &bucketRecs[next[f.group]]
		*b = bucketRec{bucketKind: k}
		bks[next[f.group]] = b
		next[f.group]++
	}
	// next[g] is now where group g's buckets end.
	for gi := range p.groups {
		end := next[gi]
		gr := s.groups.get(gi)
		gr.groupCold = &noGroupCold
		gr.buckets = newBvec(bks[end-sizes[gi]:end], s.gen)
	}
	gates := make([]*gateRec, len(p.gates))
	gateRecs := make([]gateRec, len(p.gates))
	for k := range gates {
		gateRecs[k].state = NotStarted
		gates[k] = &gateRecs[k]
	}
	s.gates = newPvec(gates)
	s.stages = newStages(len(p.stages), s.gen)
	s.resolveConsistent(p)
	return s
}

// resolveConsistent computes the Consistent selection from the current
// catalog and member data. s.cold must be s's own.
func (s *state) resolveConsistent(p *plan) {
	if p.v.selection != Consistent || p.v.upgradeType() == ControlPlaneOnly {
		return
	}
	var pools []nodeimage.Pool
	s.members.each(func(i int, r *memberRec) {
		for _, np := range r.data.NodePools {
			img, _ := nodeimage.Parse(np.NodeImageVersion)
			pools = append(pools, nodeimage.Pool{Member: r.data.Name, Name: np.Name, Region: r.data.Region, Image: img})
		}
	})
	sel, un := nodeimage.ResolveConsistent(s.catalog.images, pools)
	s.selection = sel
	s.unresolved = nil
	for _, u := range un {
		if s.unresolved == nil {
			s.unresolved = map[int32]string{}
		}
		id := p.byName[u.Pool.Member]
		if _, dup := s.unresolved[id]; !dup {
			s.unresolved[id] = fmt.Sprintf("no consistent node image for agent pool %q: %s", u.Pool.Name, u.Reason)
		}
	}
}

func (v validated) upgradeType() UpgradeType { return v.upType }

// Name returns the run's name.
func (r Run) Name() string {
	if r.p == nil {
		return ""
	}
	return r.p.name
}

// Spec returns the spec the run was made with: the inline strategy that
// runs, and the updateStrategyId it was copied from, if any. It is a copy;
// changing it changes nothing in the run.
func (r Run) Spec() Spec {
	if r.p == nil {
		return Spec{}
	}
	b, err := json.Marshal(r.p.spec)
	if err != nil {
		panic(err) // a validated spec always encodes
	}
	var out Spec
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err) // and decodes
	}
	return out
}

// Clock returns the latest event time the run has seen.
func (r Run) Clock() time.Time {
	if r.s == nil {
		return time.Time{}
	}
	return r.s.clock
}

// State returns the run's state as Status shows it.
func (r Run) State() State {
	if r.s == nil {
		return ""
	}
	return r.runState()
}

// NextWake returns the earliest Tick the run has asked for and not yet
// seen. A host that keeps a single timer re-arms it here after every step.
func (r Run) NextWake() (time.Time, bool) {
	if r.s == nil || len(r.s.wakes) == 0 {
		return time.Time{}, false
	}
	return r.s.wakes[0], true
}

// Done reports whether the run will do nothing more on its own: it is
// Completed or Skipped (final), or Failed or Stopped (idle until a user's
// Start). Nothing is in flight in any of them, so a host loop may stop.
func (r Run) Done() bool {
	if r.s == nil {
		return true
	}
	switch r.s.phase {
	case Completed, Skipped, Failed, Stopped:
		return true
	}
	return false
}

// InFlight returns the upgrades the run is waiting on, sorted by member. A
// host that restarts re-sends them (UpgradeMember is idempotent per Op).
func (r Run) InFlight() []UpgradeMember {
	if r.s == nil {
		return nil
	}
	out := make([]UpgradeMember, 0, int(r.s.inflight))
	for _, id := range r.inflightIDs() {
		out = append(out, r.s.members.get(int(id)).command(r.p))
	}
	return out
}

// Outstanding returns every command the run is still owed, for a host that
// restarts (host contract, rule 5): an UpgradeMember for each upgrade in
// flight (sorted by member), an AwaitGate for each Pending gate (in strategy
// order), then a WakeAt for each wake-up asked for and not yet seen (sorted
// by time). A host that performs them finishes the run exactly as one that
// never stopped.
func (r Run) Outstanding() []Command {
	if r.s == nil {
		return nil
	}
	gates := r.pendingGates()
	out := make([]Command, 0, int(r.s.inflight)+len(gates)+len(r.s.wakes))
	for _, u := range r.InFlight() {
		out = append(out, u)
	}
	for _, g := range gates {
		out = append(out, g)
	}
	for _, t := range r.s.wakes {
		out = append(out, WakeAt{At: t})
	}
	return out
}

// inflightIDs returns the ids of the members in flight, sorted: it looks at
// the members of the groups with any (restarts and stops need them; a step
// needs only their count).
func (r Run) inflightIDs() []int32 {
	var ids []int32
	if r.s.inflight == 0 {
		return nil
	}
	for g := range r.p.groups {
		if r.s.groups.get(g).running == 0 {
			continue
		}
		for _, id := range r.p.groups[g].members {
			if r.s.members.get(int(id)).state() == Running {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	return ids
}

// command is the UpgradeMember for the member's op: its pinned inputs, with
// a slice of its own so callers cannot reach the run's state.
func (m *memberRec) command(p *plan) UpgradeMember {
	return UpgradeMember{Op: m.op(p.name), Member: m.data.Name, Type: p.v.upType,
		KubernetesVersion: m.pinned.KubernetesVersion, NodeImages: slices.Clone(m.pinned.NodeImages)}
}

// newStages returns version ver of n stage records that have not started.
func newStages(n int, ver uint64) fvec[stageRec] {
	v := newFvec[stageRec](n, ver)
	for i := range n {
		v.get(i).times = &noTimes
	}
	return v
}
