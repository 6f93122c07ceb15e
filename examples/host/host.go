package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/journal"
)

// Upgrader performs member upgrades. Implement it against the Azure SDK
// (armcontainerservice: ManagedClustersClient.BeginUpgradeNodeImageVersion,
// or BeginCreateOrUpdate with the new version, then PollUntilDone).
type Upgrader interface {
	// Upgrade performs cmd and returns when it has finished: nil on success,
	// an *UpgradeError on failure. It must be idempotent per cmd.Op: after a
	// host restart the same op is sent again, and the upgrader must attach to
	// the operation it already started (for example by tagging the cluster
	// with the op id) instead of starting a second one.
	Upgrade(ctx context.Context, cmd fleetupdate.UpgradeMember) error
}

// UpgradeError is an upgrade failure with its AKS error code.
type UpgradeError struct{ Code, Message string }

func (e *UpgradeError) Error() string { return e.Code + ": " + e.Message }

// Host runs one update run to its end on a journal file (package journal):
// every accepted event is committed there before its commands are
// performed, and a restarted host rebuilds the run from it.
type Host struct {
	Path     string           // the journal file; one host per file (a second gets journal.ErrLocked)
	Options  *journal.Options // nil for the defaults
	Clock    clock.Clock      // clock.New() in production
	Upgrader Upgrader
	Log      io.Writer // progress lines; nil for none

	// OnStep, if set, is called after each step has been committed and its
	// commands started (timers armed, upgrades under way).
	OnStep func(fleetupdate.Run, []fleetupdate.Command)
	// afterPersist lets a test kill the host between committing a step and
	// performing its commands.
	afterPersist func()
}

// Plan is what a run is created from when the journal does not hold it.
type Plan struct {
	Name    string
	Spec    fleetupdate.Spec
	Members []fleetupdate.Member
	Catalog fleetupdate.Catalog
}

// Run loads the run named plan.Name from the journal at h.Path, or creates
// it from plan and starts it, then performs commands and feeds back results
// until the run is done (Run.Done: Completed, Skipped, Failed or Stopped)
// or ctx is cancelled. It follows the host contract of package fleetupdate:
//
//  1. commit each accepted event to the journal before performing its
//     commands (journal.Journal.Step);
//  2. perform each command (upgrades are idempotent per op);
//  3. report each outcome stamped with the clock's time;
//  4. deliver a Tick at each WakeAt;
//  5. after a restart, perform Run.Outstanding: the upgrades in flight and
//     every wake-up still owed.
func (h *Host) Run(ctx context.Context, plan Plan) (fleetupdate.Run, error) {
	store, err := journal.Open(h.Path, h.Options)
	if err != nil {
		return fleetupdate.Run{}, err
	}
	defer store.Close()

	ctx, cancel := context.WithCancel(ctx)
	events := make(chan fleetupdate.Event, 16)
	var wg sync.WaitGroup
	defer wg.Wait() // no goroutine outlives Run...
	defer cancel()  // ...because cancelling first stops them

	send := func(e fleetupdate.Event) {
		select {
		case events <- e:
		case <-ctx.Done():
		}
	}
	perform := func(c fleetupdate.UpgradeMember) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := h.Upgrader.Upgrade(ctx, c)
			if ctx.Err() != nil {
				return // killed: the restarted host re-sends c
			}
			var ue *UpgradeError
			switch {
			case err == nil:
				send(fleetupdate.UpgradeSucceeded{At: h.Clock.Now(), Op: c.Op})
			case errors.As(err, &ue):
				send(fleetupdate.UpgradeFailed{At: h.Clock.Now(), Op: c.Op, Code: ue.Code, Message: ue.Message})
			default:
				send(fleetupdate.UpgradeFailed{At: h.Clock.Now(), Op: c.Op, Code: "HostError", Message: err.Error()})
			}
		}()
	}
	var timers []*clock.Timer
	defer func() {
		for _, t := range timers {
			t.Stop()
		}
	}()
	do := func(cmds []fleetupdate.Command) {
		for _, c := range cmds { // 2. and 4.
			switch c := c.(type) {
			case fleetupdate.UpgradeMember:
				h.logf("upgrading %s (%s)", c.Member, c.Op)
				perform(c)
			case fleetupdate.WakeAt:
				timers = append(timers, h.Clock.AfterFunc(h.Clock.Until(c.At), func() {
					send(fleetupdate.Tick{At: h.Clock.Now()})
				}))
			case fleetupdate.AwaitGate: // tell whoever approves; they send CompleteGate
				h.logf("gate %s (%s %q) is waiting", c.Gate, c.Type, c.DisplayName)
			}
		}
	}

	var next fleetupdate.Event
	j, err := store.Load(plan.Name)
	switch {
	case errors.Is(err, journal.ErrNotFound):
		if j, err = store.Create(plan.Name, plan.Spec, plan.Members, plan.Catalog); err != nil {
			return fleetupdate.Run{}, err
		}
		next = fleetupdate.Start{At: h.Clock.Now()}
	case err != nil:
		return fleetupdate.Run{}, err
	default:
		run := j.Run()
		h.logf("resumed %s: %s, %d upgrades in flight", run.Name(), run.State(), len(run.InFlight()))
		do(run.Outstanding()) // 5.
	}

	run := j.Run()
	for {
		if next == nil {
			if run.Done() {
				return run, nil
			}
			select {
			case next = <-events:
			case <-ctx.Done():
				return run, ctx.Err()
			}
		}
		ev := next
		next = nil
		r, cmds, err := j.Step(ev) // 1. committed before we act
		if errors.Is(err, journal.ErrWrite) {
			return run, err
		}
		if err != nil {
			h.logf("ignored %T: %v", ev, err) // refused: the run is unchanged
			continue
		}
		run = r
		if h.afterPersist != nil {
			h.afterPersist()
		}
		if ctx.Err() != nil {
			return run, ctx.Err()
		}
		do(cmds)
		if h.OnStep != nil {
			h.OnStep(run, cmds)
		}
	}
}

func (h *Host) logf(format string, a ...any) {
	if h.Log != nil {
		fmt.Fprintf(h.Log, "%s  %s\n", h.Clock.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, a...))
	}
}

// FakeUpgrader stands in for Azure: it records every operation, counts real
// upgrades per member, and attaches to an operation it has seen before
// instead of upgrading again.
type FakeUpgrader struct {
	Clock clock.Clock
	// Delay is how long each upgrade takes on Clock.
	Delay time.Duration
	// Fail makes the first attempt of these members fail with this code.
	Fail map[string]string
	// Hang makes the first attempt of this member never finish (until the
	// host is killed), to test restarts mid-upgrade.
	Hang string

	mu       sync.Mutex
	seen     map[fleetupdate.OpID]error
	Upgrades map[string]int // upgrades that really happened, per member
}

// Upgrade implements Upgrader.
func (f *FakeUpgrader) Upgrade(ctx context.Context, c fleetupdate.UpgradeMember) error {
	f.mu.Lock()
	if f.seen == nil {
		f.seen, f.Upgrades = map[fleetupdate.OpID]error{}, map[string]int{}
	}
	res, again := f.seen[c.Op]
	if !again {
		if code, ok := f.Fail[c.Member]; ok && f.Upgrades[c.Member] == 0 {
			res = &UpgradeError{Code: code, Message: "injected failure"}
		}
		f.seen[c.Op] = res
		f.Upgrades[c.Member]++
	}
	hang := !again && c.Member == f.Hang
	f.mu.Unlock()
	if hang {
		<-ctx.Done()
		return ctx.Err()
	}
	if f.Delay > 0 && !again {
		select {
		case <-f.Clock.After(f.Delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return res
}

// Ops returns how many distinct operations the upgrader has seen.
func (f *FakeUpgrader) Ops() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen)
}
