package fake

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/internal/vqueue"
)

// Action is a user action (Start, Stop, Skip, CompleteGate, MemberChanged
// or CatalogChanged) injected into a simulation; its time is replaced by At.
type Action struct {
	At    time.Time
	Event fleetupdate.Event
}

// Options shape a simulation.
type Options struct {
	// Start is when the run is started; the driver sends Start then.
	Start time.Time
	// NoStart leaves starting (and everything else) to Actions.
	NoStart bool
	// Horizon bounds virtual time: the simulation ends at Start+Horizon
	// whatever the run's state. Zero means one year.
	Horizon time.Duration
	// Actions are user actions (Stop, Start, Skip, …) to inject.
	Actions []Action
	// SingleTimer makes the host keep one timer, armed at Run.NextWake after
	// every step and restart, instead of one per WakeAt (host contract,
	// rule 4, allows either).
	SingleTimer bool
	// TickDelay makes the host slow to tick: each Tick comes this long after
	// the WakeAt's time (host contract, rule 4: at or after). A timer whose
	// wake-up an earlier late tick already reached sends nothing.
	TickDelay time.Duration
	// NoChanges skips recording status changes. Recording them costs
	// O(stages + groups + changed members) per event (Run.Overview,
	// Run.Changed, Run.Member), not O(members).
	NoChanges bool

	// RestartAfter crashes the host after the k-th delivered event (counted
	// from 1, refused events included), for each k listed, and restarts it
	// at once. See Simulate for what a crash loses.
	RestartAfter []int
	// RestartEvery crashes and restarts the host after every delivered event.
	RestartEvery bool
	// Rebuild is how a restarted host rebuilds the run.
	Rebuild Rebuild
	// CrashBeforePerform puts each crash after the step was made durable and
	// before its commands were performed (host contract, rule 1, allows
	// it): they are lost, and only Run.Outstanding brings them back.
	// Otherwise a crash comes after the commands were performed.
	CrashBeforePerform bool

	// Observe, if set, is called after each delivered event with the run
	// before and after it (the same run when the event was refused) and the
	// event's entry.
	Observe func(prev, next fleetupdate.Run, e Entry)
}

// Rebuild is how a restarted host rebuilds its run (host contract, rule 5).
type Rebuild int

const (
	// FromSnapshot decodes the run saved with json.Marshal after the last
	// step (host contract, rule 1: saving the whole run).
	FromSnapshot Rebuild = iota
	// FromJournal replays (fleetupdate.Replay) the accepted events, kept in
	// the wire format (fleetupdate.MarshalEvent), on the run Simulate was
	// given: a journal whose first record is that run's inputs. That run
	// must not share member data with the host's fleet, which upgrades
	// change (fleetupdate.New does not copy node pools yet): give the host
	// a Fleet.Clone, as Simulation.Host does.
	FromJournal
)

// Entry is one event the driver delivered and what came of it.
type Entry struct {
	At       time.Time
	Event    fleetupdate.Event
	Commands []fleetupdate.Command
	Err      error    // the event was refused (the run did not change)
	Changes  []Change // status changes the event caused, in status tree order
}

// Change is a state change of the run, a stage, a group or a member; the
// names of the levels below the changed one are empty.
type Change struct {
	Stage, Group, Member string
	From, To             fleetupdate.State
	Message              string
}

// Trace is the record of a simulation.
type Trace struct {
	Entries  []Entry
	Restarts []Restart
	Upgrades []Upgrade       // every UpgradeMember the host performed, re-sends included, in order
	Run      fleetupdate.Run // the run at the end
	Start    time.Time
	End      time.Time // time of the last event delivered
}

// Restart records one crash and restart of the host.
type Restart struct {
	After int       // the number of events delivered before the crash
	At    time.Time // the time of the crash and of the restart
	// Lost are the commands of the last step that the crash kept from being
	// performed (Options.CrashBeforePerform).
	Lost []fleetupdate.Command
	// Outstanding is what the rebuilt run said it was owed
	// (Run.Outstanding); the restarted host performed all of it (with
	// Options.SingleTimer, its one timer stands for the WakeAts).
	Outstanding []fleetupdate.Command
	// Err says why the run could not be rebuilt; the simulation ended
	// there, and Trace.Run is the run before the crash.
	Err error
}

// Upgrade is one UpgradeMember the host performed.
type Upgrade struct {
	At      time.Time
	Command fleetupdate.UpgradeMember
	Restart bool // performed by a restarted host, from Run.Outstanding
}

// Simulate drives run to its end on virtual time: it starts it, performs
// every UpgradeMember through h, delivers outcomes when they complete, ticks
// at every WakeAt, approves Approval gates as h.Approvals says (a
// CompleteGate when the run announces a gate with AwaitGate), tells the run whenever the fleet's catalog changes, and
// injects opt.Actions. It stops when the run is Completed, Failed or Skipped,
// when nothing more can happen, or at the horizon.
//
// With opt.RestartAfter or opt.RestartEvery the host crashes and restarts
// during the simulation, as a real one may. A crash loses what only the
// host's process held: its timers (ticks not yet delivered) and the outcomes
// it had not yet delivered. What is outside the process survives: the
// clusters (h) keep upgrading and end when they would have, and user
// actions and catalog changes still come. The restarted host rebuilds the
// run (opt.Rebuild) and, at the time of the crash (no time passes),
// performs Run.Outstanding (host contract, rule 5): it sends each
// UpgradeMember again, which h answers as it did the first time, and arms a
// tick for each WakeAt.
func Simulate(run fleetupdate.Run, h *Host, opt Options) Trace {
	horizon := opt.Horizon
	if horizon == 0 {
		horizon = 365 * 24 * time.Hour
	}
	end := opt.Start.Add(horizon)
	// Events wait in virtual time; those due at once are delivered in an
	// order that depends only on what they are (vqueue.Item), so a restarted
	// host delivers them as one that never stopped.
	var q vqueue.Queue
	seq := 0
	schedule := func(at time.Time, ev fleetupdate.Event) {
		q.Push(vqueue.Item{At: at, Class: vqueue.Scheduled, Seq: seq, Event: ev})
		seq++
	}
	if !opt.NoStart {
		schedule(opt.Start, fleetupdate.Start{At: opt.Start})
	}
	for _, a := range opt.Actions {
		schedule(a.At, withTime(a.Event, a.At))
	}
	for _, t := range h.Fleet.CatalogChanges(opt.Start, end) {
		schedule(t, fleetupdate.CatalogChanged{At: t, Catalog: h.Fleet.CatalogAt(t)})
	}
	// The run's catalog may be older than the fleet's at the start.
	schedule(opt.Start, fleetupdate.CatalogChanged{At: opt.Start, Catalog: h.Fleet.CatalogAt(opt.Start)})

	tr := Trace{Start: opt.Start, End: opt.Start}
	// The host's timers: one per wake-up asked for, each firing
	// opt.TickDelay after its wake-up.
	timers := vqueue.Timers{Delay: opt.TickDelay}
	asked := map[fleetupdate.GateID]bool{} // gates whose approvers were asked
	perform := func(cmds []fleetupdate.Command, now time.Time, restart bool) {
		for _, c := range cmds {
			switch c := c.(type) {
			case fleetupdate.UpgradeMember:
				done := h.Perform(c, now)
				q.Push(vqueue.Item{At: done.At, Class: vqueue.Outcome, Key: string(c.Op), Event: done.Event})
				tr.Upgrades = append(tr.Upgrades, Upgrade{At: now, Command: c, Restart: restart})
			case fleetupdate.WakeAt:
				if !opt.SingleTimer {
					timers.Arm(&q, c.At, now)
				}
			case fleetupdate.AwaitGate:
				// The approvers are the world's: they are asked once, and
				// a gate a restarted host announces again (Run.Outstanding)
				// is not approved twice.
				if asked[c.Gate] {
					continue
				}
				asked[c.Gate] = true
				if at, ok := h.Approve(c, now); ok {
					q.Push(vqueue.Item{At: at, Class: vqueue.Approval, Key: string(c.Gate), Event: fleetupdate.CompleteGate{At: at, Gate: c.Gate}})
				}
			}
		}
	}
	restartAfter := map[int]bool{}
	for _, k := range opt.RestartAfter {
		restartAfter[k] = true
	}
	d := durable{base: run, from: opt.Rebuild, on: opt.RestartEvery || len(restartAfter) > 0}
	var tk *tracker
	if !opt.NoChanges {
		tk = newTracker(run)
	}
	for q.Len() > 0 {
		it := q.Pop()
		if it.At.After(end) {
			break
		}
		if it.Class == vqueue.Tick && !timers.Fire(it) {
			continue // an earlier (late) tick already reached this wake-up
		}
		prev := run
		next, cmds, err := fleetupdate.Step(run, it.Event)
		e := Entry{At: it.At, Event: it.Event, Commands: cmds, Err: err}
		tr.End = it.At
		if err == nil {
			run = next
			d.accepted(it.Event)
			if s, ok := it.Event.(fleetupdate.UpgradeSucceeded); ok {
				h.Finish(s.Op)
			}
			if tk != nil {
				e.Changes = tk.changes(prev, run)
			}
		}
		tr.Entries = append(tr.Entries, e)
		if opt.Observe != nil {
			opt.Observe(prev, run, e)
		}
		crash := opt.RestartEvery || restartAfter[len(tr.Entries)]
		rs := Restart{After: len(tr.Entries), At: it.At}
		if crash && opt.CrashBeforePerform {
			rs.Lost = cmds
		} else {
			perform(cmds, it.At, false)
		}
		if crash {
			rebuilt, err := d.rebuild(run)
			if err != nil {
				rs.Err = err
				tr.Restarts = append(tr.Restarts, rs)
				tr.Run = run
				return tr
			}
			// The process's memory is gone: its timers and the outcomes it
			// had not delivered. Scheduled events are the world's.
			q.Drop(vqueue.Outcome, vqueue.Tick)
			timers.Restart()
			run = rebuilt
			if tk != nil {
				tk.reset(run)
			}
			rs.Outstanding = run.Outstanding()
			perform(rs.Outstanding, it.At, true)
			tr.Restarts = append(tr.Restarts, rs)
		}
		if opt.SingleTimer {
			q.Drop(vqueue.Tick)
			timers.Disarm()
			if w, ok := run.NextWake(); ok {
				timers.Arm(&q, w, it.At)
			}
		}
		// Done first: State looks at every group of the active stage.
		if run.Done() && run.State() != fleetupdate.Stopped && !pendingActions(&q) {
			tr.Run = run
			return tr
		}
	}
	tr.Run = run
	return tr
}

// durable is what a host keeps across a crash: a journal of the accepted
// events (FromJournal) or the run itself (FromSnapshot, saved when the
// crash comes: a Run is a value, so saving it then or after its step is the
// same).
type durable struct {
	on      bool
	from    Rebuild
	base    fleetupdate.Run
	journal [][]byte
	err     error // the first event that could not be journaled
}

func (d *durable) accepted(ev fleetupdate.Event) {
	if !d.on || d.from != FromJournal || d.err != nil {
		return
	}
	b, err := fleetupdate.MarshalEvent(ev)
	if err != nil {
		d.err = fmt.Errorf("journal: event %d: %w", len(d.journal), err)
		return
	}
	d.journal = append(d.journal, b)
}

// rebuild returns the run a restarted host gets back, given the run the
// crashed one had.
func (d *durable) rebuild(run fleetupdate.Run) (fleetupdate.Run, error) {
	if d.from == FromJournal {
		if d.err != nil {
			return fleetupdate.Run{}, d.err
		}
		events := make([]fleetupdate.Event, len(d.journal))
		for i, b := range d.journal {
			ev, err := fleetupdate.UnmarshalEvent(b)
			if err != nil {
				return fleetupdate.Run{}, fmt.Errorf("journal: event %d: %w", i, err)
			}
			events[i] = ev
		}
		return fleetupdate.Replay(d.base, events)
	}
	b, err := json.Marshal(run)
	if err != nil {
		return fleetupdate.Run{}, fmt.Errorf("snapshot: %w", err)
	}
	var back fleetupdate.Run
	if err := json.Unmarshal(b, &back); err != nil {
		return fleetupdate.Run{}, fmt.Errorf("snapshot: %w", err)
	}
	return back, nil
}

// pendingActions reports whether user actions (which may restart a run)
// are still queued.
func pendingActions(q *vqueue.Queue) bool {
	return q.Any(func(it vqueue.Item) bool {
		switch it.Event.(type) {
		case fleetupdate.Start, fleetupdate.Stop, fleetupdate.Skip, fleetupdate.MemberChanged:
			return true
		}
		return false
	})
}

// withTime stamps a user action with at.
func withTime(e fleetupdate.Event, at time.Time) fleetupdate.Event {
	switch e := e.(type) {
	case fleetupdate.Start:
		return fleetupdate.Start{At: at}
	case fleetupdate.Stop:
		return fleetupdate.Stop{At: at}
	case fleetupdate.Skip:
		e.At = at
		return e
	case fleetupdate.MemberChanged:
		e.At = at
		return e
	case fleetupdate.CatalogChanged:
		e.At = at
		return e
	case fleetupdate.CompleteGate:
		e.At = at
		return e
	}
	return e // other events carry their own time
}

// tracker computes what a step changed in O(changes + stages + groups),
// not O(members): the run, stage and group rows come from Run.Overview, and
// the member rows from Run.Changed and Run.Member.
type tracker struct {
	groupOf map[string]int // member name → group, numbered in tree order
	rows    []row          // the previous run's overview, flattened
	members [][]Change     // scratch: member changes by group
}

// row is one node of a flattened status tree: the run, a stage, a group or
// a member.
type row struct {
	stage, group, member string
	state                fleetupdate.State
	message              string
	groupIndex           int // of a group's row; -1 for others
}

func newTracker(r fleetupdate.Run) *tracker {
	t := &tracker{groupOf: map[string]int{}}
	gi := 0
	for _, s := range r.Status().Stages { // once: membership is fixed at New
		for _, g := range s.Groups {
			for _, m := range g.Members {
				t.groupOf[m.Name] = gi
			}
			gi++
		}
	}
	t.members = make([][]Change, gi)
	t.reset(r)
	return t
}

// reset makes r the run the next step is compared with.
func (t *tracker) reset(r fleetupdate.Run) { t.rows = overview(r, t.rows[:0]) }

// overview flattens the run's overview, in tree order, onto out.
func overview(r fleetupdate.Run, out []row) []row {
	st := r.Overview()
	out = append(out, row{state: st.Status.State, message: errMessage(st.Status.Error), groupIndex: -1})
	gi := 0
	for _, s := range st.Stages {
		out = append(out, row{stage: s.Name, state: s.Status.State, message: errMessage(s.Status.Error), groupIndex: -1})
		for _, g := range s.Groups {
			out = append(out, row{stage: s.Name, group: g.Name, state: g.Status.State, message: errMessage(g.Status.Error), groupIndex: gi})
			gi++
		}
	}
	return out
}

func memberRow(m fleetupdate.MemberStatus) (fleetupdate.State, string) {
	if m.Status.Error != nil {
		return m.Status.State, errMessage(m.Status.Error)
	}
	return m.Status.State, m.Message
}

// changes lists the rows that differ between prev and next, in tree order
// (run, then each stage, its groups, and each group's members by name),
// and makes next the run the next step is compared with.
func (t *tracker) changes(prev, next fleetupdate.Run) []Change {
	rows := overview(next, make([]row, 0, len(t.rows)))
	for _, name := range next.Changed(prev) {
		a, _ := prev.Member(name)
		b, _ := next.Member(name)
		from, was := memberRow(a)
		to, msg := memberRow(b)
		if from == to && was == msg {
			continue
		}
		gi := t.groupOf[name]
		t.members[gi] = append(t.members[gi], Change{Member: name, From: from, To: to, Message: msg})
	}
	var out []Change
	for i, r := range rows {
		if i >= len(t.rows) || t.rows[i].state != r.state || t.rows[i].message != r.message {
			var from fleetupdate.State
			if i < len(t.rows) {
				from = t.rows[i].state
			}
			out = append(out, Change{Stage: r.stage, Group: r.group, From: from, To: r.state, Message: r.message})
		}
		if r.groupIndex >= 0 && len(t.members[r.groupIndex]) > 0 {
			for _, c := range t.members[r.groupIndex] {
				c.Stage, c.Group = r.stage, r.group
				out = append(out, c)
			}
			t.members[r.groupIndex] = t.members[r.groupIndex][:0]
		}
	}
	t.rows = rows
	return out
}

func errMessage(e *fleetupdate.ErrorDetail) string {
	if e == nil {
		return ""
	}
	return e.Code + ": " + e.Message
}
