package fleetrun

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/fleetkit/fleetkit/fleetupdate"
)

// Names under which the workflow, its activity, its Update and its queries
// are registered. Clients in other languages use them as they are.
const (
	WorkflowName     = "fleetkit.UpdateRun"     // the workflow: one update run
	ActivityName     = "fleetkit.UpgradeMember" // the activity: one UpgradeMember
	GateActivityName = "fleetkit.AwaitGate"     // the activity: tell approvers of one AwaitGate
	UpdateName       = "fleetkit.Event"         // the Update: a user action or a changed fact
	QueryStatus      = "fleetkit.Status"        // the query: the run's status
	QueryMember      = "fleetkit.Member"        // the query: one member's status, by name
)

// DefaultTaskQueue is the base name of the task queue the command and the
// examples use; TaskQueue adds the semantics version.
const DefaultTaskQueue = "fleetkit"

// TaskQueue returns the task queue for base on this build's reducer:
// base + "-semantics-" + fleetupdate.SemanticsVersion. Workers poll it and
// runs are started on it, so a run stays with workers whose Step gives the
// commands its history recorded.
func TaskQueue(base string) string {
	return base + "-semantics-" + strconv.Itoa(fleetupdate.SemanticsVersion)
}

// Defaults for the zero values of Config's fields.
const (
	DefaultMaxEvents         = 2000
	DefaultUpgradeTimeout    = 6 * time.Hour
	DefaultFullStatusMembers = 1000
)

// DefaultRetry is the retry policy for transient upgrade failures when
// Config.Retry is nil: 30 s, doubling to at most 10 min, 10 attempts. When
// they run out, the run sees UpgradeFailed with the last error's code.
var DefaultRetry = temporal.RetryPolicy{
	InitialInterval:    30 * time.Second,
	BackoffCoefficient: 2,
	MaximumInterval:    10 * time.Minute,
	MaximumAttempts:    10,
}

// Config is how the workflow hosts a run. The zero value uses the defaults.
// It is part of Input, so it carries over a continue-as-new.
type Config struct {
	// MaxEvents is how many accepted events one execution applies before it
	// drains its upgrades and continues as new (DefaultMaxEvents). Each costs
	// about four history events, so the default keeps an execution near
	// 8,000, under Temporal's warning at 10,240 and far from its limit of
	// 51,200. The workflow also drains when the server suggests continuing as
	// new, which by default it does at 4,096 events or 4 MB
	// (limit.historyCount.suggestContinueAsNew): with a default server that
	// comes first, at about 1,000 events.
	MaxEvents int `json:"maxEvents,omitempty"`
	// UpgradeTimeout bounds one attempt of one upgrade (the activity's
	// start-to-close timeout; DefaultUpgradeTimeout).
	UpgradeTimeout time.Duration `json:"upgradeTimeout,omitempty"`
	// HeartbeatTimeout, if set, makes the activity heartbeat at a third of it,
	// so a lost worker is noticed within it rather than UpgradeTimeout.
	HeartbeatTimeout time.Duration `json:"heartbeatTimeout,omitempty"`
	// Retry is the retry policy for transient upgrade failures (DefaultRetry).
	Retry *temporal.RetryPolicy `json:"retry,omitempty"`
	// FullStatusMembers is the largest run for which QueryStatus returns
	// every member; larger runs get Run.Overview (DefaultFullStatusMembers).
	FullStatusMembers int `json:"fullStatusMembers,omitempty"`
}

func (c Config) maxEvents() int { return orDefault(c.MaxEvents, DefaultMaxEvents) }
func (c Config) fullStatusMembers() int {
	return orDefault(c.FullStatusMembers, DefaultFullStatusMembers)
}

func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// Input is the workflow's argument, for its first execution and every
// continue-as-new.
type Input struct {
	// Run is the update run, made with fleetupdate.New (or carried over).
	Run fleetupdate.Run
	// Config says how to host it.
	Config Config
	// Start makes the workflow send Start as its first event, so creating and
	// starting a run is one call. A continue-as-new clears it.
	Start bool
}

// inputJSON is Input's JSON: the run is gzip-compressed (encoding/json
// writes the bytes as base64), since a 10,000-member run is several
// megabytes of JSON and Temporal refuses payloads over 2 MB.
type inputJSON struct {
	RunGzip []byte `json:"runGzip"`
	Config  Config `json:"config"`
	Start   bool   `json:"start,omitempty"`
}

// MarshalJSON writes the input with its run compressed.
func (in Input) MarshalJSON() ([]byte, error) {
	run, err := json.Marshal(in.Run)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(run); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return json.Marshal(inputJSON{RunGzip: buf.Bytes(), Config: in.Config, Start: in.Start})
}

// UnmarshalJSON reads what MarshalJSON wrote; the run is checked as strictly
// as fleetupdate's persisted form always is.
func (in *Input) UnmarshalJSON(b []byte) error {
	var w inputJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	zr, err := gzip.NewReader(bytes.NewReader(w.RunGzip))
	if err != nil {
		return fmt.Errorf("fleetrun: input run: %w", err)
	}
	run, err := io.ReadAll(zr)
	if err != nil {
		return fmt.Errorf("fleetrun: input run: %w", err)
	}
	var r fleetupdate.Run
	if err := json.Unmarshal(run, &r); err != nil {
		return err
	}
	*in = Input{Run: r, Config: w.Config, Start: w.Start}
	return nil
}

// Event carries a fleetupdate.Event through Temporal's data converter in
// fleetkit's wire format (fleetupdate.MarshalEvent: one JSON object tagged
// by "type"), so one Update takes every kind of action.
type Event struct{ fleetupdate.Event }

// MarshalJSON writes the event in the wire format.
func (e Event) MarshalJSON() ([]byte, error) {
	if e.Event == nil {
		return []byte("null"), nil
	}
	return fleetupdate.MarshalEvent(e.Event)
}

// UnmarshalJSON reads an event in the wire format.
func (e *Event) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*e = Event{}
		return nil
	}
	ev, err := fleetupdate.UnmarshalEvent(b)
	if err != nil {
		return err
	}
	e.Event = ev
	return nil
}

// Types of the *temporal.ApplicationError a refused Update fails with (its
// message is Step's error): one per fleetupdate sentinel, and NotUserAction
// for an event only the workflow itself may apply (a Tick, an outcome).
// Send turns them back into errors that wrap the sentinel.
const (
	RefusedInvalidTransition = "InvalidTransition"
	RefusedUnknownTarget     = "UnknownTarget"
	RefusedUnknownGate       = "UnknownGate"
	RefusedStaleOperation    = "StaleOperation"
	RefusedInvalidSpec       = "InvalidSpec"
	RefusedInvalidEncoding   = "InvalidEncoding"
	RefusedNotUserAction     = "NotUserAction"
)

// ErrNotUserAction is what Send's error wraps when the Update carried an
// event that only the workflow applies (Tick, UpgradeSucceeded, UpgradeFailed).
var ErrNotUserAction = errors.New("fleetrun: not a user action")

var refusals = []struct {
	typ      string
	sentinel error
}{
	{RefusedInvalidTransition, fleetupdate.ErrInvalidTransition},
	{RefusedUnknownTarget, fleetupdate.ErrUnknownTarget},
	{RefusedUnknownGate, fleetupdate.ErrUnknownGate},
	{RefusedStaleOperation, fleetupdate.ErrStaleOperation},
	{RefusedInvalidSpec, fleetupdate.ErrInvalidSpec},
	{RefusedInvalidEncoding, fleetupdate.ErrInvalidEncoding},
	{RefusedNotUserAction, ErrNotUserAction},
}

// refusal turns a refusal into the error an Update fails with.
func refusal(err error) error {
	typ := "Refused"
	for _, r := range refusals {
		if errors.Is(err, r.sentinel) {
			typ = r.typ
			break
		}
	}
	return temporal.NewNonRetryableApplicationError(err.Error(), typ, nil)
}

// RefusedError is a user action the run refused, as Send returns it.
// errors.Is(err, fleetupdate.ErrInvalidTransition) and the like hold.
type RefusedError struct {
	Type    string // one of the Refused… constants, or "Refused"
	Message string // Step's error
	err     error  // the sentinel, if Type names one
}

// Error returns Step's error message.
func (e *RefusedError) Error() string { return e.Message }

// Unwrap returns the sentinel the refusal's type names.
func (e *RefusedError) Unwrap() error { return e.err }

// asRefused returns the RefusedError an Update's failure stands for, if it
// is one.
func asRefused(err error) (*RefusedError, bool) {
	var app *temporal.ApplicationError
	if !errors.As(err, &app) {
		return nil, false
	}
	re := &RefusedError{Type: app.Type(), Message: app.Message()}
	for _, r := range refusals {
		if r.typ == app.Type() {
			re.err = r.sentinel
			return re, true
		}
	}
	return re, app.Type() == "Refused"
}
