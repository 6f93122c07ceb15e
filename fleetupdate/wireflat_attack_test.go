package fleetupdate

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// Attacks on the hand-written wire paths of the flat events (wireflat.go):
// each case compares MarshalEvent with marshalEventJSON and UnmarshalEvent
// with unmarshalEventJSON, bytes, values and error texts alike.

// flatOf builds each flat event at the given time with the given string in
// every string field it has (one field at a time for UpgradeFailed).
func flatOf(at time.Time, s string) []Event {
	return []Event{
		Start{At: at}, Stop{At: at}, Tick{At: at},
		UpgradeSucceeded{At: at, Op: OpID(s)},
		UpgradeFailed{At: at, Op: OpID(s)},
		UpgradeFailed{At: at, Op: "o", Code: s},
		UpgradeFailed{At: at, Op: "o", Message: s},
		UpgradeFailed{At: at, Op: OpID(s), Code: s, Message: s},
		CompleteGate{At: at, Gate: GateID(s)},
	}
}

// attackTimes are times at the edges of what RFC 3339 and encoding/json
// write: years 0 and 9999 and beyond, leap days, fractions of every
// length with and without trailing zeros, zones that move the year, a
// reading of the monotonic clock and the zero time.
func attackTimes() []time.Time {
	east := time.FixedZone("east", 14*3600)
	west := time.FixedZone("west", -12*3600)
	odd := time.FixedZone("odd", 5*3600+30*60+17) // seconds in the offset
	fakeUTC := time.FixedZone("UTC", 0)           // named UTC, not time.UTC
	ts := []time.Time{
		{},
		time.Now(), // has a monotonic reading
		time.Now().Round(0),
		time.Now().In(east),
		time.Unix(0, 0),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, east), // year -1 in UTC
		time.Date(0, 1, 1, 0, 0, 0, 0, west), // year 0 in UTC
		time.Date(-1, 12, 31, 23, 59, 59, 999_999_999, time.UTC),   // just before year 0
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC), // last time that encodes
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 20, 0, 0, 0, west), // year 10000 in UTC
		time.Date(10000, 1, 1, 1, 0, 0, 0, east),   // year 9999 in UTC
		time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC),
		time.Date(2000, 2, 29, 0, 0, 0, 0, time.UTC),
		time.Date(1900, 2, 29, 0, 0, 0, 0, time.UTC), // normalises to March 1
		time.Date(2026, 2, 29, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 13, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 4, 24, 0, 60, 0, time.UTC),
		time.Date(2026, 3, 4, 12, 0, 0, 1_000_000_000, time.UTC),
		time.Date(2026, 3, 4, 12, 0, 0, -1, time.UTC),
		time.Date(2026, 3, 4, 12, 0, 0, 0, odd),
		time.Date(2026, 3, 4, 12, 0, 0, 0, fakeUTC),
		time.Date(2026, 3, 4, 12, 0, 0, 0, time.Local),
		time.Unix(1<<62, 0),
		time.Unix(-1<<62, 0),
	}
	// Fractions of 1 to 9 digits, with and without trailing zeros.
	for digits := 1; digits <= 9; digits++ {
		ns := 0
		for d := range digits {
			ns = ns*10 + (d%9 + 1)
		}
		for range 9 - digits {
			ns *= 10
		}
		ts = append(ts, time.Date(2026, 3, 4, 12, 0, 0, ns, time.UTC))
		trailing := 1
		for range 9 - digits {
			trailing *= 10
		}
		ts = append(ts, time.Date(2026, 3, 4, 12, 0, 0, trailing, time.UTC))
	}
	// Rounding: a duration that is not a whole nanosecond multiple does
	// not exist, but Round and Truncate leave times at odd boundaries.
	base := time.Date(2026, 3, 4, 12, 0, 0, 999_999_999, time.UTC)
	ts = append(ts, base.Round(time.Millisecond), base.Truncate(time.Microsecond), base.Add(1))
	return ts
}

func TestFlatAttackTimes(t *testing.T) {
	for _, at := range attackTimes() {
		for _, e := range flatOf(at, "run-1/c1/1") {
			checkMarshalSame(t, e)
		}
	}
}

// A time with a monotonic reading encodes as the same time without it,
// and decodes as that time: the hand path must not carry the reading.
func TestFlatAttackMonotonic(t *testing.T) {
	now := time.Now()
	b, err := MarshalEvent(Tick{At: now})
	if err != nil {
		t.Fatal(err)
	}
	checkUnmarshalSame(t, b)
	got, err := UnmarshalEvent(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Tick{At: now.Round(0).UTC()}); !reflect.DeepEqual(got, want) {
		t.Fatalf("UnmarshalEvent(MarshalEvent(Tick{now})) = %#v; want %#v", got, want)
	}
}

// Every byte, alone and between plain text, in every string field.
func TestFlatAttackEveryByte(t *testing.T) {
	at := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	for c := range 256 {
		for _, s := range []string{string([]byte{byte(c)}), "a" + string([]byte{byte(c)}) + "b", strings.Repeat(string([]byte{byte(c)}), 3)} {
			for _, e := range flatOf(at, s) {
				checkMarshalSame(t, e)
			}
		}
	}
	// Runes, not bytes: JSON writes these escaped or rewritten.
	for _, s := range []string{"é", "\u2028", "\u2029", "\ufffd", "\U0001F600", "\xed\xa0\x80", "\xc0\xaf", "a/b", "/", "//", "\x00"} {
		for _, e := range flatOf(at, s) {
			checkMarshalSame(t, e)
		}
	}
}

func TestFlatAttackStrings(t *testing.T) {
	at := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	long := strings.Repeat("run-1/member-0123456789/", 1<<15) // 768 KiB
	for _, s := range []string{"", " ", "  ", "a", long, long + "<", "<" + long, long[:1<<16], "null", "true", "0", "{}", "[]", `\u0041`, "'", "`", "%s", "~", "\t"} {
		for _, e := range flatOf(at, s) {
			checkMarshalSame(t, e)
		}
	}
}

// Events given as pointers, as nil, or as a nil pointer: the hand path
// takes none of them, and MarshalEvent refuses them as encoding/json's
// path does.
func TestFlatAttackNotValues(t *testing.T) {
	at := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	for _, e := range []Event{
		nil,
		&Start{At: at}, &Stop{At: at}, &Tick{At: at},
		&UpgradeSucceeded{At: at, Op: "o"}, &UpgradeFailed{At: at, Op: "o"}, &CompleteGate{At: at, Gate: "g"},
		(*Tick)(nil),
	} {
		if _, ok := marshalFlat(e); ok {
			t.Errorf("marshalFlat(%#v) took it", e)
		}
		checkMarshalSame(t, e)
	}
}

// Hand-edited and damaged encodings: duplicate and case-variant keys,
// whitespace anywhere, trailing bytes, a byte order mark, NUL, escapes
// that spell plain text, and times that are not canonical.
func TestFlatAttackDecode(t *testing.T) {
	const at = `"2026-03-04T12:00:00Z"`
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `"Tick"`, `{"type":"Tick"}`, `{"type":"Tick","at":null}`, `{"type":"Tick","at":""}`,
		`{"type":"Tick","at":` + at + `}`,
		"\ufeff" + `{"type":"Tick","at":` + at + `}`,
		`{"type":"Tick","at":` + at + `}` + "\x00",
		`{"type":"Tick","at":` + at + `}` + "\ufeff",
		`{"type":"Tick","at":` + at + `}{"type":"Tick","at":` + at + `}`,
		`{"type":"Tick","at":` + at + `}}`,
		`{"type":"Tick","at":` + at + `,}`,
		`{"type":"Tick","at":` + at + ` }`,
		` {"type":"Tick","at":` + at + `}`,
		"\t{\"type\":\"Tick\",\"at\":" + at + "}\r\n",
		`{"type" : "Tick" , "at" : ` + at + `}`,
		`{"type":"Tick","type":"Tick","at":` + at + `}`,
		`{"type":"Tick","at":` + at + `,"at":` + at + `}`,
		`{"type":"Tick","at":` + at + `,"type":"Stop"}`,
		`{"TYPE":"Tick","at":` + at + `}`,
		`{"type":"Tick","At":` + at + `}`,
		`{"type":"tick","at":` + at + `}`,
		`{"type":"Tick\u0000","at":` + at + `}`,
		"{\"type\":\"Tick\x00\",\"at\":" + at + "}",
		`{"type":"\u0054ick","at":` + at + `}`,
		`{"\u0074ype":"Tick","at":` + at + `}`,
		`{"type":"Tick","\u0061t":` + at + `}`,
		`{"type":"Tick","at":"2026-03-04T12:00:00\u005a"}`,
		`{"type":"UpgradeSucceeded","at":` + at + `,"op":"a\/b"}`,
		`{"type":"UpgradeSucceeded","at":` + at + `,"op":"a\u002fb"}`,
		`{"type":"UpgradeSucceeded","at":` + at + `,"op":"\u003c"}`,
		`{"type":"UpgradeSucceeded","at":` + at + `,"op":"<"}`,
		`{"type":"UpgradeSucceeded","at":` + at + `,"op":"` + "\x7f" + `"}`,
		`{"type":"UpgradeSucceeded","at":` + at + `,"op":"` + "\xff" + `"}`,
		`{"type":"UpgradeSucceeded","at":` + at + `,"op":"é"}`,
		`{"type":"UpgradeSucceeded","at":` + at + `,"op":"a","op":"a"}`,
		`{"type":"UpgradeSucceeded","at":` + at + `,"op":"a","Op":"b"}`,
		`{"type":"UpgradeSucceeded","at":` + at + `,"OP":"a"}`,
		`{"type":"UpgradeSucceeded","at":` + at + `,"op":1}`,
		`{"type":"UpgradeSucceeded","at":` + at + `,"op":null}`,
		`{"type":"UpgradeSucceeded","at":` + at + `,"gate":"g"}`,
		`{"type":"UpgradeFailed","at":` + at + `,"op":"a","code":"c","message":"m"}`,
		`{"type":"UpgradeFailed","at":` + at + `,"op":"a","code":"c","message":"m","message":"m"}`,
		`{"type":"UpgradeFailed","at":` + at + `,"op":"a","code":"c","code":"c"}`,
		`{"type":"UpgradeFailed","at":` + at + `,"op":"a","message":"m","message":"m"}`,
		`{"type":"UpgradeFailed","at":` + at + `,"op":"a","message":""}`,
		`{"type":"UpgradeFailed","at":` + at + `,"op":"a","code":null}`,
		`{"type":"UpgradeFailed","at":` + at + `,"op":"a","Code":"c"}`,
		`{"type":"UpgradeFailed","at":` + at + `,"op":"a","code":"c","message":"m",}`,
		`{"type":"UpgradeFailed","at":` + at + `,"op":"a","code":"c""message":"m"}`,
		`{"type":"CompleteGate","at":` + at + `,"gate":"g"}`,
		`{"type":"CompleteGate","at":` + at + `,"op":"g"}`,
		`{"type":"CompleteGate","at":` + at + `,"gate":"g","op":"g"}`,
		`{"type":"Start","at":` + at + `,"op":"a"}`,
		`{"type":"Tick","at":"0000-01-01T00:00:00Z"}`,
		`{"type":"Tick","at":"0000-02-29T00:00:00Z"}`, // year 0 is a leap year
		`{"type":"Tick","at":"0001-01-01T00:00:00Z"}`,
		`{"type":"Tick","at":"9999-12-31T23:59:59.999999999Z"}`,
		`{"type":"Tick","at":"2024-02-29T00:00:00Z"}`,
		`{"type":"Tick","at":"2000-02-29T00:00:00Z"}`,
		`{"type":"Tick","at":"1900-02-29T00:00:00Z"}`,
		`{"type":"Tick","at":"2026-02-29T00:00:00Z"}`,
		`{"type":"Tick","at":"2026-04-31T00:00:00Z"}`,
		`{"type":"Tick","at":"2026-00-10T00:00:00Z"}`,
		`{"type":"Tick","at":"2026-01-00T00:00:00Z"}`,
		`{"type":"Tick","at":"2026-01-01T24:00:00Z"}`,
		`{"type":"Tick","at":"2026-01-01T00:60:00Z"}`,
		`{"type":"Tick","at":"2026-12-31T23:59:60Z"}`,
		`{"type":"Tick","at":"2026-01-01T00:00:00.000000000Z"}`,
		`{"type":"Tick","at":"2026-01-01T00:00:00.0Z"}`,
		`{"type":"Tick","at":"2026-01-01T00:00:00.1Z"}`,
		`{"type":"Tick","at":"2026-01-01T00:00:00.12Z"}`,
		`{"type":"Tick","at":"2026-01-01T00:00:00.123Z"}`,
		`{"type":"Tick","at":"2026-01-01T00:00:00.1234Z"}`,
		`{"type":"Tick","at":"2026-01-01T00:00:00.12345Z"}`,
		`{"type":"Tick","at":"2026-01-01T00:00:00.123456Z"}`,
		`{"type":"Tick","at":"2026-01-01T00:00:00.1234567Z"}`,
		`{"type":"Tick","at":"2026-01-01T00:00:00.12345678Z"}`,
		`{"type":"Tick","at":"2026-01-01T00:00:00.123456789Z"}`,
		`{"type":"Tick","at":"2026-01-01T00:00:00.000000001Z"}`,
		`{"type":"Tick","at":"2026-01-01T00:00:00.100Z"}`,
		`{"type":"Tick","at":"2026-01-01T00:00:00.1234567890Z"}`,
		`{"type":"Tick","at":"2026-01-01T00:00:00.9999999999Z"}`,
		`{"type":"Tick","at":"2026-01-01T00:00:00,1Z"}`,
		`{"type":"Tick","at":"2026-01-01T00:00:00.-1Z"}`,
		`{"type":"Tick","at":"2026-01-01T00:00:00.+1Z"}`,
		`{"type":"Tick","at":"2026-01-01T00:00:00.1e1Z"}`,
		`{"type":"Tick","at":"2026-01-01T00:00:00.1 Z"}`,
		`{"type":"Tick","at":"2026-01-01T00:00:00.1"}`,
		`{"type":"Tick","at":"2026-01-01T00:00:00"}`,
		`{"type":"Tick","at":"2026-01-01T00:00:00ZZ"}`,
		`{"type":"Tick","at":"2026-01-01t00:00:00Z"}`,
		`{"type":"Tick","at":"2026-01-01T00:00:00-00:00"}`,
		`{"type":"Tick","at":"2026-01-01T00:00:00+24:00"}`,
		`{"type":"Tick","at":"2026-1-01T00:00:00Z"}`,
		`{"type":"Tick","at":"+2026-01-01T00:00:00Z"}`,
		`{"type":"Tick","at":"-2026-01-01T00:00:00Z"}`,
		`{"type":"Tick","at":"2026-01-01T0:00:00.0Z"}`,
		`{"type":"Tick","at":"2026-01-01T00:00:0.00Z"}`,
		`{"type":"Tick","at":"20-6-01-01T00:00:00Z"}`,
		`{"type":"Tick","at":"2026-01-01T00:00:00.` + "\x00" + `Z"}`,
		`{"type":"Tick","at":"/026-01-01T00:00:00Z"}`, // '/' is '0'-1
		`{"type":"Tick","at":":026-01-01T00:00:00Z"}`, // ':' is '9'+1
		`{"type":"Tick","at":"2026-01-01T00:00:00.:Z"}`,
		`{"type":"Tick","at":"2026-01-01T00:00:00./Z"}`,
	} {
		checkUnmarshalSame(t, []byte(s))
	}
}

// Every single-byte change of canonical encodings: each byte replaced by
// each of the 256 values, each value inserted at each position, each byte
// removed. This reaches every field, quote, colon and time digit.
func TestFlatAttackEveryEdit(t *testing.T) {
	at := time.Date(2024, 2, 29, 23, 59, 59, 120_000_000, time.UTC)
	for _, e := range []Event{
		Tick{At: at},
		UpgradeSucceeded{At: at, Op: "r/c/1"},
		UpgradeFailed{At: time.Date(0, 1, 1, 0, 0, 0, 1, time.UTC), Op: "r/c/1", Code: "C", Message: "m"},
		UpgradeFailed{At: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), Op: "r", Message: "m"},
		CompleteGate{At: at, Gate: "g"},
	} {
		canon, err := MarshalEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := unmarshalFlat(canon); !ok {
			t.Fatalf("unmarshalFlat(%s) gave up on a canonical encoding", canon)
		}
		buf := make([]byte, 0, len(canon)+1)
		for i := range len(canon) + 1 {
			if i < len(canon) {
				checkUnmarshalSame(t, append(append(buf[:0], canon[:i]...), canon[i+1:]...))
			}
			for c := range 256 {
				if i < len(canon) {
					checkUnmarshalSame(t, append(append(append(buf[:0], canon[:i]...), byte(c)), canon[i+1:]...))
				}
				checkUnmarshalSame(t, append(append(append(buf[:0], canon[:i]...), byte(c)), canon[i:]...))
			}
		}
	}
}

// The hand path must not keep a view of the input: a journal reuses its
// read buffers, so a decoded op that aliased them would change later.
func TestFlatAttackNoAliasing(t *testing.T) {
	b := []byte(`{"type":"UpgradeFailed","at":"2026-03-04T12:00:00Z","op":"r/c/1","code":"C","message":"m"}`)
	e, err := UnmarshalEvent(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 'x'
	}
	want := UpgradeFailed{At: time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC), Op: "r/c/1", Code: "C", Message: "m"}
	if !reflect.DeepEqual(e, want) {
		t.Fatalf("decoded event changed with its input: %#v", e)
	}
}

// Any flat event, with any time (including ones outside what RFC 3339
// holds) and any strings, encodes as encoding/json encodes it, and the
// encoding decodes the same way through both paths, to the event in UTC.
func TestFlatAttackMarshalProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var at time.Time
		switch rapid.IntRange(0, 2).Draw(t, "timeKind") {
		case 0:
			at = time.Unix(rapid.Int64().Draw(t, "sec"), rapid.Int64().Draw(t, "nsec"))
		case 1:
			at = time.Unix(rapid.Int64Range(wireMinTime-2*86400*366, wireMaxTime+2*86400*366).Draw(t, "sec"), rapid.Int64Range(0, 999_999_999).Draw(t, "nsec"))
		default:
			at = time.Date(rapid.IntRange(-2, 10001).Draw(t, "year"), time.Month(rapid.IntRange(0, 13).Draw(t, "month")), rapid.IntRange(0, 32).Draw(t, "day"),
				rapid.IntRange(0, 24).Draw(t, "hour"), rapid.IntRange(0, 60).Draw(t, "min"), rapid.IntRange(0, 60).Draw(t, "s"),
				rapid.IntRange(-1, 1_000_000_000).Draw(t, "ns"), time.UTC)
		}
		at = at.In(time.FixedZone("z", rapid.IntRange(-26*3600, 26*3600).Draw(t, "offset")))
		str := func(label string) string {
			if rapid.Bool().Draw(t, label+"Bytes") {
				return string(rapid.SliceOfN(rapid.Byte(), 0, 8).Draw(t, label))
			}
			return genFlatText(t, label)
		}
		var e Event
		switch rapid.IntRange(0, 3).Draw(t, "event") {
		case 0:
			e = Tick{At: at}
		case 1:
			e = UpgradeSucceeded{At: at, Op: OpID(str("op"))}
		case 2:
			e = UpgradeFailed{At: at, Op: OpID(str("op")), Code: str("code"), Message: str("message")}
		default:
			e = CompleteGate{At: at, Gate: GateID(str("gate"))}
		}
		checkMarshalSame(t, e)
	})
}

// FuzzFlatMarshalMatchesJSON: MarshalEvent writes what encoding/json's
// path writes for any flat event, and what it writes decodes the same way
// through both paths.
func FuzzFlatMarshalMatchesJSON(f *testing.F) {
	f.Add(uint8(4), int64(1772625600), int64(0), int32(0), "run-1/c1/1", "QuotaExceeded", "no quota")
	f.Add(uint8(4), int64(-62167219200), int64(1), int32(3600), "a", "", "")
	f.Add(uint8(5), int64(253402300799), int64(999_999_999), int32(-3600), "g", "", "")
	f.Add(uint8(3), int64(253402300800), int64(0), int32(0), "<", "", "")
	f.Add(uint8(4), int64(0), int64(-1), int32(0), "a", "\u2028", "\xff")
	f.Fuzz(func(t *testing.T, kind uint8, sec, nsec int64, offset int32, a, b, c string) {
		at := time.Unix(sec, nsec).In(time.FixedZone("z", int(offset)))
		var e Event
		switch kind % 6 {
		case 0:
			e = Start{At: at}
		case 1:
			e = Stop{At: at}
		case 2:
			e = Tick{At: at}
		case 3:
			e = UpgradeSucceeded{At: at, Op: OpID(a)}
		case 4:
			e = UpgradeFailed{At: at, Op: OpID(a), Code: b, Message: c}
		default:
			e = CompleteGate{At: at, Gate: GateID(a)}
		}
		checkMarshalSame(t, e)
	})
}

// The decode path's time reader on every canonical time of a whole
// second across a few leap and non-leap Februaries and year ends, and on
// the 9 fraction lengths: all are taken by the hand path, and all decode
// as encoding/json decodes them.
func TestFlatAttackCanonicalTimesTaken(t *testing.T) {
	var times []time.Time
	for _, y := range []int{0, 1, 4, 100, 400, 1900, 1970, 2000, 2024, 2025, 9996, 9999} {
		for d := time.Date(y, 2, 27, 0, 0, 0, 0, time.UTC); d.Month() < 3 || d.Day() < 2; d = d.Add(6 * time.Hour) {
			times = append(times, d)
		}
		times = append(times, time.Date(y, 12, 31, 23, 59, 59, 999_999_999, time.UTC), time.Date(y, 1, 1, 0, 0, 0, 1, time.UTC))
	}
	for _, at := range times {
		b, err := MarshalEvent(Tick{At: at})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := unmarshalFlat(b); !ok {
			t.Errorf("unmarshalFlat(%s) gave up", b)
		}
		checkUnmarshalSame(t, b)
	}
}
