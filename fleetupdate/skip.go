package fleetupdate

// Skips: members, groups (with their gates), stages (with theirs) and
// after-stage waits.

import (
	"errors"
	"fmt"
)

func (b *stepper) skip(targets []SkipTarget) error {
	if len(targets) == 0 {
		return fmt.Errorf("%w: no targets", ErrUnknownTarget)
	}
	var errs []error
	for _, t := range targets {
		if err := b.checkTarget(t); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, t := range targets {
		switch t.Type {
		case TargetMember:
			b.skipMember(b.p.byName[t.Name], "skipped by user")
		case TargetGroup:
			b.skipGroup(b.p.groupIndex(t.Name), fmt.Sprintf("skipped by user: group %q", t.Name))
		case TargetStage:
			i := b.p.stageIndex(t.Name)
			st := b.stage(i)
			st.skipped, st.waitSkipped = true, true
			b.skipGates(b.p.stages[i].before)
			for _, g := range b.p.stages[i].groups {
				b.skipGroup(g, fmt.Sprintf("skipped by user: stage %q", t.Name))
			}
			b.skipGates(b.p.stages[i].after)
		case TargetAfterStageWait:
			b.stage(b.p.stageIndex(t.Name)).waitSkipped = true
		}
	}
	if b.s.phase == Running {
		b.advance(-1)
	}
	return nil
}

func (b *stepper) checkTarget(t SkipTarget) error {
	switch t.Type {
	case TargetMember:
		id, ok := b.p.byName[t.Name]
		if !ok {
			return fmt.Errorf("%w: member %q is not in this run", ErrUnknownTarget, t.Name)
		}
		switch m := b.member(id); m.state() {
		case Running:
			return fmt.Errorf("%w: member %q is being upgraded (operation %s); it cannot be skipped", ErrInvalidTransition, t.Name, m.op(b.p.name))
		case Completed:
			return fmt.Errorf("%w: member %q has already completed", ErrInvalidTransition, t.Name)
		}
	case TargetGroup:
		if b.p.groupIndex(t.Name) < 0 {
			return fmt.Errorf("%w: group %q is not in this run's strategy", ErrUnknownTarget, t.Name)
		}
	case TargetStage:
		i := b.p.stageIndex(t.Name)
		if i < 0 {
			return fmt.Errorf("%w: stage %q is not in this run's strategy", ErrUnknownTarget, t.Name)
		}
		if b.s.stages.get(i).phase == stageDone {
			return fmt.Errorf("%w: stage %q has already finished", ErrInvalidTransition, t.Name)
		}
	case TargetAfterStageWait:
		i := b.p.stageIndex(t.Name)
		if i < 0 {
			return fmt.Errorf("%w: stage %q is not in this run's strategy", ErrUnknownTarget, t.Name)
		}
		if b.p.stages[i].wait == 0 {
			return fmt.Errorf("%w: stage %q has no after-stage wait", ErrUnknownTarget, t.Name)
		}
		// A wait that has run its course stays Completed, not Skipped.
		if st := b.s.stages.get(i); st.phase == stageDone || st.phase == stageWaiting && !st.waitSkipped && !b.s.clock.Before(st.waitEnd) {
			return fmt.Errorf("%w: the after-stage wait of stage %q has already finished", ErrInvalidTransition, t.Name)
		}
	default:
		return fmt.Errorf("%w: target type %q: must be Member, Group, Stage or AfterStageWait", ErrUnknownTarget, t.Type)
	}
	return nil
}

// skipMember skips a member that has not started or has failed.
func (b *stepper) skipMember(id int32, why string) {
	switch b.member(id).state() {
	case NotStarted, Pending, Failed:
		m := b.setState(id, Skipped)
		m.waitCatalog = false
		m.setText(memberText{note: m.tx().note, message: why})
		if m.start().IsZero() {
			m.setStart(b.s.clock)
		}
		m.setEnd(b.s.clock)
	}
}

func (b *stepper) skipGroup(g int32, why string) {
	b.setGroupCold(b.mutGroup(g), func(c *groupCold) { c.userSkipped = true })
	b.skipGates(b.p.groups[g].before)
	b.skipGates(b.p.groups[g].after)
	for _, id := range b.p.groups[g].members {
		b.skipMember(id, why)
	}
}

func (p *plan) groupIndex(name string) int32 {
	for i, g := range p.groups {
		if g.name == name {
			return int32(i)
		}
	}
	return -1
}

func (p *plan) stageIndex(name string) int {
	for i, s := range p.stages {
		if s.name == name {
			return i
		}
	}
	return -1
}
