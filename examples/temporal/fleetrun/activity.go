package fleetrun

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/fleetkit/fleetkit/fleetupdate"
)

// Upgrader performs member upgrades. Implement it against the Azure SDK
// (armcontainerservice: ManagedClustersClient.BeginUpgradeNodeImageVersion,
// or BeginCreateOrUpdate with the new version, then PollUntilDone).
type Upgrader interface {
	// Upgrade performs cmd and returns when it has finished: nil on success,
	// an *UpgradeError for a failure AKS reported, any other error for a
	// failure worth retrying (the network, a crash of the poller). It must
	// be idempotent per cmd.Op: Temporal retries an attempt that failed or
	// timed out with the same op, and the upgrader must attach to the
	// operation it already started (for example by tagging the cluster with
	// the op id) instead of starting a second one.
	Upgrade(ctx context.Context, cmd fleetupdate.UpgradeMember) error
}

// GateNotifier tells whoever approves that the run reached a gate: post to a
// channel, open a change ticket. An Upgrader that also implements it is
// called for every AwaitGate. The approval comes back as
// Send(CompleteGate{Gate: g.Gate}). NotifyGate may be called more than once
// for a gate: after a continue-as-new the gates still Pending are announced
// again, and a failed call is retried.
type GateNotifier interface {
	NotifyGate(ctx context.Context, g fleetupdate.AwaitGate) error
}

// UpgradeError is an upgrade failure with its AKS error code. It reaches the
// run as UpgradeFailed{Code, Message}: at once, or, if Retryable, when the
// retry policy gives up.
type UpgradeError struct {
	Code, Message string
	// Retryable marks a failure that may pass if tried again (throttling,
	// another operation in progress on the cluster): Temporal retries it
	// under Config.Retry instead of failing the member at once.
	Retryable bool
}

// Error returns "code: message".
func (e *UpgradeError) Error() string { return e.Code + ": " + e.Message }

// CodeHostError is the code of an UpgradeFailed for an error that carried
// no AKS code (the host's own failure), and CodeTimeout the code for an
// upgrade that ran out of time on its last attempt.
const (
	CodeHostError = "HostError"
	CodeTimeout   = "UpgradeTimedOut"
)

// Activities holds the activities a worker registers (Register does it).
type Activities struct {
	Upgrader Upgrader
}

// UpgradeMember is the activity ActivityName: it runs the Upgrader and
// types its error for Temporal. An *UpgradeError becomes an application
// error whose type is the AKS code, non-retryable unless Retryable; any
// other error is retryable with type CodeHostError. If the activity has a
// heartbeat timeout it heartbeats at a third of it while the upgrade runs.
func (a *Activities) UpgradeMember(ctx context.Context, cmd fleetupdate.UpgradeMember) error {
	if hb := activity.GetInfo(ctx).HeartbeatTimeout; hb > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithCancel(ctx)
		defer stop()
		go heartbeat(ctx, hb/3)
	}
	err := a.Upgrader.Upgrade(ctx, cmd)
	var ue *UpgradeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ue) && ue.Retryable:
		return temporal.NewApplicationError(ue.Message, ue.Code)
	case errors.As(err, &ue):
		return temporal.NewNonRetryableApplicationError(ue.Message, ue.Code, nil)
	}
	return temporal.NewApplicationError(err.Error(), CodeHostError)
}

// heartbeat records a heartbeat every period until ctx is done.
func heartbeat(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			activity.RecordHeartbeat(ctx)
		}
	}
}

// AwaitGate is the activity GateActivityName: it tells the Upgrader of the
// gate if the Upgrader is a GateNotifier, and does nothing otherwise (the
// gate shows Pending in the run's status either way).
func (a *Activities) AwaitGate(ctx context.Context, g fleetupdate.AwaitGate) error {
	if n, ok := a.Upgrader.(GateNotifier); ok {
		return n.NotifyGate(ctx, g)
	}
	return nil
}

// outcome turns an activity's result into the event the run is told.
func outcome(op fleetupdate.OpID, err error, at time.Time) fleetupdate.Event {
	var app *temporal.ApplicationError
	var timeout *temporal.TimeoutError
	switch {
	case err == nil:
		return fleetupdate.UpgradeSucceeded{At: at, Op: op}
	case errors.As(err, &app):
		return fleetupdate.UpgradeFailed{At: at, Op: op, Code: app.Type(), Message: app.Message()}
	case errors.As(err, &timeout):
		return fleetupdate.UpgradeFailed{At: at, Op: op, Code: CodeTimeout, Message: err.Error()}
	}
	return fleetupdate.UpgradeFailed{At: at, Op: op, Code: CodeHostError, Message: err.Error()}
}
