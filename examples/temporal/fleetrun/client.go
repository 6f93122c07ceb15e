package fleetrun

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/fleetkit/fleetkit/fleetupdate"
)

// DeadlockDetectionTimeout is the deadlock-detection timeout NewWorker sets
// when the options leave it zero. Temporal's default of one second is
// shorter than decoding a 10,000-member run on a busy machine, which every
// execution does once.
const DeadlockDetectionTimeout = 30 * time.Second

// Register registers the workflow and the activities, running u, on r.
func Register(r worker.Registry, u Upgrader) {
	a := &Activities{Upgrader: u}
	r.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: WorkflowName})
	r.RegisterActivityWithOptions(a.UpgradeMember, activity.RegisterOptions{Name: ActivityName})
	r.RegisterActivityWithOptions(a.AwaitGate, activity.RegisterOptions{Name: GateActivityName})
}

// NewWorker returns a worker that hosts runs on TaskQueue(base), performing
// upgrades with u. Start it with Run or Start.
func NewWorker(c client.Client, base string, u Upgrader, opts worker.Options) worker.Worker {
	if opts.DeadlockDetectionTimeout == 0 {
		opts.DeadlockDetectionTimeout = DeadlockDetectionTimeout
	}
	w := worker.New(c, TaskQueue(base), opts)
	Register(w, u)
	return w
}

// WorkflowTaskTimeout is the workflow task timeout Start sets when the
// options leave it zero: a workflow task that decodes or encodes a
// 10,000-member run (at the start of each execution, and when it continues
// as new) can outlast Temporal's default of 10 s on a busy worker.
const WorkflowTaskTimeout = time.Minute

// Start starts a workflow hosting in.Run. opts.ID names the workflow (the
// run's name is a good choice); an empty opts.TaskQueue means
// TaskQueue(DefaultTaskQueue). Continue-as-new keeps the task queue and the
// timeouts.
func Start(ctx context.Context, c client.Client, opts client.StartWorkflowOptions, in Input) (client.WorkflowRun, error) {
	if opts.TaskQueue == "" {
		opts.TaskQueue = TaskQueue(DefaultTaskQueue)
	}
	if opts.WorkflowTaskTimeout == 0 {
		opts.WorkflowTaskTimeout = WorkflowTaskTimeout
	}
	return c.ExecuteWorkflow(ctx, opts, WorkflowName, in)
}

// Send applies a user action or a changed fact (Start, Stop, Skip,
// CompleteGate, MemberChanged, CatalogChanged) to the run in workflow workflowID through
// the Update, and returns the run's overview after it. The workflow stamps
// the event with its own clock, so e's time is ignored. A refused action
// returns a *RefusedError wrapping the fleetupdate sentinel
// (errors.Is(err, fleetupdate.ErrInvalidTransition)); other errors are
// Temporal's.
func Send(ctx context.Context, c client.Client, workflowID string, e fleetupdate.Event) (fleetupdate.Status, error) {
	var out fleetupdate.Status
	h, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   workflowID,
		UpdateName:   UpdateName,
		Args:         []any{Event{e}},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, &out)
	}
	if re, ok := asRefused(err); ok {
		return out, re
	}
	return out, err
}

// Status returns the run's status tree (its overview, without members, for
// runs larger than Config.FullStatusMembers).
func Status(ctx context.Context, c client.Client, workflowID string) (fleetupdate.Status, error) {
	var s fleetupdate.Status
	v, err := c.QueryWorkflow(ctx, workflowID, "", QueryStatus)
	if err == nil {
		err = v.Get(&s)
	}
	return s, err
}

// Member returns one member's status.
func Member(ctx context.Context, c client.Client, workflowID, name string) (fleetupdate.MemberStatus, error) {
	var m fleetupdate.MemberStatus
	v, err := c.QueryWorkflow(ctx, workflowID, "", QueryMember, name)
	if err == nil {
		err = v.Get(&m)
	}
	return m, err
}
