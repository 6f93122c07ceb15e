package journal

import (
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/fleetkit/fleetkit/fleetupdate"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errCrash = errors.New("crash")

// crashAt makes the process "die" at the n-th time it reaches point: from
// there nothing more is written, as after a kill.
func crashAt(t *testing.T, point string, n int) {
	t.Helper()
	t.Cleanup(func() { crashHook = nil })
	crashHook = func(p string) error {
		if p == point {
			if n--; n == 0 {
				return errCrash
			}
		}
		return nil
	}
}

// Every sequence of crashes at the moments the database and the log file
// are out of step leaves a journal that opens, with the run of the last
// step: a crash in Open (after its commit, before its new log file is in
// place) of a fresh, a closed or a crashed journal, then more of them.
func TestCrashesInOpenAndCloseLeaveAJournalThatOpens(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) (path string, want string) // want "" for no run
	}{
		{"fresh file", func(t *testing.T) (string, string) { return testPath(t), "" }},
		{"closed", func(t *testing.T) (string, string) {
			s, runs := stepped(t, 3, &Options{NoSync: true})
			require.NoError(t, s.Close())
			return s.path, runs[3]
		}},
		{"crashed with events in the log", func(t *testing.T) (string, string) {
			s, runs := stepped(t, 3, &Options{NoSync: true})
			return crashCopy(t, s), runs[3]
		}},
		{"crashed in a fold", func(t *testing.T) (string, string) {
			s, runs := stepped(t, 3, &Options{NoSync: true})
			crashAt(t, "new log", 1)
			s.mu.Lock()
			require.NoError(t, s.fold(nil)) // committed; the Store is broken
			s.mu.Unlock()
			crashHook = nil
			require.NoError(t, s.Close())
			return s.path, runs[3]
		}},
		{"crashed in Close", func(t *testing.T) (string, string) {
			s, runs := stepped(t, 3, &Options{NoSync: true})
			crashAt(t, "close", 1)
			require.ErrorIs(t, s.Close(), errCrash)
			crashHook = nil
			return s.path, runs[3]
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, want := tc.setup(t)
			for crashes := 0; crashes < 3; crashes++ {
				crashAt(t, "new log", 1)
				_, err := Open(path, &Options{NoSync: true, LockTimeout: -1})
				require.ErrorIs(t, err, errCrash)
				crashHook = nil
				s, err := Open(path, &Options{NoSync: true, LockTimeout: -1})
				require.NoError(t, err, "after %d crashes in Open", crashes+1)
				if want != "" {
					j, err := s.Load("roll")
					require.NoError(t, err)
					assert.Equal(t, want, runJSON(t, j.Run()))
				}
				// Crash in it again, leaving what the next round opens.
				s.mu.Lock()
				s.broken = errCrash
				s.mu.Unlock()
				require.NoError(t, s.Close())
			}
		})
	}
}

// A failed append (disk full, I/O error) fails the step with ErrWrite and
// every write after it, so no event is skipped or written twice; the file
// opens again with the run of the last step that returned.
func TestFailedAppendStopsTheStore(t *testing.T) {
	s, runs := stepped(t, 3, &Options{NoSync: true})
	j, err := s.Load("roll")
	require.NoError(t, err)
	before := runJSON(t, j.Run())
	require.Equal(t, runs[3], before)
	// Half a record reached the file, then the write failed.
	s.mu.Lock()
	rec := appendRecord(nil, logRecord{run: "roll", seq: 4, event: []byte(`{"type":"Tick","at":"2026-03-04T12:00:00Z"}`)})
	_, err = s.log.f.WriteAt(rec[:len(rec)/2], s.log.size)
	require.NoError(t, err)
	require.NoError(t, s.log.f.Close()) // every write fails from here
	s.mu.Unlock()
	tick := fleetupdate.Tick{At: j.Run().Clock()}
	for range 2 {
		run, cmds, err := j.Step(tick)
		require.ErrorIs(t, err, ErrWrite)
		assert.Nil(t, cmds)
		assert.Equal(t, before, runJSON(t, run))
		assert.Equal(t, before, runJSON(t, j.Run()))
	}
	assert.ErrorIs(t, j.Snapshot(), ErrWrite)
	assert.Error(t, s.Delete("roll"))
	require.NoError(t, s.Close())
	got, err := loadJSON(t, s.path)
	require.NoError(t, err)
	assert.Equal(t, runs[3], got)
}

// A crash in Delete (after its commit) followed by Create of the same name:
// the old run's events in the log file never reach the new run.
func TestCrashInDeleteThenCreate(t *testing.T) {
	s, _ := stepped(t, 3, &Options{NoSync: true})
	crashAt(t, "new log", 1)
	require.NoError(t, s.Delete("roll"))
	crashHook = nil
	j := createT(t, s, "roll", 12) // committed; the Store writes no more
	_, _, err := j.Step(fleetupdate.Start{At: t0})
	require.ErrorIs(t, err, ErrWrite)
	require.NoError(t, s.Close())
	s2 := openT(t, s.path, &Options{NoSync: true})
	j2, err := s2.Load("roll")
	require.NoError(t, err)
	assert.Equal(t, fleetupdate.NotStarted, j2.Run().State())
	_, _, err = j2.Step(fleetupdate.Start{At: t0})
	require.NoError(t, err)
	require.NoError(t, s2.Close())
	s3 := openT(t, s.path, &Options{NoSync: true})
	j3, err := s3.Load("roll")
	require.NoError(t, err)
	assert.Equal(t, runJSON(t, j2.Run()), runJSON(t, j3.Run()))
}

// What is at the log file's path and is not this journal's log is refused
// and left alone: a directory, someone's text log, a fleetkit log with
// events next to a new database.
func TestForeignLogFileIsLeftAlone(t *testing.T) {
	s, _ := stepped(t, 2, &Options{NoSync: true})
	other := crashCopy(t, s)
	withEvents, err := os.ReadFile(logPath(other))
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		make func(lp string)
		err  string
	}{
		{"directory", func(lp string) { require.NoError(t, os.Mkdir(lp, 0o700)) }, "is a directory"},
		{"text log", func(lp string) { require.NoError(t, os.WriteFile(lp, []byte("12:00 started\n"), 0o600)) }, "not a fleetkit journal log"},
		{"another journal's log", func(lp string) { require.NoError(t, os.WriteFile(lp, withEvents, 0o600)) }, "belongs to another journal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := testPath(t)
			lp := logPath(path)
			tc.make(lp)
			before, _ := os.ReadFile(lp)
			_, err := Open(path, &Options{NoSync: true, LockTimeout: -1})
			require.Error(t, err)
			assert.ErrorContains(t, err, tc.err)
			assert.ErrorContains(t, err, lp)
			after, _ := os.ReadFile(lp)
			assert.Equal(t, before, after)
			fi, err := os.Stat(lp)
			require.NoError(t, err)
			assert.Equal(t, tc.name == "directory", fi.IsDir())
		})
	}
}

// Two journals' log files swapped (a careless restore, a script with the
// names mixed up) are refused, though each holds events that continue a
// run of the same name in the other: folded in, each run would take the
// other fleet's steps.
func TestSwappedLogFilesAreRefused(t *testing.T) {
	a := openT(t, testPath(t), &Options{NoSync: true})
	ja := createT(t, a, "roll", 12)
	_, _, err := ja.Step(fleetupdate.Start{At: t0})
	require.NoError(t, err)
	b := openT(t, testPath(t), &Options{NoSync: true})
	jb := createT(t, b, "roll", 7)
	_, _, err = jb.Step(fleetupdate.Start{At: t0.Add(time.Hour)})
	require.NoError(t, err)
	pa, pb := crashCopy(t, a), crashCopy(t, b)
	la, err := os.ReadFile(logPath(pa))
	require.NoError(t, err)
	lb, err := os.ReadFile(logPath(pb))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(logPath(pa), lb, 0o600))
	require.NoError(t, os.WriteFile(logPath(pb), la, 0o600))
	for _, p := range []string{pa, pb} {
		_, err := loadJSON(t, p)
		require.ErrorIs(t, err, ErrCorrupt)
		assert.ErrorContains(t, err, "another journal")
	}
}

// A Load that races the Create of its run shares the run's state with the
// Journal Create returns: only one of them can write the first event.
func TestLoadRacingCreateConflicts(t *testing.T) {
	s := openT(t, testPath(t), &Options{NoSync: true})
	spec, ms := fleet(6, 2, 3)
	for i := range 100 {
		name := fmt.Sprintf("roll-%d", i)
		loaded := make(chan *Journal)
		go func() {
			for {
				if j, err := s.Load(name); err == nil {
					loaded <- j
					return
				}
			}
		}()
		j1, err := s.Create(name, spec, ms, testCatalog())
		require.NoError(t, err)
		j2 := <-loaded
		_, _, err1 := j1.Step(fleetupdate.Start{At: t0})
		_, _, err2 := j2.Step(fleetupdate.Start{At: t0})
		require.False(t, err1 == nil && err2 == nil, "run %s: both Journals wrote event 1", name)
	}
}
