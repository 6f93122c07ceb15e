// Package vqueue is the event queue of a host that drives a run on virtual
// time: fake.Simulate's and package forecast's. Both take it from here so
// that a forecast delivers the events a simulation of the same run would,
// in the same order: a forecast agrees with a simulation only if events due
// at the same moment are taken in the same order.
package vqueue

import (
	"container/heap"
	"time"

	"github.com/fleetkit/fleetkit/fleetupdate"
)

// Class is the kind of a queued event. Events due at the same time are
// delivered by class, in the order below.
type Class int

// The classes, in delivery order at equal times.
const (
	Scheduled Class = iota // user actions and catalog changes, in the order given (Item.Seq)
	Approval               // gate approvals, by gate id (Item.Key)
	Outcome                // upgrade outcomes, by op id (Item.Key)
	Tick                   // timer ticks
)

// Item is an event waiting in virtual time. Its place among events due at
// the same time depends only on what it is, never on when the host learnt
// of it, so a restarted host (which learns of outcomes and wake-ups again,
// in another order) delivers them as one that never stopped.
type Item struct {
	At    time.Time
	Class Class
	Seq   int       // Scheduled: the order given
	Key   string    // Approval: the gate id; Outcome: the op id
	Wake  time.Time // Tick: the wake-up the timer was armed for
	Event fleetupdate.Event
}

func (a Item) less(b Item) bool {
	if !a.At.Equal(b.At) {
		return a.At.Before(b.At)
	}
	if a.Class != b.Class {
		return a.Class < b.Class
	}
	if a.Seq != b.Seq {
		return a.Seq < b.Seq
	}
	return a.Key < b.Key
}

// Queue holds items, earliest first. The zero Queue is empty and ready.
type Queue struct{ h items }

type items []Item

func (q items) Len() int           { return len(q) }
func (q items) Less(i, j int) bool { return q[i].less(q[j]) }
func (q items) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *items) Push(x any)        { *q = append(*q, x.(Item)) }
func (q *items) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// Len is the number of items queued.
func (q *Queue) Len() int { return len(q.h) }

// Push queues it.
func (q *Queue) Push(it Item) { heap.Push(&q.h, it) }

// Pop removes and returns the first item; the queue must not be empty.
func (q *Queue) Pop() Item { return heap.Pop(&q.h).(Item) }

// Drop removes the items of the given classes.
func (q *Queue) Drop(classes ...Class) {
	kept := q.h[:0]
	for _, it := range q.h {
		drop := false
		for _, c := range classes {
			drop = drop || it.Class == c
		}
		if !drop {
			kept = append(kept, it)
		}
	}
	clear(q.h[len(kept):])
	q.h = kept
	heap.Init(&q.h)
}

// Any reports whether some queued item satisfies f.
func (q *Queue) Any(f func(Item) bool) bool {
	for _, it := range q.h {
		if f(it) {
			return true
		}
	}
	return false
}

// Timers are a host's timers: one per wake-up asked for (host contract,
// rule 4). A timer fires Delay after its wake-up, at once if that is past,
// and the host sends no tick for a wake-up that a tick it sent has already
// reached. The zero Timers fire on time.
type Timers struct {
	Delay time.Duration
	armed map[time.Time]bool
	last  time.Time // the latest tick sent since the host (re)started
}

// Arm queues a tick for wake, asked for at now, unless one is armed for it.
func (t *Timers) Arm(q *Queue, wake, now time.Time) {
	if t.armed[wake] {
		return
	}
	if t.armed == nil {
		t.armed = map[time.Time]bool{}
	}
	t.armed[wake] = true
	at := wake.Add(t.Delay)
	if at.Before(now) {
		at = now
	}
	q.Push(Item{At: at, Class: Tick, Wake: wake, Event: fleetupdate.Tick{At: at}})
}

// Fire is called with each Tick item popped from the queue; it reports
// whether to deliver it (false: an earlier, late tick already reached its
// wake-up).
func (t *Timers) Fire(it Item) bool {
	delete(t.armed, it.Wake)
	if !t.last.IsZero() && !t.last.Before(it.Wake) {
		return false
	}
	t.last = it.At
	return true
}

// Disarm forgets every armed timer; drop their ticks from the queue too.
func (t *Timers) Disarm() { clear(t.armed) }

// Restart is a host process that starts again: no timer is armed and no
// tick has been sent.
func (t *Timers) Restart() {
	t.Disarm()
	t.last = time.Time{}
}
