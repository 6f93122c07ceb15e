package fleetrun

import (
	"encoding/json"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/fleetkit/fleetkit/fleetupdate"
)

// step is fleetupdate.Step; tests replace it to show that a reducer change
// breaks the replay of recorded histories.
var step = fleetupdate.Step

// SemanticsChangeID is the change id under which the workflow records
// fleetupdate.SemanticsVersion with workflow.GetVersion.
const SemanticsChangeID = "fleetkit.semantics"

// Workflow is the workflow WorkflowName: it hosts one update run until the
// run is Completed or Skipped, and returns its overview (Run.Overview). A
// Stopped or Failed run is idle, not over: the workflow waits for a Start.
// Cancel or terminate the workflow to abandon a run.
func Workflow(ctx workflow.Context, in Input) (fleetupdate.Status, error) {
	v := fleetupdate.SemanticsVersion
	// A history recorded under another version makes GetVersion panic: the
	// workflow task fails and Temporal retries it, so the run waits for a
	// worker of its own version instead of being replayed wrongly.
	workflow.GetVersion(ctx, SemanticsChangeID, workflow.Version(v), workflow.Version(v))

	if in.Run.Name() == "" {
		return fleetupdate.Status{}, fmt.Errorf("fleetrun: the input holds no run (make one with fleetupdate.New)")
	}
	h := &host{
		ctx:     ctx,
		cfg:     in.Config,
		run:     in.Run,
		running: map[fleetupdate.OpID]bool{},
		armed:   map[int64]bool{},
		members: -1,
	}
	// Host contract 5, before any event can arrive: the upgrades a draining
	// execution left to this one start whatever happens next.
	for _, c := range h.run.Outstanding() {
		h.perform(c)
	}
	if err := h.register(); err != nil {
		return fleetupdate.Status{}, err
	}
	if in.Start {
		if err := h.apply(fleetupdate.Start{At: workflow.Now(ctx)}); err != nil {
			return h.run.Overview(), err
		}
	}

	if err := workflow.Await(ctx, func() bool { return h.final() || h.draining() && len(h.running) == 0 }); err != nil {
		return h.run.Overview(), err // cancelled
	}
	// Updates are applied as they are accepted, so this waits for nothing
	// more than a handler's return.
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return h.run.Overview(), err
	}
	if h.final() {
		return h.run.Overview(), nil
	}
	// Draining left no activity running: every upgrade the run has in
	// flight now is one this execution never started, and the next
	// execution starts it from Run.Outstanding.
	return h.run.Overview(), workflow.NewContinueAsNewError(ctx, WorkflowName, Input{Run: h.run, Config: h.cfg})
}

// host is the state of one workflow execution around the run.
type host struct {
	ctx workflow.Context // the workflow's root context
	cfg Config
	run fleetupdate.Run
	// events counts the events this execution accepted.
	events int
	// running holds the upgrades this execution started whose activity has
	// not returned yet.
	running map[fleetupdate.OpID]bool
	// armed holds the wake-up times (Unix nanoseconds) with a timer that has
	// not fired yet.
	armed map[int64]bool
	// members is the run's member count, counted at the first status query
	// (-1 until then).
	members int
}

// final reports whether the run is over for good.
func (h *host) final() bool {
	s := h.run.State()
	return s == fleetupdate.Completed || s == fleetupdate.Skipped
}

// draining reports whether the execution is winding down to continue as
// new: it starts no activity any more.
func (h *host) draining() bool {
	return h.events >= h.cfg.maxEvents() || workflow.GetInfo(h.ctx).GetContinueAsNewSuggested()
}

// apply steps the run and performs the commands; a refused event changes
// nothing.
func (h *host) apply(ev fleetupdate.Event) error {
	next, cmds, err := step(h.run, ev)
	if err != nil {
		return err
	}
	h.run = next
	h.events++
	for _, c := range cmds {
		h.perform(c)
	}
	return nil
}

// perform starts an upgrade's activity, arms a wake-up's timer, or tells
// approvers of a gate.
func (h *host) perform(c fleetupdate.Command) {
	switch c := c.(type) {
	case fleetupdate.UpgradeMember:
		if h.running[c.Op] || h.draining() {
			return // running already, or left to the next execution
		}
		h.running[c.Op] = true
		f := workflow.ExecuteActivity(workflow.WithActivityOptions(h.ctx, h.activityOptions(c.Op)), ActivityName, c)
		workflow.Go(h.ctx, func(ctx workflow.Context) {
			err := f.Get(ctx, nil)
			delete(h.running, c.Op)
			h.report(outcome(c.Op, err, workflow.Now(ctx)))
		})
	case fleetupdate.WakeAt:
		key := c.At.UnixNano()
		if h.armed[key] {
			return
		}
		h.armed[key] = true
		d := c.At.Sub(workflow.Now(h.ctx))
		f := workflow.NewTimerWithOptions(h.ctx, d, workflow.TimerOptions{Summary: "wake at " + c.At.UTC().Format(time.RFC3339)})
		workflow.Go(h.ctx, func(ctx workflow.Context) {
			if f.Get(ctx, nil) != nil {
				return // cancelled with the workflow
			}
			delete(h.armed, key)
			// Never before the wake-up: a timer may fire a little early by
			// the workflow's clock, and the run must see its time passed.
			h.report(fleetupdate.Tick{At: later(workflow.Now(ctx), c.At)})
		})
	case fleetupdate.AwaitGate:
		// Approvers are told by an activity; the approval comes back as a
		// CompleteGate through the Update. The activity does not hold up a
		// drain: the next execution announces the gates still Pending again.
		f := workflow.ExecuteActivity(workflow.WithActivityOptions(h.ctx, workflow.ActivityOptions{
			ActivityID:          "gate " + string(c.Gate),
			StartToCloseTimeout: 5 * time.Minute,
			RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 10 * time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Minute, MaximumAttempts: 20},
			Summary:             "gate " + string(c.Gate),
		}), GateActivityName, c)
		workflow.Go(h.ctx, func(ctx workflow.Context) {
			if err := f.Get(ctx, nil); err != nil {
				workflow.GetLogger(ctx).Error("fleetkit: approvers not told of a gate", "gate", c.Gate, "error", err)
			}
		})
	}
}

// report applies an event the workflow made itself (an outcome, a tick).
// Stale outcomes are refused by Step and only logged.
func (h *host) report(ev fleetupdate.Event) {
	if err := h.apply(ev); err != nil {
		workflow.GetLogger(h.ctx).Warn("fleetkit: event refused", "event", fmt.Sprintf("%T", ev), "error", err)
	}
}

func (h *host) activityOptions(op fleetupdate.OpID) workflow.ActivityOptions {
	retry := DefaultRetry
	if h.cfg.Retry != nil {
		retry = *h.cfg.Retry
	}
	timeout := h.cfg.UpgradeTimeout
	if timeout <= 0 {
		timeout = DefaultUpgradeTimeout
	}
	return workflow.ActivityOptions{
		ActivityID:          string(op),
		StartToCloseTimeout: timeout,
		HeartbeatTimeout:    h.cfg.HeartbeatTimeout,
		RetryPolicy:         &retry,
		Summary:             "upgrade " + string(op),
	}
}

func later(a, b time.Time) time.Time {
	if a.Before(b) {
		return b
	}
	return a
}

// register installs the Update and the queries.
func (h *host) register() error {
	err := workflow.SetUpdateHandlerWithOptions(h.ctx, UpdateName,
		func(ctx workflow.Context, e Event) (fleetupdate.Status, error) {
			ev, err := userAction(ctx, e)
			if err == nil {
				err = h.apply(ev)
			}
			if err != nil {
				// Another event may have been applied between validation and
				// now; the caller still gets the refusal.
				return fleetupdate.Status{}, refusal(err)
			}
			return h.run.Overview(), nil
		},
		workflow.UpdateHandlerOptions{Validator: func(ctx workflow.Context, e Event) error {
			ev, err := userAction(ctx, e)
			if err == nil {
				_, _, err = step(h.run, ev)
			}
			if err != nil {
				return refusal(err)
			}
			return nil
		}})
	if err != nil {
		return err
	}
	err = workflow.SetQueryHandler(h.ctx, QueryStatus, func() (fleetupdate.Status, error) {
		limit := h.cfg.fullStatusMembers()
		if h.members > limit {
			return h.run.Overview(), nil
		}
		s := h.run.Status()
		if h.members < 0 {
			h.members = 0
			for _, st := range s.Stages {
				for _, g := range st.Groups {
					h.members += len(g.Members)
				}
			}
		}
		if h.members > limit {
			return h.run.Overview(), nil
		}
		return s, nil
	})
	if err != nil {
		return err
	}
	return workflow.SetQueryHandler(h.ctx, QueryMember, func(name string) (fleetupdate.MemberStatus, error) {
		m, ok := h.run.Member(name)
		if !ok {
			return m, fmt.Errorf("fleetrun: no member %q in run %s", name, h.run.Name())
		}
		return m, nil
	})
}

// userAction checks that e is an event users may send and stamps it with
// the workflow's clock (host contract 3: events carry the host's time).
func userAction(ctx workflow.Context, e Event) (fleetupdate.Event, error) {
	switch e.Event.(type) {
	case nil:
		return nil, fmt.Errorf("%w: the update carries no event", fleetupdate.ErrInvalidEncoding)
	case fleetupdate.Start, fleetupdate.Stop, fleetupdate.Skip, fleetupdate.CompleteGate, fleetupdate.MemberChanged, fleetupdate.CatalogChanged:
	default:
		return nil, fmt.Errorf("%w: %T is applied by the workflow itself, not sent", ErrNotUserAction, e.Event)
	}
	return stamp(e.Event, workflow.Now(ctx))
}

// stamp returns e with its time set to at, through the wire format, so it
// needs no case per event type.
func stamp(e fleetupdate.Event, at time.Time) (fleetupdate.Event, error) {
	b, err := fleetupdate.MarshalEvent(e)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, err
	}
	if fields["at"], err = json.Marshal(at.UTC()); err != nil {
		return nil, err
	}
	if b, err = json.Marshal(fields); err != nil {
		return nil, err
	}
	return fleetupdate.UnmarshalEvent(b)
}
