package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/fleetkit/fleetkit/fleetupdate"
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

// Host runs one update run to its end, persisting it after every step.
type Host struct {
	Path     string      // the run's state file
	Clock    clock.Clock // clock.New() in production
	Upgrader Upgrader
	Log      io.Writer // progress lines; nil for none

	// OnStep, if set, is called after each step has been persisted and its
	// commands started (timers armed, upgrades under way).
	OnStep func(fleetupdate.Run, []fleetupdate.Command)
	// afterPersist lets a test kill the host between persisting a step and
	// performing its commands.
	afterPersist func()
}

// Run loads the run from h.Path, or creates it with create and starts it,
// then performs commands and feeds back results until the run is
// Completed, Failed or Skipped, or ctx is cancelled. It follows the host
// contract of package fleetupdate:
//
//  1. persist the returned run before performing its commands;
//  2. perform each command (upgrades are idempotent per op);
//  3. report each outcome stamped with the clock's time;
//  4. deliver a Tick at each WakeAt;
//  5. after a restart, re-send the in-flight upgrades and re-arm the wake-up.
func (h *Host) Run(ctx context.Context, create func() (fleetupdate.Run, error)) (fleetupdate.Run, error) {
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
	wakeAt := func(at fleetupdate.WakeAt) {
		timers = append(timers, h.Clock.AfterFunc(h.Clock.Until(at.At), func() {
			send(fleetupdate.Tick{At: h.Clock.Now()})
		}))
	}

	run, loaded, err := h.load()
	if err != nil {
		return run, err
	}
	var first fleetupdate.Event
	if loaded {
		h.logf("resumed %s: %s, %d upgrades in flight", run.Name(), run.State(), len(run.InFlight()))
		for _, c := range run.InFlight() { // 5. re-send what was in flight
			perform(c)
		}
		if at, ok := run.NextWake(); ok {
			wakeAt(fleetupdate.WakeAt{At: at})
		}
	} else {
		if run, err = create(); err != nil {
			return run, err
		}
		first = fleetupdate.Start{At: h.Clock.Now()}
	}

	for {
		if first == nil {
			if done(run) {
				return run, nil
			}
			select {
			case first = <-events:
			case <-ctx.Done():
				return run, ctx.Err()
			}
		}
		ev := first
		first = nil
		next, cmds, err := fleetupdate.Step(run, ev)
		if err != nil {
			h.logf("ignored %T: %v", ev, err) // the run is unchanged
			continue
		}
		run = next
		if err := h.save(run); err != nil { // 1. persist first
			return run, err
		}
		if h.afterPersist != nil {
			h.afterPersist()
		}
		if ctx.Err() != nil {
			return run, ctx.Err()
		}
		for _, c := range cmds { // 2. and 4.
			switch c := c.(type) {
			case fleetupdate.UpgradeMember:
				h.logf("upgrading %s (%s)", c.Member, c.Op)
				perform(c)
			case fleetupdate.WakeAt:
				wakeAt(c)
			}
		}
		if h.OnStep != nil {
			h.OnStep(run, cmds)
		}
	}
}

func done(r fleetupdate.Run) bool {
	switch r.State() {
	case fleetupdate.Completed, fleetupdate.Failed, fleetupdate.Skipped:
		return true
	}
	return false
}

func (h *Host) load() (fleetupdate.Run, bool, error) {
	var r fleetupdate.Run
	b, err := os.ReadFile(h.Path)
	if errors.Is(err, os.ErrNotExist) {
		return r, false, nil
	}
	if err != nil {
		return r, false, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, false, fmt.Errorf("%s: %w", h.Path, err)
	}
	return r, true, nil
}

// save writes the run to a temporary file and renames it over the state
// file, so a crash leaves either the old state or the new one, never half.
func (h *Host) save(r fleetupdate.Run) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(h.Path), filepath.Base(h.Path)+".tmp*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(b)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), h.Path)
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
