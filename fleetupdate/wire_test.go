package fleetupdate

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/fleetkit/fleetkit/window"
)

// Generators for wire values. Empty slices are generated as nil: the wire
// format (like the Azure JSON of Member) omits empty optional lists, so an
// empty non-nil slice decodes as nil.

var (
	wireMinTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	wireMaxTime = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
)

func genUTC(t *rapid.T, label string) time.Time {
	switch rapid.IntRange(0, 3).Draw(t, label+"Kind") {
	case 0:
		return time.Time{}
	case 1:
		return t0.Add(time.Duration(rapid.IntRange(0, 1000).Draw(t, label+"Minutes")) * time.Minute)
	}
	s := rapid.Int64Range(wireMinTime, wireMaxTime).Draw(t, label+"Sec")
	ns := rapid.Int64Range(0, 999_999_999).Draw(t, label+"Nsec")
	return time.Unix(s, ns).UTC()
}

func genText(t *rapid.T, label string) string {
	if rapid.Bool().Draw(t, label+"Plain") {
		return rapid.StringMatching(`[a-z0-9][-a-z0-9/.]{0,20}`).Draw(t, label)
	}
	return rapid.String().Draw(t, label)
}

func genOp(t *rapid.T) OpID {
	return OpID(rapid.StringMatching(`[a-z0-9-]{1,8}/[a-z0-9-]{1,8}/[1-9]`).Draw(t, "op"))
}

func genSlice[T any](t *rapid.T, label string, max int, gen func(*rapid.T) T) []T {
	var out []T
	for range rapid.IntRange(0, max).Draw(t, label) {
		out = append(out, gen(t))
	}
	return out
}

func genSchedule(t *rapid.T) *window.Schedule {
	if rapid.Bool().Draw(t, "noWindow") {
		return nil
	}
	s := &window.Schedule{DurationHours: rapid.IntRange(-1, 30).Draw(t, "hours"), StartTime: genText(t, "startTime"),
		UTCOffset: genText(t, "utcOffset"), StartDate: genText(t, "startDate")}
	switch rapid.IntRange(0, 4).Draw(t, "recurrence") {
	case 0:
		s.Recurrence.Daily = &window.DailySchedule{IntervalDays: rapid.IntRange(0, 9).Draw(t, "days")}
	case 1:
		s.Recurrence.Weekly = &window.WeeklySchedule{IntervalWeeks: rapid.IntRange(0, 9).Draw(t, "weeks"), DayOfWeek: window.Weekday(genText(t, "day"))}
	case 2:
		s.Recurrence.AbsoluteMonthly = &window.AbsoluteMonthlySchedule{IntervalMonths: 1, DayOfMonth: rapid.IntRange(0, 40).Draw(t, "dom")}
	case 3:
		s.Recurrence.RelativeMonthly = &window.RelativeMonthlySchedule{IntervalMonths: 2, WeekIndex: window.WeekIndex(genText(t, "index")), DayOfWeek: window.Monday}
	}
	s.NotAllowedDates = genSlice(t, "blocked", 2, func(t *rapid.T) window.DateSpan {
		return window.DateSpan{Start: genText(t, "from"), End: genText(t, "to")}
	})
	return s
}

func genWireMember(t *rapid.T) Member {
	return Member{
		Name: genText(t, "name"), Group: genText(t, "group"), Region: genText(t, "region"), KubernetesVersion: genText(t, "k8s"),
		NodePools: genSlice(t, "pools", 3, func(t *rapid.T) NodePool {
			return NodePool{Name: genText(t, "pool"), NodeImageVersion: genText(t, "image"), KubernetesVersion: genText(t, "poolK8s")}
		}),
		AutoUpgradeWindow:   genSchedule(t),
		NodeOSUpgradeWindow: genSchedule(t),
		ClusterResourceID:   genText(t, "resourceId"),
	}
}

func genWireCatalog(t *rapid.T) Catalog {
	if rapid.Bool().Draw(t, "nilRegions") {
		return Catalog{}
	}
	c := Catalog{Regions: map[string]RegionCatalog{}}
	for range rapid.IntRange(0, 3).Draw(t, "regions") {
		rc := RegionCatalog{}
		if rapid.Bool().Draw(t, "hasVersions") {
			rc.KubernetesVersions = rapid.SliceOf(rapid.StringMatching(`1\.[0-9]{2}\.[0-9]`)).Draw(t, "versions")
		}
		if rapid.Bool().Draw(t, "hasImages") {
			rc.NodeImageVersions = rapid.SliceOf(rapid.String()).Draw(t, "images")
		}
		c.Regions[genText(t, "region")] = rc
	}
	return c
}

func genWireEvent(t *rapid.T) Event {
	at := genUTC(t, "at")
	switch rapid.IntRange(0, 8).Draw(t, "event") {
	case 0:
		return Start{At: at}
	case 1:
		return Stop{At: at}
	case 2:
		var targets []SkipTarget
		if !rapid.Bool().Draw(t, "nilTargets") {
			targets = []SkipTarget{} // "targets":[] is kept apart from null
			for range rapid.IntRange(0, 3).Draw(t, "targets") {
				targets = append(targets, SkipTarget{Type: rapid.SampledFrom([]TargetType{TargetMember, TargetGroup, TargetStage, TargetAfterStageWait}).Draw(t, "type"), Name: genText(t, "target")})
			}
		}
		return Skip{At: at, Targets: targets}
	case 3:
		return Tick{At: at}
	case 4:
		return UpgradeSucceeded{At: at, Op: genOp(t)}
	case 5:
		return UpgradeFailed{At: at, Op: genOp(t), Code: genText(t, "code"), Message: genText(t, "message")}
	case 6:
		return MemberChanged{At: at, Member: genWireMember(t), Removed: rapid.Bool().Draw(t, "removed")}
	case 7:
		return CompleteGate{At: at, Gate: GateID(rapid.StringMatching(`[a-z0-9-]{1,8}/[a-z0-9-]{1,8}/(Before|After)/[0-9]`).Draw(t, "gate"))}
	}
	return CatalogChanged{At: at, Catalog: genWireCatalog(t)}
}

func genWireCommand(t *rapid.T) Command {
	switch rapid.IntRange(0, 2).Draw(t, "command") {
	case 0:
		return WakeAt{At: genUTC(t, "at")}
	case 1:
		c := AwaitGate{Gate: GateID(rapid.StringMatching(`[a-z0-9/-]{1,20}`).Draw(t, "gate")),
			Type: rapid.SampledFrom([]GateType{Approval, ScheduledStart}).Draw(t, "gateType"), DisplayName: genText(t, "displayName"),
			Stage: rapid.StringMatching(`[a-z0-9-]{1,8}`).Draw(t, "stage"), Timing: rapid.SampledFrom([]GateTiming{Before, After}).Draw(t, "timing")}
		if rapid.Bool().Draw(t, "inGroup") {
			c.Group = genText(t, "group")
		}
		if rapid.Bool().Draw(t, "scheduled") {
			c.StartAt = genUTC(t, "startAt")
		}
		return c
	}
	c := UpgradeMember{Op: genOp(t), Member: rapid.StringMatching(`[a-z0-9-]{1,8}`).Draw(t, "member"),
		Type: rapid.SampledFrom([]UpgradeType{Full, ControlPlaneOnly, NodeImageOnly}).Draw(t, "type")}
	if rapid.Bool().Draw(t, "hasVersion") {
		c.KubernetesVersion = genText(t, "version")
	}
	c.NodeImages = genSlice(t, "images", 3, func(t *rapid.T) PoolImage {
		return PoolImage{Pool: genText(t, "pool"), NodeImageVersion: genText(t, "image")}
	})
	return c
}

// fataler is what test helpers need of *testing.T and *rapid.T.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// roundTrip checks the wire rule: a value with UTC times decodes to itself
// and re-encodes to the same bytes.
func roundTrip[T any](t fataler, v T, marshal func(T) ([]byte, error), unmarshal func([]byte) (T, error)) {
	t.Helper()
	b, err := marshal(v)
	if err != nil {
		t.Fatalf("encode %#v: %v", v, err)
	}
	back, err := unmarshal(b)
	if err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	if !reflect.DeepEqual(v, back) {
		t.Fatalf("round trip changed the value\n in: %#v\nout: %#v\nvia: %s", v, back, b)
	}
	again, err := marshal(back)
	if err != nil || string(again) != string(b) {
		t.Fatalf("re-encoding differs (%v)\nfirst: %s\n again: %s", err, b, again)
	}
}

func TestWireEventsRoundTripExactly(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		roundTrip(t, genWireEvent(t), MarshalEvent, UnmarshalEvent)
	})
}

func TestWireCommandsRoundTripExactly(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		roundTrip(t, genWireCommand(t), MarshalCommand, UnmarshalCommand)
	})
}

// The documented examples, one per type, as exact bytes.
func TestWireFormatTable(t *testing.T) {
	m := member("c1", "canary")
	m.AutoUpgradeWindow = dailyWindow("22:00", 4)
	events := []struct {
		e    Event
		wire string
	}{
		{Start{At: t0}, `{"type":"Start","at":"2026-03-04T12:00:00Z"}`},
		{Stop{At: t0}, `{"type":"Stop","at":"2026-03-04T12:00:00Z"}`},
		{Skip{At: t0, Targets: []SkipTarget{{TargetGroup, "canary"}, {TargetAfterStageWait, "test"}}},
			`{"type":"Skip","at":"2026-03-04T12:00:00Z","targets":[{"type":"Group","name":"canary"},{"type":"AfterStageWait","name":"test"}]}`},
		{Tick{At: t0.Add(time.Nanosecond)}, `{"type":"Tick","at":"2026-03-04T12:00:00.000000001Z"}`},
		{UpgradeSucceeded{At: t0, Op: "run-1/c1/1"}, `{"type":"UpgradeSucceeded","at":"2026-03-04T12:00:00Z","op":"run-1/c1/1"}`},
		{UpgradeFailed{At: t0, Op: "run-1/c1/1", Code: "QuotaExceeded", Message: "over quota"},
			`{"type":"UpgradeFailed","at":"2026-03-04T12:00:00Z","op":"run-1/c1/1","code":"QuotaExceeded","message":"over quota"}`},
		{MemberChanged{At: t0, Member: m, Removed: true},
			`{"type":"MemberChanged","at":"2026-03-04T12:00:00Z","member":{"name":"c1","group":"canary","region":"eastus","kubernetesVersion":"1.29.4","nodePools":[{"name":"system","nodeImageVersion":"AKSUbuntu-2204gen2containerd-202405.13.0"}],"autoUpgradeWindow":{"schedule":{"daily":{"intervalDays":1}},"durationHours":4,"startTime":"22:00"}},"removed":true}`},
		{CatalogChanged{At: t0, Catalog: Catalog{Regions: map[string]RegionCatalog{"eastus": {KubernetesVersions: []string{"1.30.5"}, NodeImageVersions: []string{}}}}},
			`{"type":"CatalogChanged","at":"2026-03-04T12:00:00Z","catalog":{"regions":{"eastus":{"kubernetesVersions":["1.30.5"],"nodeImageVersions":[]}}}}`},
		{CompleteGate{At: t0, Gate: "run-1/prod/Before/0"}, `{"type":"CompleteGate","at":"2026-03-04T12:00:00Z","gate":"run-1/prod/Before/0"}`},
	}
	for _, tc := range events {
		t.Run(fmt.Sprintf("%T", tc.e), func(t *testing.T) {
			b, err := MarshalEvent(tc.e)
			require.NoError(t, err)
			assert.Equal(t, tc.wire, string(b))
			roundTrip(t, tc.e, MarshalEvent, UnmarshalEvent)
		})
	}
	commands := []struct {
		c    Command
		wire string
	}{
		{UpgradeMember{Op: "run-1/c1/1", Member: "c1", Type: Full, KubernetesVersion: "1.30.5", NodeImages: []PoolImage{{"system", imgNew}}},
			`{"type":"UpgradeMember","op":"run-1/c1/1","member":"c1","upgradeType":"Full","kubernetesVersion":"1.30.5","nodeImages":[{"pool":"system","nodeImageVersion":"AKSUbuntu-2204gen2containerd-202405.27.0"}]}`},
		{UpgradeMember{Op: "run-1/c1/2", Member: "c1", Type: NodeImageOnly, NodeImages: []PoolImage{{"system", imgNew}}},
			`{"type":"UpgradeMember","op":"run-1/c1/2","member":"c1","upgradeType":"NodeImageOnly","nodeImages":[{"pool":"system","nodeImageVersion":"AKSUbuntu-2204gen2containerd-202405.27.0"}]}`},
		{WakeAt{At: t0}, `{"type":"WakeAt","at":"2026-03-04T12:00:00Z"}`},
		{AwaitGate{Gate: "run-1/prod/eu/Before/0", Type: ScheduledStart, DisplayName: "change window", Stage: "prod", Group: "eu", Timing: Before, StartAt: t0},
			`{"type":"AwaitGate","gate":"run-1/prod/eu/Before/0","gateType":"ScheduledStart","displayName":"change window","stage":"prod","group":"eu","timing":"Before","startAt":"2026-03-04T12:00:00Z"}`},
		{AwaitGate{Gate: "run-1/prod/After/1", Type: Approval, Stage: "prod", Timing: After},
			`{"type":"AwaitGate","gate":"run-1/prod/After/1","gateType":"Approval","stage":"prod","timing":"After"}`},
	}
	for _, tc := range commands {
		t.Run(fmt.Sprintf("%T", tc.c), func(t *testing.T) {
			b, err := MarshalCommand(tc.c)
			require.NoError(t, err)
			assert.Equal(t, tc.wire, string(b))
			roundTrip(t, tc.c, MarshalCommand, UnmarshalCommand)
		})
	}
}

// Times in other zones are sent in UTC, and decoded times are UTC, so a
// journal written in one zone replays the same in another.
func TestWireTimesAreUTC(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	b, err := MarshalEvent(Tick{At: t0.In(paris)})
	require.NoError(t, err)
	assert.Equal(t, `{"type":"Tick","at":"2026-03-04T12:00:00Z"}`, string(b))
	e, err := UnmarshalEvent([]byte(`{"type":"Tick","at":"2026-03-04T13:00:00+01:00"}`))
	require.NoError(t, err)
	assert.Equal(t, Tick{At: t0}, e)
}

func TestWireRefusesWhatItCannotEncode(t *testing.T) {
	// Whatever encodes must decode, so values missing a required field are
	// refused here rather than written to a journal no one can read.
	for _, e := range []Event{nil, &Start{At: t0}, Tick{At: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		UpgradeSucceeded{At: t0}, UpgradeFailed{At: t0, Code: "X"}, CompleteGate{At: t0}} {
		_, err := MarshalEvent(e)
		assert.ErrorIs(t, err, ErrInvalidEncoding, "%#v", e)
	}
	for _, c := range []Command{nil, &WakeAt{At: t0}, WakeAt{At: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)},
		UpgradeMember{Member: "c1", Type: Full}, UpgradeMember{Op: "r/c1/1", Type: Full}, UpgradeMember{Op: "r/c1/1", Member: "c1"},
		AwaitGate{Type: Approval, Stage: "s", Timing: Before}, AwaitGate{Gate: "g", Stage: "s", Timing: Before},
		AwaitGate{Gate: "g", Type: Approval, Timing: Before}, AwaitGate{Gate: "g", Type: Approval, Stage: "s"}} {
		_, err := MarshalCommand(c)
		assert.ErrorIs(t, err, ErrInvalidEncoding, "%#v", c)
	}
}

const at0 = `"at":"2026-03-04T12:00:00Z"`

// Every way a message can be wrong is refused with ErrInvalidEncoding and a
// message naming what is wrong.
func TestWireDecodingIsStrict(t *testing.T) {
	events := []struct{ in, want string }{
		{``, "unexpected end"},
		{`null`, `missing field "type"`},
		{`[]`, "cannot unmarshal array"},
		{`"Start"`, "cannot unmarshal string"},
		{`{` + at0 + `}`, `missing field "type"`},
		{`{"type":"","at":"2026-03-04T12:00:00Z"}`, `missing field "type"`},
		{`{"type":"Bogus",` + at0 + `}`, `unknown event type "Bogus"`},
		{`{"type":"WakeAt",` + at0 + `}`, `unknown event type "WakeAt"`},
		{`{"type":"start",` + at0 + `}`, `unknown event type "start"`},
		{`{"type":"Start"}`, `Start: missing field "at"`},
		{`{"type":"Start","at":null}`, `Start: missing field "at"`},
		{`{"type":"Tick",` + at0 + `,"op":"x/y/1"}`, `unknown field "op"`},
		{`{"type":"Start",` + at0 + `,"extra":1}`, `unknown field "extra"`},
		{`{"type":"Start",` + at0 + `} {}`, "after top-level value"},
		{`{"type":"Start",` + at0 + `}x`, "after top-level value"},
		{`{"type":"Start","at":"yesterday"}`, "cannot parse"},
		{`{"type":"Start","at":12}`, "not a JSON string | cannot unmarshal number"}, // Go 1.26 | 1.27
		{`{"type":7,` + at0 + `}`, "cannot unmarshal number"},
		{`{"type":"UpgradeSucceeded",` + at0 + `}`, `UpgradeSucceeded: missing field "op"`},
		{`{"type":"UpgradeSucceeded",` + at0 + `,"op":""}`, `UpgradeSucceeded: missing field "op"`},
		{`{"type":"UpgradeSucceeded",` + at0 + `,"op":1}`, "cannot unmarshal number"},
		{`{"type":"UpgradeSucceeded",` + at0 + `,"op":"a/b/1","code":"X"}`, `unknown field "code"`},
		{`{"type":"UpgradeFailed","op":"a/b/1"}`, `UpgradeFailed: missing field "at"`},
		{`{"type":"UpgradeFailed",` + at0 + `,"op":"a/b/1","code":false}`, "cannot unmarshal bool"},
		{`{"type":"Skip",` + at0 + `,"targets":{}}`, "cannot unmarshal object"},
		{`{"type":"Skip",` + at0 + `,"targets":[{"type":"Member","name":"a","x":1}]}`, `unknown field "x"`},
		{`{"type":"MemberChanged",` + at0 + `}`, `MemberChanged: missing field "member"`},
		{`{"type":"MemberChanged",` + at0 + `,"member":null}`, `MemberChanged: missing field "member"`},
		{`{"type":"MemberChanged",` + at0 + `,"member":{"name":"a","nodes":3}}`, `unknown field "nodes"`},
		{`{"type":"MemberChanged",` + at0 + `,"member":{"name":"a"},"removed":"yes"}`, "cannot unmarshal string"},
		{`{"type":"MemberChanged",` + at0 + `,"member":{"name":"a","autoUpgradeWindow":{"timeInWeek":[]}}}`, `unknown field "timeInWeek"`},
		{`{"type":"CatalogChanged",` + at0 + `}`, `CatalogChanged: missing field "catalog"`},
		{`{"type":"CatalogChanged",` + at0 + `,"catalog":{"regions":[]}}`, "cannot unmarshal array"},
		{`{"type":"CatalogChanged",` + at0 + `,"catalog":{"regions":{},"zones":{}}}`, `unknown field "zones"`},
		{`{"type":"CompleteGate",` + at0 + `}`, `CompleteGate: missing field "gate"`},
		{`{"type":"CompleteGate","gate":"g"}`, `CompleteGate: missing field "at"`},
		{`{"type":"CompleteGate",` + at0 + `,"gate":"g","op":"x"}`, `unknown field "op"`},
		{`{"type":"CompleteGate",` + at0 + `,"gate":7}`, "cannot unmarshal number"},
		{`{"type":"AwaitGate",` + at0 + `}`, `unknown event type "AwaitGate"`},
	}
	for _, tc := range events {
		e, err := UnmarshalEvent([]byte(tc.in))
		if assert.ErrorIs(t, err, ErrInvalidEncoding, "%s decoded to %#v", tc.in, e) {
			// encoding/json's own words differ between Go versions: " | "
			// separates the ones each says.
			if !slices.ContainsFunc(strings.Split(tc.want, " | "), func(w string) bool { return strings.Contains(err.Error(), w) }) {
				t.Errorf("%s: error %q says none of %q", tc.in, err, tc.want)
			}
			assert.Nil(t, e, tc.in)
		}
	}
	commands := []struct{ in, want string }{
		{`{"type":"Start",` + at0 + `}`, `unknown command type "Start"`},
		{`{"type":"WakeAt"}`, `WakeAt: missing field "at"`},
		{`{"type":"WakeAt",` + at0 + `,"op":"a/b/1"}`, `unknown field "op"`},
		{`{"type":"UpgradeMember","member":"c1","upgradeType":"Full"}`, `UpgradeMember: missing field "op"`},
		{`{"type":"UpgradeMember","op":"a/c1/1","upgradeType":"Full"}`, `UpgradeMember: missing field "member"`},
		{`{"type":"UpgradeMember","op":"a/c1/1","member":"c1"}`, `UpgradeMember: missing field "upgradeType"`},
		{`{"type":"UpgradeMember","op":"a/c1/1","member":"c1","type":"Full"}`, `unknown command type "Full"`}, // the last "type" wins
		{`{"type":"UpgradeMember","op":"a/c1/1","member":"c1","upgradeType":"Full","nodeImages":"x"}`, "cannot unmarshal string"},
		{`{"type":"UpgradeMember","op":"a/c1/1","member":"c1","upgradeType":"Full"}{}`, "after top-level value"},
		{`{"type":"AwaitGate","gateType":"Approval","stage":"s","timing":"Before"}`, `AwaitGate: missing field "gate"`},
		{`{"type":"AwaitGate","gate":"g","stage":"s","timing":"Before"}`, `AwaitGate: missing field "gateType"`},
		{`{"type":"AwaitGate","gate":"g","gateType":"Approval","timing":"Before"}`, `AwaitGate: missing field "stage"`},
		{`{"type":"AwaitGate","gate":"g","gateType":"Approval","stage":"s"}`, `AwaitGate: missing field "timing"`},
		{`{"type":"AwaitGate","gate":"g","gateType":"Approval","stage":"s","timing":"Before","at":"2026-03-04T12:00:00Z"}`, `unknown field "at"`},
		{`{"type":"AwaitGate","gate":"g","gateType":"Approval","stage":"s","timing":"Before","startAt":"soon"}`, "cannot parse"},
		{`{"type":"CompleteGate",` + at0 + `,"gate":"g"}`, `unknown command type "CompleteGate"`},
	}
	for _, tc := range commands {
		c, err := UnmarshalCommand([]byte(tc.in))
		if assert.ErrorIs(t, err, ErrInvalidEncoding, "%s decoded to %#v", tc.in, c) {
			assert.Contains(t, err.Error(), tc.want, tc.in)
			assert.Nil(t, c, tc.in)
		}
	}
}

// FuzzUnmarshalEvent: decoding never panics, and whatever decodes is a
// value the wire format keeps: it re-encodes, decodes to the same value and
// re-encodes to the same bytes.
func FuzzUnmarshalEvent(f *testing.F) {
	f.Add([]byte(`{"type":"Start","at":"2026-03-04T12:00:00Z"}`))
	f.Add([]byte(`{"type":"Skip","at":"2026-03-04T12:00:00+01:00","targets":[{"type":"Group","name":"canary"}]}`))
	f.Add([]byte(`{"type":"UpgradeFailed","at":"2026-03-04T12:00:00.5Z","op":"r/c/1","code":"X","message":"m"}`))
	f.Add([]byte(`{"type":"MemberChanged","at":"2026-03-04T12:00:00Z","member":{"name":"c1","region":"eastus","kubernetesVersion":"1.29.4","nodePools":[],"autoUpgradeWindow":{"schedule":{"weekly":{"intervalWeeks":1,"dayOfWeek":"Monday"}},"durationHours":4,"startTime":"22:00","notAllowedDates":[]}},"removed":false}`))
	f.Add([]byte(`{"type":"CatalogChanged","at":"2026-03-04T12:00:00Z","catalog":{"regions":{"eastus":{"kubernetesVersions":null,"nodeImageVersions":["a"]}}}}`))
	f.Add([]byte(`{"TYPE":"Tick","At":"2026-03-04T12:00:00Z"}`))
	f.Add([]byte(`{"type":"CompleteGate","at":"2026-03-04T12:00:00Z","gate":"run-1/prod/Before/0"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := UnmarshalEvent(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidEncoding) {
				t.Fatalf("error does not wrap ErrInvalidEncoding: %v", err)
			}
			return
		}
		enc, err := MarshalEvent(e)
		if err != nil {
			t.Fatalf("decoded %#v does not encode: %v", e, err)
		}
		// e may hold empty lists that its encoding omits; what it encodes
		// to is a wire value, which must keep exactly.
		back, err := UnmarshalEvent(enc)
		if err != nil {
			t.Fatalf("%s decoded, but its encoding %s does not: %v", b, enc, err)
		}
		roundTrip(t, back, MarshalEvent, UnmarshalEvent)
	})
}

// replayEvents generates a random event sequence for the two-stage run,
// with refused events among them.
func replayEvents(t *rapid.T, r Run) []Event {
	var out []Event
	now := t0
	for range rapid.IntRange(0, 40).Draw(t, "events") {
		now = now.Add(time.Duration(rapid.IntRange(0, 90).Draw(t, "minutes")) * time.Minute)
		var e Event
		switch rapid.IntRange(0, 6).Draw(t, "kind") {
		case 0:
			e = Start{At: now}
		case 1:
			e = Stop{At: now}
		case 2, 3:
			op := OpID(fmt.Sprintf("run-1/%s/1", rapid.SampledFrom(twoStageMembers()).Draw(t, "member").Name))
			if in := r.InFlight(); len(in) > 0 && rapid.IntRange(0, 4).Draw(t, "stale") > 0 {
				op = rapid.SampledFrom(in).Draw(t, "op").Op
			}
			if rapid.IntRange(0, 4).Draw(t, "fail") == 0 {
				e = UpgradeFailed{At: now, Op: op, Code: "Boom"}
			} else {
				e = UpgradeSucceeded{At: now, Op: op}
			}
		case 4:
			e = Skip{At: now, Targets: []SkipTarget{{TargetMember, rapid.SampledFrom([]string{"t1-a", "p1-b", "nope"}).Draw(t, "target")}}}
		default:
			e = Tick{At: now}
		}
		if next, _, err := Step(r, e); err == nil {
			r = next
		}
		out = append(out, e)
	}
	return out
}

// Replay equals stepping one by one, and stops at the first refused event,
// naming its index and returning the run before it.
func TestReplayEqualsSteppingOneByOne(t *testing.T) {
	start, err := New("run-1", twoStages(600), twoStageMembers(), catalog())
	require.NoError(t, err)
	rapid.Check(t, func(t *rapid.T) {
		events := replayEvents(t, start)
		r, accepted := start, []Event(nil)
		firstRefused := -1
		var atRefused Run
		for i, e := range events {
			next, _, err := Step(r, e)
			if err != nil {
				if firstRefused < 0 {
					firstRefused, atRefused = i, r
				}
				continue
			}
			r = next
			accepted = append(accepted, e)
		}
		got, err := Replay(start, accepted)
		if err != nil {
			t.Fatalf("replay of accepted events: %v", err)
		}
		if mustJSONR(t, got) != mustJSONR(t, r) {
			t.Fatal("replay differs from stepping one by one")
		}
		got, err = Replay(start, events)
		if firstRefused < 0 {
			if err != nil || mustJSONR(t, got) != mustJSONR(t, r) {
				t.Fatalf("replay of accepted events: %v", err)
			}
			return
		}
		if err == nil {
			t.Fatalf("replay accepted refused event %d", firstRefused)
		}
		if want := fmt.Sprintf("replay: event %d (%T): ", firstRefused, events[firstRefused]); !strings.HasPrefix(err.Error(), want) {
			t.Fatalf("error %q does not start with %q", err, want)
		}
		_, _, stepErr := Step(atRefused, events[firstRefused])
		if !strings.HasSuffix(err.Error(), stepErr.Error()) {
			t.Fatalf("error %q does not carry the step's error %q", err, stepErr)
		}
		for _, sentinel := range []error{ErrInvalidTransition, ErrStaleOperation, ErrUnknownTarget, ErrInvalidSpec} {
			if errors.Is(err, sentinel) != errors.Is(stepErr, sentinel) {
				t.Fatalf("error %v does not wrap the step's error %v", err, stepErr)
			}
		}
		if mustJSONR(t, got) != mustJSONR(t, atRefused) {
			t.Fatal("replay did not return the run before the refused event")
		}
	})
}

func TestReplayOfNothingIsTheRun(t *testing.T) {
	r, err := New("run-1", twoStages(600), twoStageMembers(), catalog())
	require.NoError(t, err)
	got, err := Replay(r, nil)
	require.NoError(t, err)
	b1, _ := json.Marshal(r)
	b2, _ := json.Marshal(got)
	assert.Equal(t, string(b1), string(b2))
}

// Strict decoding: a key named twice (in any case) and enum values the
// types do not have are refused; encoding/json alone would keep the last
// key and any string.
func TestWireRefusesDuplicateKeysAndUnknownEnums(t *testing.T) {
	for _, b := range []string{
		`{"type":"UpgradeSucceeded","at":"2026-03-04T12:00:00Z","op":"a/b/1","OP":"c/d/1"}`,
		`{"type":"UpgradeSucceeded","at":"2026-03-04T12:00:00Z","op":"a/b/1","op":"c/d/1"}`,
		`{"type":"MemberChanged","at":"2026-03-04T12:00:00Z","member":{"name":"a","region":"r","Region":"s","kubernetesVersion":"1.30.1"}}`,
		`{"type":"Skip","at":"2026-03-04T12:00:00Z","targets":[{"type":"Cluster","name":"x"}]}`,
	} {
		_, err := UnmarshalEvent([]byte(b))
		assert.ErrorIs(t, err, ErrInvalidEncoding, b)
	}
	for _, b := range []string{
		`{"type":"UpgradeMember","op":"a/b/1","member":"b","upgradeType":"Everything"}`,
		`{"type":"AwaitGate","gate":"g","gateType":"Vote","stage":"s","timing":"Before"}`,
		`{"type":"AwaitGate","gate":"g","gateType":"Approval","stage":"s","timing":"During"}`,
	} {
		_, err := UnmarshalCommand([]byte(b))
		assert.ErrorIs(t, err, ErrInvalidEncoding, b)
	}
	_, err := UnmarshalEvent([]byte(`{"type":"Skip","at":"2026-03-04T12:00:00Z","targets":[{"type":"Member","name":"x"},{"type":"Group","name":"x"}]}`))
	assert.NoError(t, err, "the same key in sibling objects is fine")
}

// Found by FuzzUnmarshalEvent: a time at year 0 in a zone east of UTC is
// year -1 in UTC and could not be encoded again; keys in another case
// ("tYpe", "At") were matched.
func TestWireRefusesUnencodableTimesAndCaseVariantKeys(t *testing.T) {
	for _, b := range []string{
		`{"type":"Skip","at":"0000-01-01T00:00:00+01:00"}`,
		`{"type":"Skip","At":"2026-03-04T12:00:00Z"}`,
	} {
		_, err := UnmarshalEvent([]byte(b))
		assert.ErrorIs(t, err, ErrInvalidEncoding, b)
	}
}
