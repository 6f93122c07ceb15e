package fleetupdate

import (
	"slices"
	"time"

	"github.com/fleetkit/fleetkit/nodeimage"
)

// Status is Azure's UpdateRunStatus, with the same JSON.
type Status struct {
	Status             UpdateStatus              `json:"status"`
	Stages             []StageStatus             `json:"stages"`
	NodeImageSelection *NodeImageSelectionStatus `json:"nodeImageSelection,omitempty"` // Consistent and Custom
	FailureCount       int                       `json:"failureCount"`                 // members whose latest attempt failed
}

// UpdateStatus is Azure's UpdateStatus.
type UpdateStatus struct {
	State         State        `json:"state"`
	StartTime     time.Time    `json:"startTime,omitzero"`
	CompletedTime time.Time    `json:"completedTime,omitzero"`
	Error         *ErrorDetail `json:"error,omitempty"`
}

// ErrorDetail is Azure's ErrorDetail (code and message).
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// StageStatus is Azure's UpdateStageStatus.
type StageStatus struct {
	Name                 string        `json:"name"`
	Status               UpdateStatus  `json:"status"`
	FailureCount         int           `json:"failureCount"`       // members of the stage whose latest attempt failed
	MaxAllowedFailures   int           `json:"maxAllowedFailures"` // resolved; the stage fails when FailureCount exceeds it
	MaxConcurrency       int           `json:"maxConcurrency"`     // resolved
	Groups               []GroupStatus `json:"groups"`
	BeforeGates          []GateStatus  `json:"beforeGates,omitempty"`
	AfterGates           []GateStatus  `json:"afterGates,omitempty"`
	AfterStageWaitStatus *WaitStatus   `json:"afterStageWaitStatus,omitempty"` // only when the stage has a wait
}

// GroupStatus is Azure's UpdateGroupStatus.
type GroupStatus struct {
	Name               string         `json:"name"`
	Status             UpdateStatus   `json:"status"`
	FailureCount       int            `json:"failureCount"`       // members of the group whose latest attempt failed
	MaxAllowedFailures int            `json:"maxAllowedFailures"` // resolved; the group fails when FailureCount exceeds it
	MaxConcurrency     int            `json:"maxConcurrency"`     // resolved
	Members            []MemberStatus `json:"members"`
	BeforeGates        []GateStatus   `json:"beforeGates,omitempty"`
	AfterGates         []GateStatus   `json:"afterGates,omitempty"`
}

// MemberStatus is Azure's MemberUpdateStatus.
type MemberStatus struct {
	Name              string       `json:"name"`
	ClusterResourceID string       `json:"clusterResourceId,omitempty"`
	OperationID       OpID         `json:"operationId,omitempty"`
	Status            UpdateStatus `json:"status"`
	Message           string       `json:"message,omitempty"`
}

// WaitStatus is Azure's WaitStatus.
type WaitStatus struct {
	Status                UpdateStatus `json:"status"`
	WaitDurationInSeconds int          `json:"waitDurationInSeconds"`
}

// NodeImageSelectionStatus is Azure's NodeImageSelectionStatus.
type NodeImageSelectionStatus struct {
	SelectedNodeImageVersions []NodeImageVersion `json:"selectedNodeImageVersions"`
}

// Status returns the run's status tree. It costs O(members).
func (r Run) Status() Status { return r.status(true) }

// Overview returns the status tree without its members (every group's
// Members is nil): O(stages + groups), for hosts that poll a large run and
// read members one at a time with Member.
func (r Run) Overview() Status { return r.status(false) }

func (r Run) status(withMembers bool) Status {
	if r.p == nil || r.s == nil {
		return Status{}
	}
	st := Status{Status: UpdateStatus{State: r.runState(), StartTime: r.s.start, CompletedTime: r.s.end}, FailureCount: r.failureCount()}
	if r.s.errCode != "" {
		st.Status.Error = &ErrorDetail{Code: r.s.errCode, Message: r.s.errMsg}
	}
	for i, ps := range r.p.stages {
		sr := r.s.stages.get(i)
		ss := StageStatus{Name: ps.name, Status: UpdateStatus{State: r.stageState(i), StartTime: sr.start, CompletedTime: sr.end},
			FailureCount: r.stageFailures(i), MaxAllowedFailures: ps.maxFailures, MaxConcurrency: ps.limit,
			BeforeGates: r.gateStatuses(ps.before), AfterGates: r.gateStatuses(ps.after)}
		for _, g := range ps.groups {
			gs := r.groupStatus(g, withMembers)
			if gs.Status.State == Failed && ss.Status.Error == nil {
				ss.Status.Error = gs.Status.Error
			}
			ss.Groups = append(ss.Groups, gs)
		}
		if ss.Status.Error == nil && r.stageOverBudget(i) {
			ss.Status.Error = r.scopeError(budgetSummary("stage", ps.name, ss.FailureCount, ps.maxFailures), ps.groups...)
		}
		if ps.wait > 0 {
			ws := &WaitStatus{WaitDurationInSeconds: int(ps.wait / time.Second), Status: UpdateStatus{State: NotStarted}}
			switch {
			case sr.waitSkipped:
				ws.Status.State = Skipped
				ws.Status.CompletedTime = sr.end
			case sr.waitEnd.IsZero():
			case r.s.clock.Before(sr.waitEnd):
				ws.Status = UpdateStatus{State: Running, StartTime: sr.waitEnd.Add(-ps.wait)}
				if r.s.phase != Running {
					ws.Status.State = Stopped
				}
			default: // over, though after-gates may still hold the stage
				ws.Status = UpdateStatus{State: Completed, StartTime: sr.waitEnd.Add(-ps.wait), CompletedTime: sr.waitEnd}
			}
			ss.AfterStageWaitStatus = ws
		}
		st.Stages = append(st.Stages, ss)
	}
	if r.p.v.upType != ControlPlaneOnly {
		var sel nodeimage.Selection
		switch r.p.v.selection {
		case Consistent:
			sel = r.s.selection
		case Custom:
			sel = r.p.v.custom
		}
		if r.p.v.selection != Latest {
			ns := &NodeImageSelectionStatus{SelectedNodeImageVersions: []NodeImageVersion{}}
			for _, img := range sel {
				ns.SelectedNodeImageVersions = append(ns.SelectedNodeImageVersions, NodeImageVersion{Version: img.String()})
			}
			st.NodeImageSelection = ns
		}
	}
	return st
}

// runState derives the run's shown state: Running shows as Pending when
// the current stage is Pending (Azure concepts doc, "Update Run states").
func (r Run) runState() State {
	if r.s.phase == Running && r.s.stage < len(r.p.stages) && r.stageState(r.s.stage) == Pending {
		return Pending
	}
	return r.s.phase
}

func (r Run) stageState(i int) State {
	sr := r.s.stages.get(i)
	ps := r.p.stages[i]
	if r.stageOverBudget(i) {
		return Failed
	}
	allSkipped, anyRunning, anyPending := true, false, false
	for _, g := range ps.groups {
		switch r.groupState(g) {
		case Failed:
			return Failed
		case Skipped:
		case Running, Stopping:
			anyRunning = true
			allSkipped = false
		case Pending:
			anyPending = true
			allSkipped = false
		default:
			allSkipped = false
		}
	}
	switch {
	case sr.phase == stageDone || sr.skipped && r.s.running(i) == 0:
		// "Skipped when all children are Skipped"; a stage skipped after some
		// of its groups completed shows Completed.
		if allSkipped {
			return Skipped
		}
		return Completed
	case sr.phase == stageNotStarted:
		return NotStarted
	}
	switch r.s.phase {
	case Stopping:
		return Stopping
	case Stopped, Failed:
		return Stopped
	}
	switch {
	case sr.phase == stageBefore:
		// "A stage is Pending if … it has a Pending gate."
		return Pending
	case sr.phase == stageWaiting && r.anyPending(ps.after):
		return Pending
	case sr.phase == stageWaiting || anyRunning || !anyPending:
		return Running
	}
	// "A stage is Pending if all Update Groups in the stage are Pending or not started."
	return Pending
}

func (r Run) groupState(g int32) State {
	gr := r.s.groups.get(int(g))
	pg := r.p.groups[g]
	size := len(pg.members)
	open := gr.unfinished(size)
	switch {
	case r.groupOverBudget(g):
		return Failed
	case open == 0 && r.settledAll(pg.before) && r.settledAll(pg.after):
		if gr.skipped == int32(size) {
			return Skipped
		}
		return Completed
	case !r.groupsStarted(int(pg.stage)):
		return NotStarted
	case gr.running > 0 && r.s.phase == Stopping:
		return Stopping
	case gr.running > 0:
		return Running
	case r.s.phase == Stopped || r.s.phase == Failed || r.s.phase == Stopping:
		return Stopped
	case r.s.phase == NotStarted:
		return NotStarted
	}
	// "A group is Pending if all clusters in the group are Pending or not
	// started, or if it has a Pending gate."
	return Pending
}

func (r Run) groupStatus(g int32, withMembers bool) GroupStatus {
	gr := r.s.groups.get(int(g))
	pg := r.p.groups[g]
	gs := GroupStatus{Name: pg.name, Status: UpdateStatus{State: r.groupState(g), StartTime: gr.start, CompletedTime: gr.end},
		FailureCount: int(gr.failed), MaxAllowedFailures: pg.maxFailures, MaxConcurrency: pg.limit,
		BeforeGates: r.gateStatuses(pg.before), AfterGates: r.gateStatuses(pg.after)}
	if withMembers {
		gs.Members = make([]MemberStatus, 0, len(pg.members))
		for _, id := range pg.members {
			gs.Members = append(gs.Members, r.memberStatus(id, gr))
		}
	}
	if gs.Status.State == Failed {
		gs.Status.Error = r.scopeError(budgetSummary("group", pg.name, int(gr.failed), pg.maxFailures), g)
	}
	return gs
}

// scopeError is the error of a group or stage over its budget: the summary,
// then the first failed member of its groups.
func (r Run) scopeError(summary string, groups ...int32) *ErrorDetail {
	for _, g := range groups {
		if r.s.groups.get(int(g)).failed == 0 {
			continue
		}
		for _, id := range r.p.groups[g].members {
			if m := r.s.members.get(int(id)); m.state() == Failed {
				return &ErrorDetail{Code: m.tx().errCode, Message: summary + failureSummary(m.data.Name, m.tx().errMsg)}
			}
		}
	}
	return &ErrorDetail{Code: "UpgradeFailed", Message: summary}
}

// Member returns one member's status as Status shows it, without building
// the whole tree: O(1) for the newest version of a run (an older one walks
// the member's later values). ok is false for a name not in the run.
func (r Run) Member(name string) (MemberStatus, bool) {
	if r.p == nil || r.s == nil {
		return MemberStatus{}, false
	}
	id, ok := r.p.byName[name]
	if !ok {
		return MemberStatus{}, false
	}
	return r.memberStatus(id, r.s.groups.get(int(r.p.groupOf[id]))), true
}

// memberStatus is member id's status; gr is its group's record, which a
// caller reading a whole group reads once (an old version reads a slot of
// the vector in O(its newer entries), fvec.get).
func (r Run) memberStatus(id int32, gr *groupRec) MemberStatus {
	m := r.s.members.get(int(id))
	ms := MemberStatus{
		Name:              m.data.Name,
		ClusterResourceID: m.data.ClusterResourceID,
		OperationID:       m.op(r.p.name),
		Status:            UpdateStatus{State: m.state(), StartTime: m.start(), CompletedTime: m.end()},
		Message:           m.tx().message,
	}
	switch m.state() {
	case Running:
		if r.s.phase == Stopping {
			ms.Status.State = Stopping
		}
	case Failed:
		ms.Status.Error = &ErrorDetail{Code: m.tx().errCode, Message: m.tx().errMsg}
	case Pending:
		if t := m.tx(); t.errCode != "" { // waiting for a version its region does not offer yet
			ms.Status.Error = &ErrorDetail{Code: t.errCode, Message: t.errMsg}
		}
	case NotStarted:
		if bk := gr.buckets.get(int(m.bucket)); bk.reached {
			ms.Status.State = Pending
			if bk.opening.IsZero() {
				ms.Message = "maintenance window is not open and does not open again"
			} else {
				ms.Message = "maintenance window is not open; next opening " + bk.opening.Format(time.RFC3339)
			}
		}
	}
	return ms
}

// changedSince returns the members and groups set between s and a later
// version t, sorted and unique, or nil, nil when that is not known (the
// vectors moved to other lineages): compare them all.
func (s *state) changedSince(t *state) (members []int32, buckets map[int32][]int32, ok bool) {
	if s.members.l != t.members.l || s.groups.l != t.groups.l {
		return nil, nil, false
	}
	members = []int32{}
	for c := t.changes; c != s.changes; c = c.prev {
		if c == nil {
			return nil, nil, false // s is not an earlier version of t
		}
		members = append(members, c.ids[:c.nm]...)
		rest := c.ids[c.nm:]
		for len(rest) > 0 && rest[0] >= 0 {
			rest = rest[1:] // groups: only their buckets show in members' status
		}
		for ; len(rest) >= 2; rest = rest[2:] {
			g := -rest[0] - 1
			if buckets == nil {
				buckets = map[int32][]int32{}
			}
			buckets[g] = append(buckets[g], rest[1])
		}
	}
	slices.Sort(members)
	return slices.Compact(members), buckets, true
}

// Changed returns the names of the members whose MemberStatus may differ
// between prev and r, sorted: a host learns what a step did without diffing
// Status. prev should be an earlier version of r (the run given to Step);
// versions note what each step set, so the cost is O(changes × log
// changes). Otherwise every member is compared, O(members); for runs that
// share nothing (a decoded copy), every member is named.
func (r Run) Changed(prev Run) []string {
	if r.p == nil || r.s == nil {
		return nil
	}
	changed := map[int32]bool{}
	if prev.p != r.p || prev.s == nil {
		r.s.members.each(func(i int, _ *memberRec) { changed[int32(i)] = true })
	} else {
		members, buckets, known := prev.s.changedSince(r.s)
		if !known {
			members = nil // compare them all
		}
		prev.s.members.diff(r.s.members, members, func(i int) { changed[int32(i)] = true })
		// A NotStarted member shows Pending while its bucket is reached.
		if !known {
			buckets = map[int32][]int32{}
			for g := range r.p.groups {
				if prev.s.groups.get(g).buckets != r.s.groups.get(g).buckets {
					buckets[int32(g)] = nil // all
				}
			}
		}
		for g, set := range buckets { // the order does not matter: changed is a set
			was, now := prev.s.groups.get(int(g)), r.s.groups.get(int(g))
			if set == nil {
				for bi := range now.buckets.n {
					set = append(set, int32(bi))
				}
			}
			var moved map[int32]bool // buckets whose reached flag or opening changed
			for _, bi := range set {
				bk := now.buckets.get(int(bi))
				if int(bi) < was.buckets.n {
					if old := was.buckets.get(int(bi)); old.reached == bk.reached && old.opening.Equal(bk.opening) {
						continue
					}
				}
				if moved == nil {
					moved = map[int32]bool{}
				}
				moved[bi] = true
			}
			if moved == nil {
				continue
			}
			for _, id := range r.p.groups[g].members {
				if moved[r.s.members.get(int(id)).bucket] {
					changed[id] = true
				}
			}
		}
		// Members in flight show Stopping while the run is.
		if (prev.s.phase == Stopping) != (r.s.phase == Stopping) {
			for _, id := range r.inflightIDs() {
				changed[id] = true
			}
		}
	}
	ids := make([]int32, 0, len(changed))
	for id := range changed {
		ids = append(ids, id)
	}
	slices.Sort(ids) // ids are in name order
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = r.p.members[id].Name
	}
	return out
}
