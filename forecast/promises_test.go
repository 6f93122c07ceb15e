package forecast_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/fleetkit/fleetkit/fake"
	"github.com/fleetkit/fleetkit/fleetupdate"
	"github.com/fleetkit/fleetkit/forecast"
)

// checkForecast holds a forecast of r from now to what the package promises
// whatever the run: it does not change r, it is the same each time, every
// member has one row, starts come before finishes, and what the run had
// already finished keeps its record.
func checkForecast(t *rapid.T, r fleetupdate.Run, now time.Time, a forecast.Assumptions, what string) forecast.Forecast {
	before, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("%s: marshal: %v", what, err)
	}
	f, err := forecast.Run(r, now, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	after, _ := json.Marshal(r)
	if !bytes.Equal(before, after) {
		t.Fatalf("%s: the forecast changed the run", what)
	}
	fb, _ := json.Marshal(f)
	f2, err := forecast.Run(r, now, a)
	if err != nil {
		t.Fatalf("%s: again: %v", what, err)
	}
	if fb2, _ := json.Marshal(f2); !bytes.Equal(fb, fb2) {
		t.Fatalf("%s: two forecasts differ", what)
	}
	st := r.Status()
	seen := map[string]int{}
	for _, row := range f.Rows {
		if row.Member != "" {
			seen[row.Member]++
		}
		if !row.Start.IsZero() && !row.Finish.IsZero() && row.Finish.Before(row.Start) {
			t.Fatalf("%s: %s/%s/%s finishes %s before it starts %s", what, row.Stage, row.Group, row.Member, row.Finish, row.Start)
		}
		if row.Finish.After(f.Horizon) || row.Start.After(f.Horizon) {
			t.Fatalf("%s: %+v after the horizon %s", what, row, f.Horizon)
		}
		if !row.Finish.IsZero() && row.Start.IsZero() && row.State != fleetupdate.Skipped {
			t.Fatalf("%s: %+v finishes without a start", what, row)
		}
		if row.Finish.IsZero() && row.Why == "" {
			t.Fatalf("%s: %+v does not finish and says not why", what, row)
		}
	}
	n := 0
	for _, s := range st.Stages {
		for _, g := range s.Groups {
			for _, m := range g.Members {
				n++
				if seen[m.Name] != 1 {
					t.Fatalf("%s: member %s has %d rows", what, m.Name, seen[m.Name])
				}
				got, _ := f.Member(m.Name)
				switch m.Status.State {
				case fleetupdate.Completed, fleetupdate.Skipped:
					if got.State != m.Status.State || !got.Start.Equal(m.Status.StartTime) || !got.Finish.Equal(m.Status.CompletedTime) {
						t.Fatalf("%s: %s was %s %s→%s, the forecast says %s %s→%s", what, m.Name, m.Status.State, m.Status.StartTime, m.Status.CompletedTime, got.State, got.Start, got.Finish)
					}
				case fleetupdate.Running:
					if !got.Start.Equal(m.Status.StartTime) {
						t.Fatalf("%s: %s started %s, the forecast says %s", what, m.Name, m.Status.StartTime, got.Start)
					}
				}
				if m.Status.StartTime.IsZero() && !got.Start.IsZero() && got.Start.Before(now) {
					t.Fatalf("%s: %s starts %s, before now %s", what, m.Name, got.Start, now)
				}
			}
		}
	}
	if len(seen) != n {
		t.Fatalf("%s: %d member rows, the run has %d members", what, len(seen), n)
	}
	return f
}

// Every cut of every simulation, not one random cut: the forecast from the
// persisted run after each event agrees with the rest of the simulation.
func TestForecastAfterEveryEventIsTheRestOfTheSimulation(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := genAssumed(t)
		run, err := s.sim.NewRun("fc")
		if err != nil {
			t.Skip(err)
		}
		var runs []fleetupdate.Run
		tr := fake.Simulate(run, s.host(), fake.Options{Start: fake.GenEpoch, Horizon: horizon, NoChanges: true,
			Observe: func(_, next fleetupdate.Run, _ fake.Entry) { runs = append(runs, next) }})
		for k := range runs {
			cut := tr.Entries[k].At
			b, err := json.Marshal(runs[k])
			if err != nil {
				t.Fatal(err)
			}
			var back fleetupdate.Run
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			a := s.a
			a.Horizon = fake.GenEpoch.Add(horizon).Sub(cut)
			if a.Horizon == 0 {
				continue
			}
			what := fmt.Sprintf("cut after event %d of %d (%T at %s)", k+1, len(runs), tr.Entries[k].Event, stamp(cut))
			f := checkForecast(t, back, cut, a, what)
			requireAgrees(t, f, tr, what)
		}
	})
}

// Runs that went through failures, stops, skips, member changes and stale
// catalogs, cut after any event and persisted: the forecast keeps its
// promises with or without Resume, and from later times.
func TestForecastKeepsItsPromisesOnAnyRun(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sim := fake.Simulations().Draw(t, "sim")
		run, err := sim.NewRun("fc")
		if err != nil {
			t.Skip(err)
		}
		var runs []fleetupdate.Run
		tr := fake.Simulate(run, sim.Host(), fake.Options{Start: fake.GenEpoch, Horizon: 40 * 24 * time.Hour, NoChanges: true, Actions: sim.ActionsFor("fc"),
			Observe: func(_, next fleetupdate.Run, _ fake.Entry) { runs = append(runs, next) }})
		cuts := []int{-1}
		for range 3 {
			if len(runs) > 0 {
				cuts = append(cuts, rapid.IntRange(0, len(runs)-1).Draw(t, "cut"))
			}
		}
		for _, k := range cuts {
			r, at := run, fake.GenEpoch
			if k >= 0 {
				r, at = runs[k], tr.Entries[k].At
			}
			b, _ := json.Marshal(r)
			var back fleetupdate.Run
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			later := at.Add(time.Duration(rapid.IntRange(0, 400*24).Draw(t, "laterHours")) * time.Hour)
			dur := rapid.SampledFrom([]time.Duration{time.Nanosecond, time.Minute, time.Hour, 30 * 24 * time.Hour}).Draw(t, "dur")
			for _, a := range []forecast.Assumptions{
				{Duration: dur},
				{Duration: dur, Resume: true, ApprovalDelay: time.Hour},
				{Duration: dur, Resume: true, NeverApprove: true, Horizon: time.Hour},
			} {
				checkForecast(t, back, at, a, fmt.Sprintf("cut %d at %s, %s", k, stamp(at), a))
				checkForecast(t, back, later, a, fmt.Sprintf("cut %d at %s, from %s, %s", k, stamp(at), stamp(later), a))
			}
		}
	})
}
