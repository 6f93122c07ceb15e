package journal

import (
	"errors"
	"testing"

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
