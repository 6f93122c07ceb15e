// Package planner decides which member of an update group goes next, in the
// order Azure Kubernetes Fleet Manager uses:
//
//  1. a member whose maintenance window is open now;
//  2. one whose window opens within the next four hours;
//  3. one with no maintenance window;
//  4. one whose window is closed.
//
// (Fleet docs, concepts-update-orchestration.md, "Planned maintenance windows".)
// Ties break on the earliest opening, then on the member name, so the order is
// total and deterministic.
//
// Classification costs one [window.Schedule.Next] call; ordering costs one
// classification per distinct *window.Schedule pointer plus an O(n log n)
// sort. Callers that pick repeatedly from a large group (such as the
// fleetupdate reducer) should bucket members by schedule, [Classify] each
// bucket once per pick and compare bucket heads with [Key.Compare]; that
// makes a pick cost O(distinct schedules), not O(members).
package planner

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fleetkit/fleetkit/window"
)

// Priority ranks a member for its next pick; lower goes first.
type Priority int

// Priorities in pick order.
const (
	OpenNow   Priority = iota // the window is open at the pick time
	OpensSoon                 // the window opens within SoonWithin
	NoWindow                  // the member has no maintenance window
	Closed                    // the window is closed and opens later, or never
)

// SoonWithin is how close an opening must be for [OpensSoon].
const SoonWithin = 4 * time.Hour

var priorityNames = [...]string{"OpenNow", "OpensSoon", "NoWindow", "Closed"}

// String returns the priority's name, such as "OpensSoon".
func (p Priority) String() string {
	if p >= 0 && int(p) < len(priorityNames) {
		return priorityNames[p]
	}
	return "Priority(" + strconv.Itoa(int(p)) + ")"
}

// Classify returns the priority of a member with window s at time at, and
// the opening time of the window that ranks it: for OpenNow the start of the
// window it is in (possibly before at), for OpensSoon and Closed the next
// opening. The time is zero for NoWindow and for a window that never opens
// again (an invalid schedule included), which ranks Closed.
func Classify(s *window.Schedule, at time.Time) (Priority, time.Time) {
	if s == nil {
		return NoWindow, time.Time{}
	}
	iv, ok := s.Next(at)
	return ClassifyInterval(iv, ok, at)
}

// ClassifyInterval is Classify for a caller that already has the window's
// Next(t) for some t not after at, valid while at is before its End: a
// caller picking often can keep that interval instead of recomputing it.
func ClassifyInterval(iv window.Interval, ok bool, at time.Time) (Priority, time.Time) {
	switch {
	case !ok:
		return Closed, time.Time{}
	case !iv.Start.After(at):
		return OpenNow, iv.Start
	case iv.Start.Sub(at) <= SoonWithin:
		return OpensSoon, iv.Start
	default:
		return Closed, iv.Start
	}
}

// Key is what members are ordered by.
type Key struct {
	Priority Priority
	Opening  time.Time // from Classify; zero sorts last within a priority
	Name     string
}

// KeyOf classifies s at time at for the member called name.
func KeyOf(name string, s *window.Schedule, at time.Time) Key {
	p, o := Classify(s, at)
	return Key{Priority: p, Opening: o, Name: name}
}

// Compare orders keys: priority, then earliest opening (zero last), then name.
// It returns -1, 0 or +1 like [strings.Compare].
func (k Key) Compare(o Key) int {
	if k.Priority != o.Priority {
		if k.Priority < o.Priority {
			return -1
		}
		return 1
	}
	if !k.Opening.Equal(o.Opening) {
		switch {
		case k.Opening.IsZero():
			return 1
		case o.Opening.IsZero():
			return -1
		case k.Opening.Before(o.Opening):
			return -1
		default:
			return 1
		}
	}
	return strings.Compare(k.Name, o.Name)
}

// Candidate is a member that could go next.
type Candidate struct {
	Name   string
	Window *window.Schedule // nil: no maintenance window
}

// Order returns a new slice holding the candidates in pick order at time at.
// The input is not modified. Candidates that share a *window.Schedule are
// classified once. Equal names keep their input order.
func Order(c []Candidate, at time.Time) []Candidate {
	type ranked struct {
		key Key
		c   Candidate
	}
	seen := map[*window.Schedule]Key{}
	rs := make([]ranked, len(c))
	for i, cand := range c {
		k, ok := seen[cand.Window]
		if !ok {
			k = KeyOf("", cand.Window, at)
			seen[cand.Window] = k
		}
		k.Name = cand.Name
		rs[i] = ranked{k, cand}
	}
	slices.SortStableFunc(rs, func(a, b ranked) int { return a.key.Compare(b.key) })
	out := make([]Candidate, len(rs))
	for i, r := range rs {
		out[i] = r.c
	}
	return out
}
