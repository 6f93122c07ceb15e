package journal

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/fleetkit/fleetkit/fleetupdate"
)

// fixedCluster completes every upgrade 20 minutes after it is sent, as
// fleetupdate's benchmarks do.
type fixedCluster struct{}

func (fixedCluster) send(_ fleetupdate.UpgradeMember, now time.Time) time.Time {
	return now.Add(20 * time.Minute)
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// BenchmarkDurableRun hosts whole one-by-one runs (12 shared windows,
// 20-minute upgrades) in memory, on the journal, and saving the whole run
// per step as examples/host did (json.Marshal, write a temporary file,
// rename; fsync before the rename when on). The whole-file store is far too
// slow for whole runs past 1,000 members, so it is measured over a sample of
// steps from the middle of the run.
//
// Metrics: ns/event and events/s; B/event is what the store wrote per
// event: for the journal, the pages bbolt wrote (its TxStats page bytes plus
// one meta page per commit), for the whole file, the file's size.
func BenchmarkDurableRun(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		spec, ms := fleet(n, 0, 0)
		b.Run(fmt.Sprintf("members=%d/store=memory", n), func(b *testing.B) {
			r, err := fleetupdate.New("bench", spec, ms, testCatalog())
			if err != nil {
				b.Fatal(err)
			}
			events := 0
			var cpu cpuTimer
			b.ResetTimer()
			cpu.startT()
			for range b.N {
				run := r
				_, ev := newSim(t0, fixedCluster{}).drive(b, run, memStep(&run), nil)
				events += len(ev)
			}
			cpu.stopT()
			reportEvents(b, events, 0, cpu.total)
		})
		for _, sync := range []bool{false, true} {
			b.Run(fmt.Sprintf("members=%d/store=journal/fsync=%s", n, onOff(sync)), func(b *testing.B) {
				if sync && n > 10000 && !testing.Short() && os.Getenv("FLEETKIT_BENCH_SLOW") == "" {
					b.Skip("a whole 100,000-member run with an fsync per event takes minutes; set FLEETKIT_BENCH_SLOW=1")
				}
				events, written := 0, int64(0)
				var cpu cpuTimer
				b.StopTimer()
				for range b.N {
					s, err := Open(filepath.Join(b.TempDir(), "fleet.db"), &Options{NoSync: !sync})
					if err != nil {
						b.Fatal(err)
					}
					j, err := s.Create("bench", spec, ms, testCatalog())
					if err != nil {
						b.Fatal(err)
					}
					before := writtenBytes(s)
					b.StartTimer()
					cpu.startT()
					_, ev := newSim(t0, fixedCluster{}).drive(b, j.Run(), j.Step, nil)
					cpu.stopT()
					b.StopTimer()
					events += len(ev)
					written += writtenBytes(s) - before
					s.Close()
				}
				reportEvents(b, events, written, cpu.total)
			})
		}
		for _, sync := range []bool{false, true} {
			b.Run(fmt.Sprintf("members=%d/store=wholefile/fsync=%s", n, onOff(sync)), func(b *testing.B) {
				r, err := fleetupdate.New("bench", spec, ms, testCatalog())
				if err != nil {
					b.Fatal(err)
				}
				// Drive to the middle of the run, then sample steps there.
				h := newSim(t0, fixedCluster{})
				mid, cmds, err := fleetupdate.Step(r, fleetupdate.Start{At: t0})
				if err != nil {
					b.Fatal(err)
				}
				for range n / 2 {
					h.perform(cmds)
					e, _ := h.next()
					if next, c, err := fleetupdate.Step(mid, e); err == nil {
						mid, cmds = next, c
					} else {
						cmds = nil
					}
				}
				h.perform(cmds)
				sample := max(3, 100_000/n)
				path := filepath.Join(b.TempDir(), "run.json")
				events, written := 0, int64(0)
				var cpu cpuTimer
				b.ResetTimer()
				cpu.startT()
				for range b.N {
					run, hh := mid, h.clone()
					for range sample {
						e, ok := hh.next()
						if !ok {
							b.Fatal("the run ended inside the sample")
						}
						next, cmds, err := fleetupdate.Step(run, e)
						if err != nil {
							continue
						}
						run = next
						size, err := saveWhole(path, run, sync)
						if err != nil {
							b.Fatal(err)
						}
						hh.perform(cmds)
						events++
						written += size
					}
				}
				cpu.stopT()
				reportEvents(b, events, written, cpu.total)
				b.ReportMetric(float64(sample), "events-sampled/op")
			})
		}
	}
}

func (s *sim) clone() *sim {
	c := &sim{now: s.now, q: append(simQueue(nil), s.q...), ticks: map[time.Time]bool{}, c: s.c}
	for k, v := range s.ticks {
		c.ticks[k] = v
	}
	return c
}

// saveWhole is how examples/host saved a run before the journal: encode it
// whole, write a temporary file, fsync it (if sync), rename it over the old.
func saveWhole(path string, r fleetupdate.Run, sync bool) (int64, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return 0, err
	}
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return 0, err
	}
	if _, err := f.Write(b); err != nil {
		return 0, err
	}
	if sync {
		if err := f.Sync(); err != nil {
			return 0, err
		}
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	return int64(len(b)), os.Rename(path+".tmp", path)
}

// writtenBytes is what the store has written so far: the log file's
// records, and bbolt's pages of every commit and one meta page each.
func writtenBytes(s *Store) int64 {
	st := s.db.Stats()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.written + st.TxStats.GetPageAlloc() + s.commits.Load()*int64(s.db.Info().PageSize)
}

// cpuTime is the process's user and system CPU time so far. The machine is
// shared, so wall time per event varies with other load; CPU time much less.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuTimer sums the process CPU time while a benchmark's timer runs.
type cpuTimer struct {
	start time.Duration
	total time.Duration
}

func (c *cpuTimer) startT() { c.start = cpuTime() }
func (c *cpuTimer) stopT()  { c.total += cpuTime() - c.start }

func reportEvents(b *testing.B, events int, written int64, cpu time.Duration) {
	if events == 0 {
		return
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(events), "cpu-ns/event")
	ns := float64(b.Elapsed().Nanoseconds())
	b.ReportMetric(ns/float64(events), "ns/event")
	b.ReportMetric(float64(events)/(ns/1e9), "events/s")
	b.ReportMetric(float64(events)/float64(b.N), "events/op")
	if written > 0 {
		b.ReportMetric(float64(written)/float64(events), "B/event")
	}
}

// BenchmarkOpen opens a file holding a finished one-by-one run and loads
// it: from its inputs and the whole log (the adaptive default snapshots a
// run this size only after more events than one run has), and from a
// snapshot plus a tail of 1,000 events.
func BenchmarkOpen(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		spec, ms := fleet(n, 0, 0)
		for _, from := range []string{"inputs+log", "snapshot+tail1000"} {
			b.Run(fmt.Sprintf("members=%d/from=%s", n, from), func(b *testing.B) {
				path := filepath.Join(b.TempDir(), "fleet.db")
				s, err := Open(path, &Options{NoSync: true})
				if err != nil {
					b.Fatal(err)
				}
				j, err := s.Create("bench", spec, ms, testCatalog())
				if err != nil {
					b.Fatal(err)
				}
				var events []fleetupdate.Event
				r := j.Run()
				_, events = newSim(t0, fixedCluster{}).drive(b, r, memStep(&r), nil)
				tail := len(events)
				if from != "inputs+log" {
					tail = min(1000, len(events))
				}
				for i, e := range events {
					if i == len(events)-tail && i > 0 {
						if err := j.Snapshot(); err != nil {
							b.Fatal(err)
						}
					}
					if _, _, err := j.Step(e); err != nil {
						b.Fatal(err)
					}
				}
				want := runJSON(b, j.Run())
				s.Close()
				fi, _ := os.Stat(path)
				var cpu cpuTimer
				b.ResetTimer()
				cpu.startT()
				for range b.N {
					s, err := Open(path, &Options{LockTimeout: -1})
					if err != nil {
						b.Fatal(err)
					}
					if _, err := s.Load("bench"); err != nil {
						b.Fatal(err)
					}
					s.Close()
				}
				b.StopTimer()
				cpu.stopT()
				b.ReportMetric(float64(cpu.total.Nanoseconds())/float64(b.N), "cpu-ns/op")
				b.ReportMetric(float64(fi.Size()), "file-bytes")
				b.ReportMetric(float64(tail), "events-replayed")
				s, _ = Open(path, &Options{LockTimeout: -1})
				got, err := s.Load("bench")
				if err != nil || runJSON(b, got.Run()) != want {
					b.Fatalf("the loaded run differs (%v)", err)
				}
				s.Close()
			})
		}
	}
}
