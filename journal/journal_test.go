package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/fleetkit/fleetkit/fleetupdate"
)

var defaultMarshalRun, defaultUnmarshalRun = marshalRun, unmarshalRun

func testPath(t *testing.T) string { return filepath.Join(t.TempDir(), "fleet.db") }

func openT(t *testing.T, path string, opt *Options) *Store {
	t.Helper()
	s, err := Open(path, opt)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

func createT(t *testing.T, s *Store, name string, n int) *Journal {
	t.Helper()
	spec, ms := fleet(n, 2, 3)
	j, err := s.Create(name, spec, ms, testCatalog())
	require.NoError(t, err)
	return j
}

// reference is the in-memory run the journaled ones must equal.
func reference(t *testing.T, name string, n int) (fleetupdate.Run, []fleetupdate.Event) {
	spec, ms := fleet(n, 2, 3)
	r, err := fleetupdate.New(name, spec, ms, testCatalog())
	require.NoError(t, err)
	return newSim(t0, memCluster{}).drive(t, r, memStep(&r), nil)
}

// counts returns how many events (in the database and the log file) and
// snapshots the journal holds for a run.
func counts(t *testing.T, s *Store, name string) (events, snapshots int) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	require.NoError(t, s.view(func(tx *bolt.Tx) error {
		rb := tx.Bucket(runsBucket).Bucket([]byte(name))
		events = rb.Bucket(eventsBucket).Stats().KeyN
		snapshots = rb.Bucket(snapshotsBucket).Stats().KeyN
		return nil
	}))
	for _, r := range s.pending {
		if r.run == name {
			events++
		}
	}
	return events, snapshots
}

// A run hosted on the journal is the in-memory run after every step, and
// Load rebuilds it exactly, whatever the snapshot interval.
func TestJournaledRunEqualsInMemoryRun(t *testing.T) {
	want, events := reference(t, "roll", 40)
	require.Equal(t, fleetupdate.Completed, want.State())
	for _, every := range []int{0, 1, 2, 7, 50, 100000} {
		t.Run(fmt.Sprintf("snapshotEvery=%d", every), func(t *testing.T) {
			path := testPath(t)
			s := openT(t, path, &Options{SnapshotEvery: every, NoSync: true})
			j := createT(t, s, "roll", 40)
			mem := j.Run()
			for i, e := range events {
				got, _, err := j.Step(e)
				require.NoError(t, err, "event %d", i)
				mem, _, _ = fleetupdate.Step(mem, e)
				require.Equal(t, runJSON(t, mem), runJSON(t, got), "event %d", i)
			}
			ev, snaps := counts(t, s, "roll")
			if every > 0 && every <= len(events) {
				assert.Equal(t, 1, snaps, "one snapshot, older ones compacted")
				assert.Equal(t, len(events)%every, ev, "only events after the snapshot are kept")
			}
			require.NoError(t, s.Close())

			s = openT(t, path, &Options{SnapshotEvery: every, NoSync: true})
			loaded, err := s.Load("roll")
			require.NoError(t, err)
			assert.Equal(t, runJSON(t, want), runJSON(t, loaded.Run()))
			assert.Equal(t, statusJSON(t, want), statusJSON(t, loaded.Run()))
		})
	}
}

// Reopening the file and loading the run after every single step, then
// carrying on from what was loaded, ends exactly like the reference.
func TestReloadAfterEveryStep(t *testing.T) {
	want, _ := reference(t, "roll", 24)
	for _, every := range []int{0, 1, 3} {
		t.Run(fmt.Sprintf("snapshotEvery=%d", every), func(t *testing.T) {
			path := testPath(t)
			opt := &Options{SnapshotEvery: every, NoSync: true}
			s := openT(t, path, opt)
			j := createT(t, s, "roll", 24)
			h := newSim(t0, memCluster{})
			reloads := 0
			step := func(e fleetupdate.Event) (fleetupdate.Run, []fleetupdate.Command, error) {
				run, cmds, err := j.Step(e)
				if err != nil {
					return run, cmds, err
				}
				require.NoError(t, s.Close())
				s = openT(t, path, opt)
				j, err = s.Load("roll")
				require.NoError(t, err)
				require.Equal(t, runJSON(t, run), runJSON(t, j.Run()), "after %T", e)
				reloads++
				return j.Run(), cmds, nil
			}
			got, _ := h.drive(t, j.Run(), step, nil)
			assert.Equal(t, runJSON(t, want), runJSON(t, got))
			assert.Greater(t, reloads, 24)
		})
	}
}

// Snapshot before any event has nothing to save; twice in a row, nothing new.
func TestSnapshotWithNothingNew(t *testing.T) {
	path := testPath(t)
	s := openT(t, path, &Options{NoSync: true})
	j := createT(t, s, "roll", 3)
	require.NoError(t, j.Snapshot())
	_, snaps := counts(t, s, "roll")
	assert.Equal(t, 0, snaps)
	_, _, err := j.Step(fleetupdate.Start{At: t0})
	require.NoError(t, err)
	require.NoError(t, j.Snapshot())
	require.NoError(t, j.Snapshot())
	ev, snaps := counts(t, s, "roll")
	assert.Equal(t, 0, ev)
	assert.Equal(t, 1, snaps)
	loaded, err := s.Load("roll")
	require.NoError(t, err)
	assert.Equal(t, runJSON(t, j.Run()), runJSON(t, loaded.Run()))
}

func TestRefusedEventsAreNotWritten(t *testing.T) {
	s := openT(t, testPath(t), &Options{NoSync: true})
	j := createT(t, s, "roll", 6)
	before := runJSON(t, j.Run())
	for _, e := range []fleetupdate.Event{
		fleetupdate.Stop{At: t0}, // not running
		fleetupdate.UpgradeSucceeded{At: t0, Op: "roll/member-000001/1"}, // not in flight
		fleetupdate.Skip{At: t0, Targets: []fleetupdate.SkipTarget{{Type: fleetupdate.TargetGroup, Name: "nope"}}},
	} {
		run, cmds, err := j.Step(e)
		require.Error(t, err, "%T", e)
		assert.NotErrorIs(t, err, ErrWrite, "refused, not a write failure")
		assert.Nil(t, cmds)
		assert.Equal(t, before, runJSON(t, run))
	}
	ev, snaps := counts(t, s, "roll")
	assert.Equal(t, 0, ev)
	assert.Equal(t, 0, snaps)
	_, _, err := j.Step(fleetupdate.Start{At: t0})
	require.NoError(t, err)
	ev, _ = counts(t, s, "roll")
	assert.Equal(t, 1, ev)
}

// The adaptive default snapshots once the events since the last snapshot
// (or since Create) take as many bytes as it (or the inputs).
func TestAdaptiveSnapshotsFollowBytes(t *testing.T) {
	s := openT(t, testPath(t), &Options{NoSync: true})
	j := createT(t, s, "roll", 6)
	events := []fleetupdate.Event{fleetupdate.Start{At: t0}}
	for i := range 300 { // ticks are small and always accepted
		events = append(events, fleetupdate.Tick{At: t0.Add(time.Duration(i) * time.Second)})
	}
	base, logged, snapshots := j.base, 0, 0
	for _, e := range events {
		b, err := fleetupdate.MarshalEvent(e)
		require.NoError(t, err)
		_, _, err = j.Step(e)
		require.NoError(t, err)
		logged += len(b)
		if logged >= base {
			snapshots++
			_, n := counts(t, s, "roll")
			require.Equal(t, 1, n)
			assert.Equal(t, j.seq, j.snapSeq, "snapshot at the event that crossed the threshold")
			base, logged = j.base, 0
		} else {
			assert.Less(t, j.snapSeq, j.seq)
		}
	}
	assert.GreaterOrEqual(t, snapshots, 3)
}

// A failed automatic snapshot does not fail the step: the log alone rebuilds
// the run. Snapshot reports the failure.
func TestFailedAutomaticSnapshotKeepsTheStep(t *testing.T) {
	path := testPath(t)
	s := openT(t, path, &Options{SnapshotEvery: 1, NoSync: true})
	j := createT(t, s, "roll", 6)
	boom := errors.New("boom")
	marshalRun = func(fleetupdate.Run) ([]byte, error) { return nil, boom }
	t.Cleanup(func() { marshalRun = defaultMarshalRun })
	_, _, err := j.Step(fleetupdate.Start{At: t0})
	require.NoError(t, err)
	ev, snaps := counts(t, s, "roll")
	assert.Equal(t, 1, ev)
	assert.Equal(t, 0, snaps)
	assert.ErrorIs(t, j.Snapshot(), boom)
	marshalRun = defaultMarshalRun
	require.NoError(t, j.Snapshot())
	ev, snaps = counts(t, s, "roll")
	assert.Equal(t, 0, ev)
	assert.Equal(t, 1, snaps)
	loaded, err := s.Load("roll")
	require.NoError(t, err)
	assert.Equal(t, runJSON(t, j.Run()), runJSON(t, loaded.Run()))
}

// A run that does not decode from its own snapshot is never snapshotted.
func TestSnapshotThatDoesNotDecodeIsNotWritten(t *testing.T) {
	s := openT(t, testPath(t), &Options{SnapshotEvery: 1, NoSync: true})
	j := createT(t, s, "roll", 6)
	unmarshalRun = func([]byte, *fleetupdate.Run) error { return errors.New("refused") }
	t.Cleanup(func() { unmarshalRun = defaultUnmarshalRun })
	_, _, err := j.Step(fleetupdate.Start{At: t0})
	require.NoError(t, err)
	_, snaps := counts(t, s, "roll")
	assert.Equal(t, 0, snaps)
	assert.ErrorContains(t, j.Snapshot(), "does not decode from its own encoding")
}

// Event times in any zone are kept in UTC, and the run in memory is the one
// Load rebuilds.
func TestStepKeepsWhatLoadRebuilds(t *testing.T) {
	path := testPath(t)
	s := openT(t, path, &Options{NoSync: true})
	j := createT(t, s, "roll", 6)
	run, _, err := j.Step(fleetupdate.Start{At: t0.In(time.FixedZone("X", 5*3600))})
	require.NoError(t, err)
	loaded, err := s.Load("roll")
	require.NoError(t, err)
	assert.Equal(t, runJSON(t, run), runJSON(t, loaded.Run()))
	assert.Equal(t, time.UTC, run.Clock().Location())
}

func TestCreateLoadRunsDelete(t *testing.T) {
	s := openT(t, testPath(t), &Options{NoSync: true})
	_, err := s.Load("roll")
	assert.ErrorIs(t, err, ErrNotFound)
	createT(t, s, "roll", 3)
	createT(t, s, "another", 3)
	_, err = s.Create("roll", fleetupdate.Spec{}, nil, testCatalog())
	assert.ErrorIs(t, err, ErrExists)
	spec, ms := fleet(3, 0, 0)
	ms[1].KubernetesVersion = "banana"
	_, err = s.Create("bad", spec, ms, testCatalog())
	assert.ErrorIs(t, err, fleetupdate.ErrInvalidSpec)
	names, err := s.Runs()
	require.NoError(t, err)
	assert.Equal(t, []string{"another", "roll"}, names)

	j, err := s.Load("roll")
	require.NoError(t, err)
	require.NoError(t, s.Delete("roll"))
	assert.ErrorIs(t, s.Delete("roll"), ErrNotFound)
	_, _, err = j.Step(fleetupdate.Start{At: t0})
	assert.ErrorIs(t, err, ErrNotFound)
	assert.ErrorIs(t, err, ErrWrite)
	names, err = s.Runs()
	require.NoError(t, err)
	assert.Equal(t, []string{"another"}, names)
}

// Two Journals of one run: the second to write learns that it is behind
// instead of forking the log.
func TestSecondJournalOfARunConflicts(t *testing.T) {
	s := openT(t, testPath(t), &Options{NoSync: true})
	_, _, err := createT(t, s, "roll", 3).Step(fleetupdate.Start{At: t0})
	require.NoError(t, err)
	a, err := s.Load("roll")
	require.NoError(t, err)
	b, err := s.Load("roll")
	require.NoError(t, err)
	_, _, err = a.Step(fleetupdate.Tick{At: t0})
	require.NoError(t, err)
	_, _, err = b.Step(fleetupdate.Tick{At: t0})
	assert.ErrorIs(t, err, ErrConflict)
	assert.ErrorIs(t, err, ErrWrite)
	assert.ErrorIs(t, b.Snapshot(), ErrConflict)
}

func TestSecondOpenOfAFileIsLocked(t *testing.T) {
	path := testPath(t)
	s := openT(t, path, nil)
	for _, opt := range []*Options{{LockTimeout: -1}, {LockTimeout: -1, NoSync: true}} {
		_, err := Open(path, opt)
		require.ErrorIs(t, err, ErrLocked)
		assert.ErrorContains(t, err, path)
	}
	require.NoError(t, s.Close())
	s2 := openT(t, path, &Options{LockTimeout: -1})
	_, err := s2.Runs()
	require.NoError(t, err)
}

func TestClosedStore(t *testing.T) {
	s := openT(t, testPath(t), &Options{NoSync: true})
	j := createT(t, s, "roll", 3)
	require.NoError(t, s.Close())
	_, _, err := j.Step(fleetupdate.Start{At: t0})
	assert.ErrorIs(t, err, ErrClosed)
	_, err = s.Load("roll")
	assert.ErrorIs(t, err, ErrClosed)
}

func TestOptionsAreChecked(t *testing.T) {
	_, err := Open(testPath(t), &Options{SnapshotEvery: -1})
	assert.ErrorContains(t, err, "SnapshotEvery")
	_, err = Open(filepath.Join(t.TempDir(), "missing", "dir", "fleet.db"), nil)
	assert.ErrorIs(t, err, os.ErrNotExist)
}
