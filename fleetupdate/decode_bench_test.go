package fleetupdate

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// midRun is a one-by-one run of n members stepped for about half its
// events: half the members Completed, one Running, the rest queued.
func midRun(tb testing.TB, n int) Run {
	tb.Helper()
	spec, ms := benchFleet(n, 0, 0, false)
	r, err := New("bench", spec, ms, catalog())
	if err != nil {
		tb.Fatal(err)
	}
	now := t0
	var queue []UpgradeMember
	step := func(e Event) {
		var cmds []Command
		r, cmds, err = Step(r, e)
		if err != nil {
			tb.Fatal(err)
		}
		for _, c := range cmds {
			if u, ok := c.(UpgradeMember); ok {
				queue = append(queue, u)
			}
		}
	}
	step(Start{At: now})
	for done := 0; done < n/2; {
		if len(queue) > 0 {
			u := queue[0]
			queue = queue[1:]
			now = now.Add(20 * time.Minute)
			step(UpgradeSucceeded{At: now, Op: u.Op})
			done++
			continue
		}
		wake, ok := r.NextWake()
		if !ok {
			tb.Fatalf("stuck in %s", r.State())
		}
		now = wake
		step(Tick{At: now})
	}
	return r
}

// BenchmarkDecodeRun decodes the persisted form of a run half way through.
func BenchmarkDecodeRun(b *testing.B) {
	for _, n := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			enc, err := json.Marshal(midRun(b, n))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(enc)))
			cpu0, cpuOK := cpuTime()
			b.ResetTimer()
			for b.Loop() {
				var r Run
				if err := json.Unmarshal(enc, &r); err != nil {
					b.Fatal(err)
				}
			}
			if cpu1, ok := cpuTime(); ok && cpuOK {
				b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			}
		})
	}
}
