package fleetupdate

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// genFlatText draws strings JSON writes as they are, and strings it
// escapes or rewrites: quotes, backslashes, HTML characters, controls,
// non-ASCII, the line separators and invalid UTF-8.
func genFlatText(t *rapid.T, label string) string {
	switch rapid.IntRange(0, 3).Draw(t, label+"Kind") {
	case 0:
		return ""
	case 1:
		return rapid.StringMatching(`[ -~]{1,12}`).Draw(t, label)
	case 2:
		parts := rapid.SliceOfN(rapid.SampledFrom([]string{
			"a", "run-1/c1/1", " ", "\"", "\\", "<", ">", "&", "\n", "\x00", "\x7f", "é", "\u2028", "\u2029", "\xff", "/",
		}), 1, 6).Draw(t, label+"Parts")
		s := ""
		for _, p := range parts {
			s += p
		}
		return s
	}
	return rapid.String().Draw(t, label)
}

// genFlatTime draws times JSON encodes (any zone, any nanoseconds, the
// zero time) and times it refuses (years before 0 and after 9999 in UTC).
func genFlatTime(t *rapid.T) time.Time {
	zones := []*time.Location{time.UTC, time.FixedZone("east", 5*3600+1800), time.FixedZone("west", -8*3600)}
	zone := rapid.SampledFrom(zones).Draw(t, "zone")
	switch rapid.IntRange(0, 3).Draw(t, "timeKind") {
	case 0:
		return time.Time{}
	case 1:
		y := rapid.SampledFrom([]int{-1, 0, 1, 9999, 10000}).Draw(t, "edgeYear")
		return time.Date(y, time.Month(rapid.IntRange(1, 12).Draw(t, "month")), rapid.IntRange(1, 31).Draw(t, "day"), rapid.IntRange(0, 23).Draw(t, "hour"), 0, 0, 0, zone)
	}
	ns := rapid.SampledFrom([]int64{0, 1, 500_000_000, 120_000, 999_999_999}).Draw(t, "ns")
	if rapid.Bool().Draw(t, "anyNs") {
		ns = rapid.Int64Range(0, 999_999_999).Draw(t, "nsAny")
	}
	return time.Unix(rapid.Int64Range(wireMinTime, wireMaxTime).Draw(t, "sec"), ns).In(zone)
}

func genFlatEvent(t *rapid.T) Event {
	at := genFlatTime(t)
	switch rapid.IntRange(0, 5).Draw(t, "event") {
	case 0:
		return Start{At: at}
	case 1:
		return Stop{At: at}
	case 2:
		return Tick{At: at}
	case 3:
		return UpgradeSucceeded{At: at, Op: OpID(genFlatText(t, "op"))}
	case 4:
		return UpgradeFailed{At: at, Op: OpID(genFlatText(t, "op")), Code: genFlatText(t, "code"), Message: genFlatText(t, "message")}
	}
	return CompleteGate{At: at, Gate: GateID(genFlatText(t, "gate"))}
}

// mutateWire changes an encoding the ways a hand-edited or damaged journal
// entry would: a byte changed, added or removed, whitespace, a field
// repeated or emptied, keys in another order or case.
func mutateWire(t *rapid.T, b []byte) []byte {
	b = append([]byte(nil), b...)
	switch rapid.IntRange(0, 7).Draw(t, "mutation") {
	case 0:
		return b
	case 1:
		if len(b) > 0 {
			i := rapid.IntRange(0, len(b)-1).Draw(t, "at")
			b[i] = rapid.SampledFrom([]byte(` "\,:{}0aZz.+-<u`)).Draw(t, "byte")
		}
	case 2:
		i := rapid.IntRange(0, len(b)).Draw(t, "at")
		c := rapid.SampledFrom([]byte(" \"\\,:{}0Z.\n")).Draw(t, "byte")
		b = append(b[:i], append([]byte{c}, b[i:]...)...)
	case 3:
		if len(b) > 0 {
			i := rapid.IntRange(0, len(b)-1).Draw(t, "at")
			b = append(b[:i], b[i+1:]...)
		}
	case 4:
		if len(b) > 1 {
			extra := rapid.SampledFrom([]string{`,"op":"x/y/1"`, `,"code":""`, `,"message":""`, `,"at":"2026-01-01T00:00:00Z"`, `,"gate":"g"`, `,"x":1`}).Draw(t, "field")
			b = append(b[:len(b)-1], append([]byte(extra), '}')...)
		}
	case 5:
		old := rapid.SampledFrom([]string{`"type"`, `"at"`, `"op"`, `"code"`, `"Z"`, `Z"`, `.`}).Draw(t, "find")
		repl := rapid.SampledFrom([]string{`"Type"`, `"AT"`, `"op" `, `"code":"","code"`, `"+00:00"`, `+00:00"`, `.0`}).Draw(t, "replace")
		if i := indexOf(b, old); i >= 0 {
			b = append(b[:i], append([]byte(repl), b[i+len(old):]...)...)
		}
	case 6:
		b = append(b, rapid.SampledFrom([]string{" ", "\n", "{}", "x"}).Draw(t, "trailer")...)
	case 7:
		// Another flat type's name: the fields no longer fit it.
		for _, typ := range []string{"Start", "Stop", "Tick", "UpgradeSucceeded", "UpgradeFailed", "CompleteGate"} {
			if i := indexOf(b, `"`+typ+`"`); i >= 0 {
				to := rapid.SampledFrom([]string{"Start", "Tick", "UpgradeSucceeded", "UpgradeFailed", "CompleteGate", "WakeAt", "Skip"}).Draw(t, "retype")
				b = append(b[:i], append([]byte(`"`+to+`"`), b[i+len(typ)+2:]...)...)
				break
			}
		}
	}
	return b
}

func indexOf(b []byte, s string) int {
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return i
		}
	}
	return -1
}

func errText(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// checkMarshalSame fails t when MarshalEvent and encoding/json's path
// disagree on e, and when what they write does not decode the same way
// through both paths.
func checkMarshalSame(t fataler, e Event) {
	t.Helper()
	got, gotErr := MarshalEvent(e)
	want, wantErr := marshalEventJSON(e)
	if string(got) != string(want) || errText(gotErr) != errText(wantErr) {
		t.Fatalf("MarshalEvent(%#v) = %q, %v; encoding/json: %q, %v", e, got, gotErr, want, wantErr)
	}
	if want != nil {
		checkUnmarshalSame(t, want)
	}
}

// checkUnmarshalSame fails t when UnmarshalEvent and encoding/json's path
// disagree on b.
func checkUnmarshalSame(t fataler, b []byte) {
	t.Helper()
	ge, gerr := UnmarshalEvent(b)
	we, werr := unmarshalEventJSON(b)
	if !reflect.DeepEqual(ge, we) || errText(gerr) != errText(werr) {
		t.Fatalf("UnmarshalEvent(%q) = %#v, %v; encoding/json: %#v, %v", b, ge, gerr, we, werr)
	}
}

// The hand-written paths are invisible: for any flat event, MarshalEvent
// writes what encoding/json writes (or refuses with the same error), and
// for that encoding, damaged or edited, UnmarshalEvent returns what
// encoding/json's path returns, value and error alike.
func TestFlatWireMatchesJSON(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		e := genFlatEvent(t)
		checkMarshalSame(t, e)
		want, _ := marshalEventJSON(e)
		if want == nil {
			want = []byte(fmt.Sprintf(`{"type":"Tick","at":"%s"}`, genFlatText(t, "rawTime")))
		}
		checkUnmarshalSame(t, mutateWire(t, want))
	})
}

// The hand-written paths do take the canonical encodings of the flat
// events (else the test above would hold with them never used), and
// nothing else.
func TestFlatWireTakesCanonicalFormsOnly(t *testing.T) {
	at := time.Date(2026, 3, 4, 12, 0, 0, 500_000_000, time.UTC)
	for _, e := range []Event{
		Start{At: at}, Stop{At: at}, Tick{At: time.Time{}}, Tick{At: at.In(time.FixedZone("east", 3600))},
		UpgradeSucceeded{At: at, Op: "run-1/c1/1"},
		UpgradeFailed{At: at, Op: "run-1/c1/2"},
		UpgradeFailed{At: at, Op: "run-1/c1/2", Code: "QuotaExceeded"},
		UpgradeFailed{At: at, Op: "run-1/c1/2", Message: "no quota left in region eastus"},
		UpgradeFailed{At: at, Op: "run-1/c1/2", Code: "QuotaExceeded", Message: "no quota (see aka.ms/x?y=1)"},
		CompleteGate{At: at, Gate: "run-1/prod/Before/0"},
	} {
		b, ok := marshalFlat(e)
		if !ok {
			t.Errorf("marshalFlat(%#v) gave up", e)
			continue
		}
		back, ok := unmarshalFlat(b)
		want := e
		if tk, isTick := e.(Tick); isTick {
			want = Tick{At: tk.At.UTC()}
		}
		if !ok || !reflect.DeepEqual(back, want) {
			t.Errorf("unmarshalFlat(%s) = %#v, %v; want %#v", b, back, ok, want)
		}
	}
	for _, s := range []string{
		`{"type":"Tick","at":"2026-03-04T12:00:00.50Z"}`,                                         // trailing zero
		`{"type":"Tick","at":"2026-03-04T12:00:00+00:00"}`,                                       // offset, not Z
		`{"type":"Tick","at":"2026-03-04T13:00:00+01:00"}`,                                       // not UTC
		`{"type":"Tick","at":"2026-03-04T12:00:00z"}`,                                            // lower-case z
		`{"type":"Tick", "at":"2026-03-04T12:00:00Z"}`,                                           // space
		`{"at":"2026-03-04T12:00:00Z","type":"Tick"}`,                                            // order
		`{"type":"Tick","at":"2026-03-04T12:00:00Z"} `,                                           // trailing space
		`{"type":"Tick","at":"2026-03-04T12:00:00Z","x":1}`,                                      // unknown field
		`{"type":"WakeAt","at":"2026-03-04T12:00:00Z"}`,                                          // a command
		`{"type":"Skip","at":"2026-03-04T12:00:00Z"}`,                                            // not flat
		`{"type":"UpgradeSucceeded","at":"2026-03-04T12:00:00Z"}`,                                // op missing
		`{"type":"UpgradeSucceeded","at":"2026-03-04T12:00:00Z","op":""}`,                        // op empty
		`{"type":"UpgradeSucceeded","at":"2026-03-04T12:00:00Z","op":"a\/b"}`,                    // escape
		`{"type":"UpgradeSucceeded","at":"2026-03-04T12:00:00Z","op":"a<b"}`,                     // JSON writes \u003c
		`{"type":"UpgradeFailed","at":"2026-03-04T12:00:00Z","op":"a","code":""}`,                // empty optional written
		`{"type":"UpgradeFailed","at":"2026-03-04T12:00:00Z","op":"a","message":"m","code":"c"}`, // order
		`{"type":"UpgradeFailed","at":"2026-03-04T12:00:00Z","op":"a","op":"b"}`,                 // twice
		`{"type":"CompleteGate","at":"2026-03-04T12:00:00Z","gate":"g","gate":"h"}`,              // twice
		`{"type":"Tick","at":"2026-13-04T12:00:00Z"}`,                                            // month 13
		`{"type":"Tick","at":"2026-02-30T12:00:00Z"}`,                                            // February 30
		`{"type":"Tick","at":"2026-03-04T23:59:60Z"}`,                                            // leap second
		`{"type":"Tick","at":"2026-03-04T12:00:00.Z"}`,                                           // empty fraction
		`{"type":"Tick","at":"2026-03-04T12:00:00.1234567891Z"}`,                                 // ten digits
		`{"type":"Tick","at":"2026-03-04 12:00:00Z"}`,                                            // space for T
		`{"type":"Tick","at":"2026-03-04T12-00-00Z"}`,                                            // separators
		`{"type":"Tick","at":"2026-03-04T12:00:0aZ"}`,                                            // not a digit
		`{"type":"Tick","at":"-001-03-04T12:00:00Z"}`,
		`{"type":"Tick","at":"10000-03-04T12:00:00Z"}`,
	} {
		if e, ok := unmarshalFlat([]byte(s)); ok {
			t.Errorf("unmarshalFlat(%s) took it: %#v", s, e)
		}
	}
}

// FuzzFlatWireMatchesJSON: on any input, UnmarshalEvent returns what
// encoding/json's path returns.
func FuzzFlatWireMatchesJSON(f *testing.F) {
	f.Add([]byte(`{"type":"Tick","at":"2026-03-04T12:00:00Z"}`))
	f.Add([]byte(`{"type":"UpgradeSucceeded","at":"2026-03-04T12:00:00.123456789Z","op":"run-1/c1/1"}`))
	f.Add([]byte(`{"type":"UpgradeFailed","at":"0000-01-01T00:00:00Z","op":"r/c/2","code":"X","message":"m"}`))
	f.Add([]byte(`{"type":"CompleteGate","at":"9999-12-31T23:59:59.999999999Z","gate":"run-1/prod/Before/0"}`))
	f.Add([]byte(`{"type":"Tick","at":"2026-02-30T12:00:00.10Z"}`))
	f.Add([]byte(`{"type":"Stop","at":"2026-03-04T12:00:00,5Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) { checkUnmarshalSame(t, b) })
}

// BenchmarkEventWire encodes and decodes the events a journal writes most,
// through the wire functions and through encoding/json alone, side by
// side: path=json is what the wire functions cost before the hand-written
// paths.
func BenchmarkEventWire(b *testing.B) {
	at := time.Date(2026, 3, 4, 12, 20, 0, 0, time.UTC)
	for _, e := range []Event{
		Tick{At: at},
		UpgradeSucceeded{At: at, Op: "fleet-rollout-1/member-004711/1"},
		UpgradeFailed{At: at, Op: "fleet-rollout-1/member-004711/1", Code: "QuotaExceeded", Message: "operation could not be completed: quota exceeded"},
	} {
		enc, err := MarshalEvent(e)
		if err != nil {
			b.Fatal(err)
		}
		name := reflect.TypeOf(e).Name()
		for _, p := range []struct {
			path      string
			marshal   func(Event) ([]byte, error)
			unmarshal func([]byte) (Event, error)
		}{{"json", marshalEventJSON, unmarshalEventJSON}, {"wire", MarshalEvent, UnmarshalEvent}} {
			b.Run(fmt.Sprintf("event=%s/op=marshal/path=%s", name, p.path), func(b *testing.B) {
				b.ReportAllocs()
				for range b.N {
					if _, err := p.marshal(e); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("event=%s/op=unmarshal/path=%s", name, p.path), func(b *testing.B) {
				b.ReportAllocs()
				for range b.N {
					if _, err := p.unmarshal(enc); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
