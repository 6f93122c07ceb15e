package journal

import (
	"math/rand/v2"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/fleetkit/fleetkit/fleetupdate"
)

// damagedFile writes a journal holding run "roll" (started, three members
// upgraded, snapshot after event every, events after it) and returns its
// path.
func damagedFile(t *testing.T, every int) string {
	t.Helper()
	path := testPath(t)
	s, err := Open(path, &Options{SnapshotEvery: every, NoSync: true})
	require.NoError(t, err)
	defer s.Close()
	j := createT(t, s, "roll", 12)
	h := newSim(t0, memCluster{})
	steps := 0
	for e := fleetupdate.Event(fleetupdate.Start{At: t0}); steps < 6; steps++ {
		_, cmds, err := j.Step(e)
		require.NoError(t, err)
		h.perform(cmds)
		e, _ = h.next()
	}
	return path
}

// edit changes the file with bbolt directly, as damage or another program would.
func edit(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(fn))
	require.NoError(t, db.Close())
}

func runBucket(tx *bolt.Tx, sub []byte) *bolt.Bucket {
	rb := tx.Bucket(runsBucket).Bucket([]byte("roll"))
	if sub == nil {
		return rb
	}
	return rb.Bucket(sub)
}

// openLoad opens path and loads "roll", returning the first error.
func openLoad(path string) error {
	s, err := Open(path, &Options{NoSync: true, LockTimeout: -1})
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := s.Runs(); err != nil {
		return err
	}
	_, err = s.Load("roll")
	return err
}

// Each kind of damage gives an error that wraps ErrCorrupt (or
// ErrUnsupportedVersion) and says where and what, never a run.
func TestDamagedDataIsRefusedWithWhereAndWhat(t *testing.T) {
	cases := []struct {
		name  string
		every int // 0: no snapshot in the file
		edit  func(tx *bolt.Tx) error
		want  error
		where string
	}{
		{"event edited", 0, func(tx *bolt.Tx) error {
			return runBucket(tx, eventsBucket).Put(seqKey(3), []byte(`{"type":"Tick","at":"2026-03-04T12:00:00Z","x":1}`))
		}, ErrCorrupt, `bucket "events", key 3: event does not decode: fleetupdate: invalid encoding`},
		{"event byte flipped", 0, func(tx *bolt.Tx) error {
			b := runBucket(tx, eventsBucket)
			v := append([]byte(nil), b.Get(seqKey(2))...)
			v[len(v)/2] ^= 0x55
			return b.Put(seqKey(2), v)
		}, ErrCorrupt, `bucket "events", key 2: event does not decode`},
		{"event the run refuses", 0, func(tx *bolt.Tx) error {
			return runBucket(tx, eventsBucket).Put(seqKey(4), []byte(`{"type":"UpgradeSucceeded","at":"2026-03-04T12:00:00Z","op":"roll/nobody/1"}`))
		}, ErrCorrupt, `bucket "events", key 4: event is refused on replay: fleetupdate: operation is not in flight`},
		{"event missing", 0, func(tx *bolt.Tx) error {
			return runBucket(tx, eventsBucket).Delete(seqKey(2))
		}, ErrCorrupt, `bucket "events", key 3: events 2 to 2 are missing`},
		{"last event missing", 0, func(tx *bolt.Tx) error {
			return runBucket(tx, eventsBucket).Delete(seqKey(6))
		}, ErrCorrupt, `bucket "events": its sequence says 6 events were appended, the log and snapshot hold 5`},
		{"event key not a sequence number", 0, func(tx *bolt.Tx) error {
			return runBucket(tx, eventsBucket).Put([]byte("zzz"), []byte(`{}`))
		}, ErrCorrupt, `bucket "events", key "zzz": not an event`},
		{"snapshot edited", 4, func(tx *bolt.Tx) error {
			b := runBucket(tx, snapshotsBucket)
			k, v := b.Cursor().First()
			return b.Put(k, append([]byte(nil), v[:len(v)/2]...))
		}, ErrCorrupt, `bucket "snapshots", key 4: snapshot does not decode`},
		{"snapshot of an unknown schema", 4, func(tx *bolt.Tx) error {
			return runBucket(tx, snapshotsBucket).Put(seqKey(4), []byte(`{"schemaVersion":99}`))
		}, fleetupdate.ErrUnsupportedVersion, `bucket "snapshots", key 4: snapshot does not decode`},
		{"older snapshot left", 4, func(tx *bolt.Tx) error {
			b := runBucket(tx, snapshotsBucket)
			return b.Put(seqKey(1), b.Get(seqKey(4)))
		}, ErrCorrupt, `bucket "snapshots", key 1: an older snapshot was not compacted`},
		{"event covered by the snapshot", 4, func(tx *bolt.Tx) error {
			return runBucket(tx, eventsBucket).Put(seqKey(4), []byte(`{"type":"Tick","at":"2026-03-04T12:00:00Z"}`))
		}, ErrCorrupt, `bucket "events", key 4: event is covered by snapshot 4`},
		{"inputs edited", 0, func(tx *bolt.Tx) error {
			return runBucket(tx, inputsBucket).Put(inputsKey, []byte(`{"name":"roll","spec":{"bogus":1}}`))
		}, ErrCorrupt, `bucket "inputs", key "json": inputs do not decode`},
		{"inputs refused by New", 0, func(tx *bolt.Tx) error {
			return runBucket(tx, inputsBucket).Put(inputsKey, []byte(`{"name":"roll","spec":{"managedClusterUpdate":{"upgrade":{"type":"Sideways"}}},"members":[],"catalog":{"regions":{}}}`))
		}, fleetupdate.ErrInvalidSpec, `bucket "inputs", key "json": inputs are refused by fleetupdate.New`},
		{"inputs of another run", 0, func(tx *bolt.Tx) error {
			b := runBucket(tx, inputsBucket)
			v := string(b.Get(inputsKey))
			return b.Put(inputsKey, []byte(`{"name":"other"`+v[len(`{"name":"roll"`):]))
		}, ErrCorrupt, `inputs are of run "other"`},
		{"inputs missing", 0, func(tx *bolt.Tx) error {
			return runBucket(tx, inputsBucket).Delete(inputsKey)
		}, ErrCorrupt, `bucket "inputs", key "json": the run's inputs are missing`},
		{"events bucket missing", 0, func(tx *bolt.Tx) error {
			return runBucket(tx, nil).DeleteBucket(eventsBucket)
		}, ErrCorrupt, `bucket "events": bucket is missing`},
		{"stray key in a run", 0, func(tx *bolt.Tx) error {
			return runBucket(tx, nil).Put([]byte("extra"), []byte("1"))
		}, ErrCorrupt, `run "roll", key "extra": unknown key`},
		{"stray key among runs", 0, func(tx *bolt.Tx) error {
			return tx.Bucket(runsBucket).Put([]byte("extra"), []byte("1"))
		}, ErrCorrupt, `key "extra" in bucket "runs" is not a run`},
		{"unknown format version", 0, func(tx *bolt.Tx) error {
			return tx.Bucket(metaBucket).Put(formatKey, []byte("3"))
		}, ErrUnsupportedVersion, "has journal format version 3; this version of fleetkit reads versions 1 and 2"},
		{"format version not a number", 0, func(tx *bolt.Tx) error {
			return tx.Bucket(metaBucket).Put(formatKey, []byte("one"))
		}, ErrCorrupt, `fleetkit.journal/format is "one"`},
		{"not a journal", 0, func(tx *bolt.Tx) error {
			return tx.DeleteBucket(metaBucket)
		}, ErrCorrupt, "is a bbolt database but not a fleetkit journal"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := damagedFile(t, tc.every)
			require.NoError(t, openLoad(path), "the undamaged file loads")
			edit(t, path, tc.edit)
			err := openLoad(path)
			require.ErrorIs(t, err, tc.want)
			assert.ErrorContains(t, err, tc.where)
			assert.ErrorContains(t, err, path)
		})
	}
}

// Truncated and garbage files are refused at Open, without a panic.
func TestTruncatedAndGarbageFilesAreRefused(t *testing.T) {
	good := damagedFile(t, 4)
	b, err := os.ReadFile(good)
	require.NoError(t, err)
	db, err := bolt.Open(good, 0o600, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	var hwm int64 // where the file's pages end
	require.NoError(t, db.View(func(tx *bolt.Tx) error { hwm = tx.Size(); return nil }))
	require.NoError(t, db.Close())
	rng := rand.New(rand.NewPCG(1, 2))
	files := map[string][]byte{
		"garbage": func() []byte {
			g := make([]byte, 64<<10)
			for i := range g {
				g[i] = byte(rng.Uint32())
			}
			return g
		}(),
		"text":           []byte("this is not a database\n"),
		"one page":       b[:4096],
		"metas only":     b[:2*4096],
		"half":           b[:len(b)/2],
		"one byte short": b[:hwm-1],
	}
	for name, data := range files {
		t.Run(name, func(t *testing.T) {
			path := testPath(t)
			require.NoError(t, os.WriteFile(path, data, 0o600))
			assert.ErrorIs(t, openLoad(path), ErrCorrupt)
		})
	}
	// Past the last page, the file is only room to grow.
	path := testPath(t)
	require.NoError(t, os.WriteFile(path, b[:hwm], 0o600))
	assert.NoError(t, openLoad(path))
}

// Flipping bytes in a journal's pages never panics or crashes the process:
// Open and Load either fail or load a run. Flips go mostly into the headers
// and element arrays of pages in use, where bbolt is most fragile.
func TestRandomDamageNeverPanics(t *testing.T) {
	good := damagedFile(t, 4)
	b, err := os.ReadFile(good)
	require.NoError(t, err)
	db, err := bolt.Open(good, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
	require.NoError(t, err)
	var used []int // offsets of pages in use
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		for id := 0; ; id++ {
			p, err := tx.Page(id)
			if err != nil || p == nil {
				return err
			}
			if p.Type != "free" {
				used = append(used, id*db.Info().PageSize)
			}
		}
	}))
	require.NoError(t, db.Close())
	rng := rand.New(rand.NewPCG(3, 4))
	failed := 0
	const tries = 400
	for range tries {
		bad := append([]byte(nil), b...)
		off := rng.IntN(len(bad))
		if rng.IntN(4) > 0 {
			off = used[rng.IntN(len(used))] + rng.IntN(96)
		}
		for n := 1 + rng.IntN(4); n > 0 && off < len(bad); n-- {
			bad[off] ^= byte(1 + rng.IntN(255))
			off += 1 + rng.IntN(16)
		}
		path := testPath(t)
		require.NoError(t, os.WriteFile(path, bad, 0o600))
		if openLoad(path) != nil {
			failed++
		}
	}
	t.Logf("%d of %d damaged files refused", failed, tries)
	assert.Greater(t, failed, tries/4)
}
