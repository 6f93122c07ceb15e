package forecast

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/internal/vqueue"
)

// DefaultHorizon is how far a forecast looks when Assumptions.Horizon is zero.
const DefaultHorizon = 365 * 24 * time.Hour

// Assumptions are what a forecast takes for granted about the world: how
// long upgrades take and when people approve gates. Beyond them a forecast
// assumes that no upgrade fails, that the catalog stays as the run has it,
// that no member changes and that no user stops, skips or resumes anything
// (but see Resume).
type Assumptions struct {
	// Duration is how long one upgrade takes; in Percentiles, the median
	// (p50) of its distribution. It must be positive.
	Duration time.Duration
	// MemberDuration, if set, says how long an upgrade takes instead (it
	// may look at the member, the upgrade type or the node pools that
	// change); zero means Duration, and less than zero is an error.
	MemberDuration func(fleetupdate.UpgradeMember) time.Duration
	// P90Factor makes Percentiles draw each upgrade's duration from a
	// log-normal distribution with the duration above as its median and
	// P90Factor times it as its 90th percentile. Zero or 1 means no spread;
	// otherwise it must be more than 1. Run ignores it.
	P90Factor float64
	// ApprovalDelay is how long after an Approval gate is reached it is
	// approved; zero approves it at once. ScheduledStart gates open by
	// themselves, as the run says.
	ApprovalDelay time.Duration
	// NeverApprove leaves every Approval gate Pending (a forecast of how
	// far the run gets without them).
	NeverApprove bool
	// Horizon bounds the forecast: nothing after From+Horizon happens in it.
	// Zero means DefaultHorizon.
	Horizon time.Duration
	// Resume starts a run that is Stopped or Failed at From, as a user's
	// Start would; without it such a run stays where it is. A run Stopping
	// at From stops and is not resumed. A NotStarted run is always started
	// at From.
	Resume bool
}

func (a Assumptions) horizon() time.Duration {
	if a.Horizon == 0 {
		return DefaultHorizon
	}
	return a.Horizon
}

func (a Assumptions) validate() error {
	var bad []string
	if a.Duration <= 0 {
		bad = append(bad, fmt.Sprintf("Duration %s: want a positive duration", a.Duration))
	}
	if !(a.P90Factor == 0 || a.P90Factor >= 1) || math.IsInf(a.P90Factor, 0) {
		bad = append(bad, fmt.Sprintf("P90Factor %v: want 0, or a finite number from 1", a.P90Factor))
	}
	if a.ApprovalDelay < 0 {
		bad = append(bad, fmt.Sprintf("ApprovalDelay %s: want 0 or more", a.ApprovalDelay))
	}
	if a.Horizon < 0 {
		bad = append(bad, fmt.Sprintf("Horizon %s: want 0 (the default, %s) or more", a.Horizon, DefaultHorizon))
	}
	if len(bad) > 0 {
		return fmt.Errorf("forecast: assumptions: %s", strings.Join(bad, "; "))
	}
	return nil
}

// String states the assumptions in a sentence, for the people who read a
// forecast.
func (a Assumptions) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "each upgrade takes %s", a.Duration)
	if a.MemberDuration != nil {
		b.WriteString(" unless its member's own duration says otherwise")
	}
	if a.P90Factor > 1 {
		fmt.Fprintf(&b, " as a median, with a 90th percentile %s times that (log-normal)", strconv.FormatFloat(a.P90Factor, 'g', 3, 64))
	}
	b.WriteString(" and succeeds; ")
	switch {
	case a.NeverApprove:
		b.WriteString("approval gates are never approved; ")
	case a.ApprovalDelay == 0:
		b.WriteString("approval gates are approved when reached; ")
	default:
		fmt.Fprintf(&b, "approval gates are approved %s after they are reached; ", a.ApprovalDelay)
	}
	b.WriteString("the catalog and the members stay as the run has them; no user acts")
	if a.Resume {
		b.WriteString(" but to resume the run")
	}
	return b.String()
}

// Forecast is when a run's members, groups and stages start and finish
// under some Assumptions. Its JSON is a stable, documented format.
type Forecast struct {
	Run         string    `json:"run"`         // the run's name
	From        time.Time `json:"from"`        // when the forecast starts, in UTC as every time here; earlier times are the run's record
	Horizon     time.Time `json:"horizon"`     // nothing later is forecast
	Assumptions string    `json:"assumptions"` // Assumptions.String
	// Rows are the run, then each stage followed by its groups, each group
	// followed by its members, in the order of the run's Status.
	Rows []Row `json:"rows"`
}

// Row is the forecast of the run, a stage, a group or a member. Stage,
// Group and Member name it; the names of the levels below it are empty (the
// run's row has none). A group that a stage without groups makes is named
// after its stage.
type Row struct {
	Stage  string `json:"stage,omitempty"`
	Group  string `json:"group,omitempty"`
	Member string `json:"member,omitempty"`
	// State is the state at the end of the forecast: Completed, Skipped or
	// Failed when it finished, else the state it was left in.
	State fleetupdate.State `json:"state"`
	// Start is when it started (zero if it does not within the forecast),
	// Finish when it finished (zero if it does not).
	Start  time.Time `json:"start,omitzero"`
	Finish time.Time `json:"finish,omitzero"`
	// Why says, when Finish is zero, why it does not finish within the
	// forecast: the horizon came first, or what it waits for that never
	// comes (a gate never approved, a window that does not open again, a
	// version the catalog does not offer, a run that is Stopped or Failed).
	Why string `json:"why,omitempty"`
}

// Kind says which level a row is: "run", "stage", "group" or "member".
func (r Row) Kind() string {
	switch {
	case r.Member != "":
		return "member"
	case r.Group != "":
		return "group"
	case r.Stage != "":
		return "stage"
	}
	return "run"
}

// Member returns a member's row; ok is false for a name not in the run. It
// costs O(rows).
func (f Forecast) Member(name string) (Row, bool) {
	for _, r := range f.Rows {
		if r.Member == name {
			return r, true
		}
	}
	return Row{}, false
}

// Run forecasts r from now on: it drives the run itself (fleetupdate.Step)
// on virtual time, as a host would that performs every command at once, so
// the forecast is what the run does when the assumptions hold. The host's
// rules:
//
//   - A NotStarted run is started at now; a Stopped or Failed one only with
//     Assumptions.Resume.
//   - Each UpgradeMember succeeds its duration after it is asked for. An
//     upgrade already in flight at now (a run from its persisted form)
//     finishes its duration after it started (the member's status
//     startTime), or at now if that is already past.
//   - Each WakeAt gets a Tick at its time (at now, if that is past).
//   - Each Approval gate is approved ApprovalDelay after it was reached (at
//     now, if that is past), or never.
//   - Events due at the same time are taken in fake.Simulate's order, so a
//     forecast equals a simulation that makes the same assumptions.
//
// The forecast ends when the run is Completed, Failed or Skipped (at now
// too, unless Resume starts it again), when nothing more can happen, or at
// the horizon. now must not be before the run's clock (Run.Clock). Run
// never changes r.
func Run(r fleetupdate.Run, now time.Time, a Assumptions) (Forecast, error) {
	if err := a.validate(); err != nil {
		return Forecast{}, err
	}
	now = now.UTC() // as every time of the run: the same instant, the same bytes
	end, err := sim(r, now, a, median(a))
	if err != nil {
		return Forecast{}, err
	}
	return Forecast{Run: r.Name(), From: now, Horizon: now.Add(a.horizon()), Assumptions: a.String(), Rows: end.rows()}, nil
}

// median is the duration of an upgrade without spread.
func median(a Assumptions) func(fleetupdate.UpgradeMember) (time.Duration, error) {
	return func(c fleetupdate.UpgradeMember) (time.Duration, error) {
		if a.MemberDuration != nil {
			switch d := a.MemberDuration(c); {
			case d < 0:
				return 0, fmt.Errorf("forecast: MemberDuration gave %s for member %q: want 0 (Duration) or more", d, c.Member)
			case d > 0:
				return d, nil
			}
		}
		return a.Duration, nil
	}
}

// ending is how a forecast's simulation ended.
type ending struct {
	run     fleetupdate.Run
	a       Assumptions
	horizon time.Time
	cut     bool // the horizon came while something was still to happen
}

// sim drives r from now under a, taking each upgrade's duration from dur.
func sim(r fleetupdate.Run, now time.Time, a Assumptions, dur func(fleetupdate.UpgradeMember) (time.Duration, error)) (ending, error) {
	if r.Name() == "" {
		return ending{}, errors.New("forecast: the run was not made by fleetupdate.New (or decoded)")
	}
	if now.IsZero() {
		return ending{}, errors.New("forecast: now is the zero time")
	}
	if now.Before(r.Clock()) {
		return ending{}, fmt.Errorf("forecast: now %s is before the run's clock %s", now.Format(time.RFC3339), r.Clock().Format(time.RFC3339))
	}
	horizon := now.Add(a.horizon())
	if !horizon.Before(fleetupdate.MaxEventTime) {
		return ending{}, fmt.Errorf("forecast: the horizon %s is not before %s, the last time a run accepts", horizon.Format(time.RFC3339), fleetupdate.MaxEventTime.Format(time.RFC3339))
	}
	if st := r.State(); st == fleetupdate.Completed || st == fleetupdate.Skipped || st == fleetupdate.Failed && !a.Resume {
		// The forecast ends when the run does, also at now: a gate still
		// Pending in a failed run must not complete its group.
		return ending{run: r, a: a, horizon: horizon}, nil
	}
	var q vqueue.Queue
	var timers vqueue.Timers
	perform := func(cmds []fleetupdate.Command, at time.Time, started func(fleetupdate.UpgradeMember) time.Time, reached func(fleetupdate.GateID) time.Time) error {
		for _, c := range cmds {
			switch c := c.(type) {
			case fleetupdate.UpgradeMember:
				d, err := dur(c)
				if err != nil {
					return err
				}
				done := started(c).Add(d)
				if done.Before(at) {
					done = at
				}
				q.Push(vqueue.Item{At: done, Class: vqueue.Outcome, Key: string(c.Op), Event: fleetupdate.UpgradeSucceeded{At: done, Op: c.Op}})
			case fleetupdate.WakeAt:
				timers.Arm(&q, c.At, at)
			case fleetupdate.AwaitGate:
				if c.Type != fleetupdate.Approval || a.NeverApprove {
					continue
				}
				ok := reached(c.Gate).Add(a.ApprovalDelay)
				if ok.Before(at) {
					ok = at
				}
				q.Push(vqueue.Item{At: ok, Class: vqueue.Approval, Key: string(c.Gate), Event: fleetupdate.CompleteGate{At: ok, Gate: c.Gate}})
			}
		}
		return nil
	}
	// What the run is still owed (host contract, rule 5): in a run from its
	// persisted form, upgrades in flight started and gates were reached
	// before now.
	if out := r.Outstanding(); len(out) > 0 {
		gates := map[fleetupdate.GateID]time.Time{}
		for _, s := range r.Overview().Stages {
			for _, g := range s.BeforeGates {
				gates[g.GateID] = g.Status.StartTime
			}
			for _, g := range s.AfterGates {
				gates[g.GateID] = g.Status.StartTime
			}
			for _, gr := range s.Groups {
				for _, g := range gr.BeforeGates {
					gates[g.GateID] = g.Status.StartTime
				}
				for _, g := range gr.AfterGates {
					gates[g.GateID] = g.Status.StartTime
				}
			}
		}
		started := func(c fleetupdate.UpgradeMember) time.Time {
			m, _ := r.Member(c.Member)
			return m.Status.StartTime
		}
		if err := perform(out, now, started, func(g fleetupdate.GateID) time.Time { return gates[g] }); err != nil {
			return ending{}, err
		}
	}
	switch r.State() {
	case fleetupdate.NotStarted:
		q.Push(vqueue.Item{At: now, Class: vqueue.Scheduled, Event: fleetupdate.Start{At: now}})
	case fleetupdate.Stopped, fleetupdate.Failed:
		if a.Resume {
			q.Push(vqueue.Item{At: now, Class: vqueue.Scheduled, Event: fleetupdate.Start{At: now}})
		}
	}
	cut := false
	for q.Len() > 0 {
		it := q.Pop()
		if it.At.After(horizon) {
			cut = true
			break
		}
		if it.Class == vqueue.Tick && !timers.Fire(it) {
			continue
		}
		next, cmds, err := fleetupdate.Step(r, it.Event)
		if err != nil {
			// Nothing a forecast sends may be refused: it would be a bug here.
			return ending{}, fmt.Errorf("forecast: the run refused %T at %s: %w", it.Event, it.At.Format(time.RFC3339), err)
		}
		r = next
		at := it.At
		if err := perform(cmds, at, func(fleetupdate.UpgradeMember) time.Time { return at }, func(fleetupdate.GateID) time.Time { return at }); err != nil {
			return ending{}, err
		}
		// Done first: State looks at every group of the active stage.
		if r.Done() && final(r.State()) {
			return ending{run: r, a: a, horizon: horizon}, nil
		}
	}
	return ending{run: r, a: a, horizon: horizon, cut: cut}, nil
}

// final reports whether a node's state at the end of a forecast is where
// it finished.
func final(s fleetupdate.State) bool {
	return s == fleetupdate.Completed || s == fleetupdate.Skipped || s == fleetupdate.Failed
}

// rows reads the forecast from the run where the simulation left it.
//
// A row that does not finish says why: the run's being stopped or failed
// if it is; else what holds the row itself (a gate of its own, a member's
// window or missing version, an upgrade in flight at the horizon); else
// what holds its parent. What holds the run, a stage or a group, when
// nothing of its own does, is what holds its first child that does not
// finish.
func (e ending) rows() []Row {
	st := e.run.Status()
	pending := map[fleetupdate.GateID]fleetupdate.AwaitGate{}
	for _, c := range e.run.Outstanding() {
		if g, ok := c.(fleetupdate.AwaitGate); ok {
			pending[g.Gate] = g
		}
	}
	block := ""
	switch st.Status.State {
	case fleetupdate.Stopped, fleetupdate.Stopping:
		block = "the run is stopped, and resuming it is not assumed"
	case fleetupdate.Failed:
		block = "the run failed"
		if st.Status.Error != nil {
			block += ": " + st.Status.Error.Message
		}
	}
	// Bottom up: what holds each node itself, in row order (rows[0] the run).
	rows := []Row{{State: st.Status.State}}
	own := []string{""}
	first := func(parent int, why, name string) {
		if own[parent] == "" && why != "" {
			own[parent] = name + ": " + why
		}
	}
	parents := []int{-1}
	for _, s := range st.Stages {
		si := len(rows)
		rows, own, parents = append(rows, Row{Stage: s.Name}), append(own, e.gateWhy(pending, s.BeforeGates, s.AfterGates)), append(parents, 0)
		for _, g := range s.Groups {
			gi := len(rows)
			rows, own, parents = append(rows, Row{Stage: s.Name, Group: g.Name}), append(own, e.gateWhy(pending, g.BeforeGates, g.AfterGates)), append(parents, si)
			for _, m := range g.Members {
				why := ""
				switch {
				case final(m.Status.State):
				case m.Status.State == fleetupdate.Running || m.Status.State == fleetupdate.Stopping:
					why = "in flight"
				case m.Status.Error != nil:
					why = m.Status.Error.Code + ": " + m.Status.Error.Message
				case m.Status.State == fleetupdate.Pending:
					why = m.Message
				}
				rows, own, parents = append(rows, Row{Stage: s.Name, Group: g.Name, Member: m.Name}), append(own, why), append(parents, gi)
				first(gi, why, "member "+m.Name)
			}
			first(si, own[gi], "group "+g.Name)
		}
		first(0, own[si], "stage "+s.Name)
	}
	// Top down: fill in each row from its status, and why.
	whys := make([]string, len(rows))
	k := 0
	fill := func(st fleetupdate.UpdateStatus) {
		r := &rows[k]
		r.State, r.Start = st.State, st.StartTime
		why := block
		switch {
		case why != "":
		case own[k] != "":
			why = own[k]
		case parents[k] >= 0:
			why = whys[parents[k]]
		case !e.cut:
			why = "nothing more happens under the assumptions"
		}
		whys[k] = why
		switch {
		case final(st.State) && !st.CompletedTime.IsZero():
			// A stage over its budget is Failed with no completed time: it
			// may be resumed, so it has not finished.
			r.Finish = st.CompletedTime
		case !e.cut:
			r.Why = why
		case why == "":
			r.Why = "not by the horizon " + e.horizon.Format(time.RFC3339)
		default:
			r.Why = "not by the horizon " + e.horizon.Format(time.RFC3339) + ": " + why
		}
		k++
	}
	fill(st.Status)
	for _, s := range st.Stages {
		fill(s.Status)
		for _, g := range s.Groups {
			fill(g.Status)
			for _, m := range g.Members {
				fill(m.Status)
			}
		}
	}
	return rows
}

// gateWhy says which of a scope's gates holds it, or "".
func (e ending) gateWhy(pending map[fleetupdate.GateID]fleetupdate.AwaitGate, lists ...[]fleetupdate.GateStatus) string {
	for _, l := range lists {
		for _, g := range l {
			c, ok := pending[g.GateID]
			if !ok {
				continue
			}
			name := string(c.Gate)
			if c.DisplayName != "" {
				name = fmt.Sprintf("%q (%s)", c.DisplayName, c.Gate)
			}
			switch {
			case c.Type == fleetupdate.ScheduledStart:
				return fmt.Sprintf("scheduled-start gate %s opens %s", name, c.StartAt.Format(time.RFC3339))
			case e.a.NeverApprove:
				return fmt.Sprintf("approval gate %s is never approved (assumed)", name)
			default:
				return fmt.Sprintf("approval gate %s is approved %s", name, g.Status.StartTime.Add(e.a.ApprovalDelay).Format(time.RFC3339))
			}
		}
	}
	return ""
}
