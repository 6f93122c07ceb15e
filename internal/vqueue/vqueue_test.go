package vqueue

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/fleetupdate"
)

var t0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// Events due at once come by class, then by order given or key, whatever
// the order they were queued in.
func TestEventsAtOnceComeByClassThenKey(t *testing.T) {
	var q Queue
	var tm Timers
	tm.Arm(&q, t0, t0)
	q.Push(Item{At: t0, Class: Outcome, Key: "run/b/1"})
	q.Push(Item{At: t0, Class: Outcome, Key: "run/a/1"})
	q.Push(Item{At: t0, Class: Approval, Key: "run/s/Before/0"})
	q.Push(Item{At: t0, Class: Scheduled, Seq: 1})
	q.Push(Item{At: t0, Class: Scheduled, Seq: 0})
	q.Push(Item{At: t0.Add(-time.Minute), Class: Tick})
	var got []string
	for q.Len() > 0 {
		it := q.Pop()
		got = append(got, it.At.Sub(t0).String()+" "+[]string{"scheduled", "approval", "outcome", "tick"}[it.Class]+" "+it.Key)
	}
	assert.Equal(t, []string{"-1m0s tick ", "0s scheduled ", "0s scheduled ", "0s approval run/s/Before/0", "0s outcome run/a/1", "0s outcome run/b/1", "0s tick "}, got)
}

func TestTimersTickOncePerWakeUp(t *testing.T) {
	var q Queue
	tm := Timers{Delay: time.Hour}
	tm.Arm(&q, t0, t0)
	tm.Arm(&q, t0, t0) // armed already
	tm.Arm(&q, t0.Add(30*time.Minute), t0)
	require.Equal(t, 2, q.Len())
	first := q.Pop()
	assert.Equal(t, fleetupdate.Tick{At: t0.Add(time.Hour)}, first.Event, "late by Delay")
	assert.True(t, tm.Fire(first))
	assert.False(t, tm.Fire(q.Pop()), "the late tick at 01:00 already reached the 00:30 wake-up")
	tm.Arm(&q, t0, t0.Add(2*time.Hour))
	assert.Equal(t, t0.Add(2*time.Hour), q.Pop().At, "a past wake-up fires at once")

	q.Push(Item{At: t0, Class: Outcome})
	tm.Arm(&q, t0.Add(5*time.Hour), t0)
	q.Drop(Tick)
	tm.Restart()
	assert.Equal(t, 1, q.Len())
	assert.False(t, q.Any(func(it Item) bool { return it.Class == Tick }))
	tm.Arm(&q, t0.Add(5*time.Hour), t0)
	assert.Equal(t, 2, q.Len(), "a restarted host arms again")
}
