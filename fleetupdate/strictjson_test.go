package fleetupdate

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// encoding/json matches keys case-insensitively and lets a repeated key
// win over the first, so one document could say two things: a reviewer (or
// another JSON reader) sees one value, fleetkit acted on another. Events,
// commands and saved runs now refuse repeated keys and keys that are not
// spelled exactly.
func TestWireRefusesRepeatedAndMisspelledKeys(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{`{"type":"Start","type":"Stop","at":"2026-03-04T12:00:00Z"}`, `"type"`},
		{`{"type":"UpgradeSucceeded","at":"2026-03-04T12:00:00Z","op":"run-1/a/1","Op":"run-1/b/1"}`, `"Op"`},
		{`{"type":"Start","at":"2026-03-04T12:00:00Z","at":"2030-01-01T00:00:00Z"}`, `"at"`},
		{`{"TYPE":"Start","at":"2026-03-04T12:00:00Z"}`, `"TYPE"`},
		{`{"type":"MemberChanged","at":"2026-03-04T12:00:00Z","member":{"name":"a","Name":"p1-a","region":"x","kubernetesVersion":"1.29.4"}}`, `member: unknown field "Name"`},
		{`{"type":"MemberChanged","at":"2026-03-04T12:00:00Z","member":{"name":"a","region":"x","kubernetesVersion":"1.29.4","labels":{"env":"a","env":"b"}}}`, `member.labels`},
		{`{"type":"MemberChanged","at":"2026-03-04T12:00:00Z","member":{"name":"a","region":"x","kubernetesVersion":"1.29.4","autoUpgradeWindow":{"schedule":{"daily":{"intervalDays":1}},"startTime":"10:00","durationHours":8,"DurationHours":4}}}`, `member.autoUpgradeWindow: unknown field "DurationHours"`},
		{`{"type":"CatalogChanged","at":"2026-03-04T12:00:00Z","catalog":{"regions":{"eastus":{"kubernetesVersions":["1.30.5"]},"eastus":{"kubernetesVersions":[]}}}}`, `catalog.regions`},
		{`{"type":"Skip","at":"2026-03-04T12:00:00Z","targets":[{"type":"Member","name":"a","Name":"b"}]}`, `targets[0]: unknown field "Name"`},
	} {
		_, err := UnmarshalEvent([]byte(c.doc))
		if assert.Error(t, err, c.doc) {
			assert.ErrorIs(t, err, ErrInvalidEncoding)
			assert.Contains(t, err.Error(), c.want)
		}
	}
	_, err := UnmarshalCommand([]byte(`{"type":"UpgradeMember","op":"run-1/a/1","member":"a","member":"b","upgradeType":"Full"}`))
	assert.ErrorIs(t, err, ErrInvalidEncoding)
	// Labels that differ only in case are different labels, and stay allowed.
	e, err := UnmarshalEvent([]byte(`{"type":"MemberChanged","at":"2026-03-04T12:00:00Z","member":{"name":"a","region":"x","kubernetesVersion":"1.29.4","labels":{"env":"a","ENV":"b"}}}`))
	require.NoError(t, err)
	assert.Len(t, e.(MemberChanged).Member.Labels, 2)
}

func TestSavedRunRefusesRepeatedAndMisspelledKeys(t *testing.T) {
	h := newHost(t, twoStages(0), twoStageMembers(), catalog())
	h.start()
	saved := mustJSON(t, h.run)
	for _, c := range []struct{ old, new, want string }{
		{`"phase":"Running"`, `"phase":"Running","phase":"Completed"`, `state`},
		{`"phase":"Running"`, `"Phase":"Running"`, `"Phase"`},
		{`"schemaVersion":2`, `"SchemaVersion":2`, `"SchemaVersion"`},
		{`"name":"t1-a","state":"Running"`, `"name":"t1-a","state":"Running","State":"NotStarted"`, `state.members[2]`},
	} {
		require.Contains(t, saved, c.old)
		var r Run
		err := json.Unmarshal([]byte(strings.Replace(saved, c.old, c.new, 1)), &r)
		if assert.Error(t, err, c.new) {
			assert.ErrorIs(t, err, ErrInvalidEncoding)
			assert.Contains(t, err.Error(), c.want)
		}
	}
	var r Run
	require.NoError(t, json.Unmarshal([]byte(saved), &r))
}

// Azure's JSON is read with exact keys already; a repeated key is refused too.
func TestSpecRefusesRepeatedKeys(t *testing.T) {
	var sp Spec
	err := json.Unmarshal([]byte(`{"managedClusterUpdate":{"upgrade":{"type":"Full","kubernetesVersion":"1.30","kubernetesVersion":"1.31"}}}`), &sp)
	assert.ErrorIs(t, err, ErrInvalidSpec)
	assert.ErrorContains(t, err, `managedClusterUpdate.upgrade: key "kubernetesVersion" given twice`)
}

// FuzzExactKeys: the key scanner never panics, and on any valid document
// finds a repeated key exactly when json.Decoder's tokens show one.
func FuzzExactKeys(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `{"a":{"b":[1,{"c":"\"","c ":2}]}}`, `[{"x\u0041":1,"xA":2}]`, `{"phase":"Running"}`, ` { "a" : [ ] , "b" : { } } `, `"x"`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := exactKeys(b, nil)
		_ = exactKeys(b, reflect.TypeFor[runJSON]())
		_ = exactKeys(b, reflect.TypeFor[wireMember]())
		if !json.Valid(b) {
			return
		}
		want := repeatedKeyTokens(json.NewDecoder(bytes.NewReader(b)))
		if (got != nil) != want {
			t.Fatalf("%s: scanner says %v, tokens say repeated=%t", b, got, want)
		}
	})
}

func repeatedKeyTokens(d *json.Decoder) bool {
	tok, err := d.Token()
	if err != nil {
		return false
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		rep := false
		for d.More() {
			k, _ := d.Token()
			if seen[k.(string)] {
				rep = true
			}
			seen[k.(string)] = true
			rep = repeatedKeyTokens(d) || rep
		}
		d.Token()
		return rep
	case json.Delim('['):
		rep := false
		for d.More() {
			rep = repeatedKeyTokens(d) || rep
		}
		d.Token()
		return rep
	}
	return false
}
