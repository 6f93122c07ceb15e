package fake

import (
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/fleetkit/fleetkit/fleetupdate"
)

// statusRows flattens a whole status tree, in order: how Simulate found
// changes before it used Run.Changed, at O(members) per event. Kept as the
// oracle for the tracker.
func statusRows(r fleetupdate.Run) []row {
	st := r.Status()
	out := []row{{state: st.Status.State, message: errMessage(st.Status.Error)}}
	for _, s := range st.Stages {
		out = append(out, row{stage: s.Name, state: s.Status.State, message: errMessage(s.Status.Error)})
		for _, g := range s.Groups {
			out = append(out, row{stage: s.Name, group: g.Name, state: g.Status.State, message: errMessage(g.Status.Error)})
			for _, m := range g.Members {
				msg := m.Message
				if m.Status.Error != nil {
					msg = errMessage(m.Status.Error)
				}
				out = append(out, row{stage: s.Name, group: g.Name, member: m.Name, state: m.Status.State, message: msg})
			}
		}
	}
	return out
}

// diffRows lists the rows of b that differ from a; the tree's shape never
// changes.
func diffRows(a, b []row) []Change {
	var out []Change
	for i, r := range b {
		var from fleetupdate.State
		if i < len(a) {
			if a[i] == r {
				continue
			}
			from = a[i].state
		}
		out = append(out, Change{Stage: r.stage, Group: r.group, Member: r.member, From: from, To: r.state, Message: r.message})
	}
	return out
}

// The changes Simulate records (Overview, Changed, Member) are exactly those
// of diffing the whole status before and after each event, with and without
// restarts (after which the run is a decoded or replayed one).
func TestTraceChangesAreThoseOfDiffingTheWholeStatus(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sim := Simulations().Draw(t, "simulation")
		opt := Options{Horizon: 120 * 24 * time.Hour}
		switch rapid.IntRange(0, 2).Draw(t, "restarts") {
		case 1:
			opt.RestartEvery = true
		case 2:
			opt.RestartAfter = []int{rapid.IntRange(1, 30).Draw(t, "restartAfter")}
		}
		opt.Rebuild = rapid.SampledFrom([]Rebuild{FromSnapshot, FromJournal}).Draw(t, "rebuild")
		n := 0
		opt.Observe = func(prev, next fleetupdate.Run, e Entry) {
			n++
			if e.Err != nil {
				if e.Changes != nil {
					t.Fatalf("event %d (%T) was refused but changed %v", n, e.Event, e.Changes)
				}
				return
			}
			want := diffRows(statusRows(prev), statusRows(next))
			if !reflect.DeepEqual(want, e.Changes) {
				t.Fatalf("event %d (%T at %s):\nwant %v\n got %v", n, e.Event, e.At, want, e.Changes)
			}
		}
		if _, _, err := sim.Simulate("sim", opt); err != nil {
			t.Fatal(err)
		}
	})
}

// NoChanges records none, and changes nothing else.
func TestNoChangesRecordsNone(t *testing.T) {
	f := bigFleet(50)
	start := pub.AddDate(0, 0, 20)
	simulate := func(opt Options) Trace {
		opt.Start = start
		run, err := fleetupdate.New("sim", bigSpec, f.Members, f.CatalogAt(start))
		if err != nil {
			t.Fatal(err)
		}
		return Simulate(run, NewHost(f.Clone(), 1), opt)
	}
	with, without := simulate(Options{}), simulate(Options{NoChanges: true})
	if len(with.Entries) != len(without.Entries) || with.End != without.End {
		t.Fatalf("NoChanges changed the simulation: %d entries to %s, %d to %s", len(with.Entries), with.End, len(without.Entries), without.End)
	}
	recorded := 0
	for i := range with.Entries {
		recorded += len(with.Entries[i].Changes)
		if without.Entries[i].Changes != nil {
			t.Fatalf("entry %d recorded changes with NoChanges", i)
		}
	}
	if recorded == 0 {
		t.Fatal("no changes recorded without NoChanges")
	}
}
