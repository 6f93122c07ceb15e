package fleetupdate

import (
	"slices"
	"time"
)

// The run's progress, one step function per phase (DESIGN, "Shape of the
// reducer"). A stage goes NotStarted → Before → Groups → Waiting → Done; a
// group, once its stage has started its groups, Before → Members → After →
// Done. advance drives the active stage; each step function returns whether
// its scope moved to its next phase.

// groupsStarted: the stage has started its groups (they may be running,
// waiting or done).
func (r Run) groupsStarted(stage int) bool {
	switch r.s.stages.get(stage).phase {
	case stageGroups, stageWaiting, stageDone:
		return true
	}
	return false
}

// groupPhase derives a group's phase from its stage's phase, its gates and
// its members: the one answer to "what is this group doing".
func (r Run) groupPhase(g int32) groupPhase {
	pg := &r.p.groups[g]
	switch {
	case !r.groupsStarted(int(pg.stage)):
		return groupNotStarted
	case !r.settledAll(pg.before):
		return groupBefore
	case r.s.groups.get(int(g)).unfinished(len(pg.members)) > 0:
		return groupMembers
	case !r.settledAll(pg.after):
		return groupAfter
	}
	return groupDone
}

// groupDone is the one answer to "is this group finished": its stage has
// started it, every member has finished, and no gate of it holds anything up.
func (r Run) groupDone(g int32) bool { return r.groupPhase(g) == groupDone }

// regroup keeps the stage's count of open groups and the group's completion
// time in step after group g's members or gates changed; wasDone is
// groupDone(g) from before the change.
func (b *stepper) regroup(g int32, wasDone bool) {
	isDone := b.r().groupDone(g)
	if isDone == wasDone {
		return
	}
	st := b.stage(int(b.p.groups[g].stage))
	gr := b.mutGroup(g)
	if isDone {
		st.openGroups--
		b.setGroupCold(gr, func(c *groupCold) { c.end = b.s.clock })
	} else {
		st.openGroups++
		b.setGroupCold(gr, func(c *groupCold) { c.end = time.Time{} })
	}
}

// advance makes all the progress the run can make now: it steps the active
// stage through its phases and on to the next stage. hint is the group
// whose member or gate just changed, or -1 to look at every group.
func (b *stepper) advance(hint int32) {
	for b.s.phase == Running && b.s.stage < len(b.p.stages) {
		i := b.s.stage
		var next bool
		switch b.s.stages.get(i).phase {
		case stageNotStarted:
			next = b.stageNotStarted(i)
		case stageBefore:
			next = b.stageBefore(i)
		case stageGroups:
			next = b.stageGroups(i, hint)
		case stageWaiting:
			next = b.stageWaiting(i)
		case stageDone:
			b.s.stage++
			next = true
		}
		if !next {
			return
		}
		hint = -1
	}
	if b.s.phase == Running && b.s.stage >= len(b.p.stages) {
		b.cold().phase = Completed
		if b.allStagesSkipped() {
			b.cold().phase = Skipped
		}
		b.cold().end = b.s.clock
		b.cold().wakes = nil // a final run ignores ticks: it owes none
	}
}

// stageNotStarted: the run reaches the stage; its before-gates become Pending.
func (b *stepper) stageNotStarted(i int) bool {
	st := b.stage(i)
	st.phase = stageBefore
	setTimes(&st.times, func(t *times) { t.start = b.s.clock })
	b.reachGates(b.p.stages[i].before)
	return true
}

// stageBefore: once every before-gate is settled the stage starts its
// groups, and the groups' before-gates are reached.
func (b *stepper) stageBefore(i int) bool {
	if !b.gatesSettled(b.p.stages[i].before) {
		return false
	}
	st := b.stage(i)
	st.phase = stageGroups
	started := &groupCold{start: b.s.clock} // shared: never changed in place
	// Every group changes, and most start a member now: room to note a
	// group and a member each, and for a command each, at once.
	n := len(b.p.stages[i].groups)
	b.gw.expect(n)
	b.mw.expect(n)
	b.cmds = slices.Grow(b.cmds, n)
	for _, g := range b.p.stages[i].groups {
		gr := b.mutGroup(g)
		if *gr.groupCold == noGroupCold {
			gr.groupCold = started
		} else {
			b.setGroupCold(gr, func(c *groupCold) { c.start = b.s.clock })
		}
		if b.r().groupDone(g) {
			b.setGroupCold(gr, func(c *groupCold) { c.end = b.s.clock })
		} else {
			st.openGroups++
		}
	}
	for _, g := range b.p.stages[i].groups {
		b.reachGates(b.p.groups[g].before)
	}
	return true
}

// stageGroups steps the stage's groups; once all are done, the stage's
// after-gates and its after-stage wait start together (Azure: "The
// after-stage wait begins at the same time as the approval").
func (b *stepper) stageGroups(i int, hint int32) bool {
	b.stepGroups(i, hint)
	if b.s.phase != Running || b.s.stages.get(i).openGroups > 0 {
		return false
	}
	st := b.stage(i)
	st.phase = stageWaiting
	if w := b.p.stages[i].wait; w > 0 && !st.waitSkipped {
		setTimes(&st.times, func(t *times) { t.waitEnd = b.s.clock.Add(w) })
		b.wakeAt(st.waitEnd)
	}
	b.reachGates(b.p.stages[i].after)
	return true
}

// stageWaiting: the stage is done when its wait is over (or skipped) and
// its after-gates are settled ("Both must be completed before the update
// run continues").
func (b *stepper) stageWaiting(i int) bool {
	st := b.s.stages.get(i)
	if b.p.stages[i].wait > 0 && !st.waitSkipped && b.s.clock.Before(st.waitEnd) {
		return false
	}
	if !b.gatesSettled(b.p.stages[i].after) {
		return false
	}
	st = b.stage(i)
	st.phase = stageDone
	setTimes(&st.times, func(t *times) { t.end = b.s.clock })
	return true
}

func (b *stepper) allStagesSkipped() bool {
	for i := range b.p.stages {
		if b.r().stageState(i) != Skipped {
			return false
		}
	}
	return true
}

// stepGroups steps the stage's groups: only the hinted one when a member or
// gate of it changed and no group waits for a stage slot, else all of them.
func (b *stepper) stepGroups(stage int, hint int32) {
	if hint >= 0 && b.p.groups[hint].stage != int32(stage) {
		return // a change in another stage frees nothing here
	}
	if hint >= 0 && !b.s.stages.get(stage).starved {
		b.stepGroup(stage, hint)
		return
	}
	if b.s.stages.get(stage).starved {
		b.stage(stage).starved = false
	}
	for _, g := range b.p.stages[stage].groups {
		b.stepGroup(stage, g)
		if b.s.phase != Running {
			return
		}
	}
}

// stepGroup makes the progress group g can make now, phase by phase.
func (b *stepper) stepGroup(stage int, g int32) {
	pg := &b.p.groups[g]
	for b.s.phase == Running {
		switch b.r().groupPhase(g) {
		case groupBefore:
			if !b.gatesSettled(pg.before) {
				return
			}
		case groupMembers:
			b.fillGroup(stage, g)
			if b.r().groupPhase(g) == groupMembers {
				return
			}
		case groupAfter:
			b.reachGates(pg.after)
			return
		default:
			return
		}
	}
}

// fillGroup starts the group's members while slots are free.
func (b *stepper) fillGroup(stage int, g int32) {
	pg := &b.p.groups[g]
	for b.s.phase == Running {
		gr := b.group(g)
		if gr.userSkipped || gr.running >= int32(pg.limit) || gr.unfinished(len(pg.members))-gr.running <= 0 {
			return
		}
		if b.s.running(stage) >= b.p.stages[stage].limit {
			b.stage(stage).starved = true
			return
		}
		if !b.pick(g) {
			return
		}
	}
}
