package fleetupdate

import (
	"fmt"
	"slices"
)

// check verifies the invariants that tie a run's state together, the ones
// every step keeps. It is the one place they are written down: the rapid
// state machine and the fuzzers call it after every step, and a decoder
// should call it on what it decoded. It costs O(members + gates).
func (r Run) check() error {
	p, s := r.p, r.s
	if p == nil || s == nil {
		return fmt.Errorf("run not made by New")
	}
	if len(s.stages) != len(p.stages) || s.groups.n != len(p.groups) || s.members.n != len(p.members) || s.gates.n != len(p.gates) {
		return fmt.Errorf("state sizes do not match the plan")
	}
	if s.stage < 0 || s.stage > len(p.stages) {
		return fmt.Errorf("active stage %d out of range", s.stage)
	}
	// Members: the group counters and the in-flight set agree with their states.
	var inflight []int32
	stageRunning := make([]int, len(p.stages))
	for g, pg := range p.groups {
		gr := s.groups.get(g)
		var running, completed, skipped, failed int32
		for _, id := range pg.members {
			m := s.members.get(int(id))
			switch m.state {
			case Running:
				running++
				inflight = append(inflight, id)
				if m.pinned == nil || m.op == "" {
					return fmt.Errorf("member %s is Running without an operation", m.data.Name)
				}
			case Completed:
				completed++
			case Skipped:
				skipped++
			case Failed:
				failed++
			case NotStarted, Pending:
			default:
				return fmt.Errorf("member %s is %s", m.data.Name, m.state)
			}
		}
		if running != gr.running || completed != gr.completed || skipped != gr.skipped || failed != gr.failed {
			return fmt.Errorf("group %s counts %d/%d/%d/%d running/completed/skipped/failed, its members %d/%d/%d/%d",
				pg.name, gr.running, gr.completed, gr.skipped, gr.failed, running, completed, skipped, failed)
		}
		stageRunning[pg.stage] += int(running)
	}
	slices.Sort(inflight)
	if !slices.Equal(inflight, s.inflight) {
		return fmt.Errorf("in flight %v, Running members %v", s.inflight, inflight)
	}
	// Stages: those before the active one are done, those after it have not
	// started; open groups are the groups not done.
	for i, ps := range p.stages {
		st := s.stages[i]
		switch {
		case i < s.stage && st.phase != stageDone:
			return fmt.Errorf("stage %s is before the active stage and not done", ps.name)
		case i > s.stage && st.phase != stageNotStarted:
			return fmt.Errorf("stage %s is after the active stage and started", ps.name)
		}
		if st.running != stageRunning[i] {
			return fmt.Errorf("stage %s counts %d running, its groups %d", ps.name, st.running, stageRunning[i])
		}
		open := 0
		if r.groupsStarted(i) {
			for _, g := range ps.groups {
				if !r.groupDone(g) {
					open++
				}
			}
		}
		if open != st.openGroups {
			return fmt.Errorf("stage %s counts %d open groups, has %d", ps.name, st.openGroups, open)
		}
	}
	// Gates: a Pending gate was reached and belongs to the active stage; a
	// reached ScheduledStart gate knows when it completes; a gate of a stage
	// not started yet is NotStarted or Skipped; a done stage's are settled.
	for k, pg := range p.gates {
		g := s.gates.get(k)
		switch g.state {
		case NotStarted:
			if !g.start.IsZero() || !g.end.IsZero() || !g.startAt.IsZero() {
				return fmt.Errorf("gate %s is NotStarted with times set", pg.id)
			}
		case Pending:
			if g.start.IsZero() || !g.end.IsZero() || int(pg.stage) != s.stage {
				return fmt.Errorf("gate %s is Pending (reached %v) in stage %d while stage %d is active", pg.id, g.start, pg.stage, s.stage)
			}
		case Completed, Skipped:
			if g.end.IsZero() {
				return fmt.Errorf("gate %s is %s without a time", pg.id, g.state)
			}
		default:
			return fmt.Errorf("gate %s is %s", pg.id, g.state)
		}
		if (pg.cfg.Type == ScheduledStart && !g.start.IsZero()) != !g.startAt.IsZero() {
			return fmt.Errorf("gate %s (%s) reached at %v has startAt %v", pg.id, pg.cfg.Type, g.start, g.startAt)
		}
		if s.stages[pg.stage].phase == stageDone && !g.settled() {
			return fmt.Errorf("gate %s is %s in a done stage", pg.id, g.state)
		}
	}
	// Wake-ups are sorted, unique and after the clock.
	for i, w := range s.wakes {
		if !w.After(s.clock) || i > 0 && !w.After(s.wakes[i-1]) {
			return fmt.Errorf("wake-ups %v are not sorted, unique and after the clock %v", s.wakes, s.clock)
		}
	}
	return nil
}
