package fleetupdate

import (
	"bytes"
	"time"
)

// The flat events (Start, Stop, Tick, UpgradeSucceeded, UpgradeFailed and
// CompleteGate) are most of what a journal writes and reads: one or two per
// member. Their wire form is a time and a few strings, so MarshalEvent and
// UnmarshalEvent write and read it by hand when it is in the canonical form
// encoding/json writes, and leave every other input to encoding/json. A
// durable step encodes its event and decodes it again (journal.Step), and
// through encoding/json that cost several times the step itself.
//
// The hand-written paths decide nothing on their own: they take only
// values whose strings are plain (printable ASCII that JSON writes as it
// is) and times that encode, and give up on anything else. So they write
// the same bytes as encoding/json and read the same value, and every error
// still comes from encoding/json's path (TestFlatWireMatchesJSON).

// flatField is one string field of a flat event, in wire order.
type flatField struct {
	key      string // what comes before the value: `,"op":"`
	val      string
	optional bool // omitted when empty (omitempty)
}

// flat returns e's wire type, time and string fields if e is a flat
// event; fs has room for the most fields a flat event has.
func flat(e Event, fs *[3]flatField) (typ string, at time.Time, n int, ok bool) {
	switch e := e.(type) {
	case Start:
		return "Start", e.At, 0, true
	case Stop:
		return "Stop", e.At, 0, true
	case Tick:
		return "Tick", e.At, 0, true
	case UpgradeSucceeded:
		fs[0] = flatField{key: `,"op":"`, val: string(e.Op)}
		return "UpgradeSucceeded", e.At, 1, true
	case UpgradeFailed:
		fs[0] = flatField{key: `,"op":"`, val: string(e.Op)}
		fs[1] = flatField{key: `,"code":"`, val: e.Code, optional: true}
		fs[2] = flatField{key: `,"message":"`, val: e.Message, optional: true}
		return "UpgradeFailed", e.At, 3, true
	case CompleteGate:
		fs[0] = flatField{key: `,"gate":"`, val: string(e.Gate)}
		return "CompleteGate", e.At, 1, true
	}
	return "", time.Time{}, 0, false
}

// plain reports whether JSON writes s as it is: printable ASCII other than
// the quote, the backslash, and the <, > and & that encoding/json escapes.
func plain(s []byte) bool {
	for _, c := range s {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// appendWireTime appends t in UTC as encoding/json writes a time.Time
// (RFC 3339 with nanoseconds, trailing zeros dropped); ok is false for a
// year encoding/json refuses.
func appendWireTime(b []byte, t time.Time) ([]byte, bool) {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	return t.AppendFormat(b, time.RFC3339Nano), true
}

// marshalFlat encodes a flat event as encoding/json would; ok is false for
// any other event, and for one whose strings are not plain, whose time
// does not encode, or whose required string is empty (MarshalEvent's own
// checks say why).
func marshalFlat(e Event) ([]byte, bool) {
	var fs [3]flatField
	typ, at, n, ok := flat(e, &fs)
	if !ok {
		return nil, false
	}
	size := len(`{"type":"","at":""}`) + len(typ) + len(time.RFC3339Nano)
	for _, f := range fs[:n] {
		size += len(f.key) + len(f.val) + 1
	}
	b := make([]byte, 0, size)
	b = append(b, `{"type":"`...)
	b = append(b, typ...)
	b = append(b, `","at":"`...)
	if b, ok = appendWireTime(b, at); !ok {
		return nil, false
	}
	b = append(b, '"')
	for _, f := range fs[:n] {
		if f.val == "" {
			if f.optional {
				continue
			}
			return nil, false
		}
		if !plain([]byte(f.val)) {
			return nil, false
		}
		b = append(b, f.key...)
		b = append(b, f.val...)
		b = append(b, '"')
	}
	return append(b, '}'), true
}

// flatReader reads a flat event's canonical encoding; any step that does
// not find what it expects sets bad, and the caller gives up.
type flatReader struct {
	b   []byte
	bad bool
}

// lit consumes s if b starts with it.
func (r *flatReader) lit(s string) bool {
	if r.bad || !bytes.HasPrefix(r.b, []byte(s)) {
		return false
	}
	r.b = r.b[len(s):]
	return true
}

// must is lit that sets bad when s is not there.
func (r *flatReader) must(s string) {
	if !r.lit(s) {
		r.bad = true
	}
}

// str consumes a plain, non-empty string's contents and its closing quote.
func (r *flatReader) str() []byte {
	if r.bad {
		return nil
	}
	i := bytes.IndexByte(r.b, '"')
	if i <= 0 || !plain(r.b[:i]) {
		r.bad = true
		return nil
	}
	s := r.b[:i]
	r.b = r.b[i+1:]
	return s
}

// field reads a string field, key (as flatField.key) then its value, if
// it comes next and is optional, or requires it if not.
func (r *flatReader) field(key string, optional bool) string {
	if !r.lit(key) {
		if !optional {
			r.bad = true
		}
		return ""
	}
	return string(r.str())
}

// wireTime reads a time as appendWireTime writes it. It reads the digits
// where that format has them, whatever is there, and keeps the time only
// if it encodes back to s exactly: that refuses every other byte, a month
// 13 (which normalises to another date) and a fraction with trailing zeros.
func wireTime(s []byte) (time.Time, bool) {
	const short = len("2006-01-02T15:04:05Z")
	if len(s) < short || len(s) > len("2006-01-02T15:04:05.999999999Z") {
		return time.Time{}, false
	}
	var f [7]int // year, month, day, hour, minute, second, nanosecond
	for i, span := range [6][2]int{{0, 4}, {5, 7}, {8, 10}, {11, 13}, {14, 16}, {17, 19}} {
		for _, c := range s[span[0]:span[1]] {
			f[i] = f[i]*10 + int(c) - '0'
		}
	}
	if frac := s[short-1 : len(s)-1]; len(frac) > 1 { // the dot and digits before Z
		scale := 1_000_000_000
		for _, c := range frac[1:] {
			scale /= 10
			f[6] += (int(c) - '0') * scale
		}
	}
	t := time.Date(f[0], time.Month(f[1]), f[2], f[3], f[4], f[5], f[6], time.UTC)
	var buf [len("2006-01-02T15:04:05.999999999Z")]byte
	enc, ok := appendWireTime(buf[:0], t)
	return t, ok && string(enc) == string(s)
}

// unmarshalFlat decodes a flat event in the canonical form marshalFlat
// writes; ok is false for anything else, which encoding/json then reads
// (or refuses, saying why).
func unmarshalFlat(b []byte) (Event, bool) {
	r := flatReader{b: b}
	r.must(`{"type":"`)
	typ := r.str()
	r.must(`,"at":"`)
	at, ok := wireTime(r.str())
	if r.bad || !ok {
		return nil, false
	}
	var e Event
	switch string(typ) {
	case "Start":
		e = Start{At: at}
	case "Stop":
		e = Stop{At: at}
	case "Tick":
		e = Tick{At: at}
	case "UpgradeSucceeded":
		e = UpgradeSucceeded{At: at, Op: OpID(r.field(`,"op":"`, false))}
	case "UpgradeFailed":
		op := r.field(`,"op":"`, false)
		code := r.field(`,"code":"`, true)
		e = UpgradeFailed{At: at, Op: OpID(op), Code: code, Message: r.field(`,"message":"`, true)}
	case "CompleteGate":
		e = CompleteGate{At: at, Gate: GateID(r.field(`,"gate":"`, false))}
	default:
		return nil, false
	}
	r.must("}")
	if r.bad || len(r.b) > 0 {
		return nil, false
	}
	return e, true
}
