package fake

import (
	"container/heap"
	"time"

	"github.com/fleetkit/fleetkit/fleetupdate"
)

// Action is a user action (Start, Stop, Skip, MemberChanged or
// CatalogChanged) injected into a simulation; its time is replaced by At.
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
	// NoChanges skips recording status changes, which costs O(members) per
	// event, for very large simulations.
	NoChanges bool
}

// Entry is one event the driver delivered and what came of it.
type Entry struct {
	At       time.Time
	Event    fleetupdate.Event
	Commands []fleetupdate.Command
	Err      error    // the event was refused (the run did not change)
	Changes  []Change // status changes the event caused
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
	Entries []Entry
	Run     fleetupdate.Run // the run at the end
	Start   time.Time
	End     time.Time // time of the last event delivered
}

// queued is an event waiting in virtual time. Events due at the same time
// are delivered in an order that depends only on what they are, never on
// when the driver learnt of them, so a restarted host (which learns of
// outcomes and wake-ups again, in another order) delivers them as one that
// never stopped: first the scheduled events (user actions and catalog
// changes) in the order given, then outcomes by op id, then the tick.
type queued struct {
	at    time.Time
	class int    // classScheduled, classOutcome or classTick
	seq   int    // classScheduled: the order given
	op    string // classOutcome: the op id
	ev    fleetupdate.Event
}

// Classes of queued events, in delivery order at equal times.
const (
	classScheduled = iota
	classOutcome
	classTick
)

type eventQueue []queued

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	a, b := q[i], q[j]
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	if a.class != b.class {
		return a.class < b.class
	}
	if a.seq != b.seq {
		return a.seq < b.seq
	}
	return a.op < b.op
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(queued)) }
func (q *eventQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// Simulate drives run to its end on virtual time: it starts it, performs
// every UpgradeMember through h, delivers outcomes when they complete, ticks
// at every WakeAt, tells the run whenever the fleet's catalog changes, and
// injects opt.Actions. It stops when the run is Completed, Failed or Skipped,
// when nothing more can happen, or at the horizon.
func Simulate(run fleetupdate.Run, h *Host, opt Options) Trace {
	horizon := opt.Horizon
	if horizon == 0 {
		horizon = 365 * 24 * time.Hour
	}
	end := opt.Start.Add(horizon)
	var q eventQueue
	seq := 0
	schedule := func(at time.Time, ev fleetupdate.Event) {
		heap.Push(&q, queued{at: at, class: classScheduled, seq: seq, ev: ev})
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
	ticks := map[time.Time]bool{}
	before := snapshot(run, opt.NoChanges)
	for q.Len() > 0 {
		it := heap.Pop(&q).(queued)
		if it.at.After(end) {
			break
		}
		if _, ok := it.ev.(fleetupdate.Tick); ok {
			delete(ticks, it.at)
		}
		next, cmds, err := fleetupdate.Step(run, it.ev)
		e := Entry{At: it.at, Event: it.ev, Commands: cmds, Err: err}
		tr.End = it.at
		if err == nil {
			run = next
			if s, ok := it.ev.(fleetupdate.UpgradeSucceeded); ok {
				h.Finish(s.Op)
			}
			after := snapshot(run, opt.NoChanges)
			e.Changes = diff(before, after)
			before = after
		}
		tr.Entries = append(tr.Entries, e)
		for _, c := range cmds {
			switch c := c.(type) {
			case fleetupdate.UpgradeMember:
				done := h.Perform(c, it.at)
				heap.Push(&q, queued{at: done.At, class: classOutcome, op: string(c.Op), ev: done.Event})
			case fleetupdate.WakeAt:
				if !ticks[c.At] {
					ticks[c.At] = true
					heap.Push(&q, queued{at: c.At, class: classTick, ev: fleetupdate.Tick(c)})
				}
			}
		}
		switch run.State() {
		case fleetupdate.Completed, fleetupdate.Failed, fleetupdate.Skipped:
			if !pendingActions(q) {
				tr.Run = run
				return tr
			}
		}
	}
	tr.Run = run
	return tr
}

// pendingActions reports whether user actions (which may restart a run)
// are still queued.
func pendingActions(q eventQueue) bool {
	for _, it := range q {
		switch it.ev.(type) {
		case fleetupdate.Start, fleetupdate.Stop, fleetupdate.Skip, fleetupdate.MemberChanged:
			return true
		}
	}
	return false
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
	}
	return e // other events carry their own time
}

// row is one node of a flattened status tree.
type row struct {
	stage, group, member string
	state                fleetupdate.State
	message              string
}

// snapshot flattens a status tree, in order, for diffing.
func snapshot(r fleetupdate.Run, skip bool) []row {
	if skip {
		return nil
	}
	st := r.Status()
	out := []row{{state: st.Status.State, message: errMessage(st.Status.Error)}}
	for _, s := range st.Stages {
		out = append(out, row{stage: s.Name, state: s.Status.State, message: errMessage(s.Status.Error)})
		for _, g := range s.Groups {
			out = append(out, row{stage: s.Name, group: g.Name, state: g.Status.State, message: errMessage(g.Status.Error)})
			for _, m := range g.Members {
				msg := m.Message
				if m.Status.Error != nil {
					msg = errMessage(m.Status.Error)
				}
				out = append(out, row{s.Name, g.Name, m.Name, m.Status.State, msg})
			}
		}
	}
	return out
}

func errMessage(e *fleetupdate.ErrorDetail) string {
	if e == nil {
		return ""
	}
	return e.Code + ": " + e.Message
}

// diff lists the rows of b that differ from a; the tree's shape never changes.
func diff(a, b []row) []Change {
	var out []Change
	for i, r := range b {
		var from fleetupdate.State
		if i < len(a) {
			if a[i] == r {
				continue
			}
			from = a[i].state
		}
		out = append(out, Change{Stage: r.stage, Group: r.group, Member: r.member, From: from, To: r.state, Message: r.message})
	}
	return out
}
