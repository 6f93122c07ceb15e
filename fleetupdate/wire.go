package fleetupdate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"time"
)

// The wire format of events and commands: what journals, queues and
// workflow engines carry. Each value is one JSON object tagged by "type"
// with the Go type's name; times are RFC 3339 in UTC; decoding refuses
// unknown types, unknown or missing fields, and trailing data.
//
//	{"type":"Start","at":"2026-03-04T12:00:00Z"}
//	{"type":"Stop","at":…}
//	{"type":"Skip","at":…,"targets":[{"type":"Group","name":"canary"}]}
//	{"type":"Tick","at":…}
//	{"type":"UpgradeSucceeded","at":…,"op":"run-1/c1/1"}
//	{"type":"UpgradeFailed","at":…,"op":…,"code":"QuotaExceeded","message":"…"}
//	{"type":"MemberChanged","at":…,"member":{…Member JSON…},"removed":true}
//	{"type":"CatalogChanged","at":…,"catalog":{"regions":{…}}}
//	{"type":"CompleteGate","at":…,"gate":"run-1/prod/Before/0"}
//	{"type":"UpgradeMember","op":…,"member":"c1","upgradeType":"Full","kubernetesVersion":"1.30.5","nodeImages":[{"pool":"system","nodeImageVersion":"…"}]}
//	{"type":"WakeAt","at":…}
//	{"type":"AwaitGate","gate":…,"gateType":"ScheduledStart","displayName":"…","stage":"prod","group":"eu","timing":"Before","startAt":…}
//
// Decoded times are in UTC, so a value whose times are UTC round-trips
// exactly (reflect.DeepEqual), and any value round-trips to the same bytes.
// Optional lists that are empty are omitted, so they decode as nil.

type wireTag struct {
	Type string `json:"type"`
}

type wireAt struct {
	Type string     `json:"type"`
	At   *time.Time `json:"at"`
}

type wireSkip struct {
	Type    string       `json:"type"`
	At      *time.Time   `json:"at"`
	Targets []SkipTarget `json:"targets"`
}

type wireSucceeded struct {
	Type string     `json:"type"`
	At   *time.Time `json:"at"`
	Op   OpID       `json:"op"`
}

type wireOutcome struct {
	Type    string     `json:"type"`
	At      *time.Time `json:"at"`
	Op      OpID       `json:"op"`
	Code    string     `json:"code,omitempty"`
	Message string     `json:"message,omitempty"`
}

type wireMember struct {
	Type    string     `json:"type"`
	At      *time.Time `json:"at"`
	Member  *Member    `json:"member"`
	Removed bool       `json:"removed,omitempty"`
}

type wireCatalog struct {
	Type    string     `json:"type"`
	At      *time.Time `json:"at"`
	Catalog *Catalog   `json:"catalog"`
}

type wireComplete struct {
	Type string     `json:"type"`
	At   *time.Time `json:"at"`
	Gate GateID     `json:"gate"`
}

type wireAwait struct {
	Type        string     `json:"type"`
	Gate        GateID     `json:"gate"`
	GateType    GateType   `json:"gateType"`
	DisplayName string     `json:"displayName,omitempty"`
	Stage       string     `json:"stage"`
	Group       string     `json:"group,omitempty"`
	Timing      GateTiming `json:"timing"`
	StartAt     *time.Time `json:"startAt,omitempty"`
}

type wireUpgrade struct {
	Type              string      `json:"type"`
	Op                OpID        `json:"op"`
	Member            string      `json:"member"`
	UpgradeType       UpgradeType `json:"upgradeType"`
	KubernetesVersion string      `json:"kubernetesVersion,omitempty"`
	NodeImages        []PoolImage `json:"nodeImages,omitempty"`
}

func utcPtr(t time.Time) *time.Time {
	u := t.UTC()
	return &u
}

// MarshalEvent encodes an event in the wire format. It refuses what
// UnmarshalEvent would refuse (an outcome without an op), so whatever it
// writes can be read back.
func MarshalEvent(e Event) ([]byte, error) {
	if b, ok := marshalFlat(e); ok {
		return b, nil
	}
	return marshalEventJSON(e)
}

// marshalEventJSON is MarshalEvent through encoding/json, for every event.
func marshalEventJSON(e Event) ([]byte, error) {
	var v any
	switch e := e.(type) {
	case Start:
		v = wireAt{"Start", utcPtr(e.At)}
	case Stop:
		v = wireAt{"Stop", utcPtr(e.At)}
	case Tick:
		v = wireAt{"Tick", utcPtr(e.At)}
	case Skip:
		v = wireSkip{"Skip", utcPtr(e.At), e.Targets}
	case UpgradeSucceeded:
		if e.Op == "" {
			return nil, fmt.Errorf("%w: UpgradeSucceeded: empty op", ErrInvalidEncoding)
		}
		v = wireSucceeded{"UpgradeSucceeded", utcPtr(e.At), e.Op}
	case UpgradeFailed:
		if e.Op == "" {
			return nil, fmt.Errorf("%w: UpgradeFailed: empty op", ErrInvalidEncoding)
		}
		v = wireOutcome{"UpgradeFailed", utcPtr(e.At), e.Op, e.Code, e.Message}
	case MemberChanged:
		v = wireMember{"MemberChanged", utcPtr(e.At), &e.Member, e.Removed}
	case CatalogChanged:
		v = wireCatalog{"CatalogChanged", utcPtr(e.At), &e.Catalog}
	case CompleteGate:
		if e.Gate == "" {
			return nil, fmt.Errorf("%w: CompleteGate: empty gate", ErrInvalidEncoding)
		}
		v = wireComplete{"CompleteGate", utcPtr(e.At), e.Gate}
	default:
		return nil, fmt.Errorf("%w: cannot encode event type %T", ErrInvalidEncoding, e)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %T: %v", ErrInvalidEncoding, e, err)
	}
	return b, nil
}

// UnmarshalEvent decodes an event written by MarshalEvent. Errors wrap
// ErrInvalidEncoding and name what is wrong.
func UnmarshalEvent(b []byte) (Event, error) {
	if e, ok := unmarshalFlat(b); ok {
		return e, nil
	}
	return unmarshalEventJSON(b)
}

// unmarshalEventJSON is UnmarshalEvent through encoding/json, for every
// input.
func unmarshalEventJSON(b []byte) (Event, error) {
	typ, err := wireType(b)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "Start", "Stop", "Tick":
		var w wireAt
		if err := decodeWire(b, &w, typ, &w.At, "at"); err != nil {
			return nil, err
		}
		at := w.At.UTC()
		switch typ {
		case "Start":
			return Start{At: at}, nil
		case "Stop":
			return Stop{At: at}, nil
		}
		return Tick{At: at}, nil
	case "Skip":
		var w wireSkip
		if err := decodeWire(b, &w, typ, &w.At, "at"); err != nil {
			return nil, err
		}
		for i, t := range w.Targets {
			switch t.Type {
			case TargetMember, TargetGroup, TargetStage, TargetAfterStageWait:
			default:
				return nil, fmt.Errorf("%w: %s: targets[%d].type %q: want Member, Group, Stage or AfterStageWait", ErrInvalidEncoding, typ, i, t.Type)
			}
		}
		return Skip{At: w.At.UTC(), Targets: w.Targets}, nil
	case "UpgradeSucceeded":
		var w wireSucceeded
		if err := decodeWire(b, &w, typ, &w.At, "at", &w.Op, "op"); err != nil {
			return nil, err
		}
		return UpgradeSucceeded{At: w.At.UTC(), Op: w.Op}, nil
	case "UpgradeFailed":
		var w wireOutcome
		if err := decodeWire(b, &w, typ, &w.At, "at", &w.Op, "op"); err != nil {
			return nil, err
		}
		return UpgradeFailed{At: w.At.UTC(), Op: w.Op, Code: w.Code, Message: w.Message}, nil
	case "MemberChanged":
		var w wireMember
		if err := decodeWire(b, &w, typ, &w.At, "at", &w.Member, "member"); err != nil {
			return nil, err
		}
		return MemberChanged{At: w.At.UTC(), Member: *w.Member, Removed: w.Removed}, nil
	case "CatalogChanged":
		var w wireCatalog
		if err := decodeWire(b, &w, typ, &w.At, "at", &w.Catalog, "catalog"); err != nil {
			return nil, err
		}
		return CatalogChanged{At: w.At.UTC(), Catalog: *w.Catalog}, nil
	case "CompleteGate":
		var w wireComplete
		if err := decodeWire(b, &w, typ, &w.At, "at", &w.Gate, "gate"); err != nil {
			return nil, err
		}
		return CompleteGate{At: w.At.UTC(), Gate: w.Gate}, nil
	}
	return nil, fmt.Errorf("%w: unknown event type %q", ErrInvalidEncoding, typ)
}

// MarshalCommand encodes a command in the wire format. Like MarshalEvent,
// it refuses what UnmarshalCommand would refuse.
func MarshalCommand(c Command) ([]byte, error) {
	var v any
	switch c := c.(type) {
	case UpgradeMember:
		if c.Op == "" || c.Member == "" || c.Type == "" {
			return nil, fmt.Errorf("%w: UpgradeMember: empty op, member or type", ErrInvalidEncoding)
		}
		v = wireUpgrade{"UpgradeMember", c.Op, c.Member, c.Type, c.KubernetesVersion, c.NodeImages}
	case WakeAt:
		v = wireAt{"WakeAt", utcPtr(c.At)}
	case AwaitGate:
		if c.Gate == "" || c.Type == "" || c.Stage == "" || c.Timing == "" {
			return nil, fmt.Errorf("%w: AwaitGate: empty gate, type, stage or timing", ErrInvalidEncoding)
		}
		w := wireAwait{"AwaitGate", c.Gate, c.Type, c.DisplayName, c.Stage, c.Group, c.Timing, nil}
		if !c.StartAt.IsZero() {
			w.StartAt = utcPtr(c.StartAt)
		}
		v = w
	default:
		return nil, fmt.Errorf("%w: cannot encode command type %T", ErrInvalidEncoding, c)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: %T: %v", ErrInvalidEncoding, c, err)
	}
	return b, nil
}

// UnmarshalCommand decodes a command written by MarshalCommand. Errors wrap
// ErrInvalidEncoding and name what is wrong.
func UnmarshalCommand(b []byte) (Command, error) {
	typ, err := wireType(b)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "UpgradeMember":
		var w wireUpgrade
		if err := decodeWire(b, &w, typ, &w.Op, "op", &w.Member, "member", &w.UpgradeType, "upgradeType"); err != nil {
			return nil, err
		}
		switch w.UpgradeType {
		case Full, ControlPlaneOnly, NodeImageOnly:
		default:
			return nil, fmt.Errorf("%w: %s: upgradeType %q: want Full, ControlPlaneOnly or NodeImageOnly", ErrInvalidEncoding, typ, w.UpgradeType)
		}
		return UpgradeMember{Op: w.Op, Member: w.Member, Type: w.UpgradeType, KubernetesVersion: w.KubernetesVersion, NodeImages: w.NodeImages}, nil
	case "WakeAt":
		var w wireAt
		if err := decodeWire(b, &w, typ, &w.At, "at"); err != nil {
			return nil, err
		}
		return WakeAt{At: w.At.UTC()}, nil
	case "AwaitGate":
		var w wireAwait
		if err := decodeWire(b, &w, typ, &w.Gate, "gate", &w.GateType, "gateType", &w.Stage, "stage", &w.Timing, "timing"); err != nil {
			return nil, err
		}
		if w.GateType != Approval && w.GateType != ScheduledStart || w.Timing != Before && w.Timing != After {
			return nil, fmt.Errorf("%w: %s: gateType %q or timing %q: want Approval or ScheduledStart, Before or After", ErrInvalidEncoding, typ, w.GateType, w.Timing)
		}
		c := AwaitGate{Gate: w.Gate, Type: w.GateType, DisplayName: w.DisplayName, Stage: w.Stage, Group: w.Group, Timing: w.Timing}
		if w.StartAt != nil {
			c.StartAt = w.StartAt.UTC()
		}
		return c, nil
	}
	return nil, fmt.Errorf("%w: unknown command type %q", ErrInvalidEncoding, typ)
}

func wireType(b []byte) (string, error) {
	var t wireTag
	if err := json.Unmarshal(b, &t); err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidEncoding, err)
	}
	if t.Type == "" {
		return "", fmt.Errorf("%w: missing field \"type\"", ErrInvalidEncoding)
	}
	return t.Type, nil
}

// decodeWire decodes one JSON value into v, refusing unknown fields, keys
// given twice or not spelled exactly (exactKeys), and trailing data, then
// checks that each required field (pairs of a pointer into v and the
// field's JSON name) is present and not empty.
func decodeWire(b []byte, v any, typ string, required ...any) error {
	if err := exactKeys(b, reflect.TypeOf(v)); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalidEncoding, typ, err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalidEncoding, typ, err)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: %s: trailing data after the JSON value", ErrInvalidEncoding, typ)
	}
	for i := 0; i+1 < len(required); i += 2 {
		if reflect.ValueOf(required[i]).Elem().IsZero() {
			return fmt.Errorf("%w: %s: missing field %q", ErrInvalidEncoding, typ, required[i+1])
		}
	}
	// Every time must encode again (RFC 3339 has years 0 to 9999 only).
	for i := range reflect.ValueOf(v).Elem().NumField() {
		f := reflect.ValueOf(v).Elem().Field(i)
		if t, ok := f.Interface().(*time.Time); ok && t != nil {
			if y := t.UTC().Year(); y < 0 || y > 9999 {
				return fmt.Errorf("%w: %s: time %s is outside years 0 to 9999 in UTC", ErrInvalidEncoding, typ, t.Format(time.RFC3339))
			}
		}
	}
	return nil
}

// Replay steps events into r in order and returns the run they lead to. It
// stops at the first refused event and returns the run before it with an
// error naming the event's index. A journal holds only accepted events, so
// replaying one from the run it started with never fails.
func Replay(r Run, events []Event) (Run, error) {
	for i, e := range events {
		next, _, err := Step(r, e)
		if err != nil {
			return r, fmt.Errorf("replay: event %d (%T): %w", i, e, err)
		}
		r = next
	}
	return r, nil
}
