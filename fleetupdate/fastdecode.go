package fleetupdate

import (
	"encoding/json"
	"reflect"
	"strconv"
	"time"

	"github.com/fleetkit/fleetkit/window"
)

// The fast path of Run.UnmarshalJSON. Nearly all of a large run's bytes are
// its two member arrays (the inputs and state.members); decoding them with
// encoding/json and checking their keys with exactKeys costs seconds at
// 100,000 members. So fastRunJSON cuts the two arrays out of the document,
// decodes the small remainder the usual way (decodeWire: exact keys, no
// unknown fields) and parses the arrays by hand.
//
// The hand parser accepts only what the usual path accepts, and decodes it
// to the same values; anything it does not expect (an escape in a key,
// null, a number where a string goes, a key out of place, invalid JSON)
// makes it give up, and the usual path decodes the whole document, so that
// every error stays what it was. Windows, which members share, are decoded
// the usual way once per distinct encoding.

// fastRunJSON decodes b, a run of the current schema version, into its
// persisted form, or reports false if the usual path must decide.
func fastRunJSON(b []byte) (runJSON, bool) {
	var in runJSON
	p := &fastParser{b: b, windows: map[string]*window.Schedule{}, strs: map[string]string{}}
	var arrays [2]span // the values of "members" and "state"."members"
	var found [2]bool
	// The arrays are parsed where they are found; everything else is only
	// skipped here, and checked below by decodeWire.
	parse := func(k int, fn func() bool) bool {
		if found[k] {
			return false
		}
		found[k] = true
		arrays[k].start = p.i
		ok := fn()
		arrays[k].end = p.i
		return ok
	}
	skip := func() bool {
		_, ok := p.skipValue()
		return ok
	}
	var ok bool
	okTop := p.skipObject(func(key []byte) bool {
		switch string(key) {
		case "members":
			return parse(0, func() bool { in.Members, ok = arrayOf(p, 0, p.member); return ok })
		case "state":
			return p.skipObject(func(key []byte) bool {
				if string(key) == "members" { // sized by the inputs; its length is checked later
					return parse(1, func() bool { in.State.Members, ok = arrayOf(p, len(in.Members), p.memberState); return ok })
				}
				return skip()
			})
		}
		return skip()
	})
	p.ws()
	if !okTop || p.i != len(b) || !found[0] || !found[1] || arrays[1].start < arrays[0].start {
		return in, false
	}
	// The remainder, with both arrays replaced by [].
	rest := make([]byte, 0, len(b)-(arrays[0].end-arrays[0].start)-(arrays[1].end-arrays[1].start)+4)
	rest = append(rest, b[:arrays[0].start]...)
	rest = append(rest, "[]"...)
	rest = append(rest, b[arrays[0].end:arrays[1].start]...)
	rest = append(rest, "[]"...)
	rest = append(rest, b[arrays[1].end:]...)
	var head struct {
		SchemaVersion int `json:"schemaVersion"`
	}
	if json.Unmarshal(rest, &head) != nil || head.SchemaVersion != schemaVersion {
		return in, false
	}
	members, states := in.Members, in.State.Members
	if decodeWire(rest, &in, "run") != nil {
		return in, false
	}
	in.Members, in.State.Members = members, states
	return in, true
}

type span struct{ start, end int }

// fastParser reads JSON by hand. Every method reports false for anything
// it does not take, and then the caller gives up.
type fastParser struct {
	b       []byte
	i       int
	windows map[string]*window.Schedule // by their encoding
	strs    map[string]string           // values many members share
}

func (p *fastParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// next skips white space and reports whether the next byte is c, taking it
// if so.
func (p *fastParser) next(c byte) bool {
	p.ws()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// skipString moves past the string at p.i (opening quote included) and
// returns its literal.
func (p *fastParser) skipString() ([]byte, bool) {
	start := p.i
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return nil, false
	}
	for p.i++; p.i < len(p.b); p.i++ {
		switch p.b[p.i] {
		case '\\':
			p.i++
		case '"':
			p.i++
			return p.b[start:p.i], true
		}
	}
	return nil, false
}

// skipValue moves past the value at p.i and returns where it ends. It
// finds the value's end without checking what is inside.
func (p *fastParser) skipValue() (int, bool) {
	p.ws()
	if p.i >= len(p.b) {
		return 0, false
	}
	switch p.b[p.i] {
	case '"':
		_, ok := p.skipString()
		return p.i, ok
	case '{', '[':
		depth := 0
		for ; p.i < len(p.b); p.i++ {
			switch p.b[p.i] {
			case '"':
				if _, ok := p.skipString(); !ok {
					return 0, false
				}
				p.i--
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					p.i++
					return p.i, true
				}
			}
		}
		return 0, false
	}
	start := p.i
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return p.i, p.i > start
		}
		p.i++
	}
	return p.i, p.i > start
}

// skipObject walks an object's keys; fn gets each key's literal contents,
// with p.i at its value, and must move past the value.
func (p *fastParser) skipObject(fn func(key []byte) bool) bool {
	if !p.next('{') {
		return false
	}
	if p.next('}') {
		return true
	}
	for {
		p.ws()
		lit, ok := p.skipString()
		if !ok || !p.next(':') {
			return false
		}
		p.ws()
		if !fn(lit[1 : len(lit)-1]) {
			return false
		}
		if p.next('}') {
			return true
		}
		if !p.next(',') {
			return false
		}
	}
}

// object reads an object whose keys are field names (plain ASCII, no
// escapes), calling fn for each to read its value.
func (p *fastParser) object(fn func(key []byte) bool) bool {
	if !p.next('{') {
		return false
	}
	if p.next('}') {
		return true
	}
	for {
		p.ws()
		key, ok := p.plainBytes()
		if !ok || !p.next(':') {
			return false
		}
		p.ws()
		if !fn(key) {
			return false
		}
		if p.next('}') {
			return true
		}
		if !p.next(',') {
			return false
		}
	}
}

// array reads an array, calling fn for each element.
func (p *fastParser) array(fn func() bool) bool {
	if !p.next('[') {
		return false
	}
	if p.next(']') {
		return true
	}
	for {
		p.ws()
		if !fn() {
			return false
		}
		if p.next(']') {
			return true
		}
		if !p.next(',') {
			return false
		}
	}
}

// plainBytes reads a string of printable ASCII without escapes and
// returns its contents.
func (p *fastParser) plainBytes() ([]byte, bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return nil, false
	}
	start := p.i + 1
	for i := start; i < len(p.b); i++ {
		switch c := p.b[i]; {
		case c == '"':
			p.i = i + 1
			return p.b[start:i], true
		case c == '\\' || c < 0x20 || c >= 0x7f:
			return nil, false
		}
	}
	return nil, false
}

func (p *fastParser) plainString() (string, bool) {
	b, ok := p.plainBytes()
	return string(b), ok
}

// common reads a string value that many members share (a region, a
// version, a state): one copy of each serves them all.
func (p *fastParser) common() (string, bool) {
	b, ok := p.plainBytes()
	if !ok {
		return p.str()
	}
	if s, ok := p.strs[string(b)]; ok {
		return s, true
	}
	s := string(b)
	if len(p.strs) < 1<<12 {
		p.strs[s] = s
	}
	return s, true
}

// str reads a string value: plain ones by hand, others (escapes, non-ASCII)
// as encoding/json reads them.
func (p *fastParser) str() (string, bool) {
	if s, ok := p.plainString(); ok {
		return s, true
	}
	lit, ok := p.skipString()
	if !ok {
		return "", false
	}
	var s string
	return s, json.Unmarshal(lit, &s) == nil
}

func (p *fastParser) boolean() (bool, bool) {
	for _, lit := range []string{"true", "false"} {
		if len(p.b)-p.i >= len(lit) && string(p.b[p.i:p.i+len(lit)]) == lit {
			p.i += len(lit)
			return lit == "true", p.atDelim()
		}
	}
	return false, false
}

// atDelim: the literal just read ends here.
func (p *fastParser) atDelim() bool {
	if p.i == len(p.b) {
		return true
	}
	switch p.b[p.i] {
	case ',', '}', ']', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// int32 reads an integer as encoding/json does into an int32: a JSON
// number with no fraction or exponent, in range.
func (p *fastParser) int32() (int32, bool) {
	start := p.i
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	if p.i == digits || p.b[digits] == '0' && p.i-digits > 1 || !p.atDelim() {
		return 0, false
	}
	n, err := strconv.ParseInt(string(p.b[start:p.i]), 10, 32)
	return int32(n), err == nil
}

// time reads a time as time.Time.UnmarshalJSON does.
func (p *fastParser) time() (time.Time, bool) {
	var t time.Time
	lit, ok := p.skipString()
	return t, ok && t.UnmarshalJSON(lit) == nil
}

var scheduleType = reflect.TypeFor[*window.Schedule]()

// window reads a window; equal encodings share one decoded Schedule (the
// run copies its members' windows, and never changes one).
func (p *fastParser) window() (*window.Schedule, bool) {
	if p.i < len(p.b) && p.b[p.i] != '{' {
		return nil, false
	}
	start := p.i
	end, ok := p.skipValue()
	if !ok {
		return nil, false
	}
	raw := p.b[start:end]
	if w, ok := p.windows[string(raw)]; ok {
		return w, true
	}
	w := new(window.Schedule)
	if exactKeys(raw, scheduleType) != nil || json.Unmarshal(raw, w) != nil {
		return nil, false
	}
	p.windows[string(raw)] = w
	return w, true
}

// fields tracks the keys of one object: each once.
type fields uint32

func (f *fields) first(i uint) bool {
	if *f&(1<<i) != 0 {
		return false
	}
	*f |= 1 << i
	return true
}

// arrayOf reads an array whose elements one parses; size is a capacity hint.
func arrayOf[T any](p *fastParser, size int, one func(*T) bool) ([]T, bool) {
	out := make([]T, 0, size)
	ok := p.array(func() bool {
		var v T
		if !one(&v) {
			return false
		}
		out = append(out, v)
		return true
	})
	return out, ok
}

func (p *fastParser) member(m *Member) bool {
	var seen fields
	return p.object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "name":
			m.Name, ok = p.str()
			return ok && seen.first(0)
		case "group":
			m.Group, ok = p.common()
			return ok && seen.first(1)
		case "region":
			m.Region, ok = p.common()
			return ok && seen.first(2)
		case "kubernetesVersion":
			m.KubernetesVersion, ok = p.common()
			return ok && seen.first(3)
		case "nodePools":
			m.NodePools = []NodePool{}
			return seen.first(4) && p.array(func() bool {
				var np NodePool
				var seen fields
				ok := p.object(func(key []byte) bool {
					var ok bool
					switch string(key) {
					case "name":
						np.Name, ok = p.common()
						return ok && seen.first(0)
					case "nodeImageVersion":
						np.NodeImageVersion, ok = p.common()
						return ok && seen.first(1)
					case "kubernetesVersion":
						np.KubernetesVersion, ok = p.common()
						return ok && seen.first(2)
					}
					return false
				})
				m.NodePools = append(m.NodePools, np)
				return ok
			})
		case "autoUpgradeWindow":
			m.AutoUpgradeWindow, ok = p.window()
			return ok && seen.first(5)
		case "nodeOSUpgradeWindow":
			m.NodeOSUpgradeWindow, ok = p.window()
			return ok && seen.first(6)
		case "clusterResourceId":
			m.ClusterResourceID, ok = p.str()
			return ok && seen.first(7)
		case "labels":
			m.Labels = map[string]string{}
			return seen.first(8) && p.labels(m.Labels)
		case "longTermSupport":
			m.LongTermSupport, ok = p.boolean()
			return ok && seen.first(9)
		}
		return false
	})
}

// labels reads an object of strings; its keys are data, compared exactly.
func (p *fastParser) labels(into map[string]string) bool {
	if !p.next('{') {
		return false
	}
	if p.next('}') {
		return true
	}
	for {
		p.ws()
		k, ok := p.str()
		if !ok || !p.next(':') {
			return false
		}
		p.ws()
		v, ok := p.str()
		if _, dup := into[k]; !ok || dup {
			return false
		}
		into[k] = v
		if p.next('}') {
			return true
		}
		if !p.next(',') {
			return false
		}
	}
}

func (p *fastParser) memberState(m *memberJSON) bool {
	var seen fields
	return p.object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "name":
			m.Name, ok = p.str()
			return ok && seen.first(0)
		case "state":
			var s string
			s, ok = p.common()
			m.State = State(s)
			return ok && seen.first(1)
		case "data":
			m.Data = new(Member)
			return seen.first(2) && p.member(m.Data)
		case "waitCatalog":
			m.WaitCatalog, ok = p.boolean()
			return ok && seen.first(3)
		case "removed":
			m.Removed, ok = p.boolean()
			return ok && seen.first(4)
		case "attempt":
			m.Attempt, ok = p.int32()
			return ok && seen.first(5)
		case "pinned":
			m.Pinned = new(pinnedInputs)
			return seen.first(6) && p.pinned(m.Pinned)
		case "note":
			m.Note, ok = p.str()
			return ok && seen.first(7)
		case "message":
			m.Message, ok = p.str()
			return ok && seen.first(8)
		case "startTime":
			m.StartTime, ok = p.time()
			return ok && seen.first(9)
		case "endTime":
			m.EndTime, ok = p.time()
			return ok && seen.first(10)
		case "error":
			m.Error = new(ErrorDetail)
			var es fields
			return seen.first(11) && p.object(func(key []byte) bool {
				var ok bool
				switch string(key) {
				case "code":
					m.Error.Code, ok = p.common()
					return ok && es.first(0)
				case "message":
					m.Error.Message, ok = p.str()
					return ok && es.first(1)
				}
				return false
			})
		}
		return false
	})
}

func (p *fastParser) pinned(pj *pinnedInputs) bool {
	var seen fields
	return p.object(func(key []byte) bool {
		switch string(key) {
		case "kubernetesVersion":
			var ok bool
			pj.KubernetesVersion, ok = p.common()
			return ok && seen.first(0)
		case "nodeImages":
			pj.NodeImages = []PoolImage{}
			return seen.first(1) && p.array(func() bool {
				var pi PoolImage
				var seen fields
				ok := p.object(func(key []byte) bool {
					var ok bool
					switch string(key) {
					case "pool":
						pi.Pool, ok = p.common()
						return ok && seen.first(0)
					case "nodeImageVersion":
						pi.NodeImageVersion, ok = p.common()
						return ok && seen.first(1)
					}
					return false
				})
				pj.NodeImages = append(pj.NodeImages, pi)
				return ok
			})
		}
		return false
	})
}
