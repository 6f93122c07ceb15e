package journal

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/fleetkit/fleetkit/fleetupdate"
)

// crashCopy copies the files of an open Store, as a crash would leave them
// (no Close), to a new directory, and returns the copy's path.
func crashCopy(t *testing.T, s *Store) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	path := testPath(t)
	for _, p := range [][2]string{{s.path, path}, {logPath(s.path), logPath(path)}} {
		b, err := os.ReadFile(p[0])
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(p[1], b, 0o600))
	}
	return path
}

// stepped opens a journal, creates "roll" and steps it n times; it returns
// the Store (open) and the run after each step (runs[0] is before any).
func stepped(t *testing.T, n int, opt *Options) (*Store, []string) {
	t.Helper()
	s := openT(t, testPath(t), opt)
	j := createT(t, s, "roll", 12)
	runs := []string{runJSON(t, j.Run())}
	h := newSim(t0, memCluster{})
	for e := fleetupdate.Event(fleetupdate.Start{At: t0}); len(runs) <= n; {
		r, cmds, err := j.Step(e)
		require.NoError(t, err)
		runs = append(runs, runJSON(t, r))
		h.perform(cmds)
		var ok bool
		e, ok = h.next()
		require.True(t, ok)
	}
	return s, runs
}

func loadJSON(t *testing.T, path string) (string, error) {
	t.Helper()
	s, err := Open(path, &Options{NoSync: true, LockTimeout: -1})
	if err != nil {
		return "", err
	}
	defer s.Close()
	j, err := s.Load("roll")
	if err != nil {
		return "", err
	}
	return runJSON(t, j.Run()), nil
}

// recordOffsets returns where each record of a log file starts.
func recordOffsets(t *testing.T, b []byte) []int {
	var out []int
	for off := logHeaderSize; off < len(b); off += recHeaderSize + int(binary.BigEndian.Uint32(b[off:])) {
		out = append(out, off)
	}
	return out
}

// A crash leaves events in the log file that the database does not have:
// Open folds them in, and the run is the one of the last step.
func TestCrashedLogIsFoldedIn(t *testing.T) {
	s, runs := stepped(t, 5, &Options{NoSync: true})
	ev, _ := counts(t, s, "roll")
	require.Equal(t, 5, ev)
	path := crashCopy(t, s)
	got, err := loadJSON(t, path)
	require.NoError(t, err)
	assert.Equal(t, runs[5], got)
	// And again: the fold committed, the new log is empty.
	got, err = loadJSON(t, path)
	require.NoError(t, err)
	assert.Equal(t, runs[5], got)
}

// The last record of the log may be cut short or damaged by the crash
// (never acknowledged): it is dropped. Damage anywhere else is refused.
func TestLogTailAndDamage(t *testing.T) {
	s, runs := stepped(t, 5, &Options{NoSync: true})
	path := crashCopy(t, s)
	lp := logPath(path)
	good, err := os.ReadFile(lp)
	require.NoError(t, err)
	offs := recordOffsets(t, good)
	require.Len(t, offs, 5)
	last, third := offs[4], offs[2]
	for _, tc := range []struct {
		name string
		log  []byte
		want string // the run, or "" for ErrCorrupt
		err  string
	}{
		{"last record cut short", good[:len(good)-3], runs[4], ""},
		{"last record's header cut short", good[:last+5], runs[4], ""},
		{"zeros after the last record", append(bytes.Clone(good), make([]byte, 100)...), runs[5], ""},
		{"byte flipped in the last record", flip(good, last+recHeaderSize+10), runs[4], ""},
		{"byte flipped in a middle record", flip(good, third+recHeaderSize+10), "", "offset " + itoa(third) + ": record fails its checksum"},
		{"length of a middle record changed", flip(good, third+3), "", "offset " + itoa(third)},
		// Not a torn append: whole records follow, and dropping them would
		// lose steps whose commands were performed.
		{"length of a middle record made to run past the end", flip(good, third), "", "offset " + itoa(third)},
		{"a middle record zeroed", zero(good, third, offs[3]), "", "offset " + itoa(third)},
		{"bad header", flip(good, 2), "", "not a fleetkit journal log"},
		{"empty file", nil, "", "not a fleetkit journal log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testPath(t)
			db, err := os.ReadFile(path)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, db, 0o600))
			require.NoError(t, os.WriteFile(logPath(p), tc.log, 0o600))
			got, err := loadJSON(t, p)
			if tc.want != "" {
				require.NoError(t, err)
				assert.Equal(t, tc.want, got)
				return
			}
			require.ErrorIs(t, err, ErrCorrupt)
			assert.ErrorContains(t, err, tc.err)
			assert.ErrorContains(t, err, logPath(p))
		})
	}
}

func flip(b []byte, at int) []byte {
	out := bytes.Clone(b)
	out[at] ^= 0x5a
	return out
}

func zero(b []byte, from, to int) []byte {
	out := bytes.Clone(b)
	clear(out[from:to])
	return out
}

func itoa(n int) string { return string(appendInt(nil, n)) }

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

// Records that do not continue their run, and log files that do not
// belong to the database, are refused.
func TestLogThatDoesNotFitIsRefused(t *testing.T) {
	s, _ := stepped(t, 3, &Options{NoSync: true})
	path := crashCopy(t, s)
	good, err := os.ReadFile(logPath(path))
	require.NoError(t, err)
	ev := []byte(`{"type":"Tick","at":"2026-03-04T12:00:00Z"}`)
	// An older log file: the one before the database's.
	require.NoError(t, s.Close())
	for _, tc := range []struct {
		name string
		log  []byte
		keep bool // no log file at all when false and log is nil
		err  string
	}{
		{"record of a run the file does not hold", appendRecord(bytes.Clone(good), logRecord{run: "other", seq: 1, event: ev}), true, `event 1 of run "other", which the file does not hold`},
		{"record skipping an event", appendRecord(bytes.Clone(good), logRecord{run: "roll", seq: 5, event: ev}), true, `event 5 of run "roll", which is at event 3`},
		{"record repeating an event", appendRecord(bytes.Clone(good), logRecord{run: "roll", seq: 3, event: ev}), true, `event 3 of run "roll", which is at event 3`},
		{"log file of a later generation", withGen(t, good, 99), true, `has generation 99, the database expects "live 1"`},
		{"log file missing", nil, false, "is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testPath(t)
			db, err := os.ReadFile(path)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, db, 0o600))
			if tc.keep {
				require.NoError(t, os.WriteFile(logPath(p), tc.log, 0o600))
			}
			_, err = loadJSON(t, p)
			require.ErrorIs(t, err, ErrCorrupt)
			assert.ErrorContains(t, err, tc.err)
		})
	}
}

// withGen rewrites a log file's header with generation gen.
func withGen(t *testing.T, log []byte, gen uint64) []byte {
	p := filepath.Join(t.TempDir(), "gen.log")
	l, err := createLog(p, logHeader{id: binary.BigEndian.Uint64(log[len(logMagic):]), gen: gen}, false)
	require.NoError(t, err)
	l.f.Close()
	hdr, err := os.ReadFile(p)
	require.NoError(t, err)
	return append(hdr, log[logHeaderSize:]...)
}

// A crash after a fold committed and before the new log file replaced the
// old one leaves the old file: its events are in the database, and it is
// dropped.
func TestLogLeftByAFoldIsDropped(t *testing.T) {
	s, runs := stepped(t, 4, &Options{NoSync: true})
	before := crashCopy(t, s) // log of generation G with events 1 to 4
	s.mu.Lock()
	require.NoError(t, s.fold(nil))
	s.mu.Unlock()
	after := crashCopy(t, s) // database "live G+1", with events 1 to 4
	old, err := os.ReadFile(logPath(before))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(logPath(after), old, 0o600))
	got, err := loadJSON(t, after)
	require.NoError(t, err)
	assert.Equal(t, runs[4], got)
}

// Close folds everything in and removes the log file: a closed journal is
// one file. A log file left by a Close that died after its commit is old.
func TestCloseLeavesOneFile(t *testing.T) {
	s, runs := stepped(t, 4, &Options{NoSync: true})
	left := crashCopy(t, s)
	require.NoError(t, s.Close())
	_, err := os.Stat(logPath(s.path))
	assert.ErrorIs(t, err, os.ErrNotExist)
	closed, err := os.ReadFile(s.path)
	require.NoError(t, err)
	got, err := loadJSON(t, s.path)
	require.NoError(t, err)
	assert.Equal(t, runs[4], got)
	// The closed database beside the log file of before the Close.
	old, err := os.ReadFile(logPath(left))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(s.path, closed, 0o600))
	require.NoError(t, os.WriteFile(logPath(s.path), old, 0o600))
	got, err = loadJSON(t, s.path)
	require.NoError(t, err)
	assert.Equal(t, runs[4], got)
	// A log file older than that is from no crash (another journal's?):
	// refused, not dropped.
	_, err = loadJSON(t, s.path) // closed again, two generations on
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(logPath(s.path), old, 0o600))
	_, err = loadJSON(t, s.path)
	require.ErrorIs(t, err, ErrCorrupt)
	assert.ErrorContains(t, err, "has generation 1")
}

// The database's note of its log file is checked.
func TestLogStateIsChecked(t *testing.T) {
	s, _ := stepped(t, 2, &Options{NoSync: true})
	require.NoError(t, s.Close())
	edit(t, s.path, func(tx *bolt.Tx) error { return tx.Bucket(metaBucket).Put(logKey, []byte("open 3")) })
	_, err := loadJSON(t, s.path)
	require.ErrorIs(t, err, ErrCorrupt)
	assert.ErrorContains(t, err, `fleetkit.journal/log is "open 3"`)
}

// Events folded by the size limit, by a snapshot and by Delete keep every
// run whole, and a deleted run's events do not come back.
func TestFoldsKeepRunsWhole(t *testing.T) {
	defer func(n int64) { foldBytes = n }(foldBytes)
	foldBytes = 300 // a fold every few events
	s := openT(t, testPath(t), &Options{NoSync: true})
	a, b := createT(t, s, "a", 6), createT(t, s, "b", 6)
	ra, rb := a.Run(), b.Run()
	ha, hb := newSim(t0, memCluster{}), newSim(t0, memCluster{})
	step := func(j *Journal, h *sim, r *fleetupdate.Run, e fleetupdate.Event) {
		next, cmds, err := j.Step(e)
		if err == nil {
			*r = next
			h.perform(cmds)
		}
	}
	step(a, ha, &ra, fleetupdate.Start{At: t0})
	step(b, hb, &rb, fleetupdate.Start{At: t0})
	for i := 0; !ra.Done() || !rb.Done(); i++ {
		if e, ok := ha.next(); ok {
			step(a, ha, &ra, e)
		}
		if e, ok := hb.next(); ok {
			step(b, hb, &rb, e)
		}
		if i == 3 {
			require.NoError(t, a.Snapshot())
		}
	}
	path := crashCopy(t, s)
	for name, want := range map[string]fleetupdate.Run{"a": ra, "b": rb} {
		j, err := s.Load(name)
		require.NoError(t, err)
		assert.Equal(t, runJSON(t, want), runJSON(t, j.Run()))
	}
	require.NoError(t, s.Delete("a"))
	_, err := s.Create("a", fleetupdate.Spec{ManagedClusterUpdate: fleetupdate.ManagedClusterUpdate{Upgrade: fleetupdate.UpgradeSpec{Type: fleetupdate.ControlPlaneOnly, KubernetesVersion: "1.30"}}},
		[]fleetupdate.Member{{Name: "c1", Region: "eastus", KubernetesVersion: "1.29.4"}}, testCatalog())
	require.NoError(t, err)
	_, _, err = a.Step(fleetupdate.Tick{At: t0})
	assert.ErrorIs(t, err, ErrNotFound, "a Journal of the deleted run cannot write to the new one")
	s2, err := Open(path, &Options{NoSync: true, LockTimeout: -1})
	require.NoError(t, err)
	defer s2.Close()
	j, err := s2.Load("b")
	require.NoError(t, err)
	assert.Equal(t, runJSON(t, rb), runJSON(t, j.Run()))
}

// A file of format version 1 (no log file, no "log" key) opens, and
// becomes version 2.
func TestFormatVersion1IsRead(t *testing.T) {
	s, runs := stepped(t, 3, &Options{NoSync: true})
	require.NoError(t, s.Close())
	edit(t, s.path, func(tx *bolt.Tx) error {
		meta := tx.Bucket(metaBucket)
		for _, k := range [][]byte{logKey, idKey} {
			if err := meta.Delete(k); err != nil {
				return err
			}
		}
		return meta.Put(formatKey, []byte("1"))
	})
	got, err := loadJSON(t, s.path)
	require.NoError(t, err)
	assert.Equal(t, runs[3], got)
	db, err := bolt.Open(s.path, 0o600, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		assert.Equal(t, "2", string(tx.Bucket(metaBucket).Get(formatKey)))
		return nil
	}))
}

// A damaged log crafted so that finding whether a whole record follows is
// quadratic is refused without the quadratic search.
func TestDamagedLogSearchIsBounded(t *testing.T) {
	s, _ := stepped(t, 2, &Options{NoSync: true})
	path := crashCopy(t, s)
	good, err := os.ReadFile(logPath(path))
	require.NoError(t, err)
	// A record claiming 4 GiB, then 8 MiB where every fourth offset
	// claims a record half as long as what follows.
	log := binary.BigEndian.AppendUint32(bytes.Clone(good), 0xFFFFFFF0)
	log = append(log, 0, 0, 0, 0)
	for range 1 << 21 {
		log = append(log, 0, 0x40, 0, 0)
	}
	require.NoError(t, os.WriteFile(logPath(path), log, 0o600))
	_, err = loadJSON(t, path)
	require.ErrorIs(t, err, ErrCorrupt)
	assert.ErrorContains(t, err, "record is damaged")
}
