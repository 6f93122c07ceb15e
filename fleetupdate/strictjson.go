package fleetupdate

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"
)

// exactKeys walks the JSON value b alongside the Go type t it will be
// decoded into and refuses what encoding/json lets through: an object key
// given twice (encoding/json keeps the last, another reader may keep the
// first), and a struct key not spelled exactly as its field's JSON name
// (encoding/json matches case-insensitively, so {"op":…,"Op":…} names two
// ops to a reader and one to fleetkit). Map keys are data and compared
// exactly: labels "env" and "ENV" are two labels. Errors name the key by
// its path.
func exactKeys(b []byte, t reflect.Type) error {
	if !json.Valid(b) {
		return nil // encoding/json says what is wrong
	}
	sc := &keyScanner{b: b}
	return sc.value(t, "")
}

// keyScanner reads a document json.Valid has accepted: it only finds the
// keys, and leaves the values to encoding/json. (json.Decoder.Token would
// do, at ten times the cost.)
type keyScanner struct {
	b []byte
	i int
}

func (sc *keyScanner) space() {
	for sc.i < len(sc.b) {
		switch sc.b[sc.i] {
		case ' ', '\t', '\n', '\r':
			sc.i++
		default:
			return
		}
	}
}

// str reads a string at sc.i and returns its value.
func (sc *keyScanner) str() (string, error) {
	start := sc.i
	sc.i++ // '"'
	escaped := false
	for sc.i < len(sc.b) {
		switch sc.b[sc.i] {
		case '\\':
			escaped = true
			sc.i += 2
			continue
		case '"':
			sc.i++
			raw := sc.b[start:sc.i]
			if !escaped {
				return string(raw[1 : len(raw)-1]), nil
			}
			var v string
			err := json.Unmarshal(raw, &v)
			return v, err
		}
		sc.i++
	}
	return "", fmt.Errorf("unterminated string")
}

func (sc *keyScanner) value(t reflect.Type, path string) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessageType || t == timeType || t != nil && t.Kind() == reflect.Interface {
		t = nil
	}
	sc.space()
	if sc.i >= len(sc.b) {
		return fmt.Errorf("unexpected end of JSON")
	}
	switch sc.b[sc.i] {
	case '{':
		sc.i++
		var fields map[string]reflect.Type
		if t != nil && t.Kind() == reflect.Struct {
			fields = fieldsOf(t)
		}
		seen := map[string]bool{}
		for {
			sc.space()
			if sc.b[sc.i] == '}' {
				sc.i++
				return nil
			}
			if sc.b[sc.i] == ',' {
				sc.i++
				sc.space()
			}
			k, err := sc.str()
			if err != nil {
				return err
			}
			if seen[k] {
				return fmt.Errorf("%s: key %q given twice", keyOrRoot(path), k)
			}
			seen[k] = true
			var vt reflect.Type
			switch {
			case fields != nil:
				ft, ok := fields[k]
				if !ok {
					return fmt.Errorf("%s: unknown field %q (keys are spelled exactly)", keyOrRoot(path), k)
				}
				vt = ft
			case t != nil && t.Kind() == reflect.Map:
				vt = t.Elem()
			}
			sc.space()
			sc.i++ // ':'
			if err := sc.value(vt, keyPath(path, k)); err != nil {
				return err
			}
		}
	case '[':
		sc.i++
		var et reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			et = t.Elem()
		}
		for n := 0; ; n++ {
			sc.space()
			if sc.b[sc.i] == ']' {
				sc.i++
				return nil
			}
			if sc.b[sc.i] == ',' {
				sc.i++
			}
			if err := sc.value(et, fmt.Sprintf("%s[%d]", path, n)); err != nil {
				return err
			}
		}
	case '"':
		_, err := sc.str()
		return err
	}
	// A number, true, false or null: up to the next delimiter.
	for sc.i < len(sc.b) {
		switch sc.b[sc.i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return nil
		}
		sc.i++
	}
	return nil
}

var (
	rawMessageType = reflect.TypeFor[json.RawMessage]()
	timeType       = reflect.TypeFor[time.Time]()
	structKeys     sync.Map // reflect.Type → map[string]reflect.Type
)

// fieldsOf maps a struct's JSON keys to their fields' types.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	if m, ok := structKeys.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
	}
	structKeys.Store(t, m)
	return m
}

func keyPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func keyOrRoot(path string) string {
	if path == "" {
		return "the object"
	}
	return path
}
