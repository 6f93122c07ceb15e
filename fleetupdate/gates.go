package fleetupdate

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Gates (Azure's approval and scheduled-start gates; DESIGN "Gates").
//
// A stage's before-gates are reached when the stage would start, a group's
// when its stage starts its groups, a group's after-gates when all its
// members have finished, a stage's after-gates when all its groups are done,
// alongside its after-stage wait. Reaching a gate makes it Pending and emits
// AwaitGate; CompleteGate (or, for ScheduledStart, the clock) completes it.

// ErrUnknownGate is returned for a CompleteGate whose gate is not in the run.
var ErrUnknownGate = errors.New("fleetupdate: unknown gate")

// GateID identifies one gate of a run: "<run>/<stage>/<timing>/<index>" for
// a stage's gate, "<run>/<stage>/<group>/<timing>/<index>" for a group's,
// timing being Before or After and index the gate's place in its list
// ("run-1/prod/Before/0", "run-1/prod/eu/After/1"). It is deterministic, so
// a host can name a gate before the run reaches it (but not complete it).
type GateID string

func gateID(run, stage, group string, timing GateTiming, index int) GateID {
	if group == "" {
		return GateID(run + "/" + stage + "/" + string(timing) + "/" + strconv.Itoa(index))
	}
	return GateID(run + "/" + stage + "/" + group + "/" + string(timing) + "/" + strconv.Itoa(index))
}

// CompleteGate completes a Pending gate: Azure's PATCH of the gate's state
// to Completed ("az fleet gate approve"). Completing a Completed gate again
// is accepted and changes nothing; a gate not reached yet (Azure: gates
// can't be pre-approved), a Skipped gate or an unknown one is refused. A
// gate may be completed while the run is Stopped.
type CompleteGate struct {
	At   time.Time
	Gate GateID
}

func (e CompleteGate) when() time.Time { return e.At }

// AwaitGate tells the host that the run reached a gate: whoever approves
// should be told (Azure raises FleetGateCreated). It is sent once, when the
// gate becomes Pending; Run.Outstanding repeats it for every gate still
// Pending, for a host that restarts.
type AwaitGate struct {
	Gate        GateID     `json:"gate"` // also the gate's gateId in status
	Type        GateType   `json:"type"`
	DisplayName string     `json:"displayName,omitempty"`
	Stage       string     `json:"stage"`
	Group       string     `json:"group,omitempty"` // empty for a stage's gate
	Timing      GateTiming `json:"timing"`
	StartAt     time.Time  `json:"startAt,omitzero"` // ScheduledStart: when it completes by itself
}

func (AwaitGate) command() {}

// planGate is one gate of the plan, fixed at New.
type planGate struct {
	id     GateID
	cfg    GateConfiguration
	stage  int32
	group  int32 // -1 for a stage's gate
	timing GateTiming

	// ScheduledStart, parsed: the weekday and minute after local midnight
	// at a fixed offset (seconds east of UTC).
	day    time.Weekday
	minute int
	offset int
}

// addGates appends a scope's gates to the plan and returns their indices.
func (p *plan) addGates(cfgs []GateConfiguration, stage, group int32, timing GateTiming) []int32 {
	var out []int32
	groupName := ""
	if group >= 0 {
		groupName = p.groups[group].name
	}
	for i, c := range cfgs {
		pg := planGate{id: gateID(p.name, p.stages[stage].name, groupName, timing, i), cfg: c, stage: stage, group: group, timing: timing}
		if s := c.ScheduledStartConfiguration; s != nil && c.Type == ScheduledStart {
			pg.day, _ = weekdayOf(s.StartDay)
			h, _ := strconv.Atoi(s.StartTime[:2])
			m, _ := strconv.Atoi(s.StartTime[3:])
			pg.minute = h*60 + m
			oh, _ := strconv.Atoi(s.UTCOffset[1:3])
			om, _ := strconv.Atoi(s.UTCOffset[4:])
			pg.offset = (oh*60 + om) * 60
			if s.UTCOffset[0] == '-' {
				pg.offset = -pg.offset
			}
		}
		k := int32(len(p.gates))
		p.gates = append(p.gates, pg)
		p.gateByID[pg.id] = k
		out = append(out, k)
	}
	return out
}

// nextOccurrence is when a ScheduledStart gate reached at t completes: the
// first startDay at startTime, in the gate's UTC offset, at or after t.
// Azure: "the system computes the next occurrence of the specified day and
// time"; reached Wednesday 03:00 for Wednesday 02:00, it waits a full week.
func (g *planGate) nextOccurrence(t time.Time) time.Time {
	loc := time.FixedZone("", g.offset)
	local := t.In(loc)
	days := (int(g.day) - int(local.Weekday()) + 7) % 7
	at := time.Date(local.Year(), local.Month(), local.Day()+days, g.minute/60, g.minute%60, 0, 0, loc)
	if at.Before(t) {
		at = at.AddDate(0, 0, 7)
	}
	return at.UTC()
}

// command is the AwaitGate for the gate, as reached.
func (g *planGate) command(p *plan, rec *gateRec) AwaitGate {
	c := AwaitGate{Gate: g.id, Type: g.cfg.Type, DisplayName: g.cfg.DisplayName, Stage: p.stages[g.stage].name, Timing: g.timing, StartAt: rec.startAt}
	if g.group >= 0 {
		c.Group = p.groups[g.group].name
	}
	return c
}

// settled: the gate no longer holds anything up.
func (g *gateRec) settled() bool { return g.state == Completed || g.state == Skipped }

func (b *stepper) gate(k int32) *gateRec { return b.s.gates.get(int(k)) }

func (b *stepper) mutGate(k int32) *gateRec {
	g := b.s.gates.get(int(k))
	if g.gen == b.gen {
		return g
	}
	c := *g
	c.gen = b.gen
	b.cold().gates = b.s.gates.set(b.gen, int(k), &c)
	return &c
}

// setGate moves gate k to a new state, keeping its group's done-ness in
// step. Every gate state change goes through here.
func (b *stepper) setGate(k int32, to State) {
	pg := &b.p.gates[k]
	was := false
	if pg.group >= 0 {
		was = b.r().groupDone(pg.group)
	}
	g := b.mutGate(k)
	g.state = to
	switch to {
	case Pending:
		g.start = b.s.clock
		if pg.cfg.Type == ScheduledStart {
			g.startAt = pg.nextOccurrence(b.s.clock)
			b.wakeAt(g.startAt)
		}
		b.emit(pg.command(b.p, g))
	case Completed, Skipped:
		g.end = b.s.clock
	}
	if pg.group >= 0 {
		b.regroup(pg.group, was)
	}
}

// reachGates makes the scope's gates not reached yet Pending.
func (b *stepper) reachGates(gates []int32) {
	for _, k := range gates {
		if b.gate(k).state == NotStarted {
			b.setGate(k, Pending)
		}
	}
}

// gatesSettled completes the scope's ScheduledStart gates whose time has
// come and reports whether none of its gates holds anything up.
func (b *stepper) gatesSettled(gates []int32) bool {
	ok := true
	for _, k := range gates {
		g := b.gate(k)
		if g.state == Pending && b.p.gates[k].cfg.Type == ScheduledStart && !b.s.clock.Before(g.startAt) {
			b.setGate(k, Completed)
			continue
		}
		ok = ok && g.settled()
	}
	return ok
}

// skipGates skips the scope's gates that are not Completed: "If a group or
// stage is skipped, then all gates within that group or stage automatically
// move to Skipped" (Azure, update-strategies-gates-approvals.md).
func (b *stepper) skipGates(gates []int32) {
	for _, k := range gates {
		if !b.gate(k).settled() {
			b.setGate(k, Skipped)
		}
	}
}

// settledAll reports whether none of the gates holds anything up.
func (r Run) settledAll(gates []int32) bool {
	for _, k := range gates {
		if !r.s.gates.get(int(k)).settled() {
			return false
		}
	}
	return true
}

// anyPending reports whether one of the gates is Pending.
func (r Run) anyPending(gates []int32) bool {
	for _, k := range gates {
		if r.s.gates.get(int(k)).state == Pending {
			return true
		}
	}
	return false
}

// completeGate applies CompleteGate to a Pending gate (Step has refused
// every other case).
func (b *stepper) completeGate(k int32) {
	b.setGate(k, Completed)
	if b.s.phase == Running {
		b.advance(b.p.gates[k].group)
	}
}

// checkCompleteGate says whether CompleteGate may complete the gate: nil
// for a Pending gate; noChange for a Completed one; an error otherwise.
func (r Run) checkCompleteGate(id GateID) (int32, error) {
	k, ok := r.p.gateByID[id]
	if !ok {
		return 0, fmt.Errorf("%w: %q is not a gate of run %q", ErrUnknownGate, id, r.p.name)
	}
	switch r.s.gates.get(int(k)).state {
	case NotStarted:
		return k, fmt.Errorf("%w: gate %q has not been reached; gates can't be pre-approved", ErrInvalidTransition, id)
	case Skipped:
		return k, fmt.Errorf("%w: gate %q was skipped with its stage or group", ErrInvalidTransition, id)
	case Completed:
		return k, errNoChange
	}
	return k, nil
}

// errNoChange: the event is accepted and changes nothing.
var errNoChange = errors.New("no change")

// pendingGates returns an AwaitGate for every Pending gate, in plan order.
// Only the active stage can hold one: a stage is done only when its gates
// and its groups' are settled, and skipping a stage settles them.
func (r Run) pendingGates() []AwaitGate {
	if r.s.stage >= len(r.p.stages) {
		return nil
	}
	var out []AwaitGate
	ps := &r.p.stages[r.s.stage]
	for _, k := range ps.gates {
		if g := r.s.gates.get(int(k)); g.state == Pending {
			out = append(out, r.p.gates[k].command(r.p, g))
		}
	}
	return out
}

// GateStatus is Azure's UpdateRunGateStatus.
type GateStatus struct {
	DisplayName string       `json:"displayName,omitempty"`
	GateID      GateID       `json:"gateId,omitempty"` // empty until the run reaches the gate, as in Azure
	Status      UpdateStatus `json:"status"`
}

func (r Run) gateStatuses(gates []int32) []GateStatus {
	if len(gates) == 0 {
		return nil
	}
	out := make([]GateStatus, 0, len(gates))
	for _, k := range gates {
		pg := &r.p.gates[k]
		g := r.s.gates.get(int(k))
		gs := GateStatus{DisplayName: pg.cfg.DisplayName, Status: UpdateStatus{State: g.state, StartTime: g.start, CompletedTime: g.end}}
		if !g.start.IsZero() {
			gs.GateID = pg.id
		}
		out = append(out, gs)
	}
	return out
}
