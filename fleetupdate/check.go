package fleetupdate

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fleetkit/fleetkit/internal/kversion"
	"github.com/fleetkit/fleetkit/nodeimage"
	"github.com/fleetkit/fleetkit/window"
)

// check verifies the invariants of a run's state: what every sequence of
// events keeps true. It is the one place they are written down: the decoder
// refuses a run that breaks one, and the rapid state machine and the
// fuzzers call it after every step. It costs O(members + gates) and is never
// called by Step. Errors name the field of the persisted form.
func (r Run) check() error {
	if r.p == nil || r.s == nil {
		return fmt.Errorf("%w: the run was not made by New", ErrInvalidEncoding)
	}
	p, s := r.p, r.s
	bad := corruptf
	if s.stages.len() != len(p.stages) || s.groups.len() != len(p.groups) || s.members.len() != len(p.members) || s.gates.n != len(p.gates) {
		return bad("state", "sizes do not match the plan")
	}

	switch s.phase {
	case NotStarted, Running, Stopping, Stopped, Failed, Completed, Skipped:
	default:
		return bad("state.phase", "%q is not a run phase", s.phase)
	}
	if s.started != (s.phase != NotStarted) {
		return bad("state.phase", "%s does not agree with whether the run was started (%t)", s.phase, s.started)
	}
	for i := range p.stages {
		if err := r.checkStage(i); err != nil {
			return err
		}
	}
	final := s.phase == Completed || s.phase == Skipped
	if (s.stage == len(p.stages)) != final {
		return bad("state.phase", "%s with %d of %d stages done", s.phase, s.stage, len(p.stages))
	}
	if s.phase == Skipped && !r.allStagesSkippedState() || s.phase == Completed && r.allStagesSkippedState() && len(p.stages) > 0 {
		return bad("state.phase", "%s does not match its stages (Skipped exactly when every stage is)", s.phase)
	}
	if (s.errCode != "") != (s.phase == Failed || s.phase == Stopping && s.failing) || (s.errCode != "") != s.failing {
		return bad("state.error", "present exactly when the run is Failed or Stopping after a failure (phase %s)", s.phase)
	}
	if s.phase == Stopping && s.inflight == 0 {
		return bad("state.phase", "Stopping with nothing in flight")
	}
	if s.inflight > 0 && s.phase != Running && s.phase != Stopping {
		return bad("state.phase", "%s with %d upgrades in flight", s.phase, s.inflight)
	}
	if !s.end.IsZero() != (s.phase == Completed || s.phase == Skipped || s.phase == Failed) {
		return bad("state.endTime", "set exactly when the run is Completed, Skipped or Failed (it is %s)", s.phase)
	}
	if s.start.IsZero() != (s.phase == NotStarted) {
		return bad("state.startTime", "set exactly when the run has started (it is %s)", s.phase)
	}
	if !s.clock.Before(MaxEventTime) {
		return bad("state.clock", "%s is not before MaxEventTime (%s): no event could be applied to the run", s.clock, MaxEventTime)
	}
	if err := checkTimes("state", s.clock, s.start, s.end); err != nil {
		return err
	}
	// A wake-up stays owed until a Tick reaches it, so it may be at or before
	// the clock; it was asked for after the run started, and a final run owes none.
	for i, w := range s.wakes {
		if !s.started || final || !w.After(s.start) || i > 0 && !w.After(s.wakes[i-1]) {
			return bad(fmt.Sprintf("state.wakes[%d]", i), "%s: wake-ups of a started, unfinished run are after its start, sorted and unique", w)
		}
	}

	inflight := 0
	for g := range p.groups {
		n, err := r.checkGroup(int32(g))
		if err != nil {
			return err
		}
		inflight += n
	}
	for k := range p.gates {
		if err := r.checkGate(k); err != nil {
			return err
		}
	}
	if err := r.checkWakesOwed(); err != nil {
		return err
	}
	if inflight != int(s.inflight) {
		return bad("state.members", "%d Running members, %d in flight", inflight, s.inflight)
	}
	consistent := p.v.selection == Consistent && p.v.upType != ControlPlaneOnly
	if !consistent && (len(s.selection) > 0 || len(s.unresolved) > 0) {
		return bad("state.selection", "only a Consistent node image selection has one")
	}
	if err := r.checkAtRest(); err != nil {
		return err
	}
	if consistent {
		// The selection and the unresolved members are resolved together:
		// a pool whose family the selection lacks makes its member
		// unresolved. Checked for members whose data is as given to New.
		for id := range p.members {
			m := s.members.get(id)
			if _, ok := s.unresolved[int32(id)]; ok || m.data != &p.members[id] {
				continue
			}
			for _, np := range m.data.NodePools {
				img, err := nodeimage.Parse(np.NodeImageVersion)
				if _, ok := s.selection.Lookup(img.Family); err != nil || !ok {
					return bad("state.selection", "has no image of family %q for pool %q of member %q, and state.unresolved does not name the member", img.Family, np.Name, m.data.Name)
				}
			}
		}
	}
	return nil
}

// checkWakesOwed: every time the run waits for is a wake-up it still owes
// (a host that restarts arms only those): the end of an after-stage wait
// under way, a Pending ScheduledStart's time, a reached window's opening.
// A final run waits for nothing.
func (r Run) checkWakesOwed() error {
	p, s := r.p, r.s
	if s.phase == Completed || s.phase == Skipped {
		return nil
	}
	owed := func(field string, t time.Time) error {
		if !t.After(s.clock) {
			return nil
		}
		if _, ok := slices.BinarySearchFunc(s.wakes, t, time.Time.Compare); !ok {
			return corruptf(field, "%s: the run waits for it but owes no wake-up then (state.wakes)", t)
		}
		return nil
	}
	for i := range p.stages {
		if sr := s.stages.get(i); sr.phase == stageWaiting && p.stages[i].wait > 0 && !sr.waitSkipped {
			if err := owed(fmt.Sprintf("state.stages[%d].waitEnd", i), sr.waitEnd); err != nil {
				return err
			}
		}
	}
	for k := range p.gates {
		if g := s.gates.get(k); g.state == Pending && !g.startAt.IsZero() {
			if err := owed(fmt.Sprintf("state.gates[%d].startAt", k), g.startAt); err != nil {
				return err
			}
		}
	}
	for gi := range p.groups {
		bks := s.groups.get(gi).buckets
		for bi := range bks.n {
			if bk := bks.get(bi); bk.reached && !bk.opening.IsZero() {
				if err := owed(fmt.Sprintf("state.groups[%d].windows[%d].opening", gi, bi), bk.opening); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// checkAtRest: every step makes all the progress the run can make at its
// clock, and what it waits for after that is owed to it (an upgrade's
// outcome, a gate's completion, a wake-up, a changed fact). So a Tick at the
// clock changes nothing in a Running run, unless a wake-up at or before the
// clock is still owed (its Tick has not come yet). A run that would move on
// such a Tick waits for nothing a host knows to send: it would stall.
func (r Run) checkAtRest() error {
	s := r.s
	if s.phase != Running || len(s.wakes) > 0 && !s.wakes[0].After(s.clock) {
		return nil
	}
	if err := r.checkStarved(); err != nil {
		return err
	}
	// A step that is never committed: r stays its vectors' newest version.
	// It copies the groups vector rather than extend it, so that the picks
	// it makes claim no index of r's (which its abort would take from r).
	var b stepper
	b.gw.mustCopy = true
	next, cmds, err := step(r, Tick{At: s.clock}, &b)
	if err != nil {
		return corruptf("state", "a Tick at the run's clock is refused: %v", err) // step aborted
	}
	defer b.abort()
	// starved only makes the next step look at every group; a step sets it
	// for groups that want a slot whether or not they could start anyone
	// (checkStarved asks the question that matters).
	ns := *next.s
	ns.stages = ns.stages.clone(len(r.p.stages), len(r.p.stages))
	for i := range r.p.stages {
		ns.stages.get(i).starved = s.stages.get(i).starved
	}
	after := Run{p: r.p, s: &ns}
	same, err := encodesEqual(r, after)
	if err != nil {
		return corruptf("state", "does not encode")
	}
	if !same || len(cmds) > 0 {
		// Rare: encode both whole to name the field.
		before, err1 := json.Marshal(r)
		after, err2 := json.Marshal(after)
		if err1 != nil || err2 != nil {
			return corruptf("state", "does not encode")
		}
		field := firstDifference(before, after)
		if field == "" {
			field = "state"
		}
		return corruptf(field, "the run is not at rest: a Tick at its clock would change it, yet it owes no wake-up then, so nothing would ever move it")
	}
	return nil
}

// checkStarved: while the active stage's groups hold every slot the stage
// allows, a group that could start a member now (a queued member whose
// window is open, or who has none) is recorded as starved, so the step that
// frees a slot looks at it. Without the mark only the group that freed the
// slot would be looked at, and the starved group would wait forever.
func (r Run) checkStarved() error {
	p, s := r.p, r.s
	i := s.stage
	if i >= len(p.stages) || s.stages.get(i).phase != stageGroups || s.stages.get(i).starved || s.running(i) < p.stages[i].limit {
		return nil
	}
	for _, g := range p.stages[i].groups {
		gr := s.groups.get(int(g))
		if gr.userSkipped || gr.running >= int32(p.groups[g].limit) || r.groupPhase(g) != groupMembers {
			continue
		}
		open := make(map[int32]bool) // by bucket
		for _, id := range p.groups[g].members {
			m := s.members.get(int(id))
			if !m.eligible() {
				continue
			}
			o, ok := open[m.bucket]
			if !ok {
				bk := gr.buckets.get(int(m.bucket))
				o = bk.sched == nil || bk.sched.IsOpen(s.clock)
				open[m.bucket] = o
			}
			if o {
				return corruptf(fmt.Sprintf("state.stages[%d].starved", i), "false, yet group %q could start member %q as soon as the stage has a free slot", p.groups[g].name, m.data.Name)
			}
		}
	}
	return nil
}

// firstDifference names the first field (in the persisted form's terms, as
// "state.members[2].state") where two encoded runs differ, or "".
func firstDifference(a, b []byte) string {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return "state"
	}
	var walk func(path string, x, y any) string
	walk = func(path string, x, y any) string {
		switch xv := x.(type) {
		case map[string]any:
			yv, ok := y.(map[string]any)
			if !ok {
				return path
			}
			keys := slices.Sorted(maps.Keys(xv))
			for k := range yv {
				if _, ok := xv[k]; !ok {
					keys = append(keys, k)
				}
			}
			for _, k := range keys {
				p := k
				if path != "" {
					p = path + "." + k
				}
				if d := walk(p, xv[k], yv[k]); d != "" {
					return d
				}
			}
			return ""
		case []any:
			yv, ok := y.([]any)
			if !ok || len(xv) != len(yv) {
				return path
			}
			for i := range xv {
				if d := walk(fmt.Sprintf("%s[%d]", path, i), xv[i], yv[i]); d != "" {
					return d
				}
			}
			return ""
		}
		if x != y {
			return path
		}
		return ""
	}
	return walk("", x, y)
}

func (r Run) allStagesSkippedState() bool {
	for i := range r.p.stages {
		if r.stageState(i) != Skipped {
			return false
		}
	}
	return true
}

// checkTimes: a scope's times are not after the run's clock, and it ends
// no earlier than it starts.
func checkTimes(field string, clock, start, end time.Time) error {
	switch {
	case start.After(clock) || end.After(clock):
		return corruptf(field, "startTime %s or endTime %s is after the run's clock %s", start, end, clock)
	case !start.IsZero() && !end.IsZero() && end.Before(start):
		return corruptf(field+".endTime", "%s is before startTime %s", end, start)
	}
	return nil
}

func (r Run) checkStage(i int) error {
	p, s := r.p, r.s
	ps, sr := &p.stages[i], s.stages.get(i)
	f := fmt.Sprintf("state.stages[%d]", i)
	switch {
	case sr.phase < 0 || int(sr.phase) >= len(stagePhaseNames):
		return corruptf(f+".phase", "%d is not a stage phase", sr.phase)
	case i < s.stage && sr.phase != stageDone:
		return corruptf(f+".phase", "%s before the active stage", stagePhaseNames[sr.phase])
	case i > s.stage && sr.phase != stageNotStarted:
		return corruptf(f+".phase", "%s after the active stage", stagePhaseNames[sr.phase])
	case sr.phase == stageWaiting && ps.wait > 0 && !sr.waitSkipped && sr.waitEnd.Add(-ps.wait).After(s.clock):
		return corruptf(f+".waitEnd", "%s: the wait cannot have started after the run's clock %s", sr.waitEnd, s.clock)
	case sr.phase != stageNotStarted && s.phase == NotStarted:
		return corruptf(f+".phase", "%s in a run that has not started", stagePhaseNames[sr.phase])
	case i == s.stage && sr.phase == stageNotStarted && s.phase != NotStarted:
		return corruptf(f+".phase", "the active stage of a run that is %s has not started", s.phase)
	case sr.starved && sr.phase != stageGroups:
		return corruptf(f+".starved", "set on a stage that is not running its groups")
	}
	running, open := 0, 0
	for _, g := range ps.groups {
		gr := s.groups.get(int(g))
		if sr.skipped && !gr.userSkipped {
			return corruptf(f+".skipped", "stage skipped but its group %q is not", p.groups[g].name)
		}
		running += int(gr.running)
		if r.groupsStarted(i) && !r.groupDone(g) {
			open++
		}
	}
	if sr.skipped && !sr.waitSkipped {
		return corruptf(f+".waitSkipped", "a skipped stage skips its wait")
	}
	if (sr.phase == stageWaiting || sr.phase == stageDone) && open > 0 {
		return corruptf(f+".phase", "%s with %d groups not done", stagePhaseNames[sr.phase], open)
	}
	switch {
	case sr.start.IsZero() != (sr.phase == stageNotStarted):
		return corruptf(f+".startTime", "set exactly when the stage has started (it is %s)", stagePhaseNames[sr.phase])
	case sr.end.IsZero() == (sr.phase == stageDone):
		return corruptf(f+".endTime", "set exactly when the stage is Done (it is %s)", stagePhaseNames[sr.phase])
	case !sr.waitEnd.IsZero() && (ps.wait == 0 || sr.phase != stageWaiting && sr.phase != stageDone):
		return corruptf(f+".waitEnd", "set on a stage that has no wait or has not reached it")
	case sr.waitEnd.IsZero() && sr.phase == stageWaiting && ps.wait > 0 && !sr.waitSkipped:
		return corruptf(f+".waitEnd", "required on a stage whose wait is under way")
	}
	if !sr.waitEnd.IsZero() {
		for _, g := range ps.groups {
			if end := s.groups.get(int(g)).end; sr.waitEnd.Add(-ps.wait).Before(end) {
				return corruptf(f+".waitEnd", "%s: the wait starts once every group is done, and group %q ended at %s", sr.waitEnd, p.groups[g].name, end)
			}
		}
	}
	if running != s.running(i) || open != int(sr.openGroups) {
		return corruptf(f, "counters (running %d, open groups %d) do not match the members (%d, %d)", s.running(i), sr.openGroups, running, open)
	}
	return nil
}

// checkGate: a gate is NotStarted (not reached: no times), Pending (reached,
// in the active stage), Completed (reached, then completed) or Skipped; a
// reached ScheduledStart completes at the next occurrence of its day and
// time after it was reached, an Approval never by itself. Whether a gate has
// been reached follows from its scope's phase: a stage's before-gates once
// the stage has started, its groups' gates not before it starts its groups
// (their before-gates then), its after-gates with its wait.
func (r Run) checkGate(k int) error {
	p, s := r.p, r.s
	pg := &p.gates[k]
	g := s.gates.get(k)
	f := fmt.Sprintf("state.gates[%d]", k)
	stagePhase := s.stages.get(int(pg.stage)).phase
	switch g.state {
	case NotStarted:
		if !g.start.IsZero() || !g.end.IsZero() {
			return corruptf(f, "gate %s is NotStarted with times set", pg.id)
		}
	case Pending:
		if int(pg.stage) != s.stage || s.phase == NotStarted {
			return corruptf(f+".state", "gate %s is Pending outside the active stage", pg.id)
		}
		if g.start.IsZero() || !g.end.IsZero() {
			return corruptf(f, "gate %s is Pending: it has a startTime and no endTime", pg.id)
		}
	case Completed:
		if g.start.IsZero() || g.end.IsZero() {
			return corruptf(f, "gate %s is Completed: only a gate reached (startTime) is completed (endTime)", pg.id)
		}
	case Skipped:
		if g.end.IsZero() {
			return corruptf(f+".endTime", "gate %s is Skipped: required", pg.id)
		}
	default:
		return corruptf(f+".state", "gate %s is %q", pg.id, g.state)
	}
	want := time.Time{}
	if pg.cfg.Type == ScheduledStart && !g.start.IsZero() {
		want = pg.nextOccurrence(g.start)
	}
	if !g.startAt.Equal(want) {
		return corruptf(f+".startAt", "gate %s: %s; want %s (an Approval has none; a ScheduledStart reached at its startTime completes at the next occurrence of its day and time)", pg.id, g.startAt, want)
	}
	reached := false   // the run has reached the gate, so it is not NotStarted
	reachable := false // the run may have reached it
	switch {
	case pg.group < 0 && pg.timing == Before:
		reached = stagePhase != stageNotStarted
		reachable = reached
	case pg.group < 0:
		reached = stagePhase == stageWaiting || stagePhase == stageDone
		reachable = reached
	case pg.timing == Before:
		reached = r.groupsStarted(int(pg.stage))
		reachable = reached
	default:
		reachable = r.groupsStarted(int(pg.stage))
	}
	switch {
	case reached && g.state == NotStarted:
		return corruptf(f+".state", "gate %s is NotStarted in a stage that is %s: it was reached", pg.id, stagePhaseNames[stagePhase])
	case !reachable && g.state != NotStarted && g.state != Skipped:
		return corruptf(f+".state", "gate %s is %s in a stage that is %s: it cannot have been reached", pg.id, g.state, stagePhaseNames[stagePhase])
	case stagePhase == stageDone && !g.settled():
		return corruptf(f+".state", "gate %s is %s in a stage that is done", pg.id, g.state)
	}
	return checkTimes(f, s.clock, g.start, g.end)
}

// windowKeys remembers scheduleKey by pointer: members share their windows
// (New and the decoder share equal ones), and encoding a window per member
// would cost more than the rest of a check.
type windowKeys map[*window.Schedule]string

func (w windowKeys) of(s *window.Schedule) string {
	if s == nil {
		return ""
	}
	k, ok := w[s]
	if !ok {
		k = scheduleKey(s)
		w[s] = k
	}
	return k
}

// parsedImages remembers nodeimage.Parse: a fleet has few distinct images.
type parsedImages map[string]parsedImage

type parsedImage struct {
	img nodeimage.Image
	err error
}

func (m parsedImages) parse(v string) (nodeimage.Image, error) {
	p, ok := m[v]
	if !ok {
		p.img, p.err = nodeimage.Parse(v)
		m[v] = p
	}
	return p.img, p.err
}

// checkGroup checks a group and its members; it returns how many are Running.
func (r Run) checkGroup(g int32) (int, error) {
	p, s := r.p, r.s
	pg := &p.groups[g]
	gr := s.groups.get(int(g))
	sr := s.stages.get(int(pg.stage))
	f := fmt.Sprintf("state.groups[%d]", g)
	listed := map[string]bool{}
	for bi := range gr.buckets.n {
		bk := gr.buckets.get(bi)
		wf := fmt.Sprintf("%s.windows[%d]", f, bi)
		if listed[bk.key] {
			return 0, corruptf(wf, "listed twice")
		}
		listed[bk.key] = true
		if (bk.sched == nil) != (bk.comp == nil) || (bk.sched == nil) != (bk.key == "") {
			return 0, corruptf(wf, "a window and its compiled form go together")
		}
	}
	var n [6]int32 // running, completed, skipped, failed
	keys, images := windowKeys{}, parsedImages{}
	for _, id := range pg.members {
		m := s.members.get(int(id))
		mf := "state.members[" + strconv.Itoa(int(id)) + "]"
		if err := r.checkMember(mf, id, m, int(sr.phase), images); err != nil {
			return 0, err
		}
		if gr.userSkipped && (m.state() == NotStarted || m.state() == Pending) {
			return 0, corruptf(mf+".state", "%s in skipped group %q", m.state(), pg.name)
		}
		if m.bucket < 0 || int(m.bucket) >= gr.buckets.n || gr.buckets.get(int(m.bucket)).key != keys.of(windowFor(m.data, p.v.upType)) {
			return 0, corruptf(mf, "%q is queued behind a window that is not its own", m.data.Name)
		}
		switch m.state() {
		case Running:
			n[0]++
		case Completed:
			n[1]++
		case Skipped:
			n[2]++
		case Failed:
			n[3]++
		}
	}
	if n[0] != gr.running || n[1] != gr.completed || n[2] != gr.skipped || n[3] != gr.failed {
		return 0, corruptf(f, "counters do not match the members")
	}
	if err := r.checkIndex(g, gr); err != nil {
		return 0, err
	}
	if started := r.groupsStarted(int(pg.stage)); gr.start.IsZero() == started {
		return 0, corruptf(f+".startTime", "set exactly when the group's stage has started its groups")
	} else if started && gr.end.IsZero() == r.groupDone(g) {
		return 0, corruptf(f+".endTime", "set exactly when the group is done")
	} else if !started && !gr.end.IsZero() {
		return 0, corruptf(f+".endTime", "set on a group whose stage has not started its groups")
	}
	if err := checkTimes(f, s.clock, gr.start, gr.end); err != nil {
		return 0, err
	}
	return int(n[0]), nil
}

func (r Run) checkMember(f string, id int32, m *memberRec, stagePhase int, images parsedImages) error {
	s := r.s
	name := m.data.Name
	switch {
	case m.waitCatalog && m.state() != Pending:
		return corruptf(f+".waitCatalog", "%q is %s; only a Pending member waits for the catalog", name, m.state())
	case (m.attempt > 0) != (m.pinned != nil):
		return corruptf(f+".pinned", "%q: a member has pinned inputs exactly when it has been attempted (attempt %d)", name, m.attempt)
	case (m.state() == Running || m.state() == Completed) && m.attempt == 0:
		return corruptf(f+".attempt", "%q is %s but was never attempted", name, m.state())
	case m.state() == Failed && m.tx().errCode == "" || m.tx().errCode != "" && m.state() != Failed && m.state() != Pending:
		return corruptf(f+".error", "%q: a Failed member has an error, and only a Failed or Pending one (it is %s)", name, m.state())
	case m.state() == NotStarted && (!m.end().IsZero() || m.tx().message != ""):
		return corruptf(f+".state", "%q is NotStarted but has an end time or a message", name)
	case m.attempt > 0 && m.start().Before(s.start):
		return corruptf(f+".startTime", "%q: %s is before the run started (%s); only a started run upgrades", name, m.start(), s.start)
	case m.state() == Running && (m.start().IsZero() || !m.end().IsZero()):
		return corruptf(f+".state", "%q is Running: it has a startTime and no endTime", name)
	case m.state() == Pending && !m.end().IsZero():
		return corruptf(f+".endTime", "%q is Pending: it has not ended", name)
	case (m.state() == Completed || m.state() == Skipped || m.state() == Failed) && (m.start().IsZero() || m.end().IsZero()):
		return corruptf(f+".state", "%q is %s: it has a startTime and an endTime", name, m.state())
	case m.state() == Skipped && m.tx().message == "":
		return corruptf(f+".message", "%q is Skipped: its message says why", name)
	case m.state() == Completed && m.tx().message != m.tx().note:
		return corruptf(f+".message", "%q is Completed: its message is its note", name)
	case m.removed && (m.state() == NotStarted || m.state() == Pending):
		return corruptf(f+".removed", "%q left the fleet but is still %s", name, m.state())
	case (stagePhase == stageNotStarted || stagePhase == stageBefore) && (m.state() != NotStarted && m.state() != Skipped || m.attempt > 0):
		return corruptf(f+".state", "%q is %s (attempt %d) in a stage that has not started", name, m.state(), m.attempt)
	case stagePhase == stageDone && m.state() != Completed && m.state() != Skipped && m.state() != Failed:
		return corruptf(f+".state", "%q is %s in a stage that is done", name, m.state())
	case m.state() == Running && stagePhase != stageGroups:
		return corruptf(f+".state", "%q is Running outside its stage's groups phase", name)
	}
	if err := checkTimes(f, s.clock, m.start(), m.end()); err != nil {
		return err
	}
	if m.pinned != nil {
		return r.checkPinned(f+".pinned", id, m, images)
	}
	return nil
}

// checkPinned checks a member's upgrade inputs as prepare makes them: the
// run's upgrade type and target version; images the run's selection names
// (Consistent: its pinned selection; Custom: the spec's); and, while the
// member's data is still what New was given, only pools it has, each moving
// to a newer image of its own family.
func (r Run) checkPinned(f string, id int32, m *memberRec, images parsedImages) error {
	p, c, up, member := r.p, m.pinned, r.p.v.upType, m.data.Name
	if up == NodeImageOnly {
		if c.KubernetesVersion != "" {
			return corruptf(f+".kubernetesVersion", "a NodeImageOnly upgrade has none")
		}
		if len(c.NodeImages) == 0 {
			return corruptf(f+".nodeImages", "a NodeImageOnly upgrade moves at least one pool")
		}
	} else if v, err := kversion.Parse(c.KubernetesVersion); err != nil {
		return corruptf(f+".kubernetesVersion", "%q: want 1.30.5", c.KubernetesVersion)
	} else if t := p.v.target; v.Major != t.Major || v.Minor != t.Minor || t.HasPatch && v != t {
		return corruptf(f+".kubernetesVersion", "%q: the run's target is %s", c.KubernetesVersion, t)
	}
	if up == ControlPlaneOnly && len(c.NodeImages) > 0 {
		return corruptf(f+".nodeImages", "a ControlPlaneOnly upgrade moves no pool")
	}
	asGiven := m.data == &p.members[id]
	for i, pi := range c.NodeImages {
		fi := func(field string) string { return f + ".nodeImages[" + strconv.Itoa(i) + "]." + field }
		if pi.Pool == "" || i > 0 && strings.Compare(pi.Pool, c.NodeImages[i-1].Pool) <= 0 {
			return corruptf(fi("pool"), "%q: pools are named, unique and sorted", pi.Pool)
		}
		img, err := images.parse(pi.NodeImageVersion)
		if err != nil {
			return corruptf(fi("nodeImageVersion"), "%v", err)
		}
		var sel nodeimage.Selection
		switch p.v.selection {
		case Consistent:
			sel = r.s.selection
		case Custom:
			sel = p.v.custom
		}
		if p.v.selection != Latest {
			if t, ok := sel.Lookup(img.Family); !ok || t.String() != img.String() {
				return corruptf(fi("nodeImageVersion"), "%s: the run's %s node image selection does not choose it", img, p.v.selection)
			}
		}
		if asGiven {
			k := slices.IndexFunc(m.data.NodePools, func(np NodePool) bool { return np.Name == pi.Pool })
			if k < 0 {
				return corruptf(fi("pool"), "%q: member %q has no such pool", pi.Pool, member)
			}
			cur, err := images.parse(m.data.NodePools[k].NodeImageVersion)
			if err != nil || cur.Family != img.Family || cur.Version.Compare(img.Version) >= 0 {
				return corruptf(fi("nodeImageVersion"), "%s: pool %q of member %q is at %q; an upgrade moves it to a newer image of its family", img, pi.Pool, member, m.data.NodePools[k].NodeImageVersion)
			}
		}
	}
	return nil
}
