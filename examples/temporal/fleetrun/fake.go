package fleetrun

import (
	"context"
	"sync"
	"time"

	"github.com/fleetkit/fleetkit/fleetupdate"
)

// FakeUpgrader stands in for Azure in tests and demos. It attaches to an
// operation it has seen before instead of upgrading again, as a real
// Upgrader must, and counts what really happened.
type FakeUpgrader struct {
	// Delay is how long each upgrade takes (real time: activities run
	// outside the workflow's clock).
	Delay time.Duration
	// Fail makes the first operation at these members fail with this error
	// (every try of it, if the error is Retryable); later operations, after
	// the run is started again, succeed.
	Fail map[string]*UpgradeError
	// Flaky makes the first n calls for these members fail with a retryable
	// error (code "TooManyRequests").
	Flaky map[string]int
	// OnGate, if set, is called for every gate the run reaches (the fake is
	// a GateNotifier), on the activity's goroutine, one call at a time.
	OnGate func(fleetupdate.AwaitGate)

	mu    sync.Mutex
	calls map[string]int              // calls per member
	first map[string]fleetupdate.OpID // the first operation per member
	done  map[fleetupdate.OpID]bool   // operations that finished well
}

// Upgrade implements Upgrader.
func (f *FakeUpgrader) Upgrade(ctx context.Context, c fleetupdate.UpgradeMember) error {
	f.mu.Lock()
	if f.calls == nil {
		f.calls, f.first, f.done = map[string]int{}, map[string]fleetupdate.OpID{}, map[fleetupdate.OpID]bool{}
	}
	f.calls[c.Member]++
	if _, ok := f.first[c.Member]; !ok {
		f.first[c.Member] = c.Op
	}
	n, again, first := f.calls[c.Member], f.done[c.Op], f.first[c.Member] == c.Op
	f.mu.Unlock()
	if again {
		return nil // attach to the finished operation
	}
	if n <= f.Flaky[c.Member] {
		return &UpgradeError{Code: "TooManyRequests", Message: "throttled (fake)", Retryable: true}
	}
	if err := f.Fail[c.Member]; err != nil && first {
		return err
	}
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	f.done[c.Op] = true
	f.mu.Unlock()
	return nil
}

// Calls returns how many times Upgrade was called for member.
func (f *FakeUpgrader) Calls(member string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[member]
}

// Upgraded returns how many distinct operations finished well.
func (f *FakeUpgrader) Upgraded() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.done)
}

// NotifyGate implements GateNotifier: it calls OnGate, one call at a time
// (activities run concurrently), with the fake's lock held.
func (f *FakeUpgrader) NotifyGate(_ context.Context, g fleetupdate.AwaitGate) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.OnGate != nil {
		f.OnGate(g)
	}
	return nil
}
