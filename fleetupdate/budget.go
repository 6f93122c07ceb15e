package fleetupdate

import "fmt"

// Failure budgets (Azure's maxAllowedFailures, DESIGN "Failure budgets").
//
// A scope's failure count is the number of its members whose latest attempt
// failed: members in state Failed, which the group records count. A group's
// count is its own; a stage's is the sum over its groups; the run's over all
// groups. A scope whose count exceeds its threshold has failed, and fail-fast
// is the threshold 0. This file is the one answer to "has this scope failed".

// groupOverBudget: the group's count exceeds its own threshold ("A group
// without its own value tolerates 0 failures, whatever its stage allows").
func (r Run) groupOverBudget(g int32) bool {
	return int(r.s.groups.get(int(g)).failed) > r.p.groups[g].maxFailures
}

// stageFailures is the stage's failure count: O(groups in the stage), at
// most 50 (Azure's limit).
func (r Run) stageFailures(i int) int {
	n := 0
	for _, g := range r.p.stages[i].groups {
		n += int(r.s.groups.get(int(g)).failed)
	}
	return n
}

// stageOverBudget: the stage's own count exceeds its threshold ("The
// stage-level maxAllowedFailures acts as the overall ceiling").
func (r Run) stageOverBudget(i int) bool {
	return r.stageFailures(i) > r.p.stages[i].maxFailures
}

// failureCount is the run's count: O(groups).
func (r Run) failureCount() int {
	n := 0
	r.s.groups.each(func(_ int, g *groupRec) { n += int(g.failed) })
	return n
}

// memberFailed is called after member id became Failed. Within budget the
// member stays Failed and its group carries on; past a budget the run fails
// as with fail-fast: nothing new starts, members in flight finish and are
// recorded (the run shows Stopping), then the run is Failed with an error
// naming the scope that went over and the member that took it there.
func (b *stepper) memberFailed(id int32) {
	g := b.p.groupOf[id]
	i := int(b.p.groups[g].stage)
	r := b.r()
	var scope string
	switch {
	case r.groupOverBudget(g):
		pg := &b.p.groups[g]
		scope = budgetSummary("group", pg.name, int(b.group(g).failed), pg.maxFailures)
	case r.stageOverBudget(i):
		ps := &b.p.stages[i]
		scope = budgetSummary("stage", ps.name, r.stageFailures(i), ps.maxFailures)
	default:
		return
	}
	if b.s.errCode == "" {
		m := b.member(id)
		c := b.cold()
		c.errCode = m.tx().errCode
		c.errMsg = scope + failureSummary(m.data.Name, m.tx().errMsg)
	}
	b.s.failing = true
	if b.s.phase == Running || b.s.phase == Stopping {
		b.cold().phase = Stopping
		b.settle()
	}
}

// budgetSummary names a scope over its budget, as a prefix for the member
// error that took it there. With no budget (fail-fast) it says nothing: the
// member's failure is the whole story.
func budgetSummary(kind, name string, count, allowed int) string {
	if allowed == 0 {
		return ""
	}
	return fmt.Sprintf("%s %q: %d members failed, more than the %d allowed (maxAllowedFailures); ", kind, name, count, allowed)
}

// failureSummary is the error a failed member gives its group, stage and run.
func failureSummary(member, message string) string {
	return fmt.Sprintf("member %q failed: %s", member, message)
}
