// Package journal keeps fleetupdate runs durable: the embedded store a real
// host writes before it performs a step's commands (host contract, rule 1)
// and rebuilds runs from after a restart (rule 5).
//
// One file, a bbolt database, holds many runs. Each run keeps its inputs
// (the arguments of fleetupdate.New, once), an append-only log of the events
// it accepted (fleetupdate.MarshalEvent, keyed by sequence number) and at
// most one snapshot (json.Marshal of the Run after some event). A snapshot
// and the compaction it allows (deleting every event and snapshot it covers)
// commit in the same transaction as the event that triggers them, so
// whenever the process dies, Load returns exactly the run of the last
// committed step: the newest snapshot, or New of the inputs, plus a replay
// of the events after it.
//
// Journal.Step is fleetupdate.Step made durable: an accepted event is
// committed (and fsynced) before Step returns its commands; a refused event
// changes nothing and is not written.
//
//	s, err := journal.Open("fleetkit.db", nil)
//	j, err := s.Create("roll-1-30", spec, members, catalog) // or s.Load("roll-1-30")
//	run, cmds, err := j.Step(fleetupdate.Start{At: now})
//
// Each Step is one bbolt transaction: a few pages written (about 20 KB,
// however large the fleet) and, unless Options.NoSync, one fdatasync, which
// then dominates its cost. Opening a run costs decoding its snapshot (or New
// of its inputs) plus replaying the events after it.
//
// Only one process (one Store) may have a file open at a time: a second
// gets ErrLocked. Damaged or unknown data gives an error wrapping ErrCorrupt
// or ErrUnsupportedVersion that names the run, bucket and key, never a
// partly loaded run.
//
// # File layout (format version 1)
//
//	fleetkit.journal/format        "1"
//	runs/<name>/inputs/json        {"name","spec","members","catalog"}
//	runs/<name>/events/<seq>       wire-format event; seq is 8 bytes big-endian, from 1;
//	                               the bucket's sequence is the number of the last event
//	runs/<name>/snapshots/<seq>    json.Marshal(run) after event seq (at most one)
//
// Events after a snapshot continue its numbering: a run with a snapshot at
// 40 and events 41 and 42 has seen 42 events.
package journal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// FormatVersion is the version of the file layout this package writes and
// reads. A file with another version is refused with ErrUnsupportedVersion.
const FormatVersion = 1

// DefaultLockTimeout is how long Open waits for another process's lock
// when Options.LockTimeout is zero: long enough for a host that is exiting
// to let go, short enough that a second host fails fast.
const DefaultLockTimeout = 100 * time.Millisecond

// Errors. Every error this package returns for these conditions wraps one
// of them.
var (
	ErrNotFound           = errors.New("journal: run not found")
	ErrExists             = errors.New("journal: run already exists")
	ErrLocked             = errors.New("journal: file is in use by another host")
	ErrCorrupt            = errors.New("journal: corrupt data")
	ErrUnsupportedVersion = errors.New("journal: unsupported format version")
	ErrClosed             = errors.New("journal: store is closed")
	ErrConflict           = errors.New("journal: run was written through another Journal")
	// ErrWrite wraps every error of Journal.Step and Journal.Snapshot that
	// is the journal failing rather than the run refusing an event: the
	// step was not kept, and a host should stop rather than carry on.
	ErrWrite = errors.New("journal: not written")
)

// Options tune a Store. The zero value is what production wants.
type Options struct {
	// SnapshotEvery is the number of events between snapshots. Zero means
	// adaptive: snapshot once the events logged since the newest snapshot
	// take as many bytes as that snapshot (or as the run's inputs, before
	// the first). Snapshots then cost at most one byte per byte of events,
	// whatever the fleet's size, and opening replays at most a snapshot's
	// worth of events.
	SnapshotEvery int
	// NoSync skips fsync on commit. A process crash loses nothing; a power
	// loss may lose recent steps. For benchmarks and tests.
	NoSync bool
	// LockTimeout is how long Open waits for another process to release the
	// file. Zero means DefaultLockTimeout; negative means do not wait.
	LockTimeout time.Duration
}

// Store is an open journal file. Its methods are safe for concurrent use.
type Store struct {
	db   *bolt.DB
	path string
	opt  Options
}

var (
	metaBucket      = []byte("fleetkit.journal")
	formatKey       = []byte("format")
	runsBucket      = []byte("runs")
	inputsBucket    = []byte("inputs")
	inputsKey       = []byte("json")
	eventsBucket    = []byte("events")
	snapshotsBucket = []byte("snapshots")
)

// Open opens or creates the journal file at path and takes its lock. A
// file held by another host gives ErrLocked; a file that is not a journal,
// or is damaged, gives ErrCorrupt. A nil opt means the zero Options.
func Open(path string, opt *Options) (*Store, error) {
	var o Options
	if opt != nil {
		o = *opt
	}
	if o.SnapshotEvery < 0 {
		return nil, fmt.Errorf("journal: SnapshotEvery %d is negative", o.SnapshotEvery)
	}
	timeout := o.LockTimeout
	switch {
	case timeout == 0:
		timeout = DefaultLockTimeout
	case timeout < 0:
		timeout = time.Nanosecond // bbolt: one try, no sleep
	}
	// bbolt trusts its pages: on damage it may panic in a goroutine of its
	// own (rebuilding the free list, which we do not sync: see below) or
	// loop on a cycle of pages. So an existing file's pages are checked
	// first.
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		if err := precheck(path, timeout); err != nil {
			return nil, err
		}
	}
	db, err := openBolt(path, &bolt.Options{
		Timeout: timeout,
		NoSync:  o.NoSync,
		// A synced free list is rewritten whole on every commit; after a
		// compaction it lists every page a large snapshot left, which would
		// make each event cost bytes in proportion to the fleet.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, path: path, opt: o}
	if err := s.update(initFormat); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// openBolt opens path with bbolt, turning its errors and panics into ours.
func openBolt(path string, bopt *bolt.Options) (db *bolt.DB, err error) {
	var f *os.File
	bopt.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
		ff, err := os.OpenFile(name, flag, perm)
		f = ff
		return ff, err
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if f != nil {
				f.Close() // releases the lock bbolt took
			}
			db, err = nil, fmt.Errorf("%w: %s: the database is damaged: %v", ErrCorrupt, path, r)
		}
	}()
	db, err = bolt.Open(path, 0o600, bopt)
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s is open in another process or Store (waited %v for its lock); run one host per file", ErrLocked, path, bopt.Timeout)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum), errors.Is(err, bolterrors.ErrVersionMismatch):
		return nil, fmt.Errorf("%w: %s is not a journal or is damaged: %v", ErrCorrupt, path, err)
	}
	if pe := (*os.PathError)(nil); errors.As(err, &pe) {
		return nil, fmt.Errorf("journal: open: %w", err)
	}
	// bbolt reports a short or unreadable file with plain errors.
	return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
}

// precheck opens path read-only (so another host's lock is seen first),
// checks its pages and then its format.
func precheck(path string, timeout time.Duration) error {
	db, err := openBolt(path, &bolt.Options{ReadOnly: true, Timeout: timeout})
	if err != nil {
		return err
	}
	defer db.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if err := checkPages(path, b); err != nil {
		return err
	}
	s := &Store{db: db, path: path}
	return s.view(func(tx *bolt.Tx) error { return checkFormat(tx, path) })
}

// initFormat marks a new file as a journal, or checks an existing one.
func initFormat(tx *bolt.Tx) error {
	if tx.Bucket(metaBucket) == nil && isEmpty(tx) {
		meta, err := tx.CreateBucket(metaBucket)
		if err != nil {
			return err
		}
		if err := meta.Put(formatKey, []byte(strconv.Itoa(FormatVersion))); err != nil {
			return err
		}
		_, err = tx.CreateBucket(runsBucket)
		return err
	}
	return checkFormat(tx, tx.DB().Path())
}

func isEmpty(tx *bolt.Tx) bool {
	k, _ := tx.Cursor().First()
	return k == nil
}

func checkFormat(tx *bolt.Tx, path string) error {
	meta := tx.Bucket(metaBucket)
	if meta == nil {
		if isEmpty(tx) {
			return nil // created by bbolt, never initialised: Open will
		}
		return fmt.Errorf("%w: %s is a bbolt database but not a fleetkit journal (no bucket %q)", ErrCorrupt, path, metaBucket)
	}
	v := meta.Get(formatKey)
	n, err := strconv.Atoi(string(v))
	if err != nil {
		return fmt.Errorf("%w: %s: %s/%s is %q, not a version number", ErrCorrupt, path, metaBucket, formatKey, v)
	}
	if n != FormatVersion {
		return fmt.Errorf("%w: %s has journal format version %d; this version of fleetkit reads version %d", ErrUnsupportedVersion, path, n, FormatVersion)
	}
	if tx.Bucket(runsBucket) == nil {
		return fmt.Errorf("%w: %s: bucket %q is missing", ErrCorrupt, path, runsBucket)
	}
	return nil
}

// Close releases the file and its lock. Journals of a closed Store return
// ErrClosed.
func (s *Store) Close() error {
	return s.db.Close()
}

// Path returns the file's path.
func (s *Store) Path() string { return s.path }

// Runs returns the names of the runs in the file, sorted.
func (s *Store) Runs() ([]string, error) {
	var names []string
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(runsBucket).ForEach(func(k, v []byte) error {
			if v != nil {
				return fmt.Errorf("%w: %s: key %q in bucket %q is not a run", ErrCorrupt, s.path, k, runsBucket)
			}
			names = append(names, string(k))
			return nil
		})
	})
	return names, err
}

// Delete removes a run and everything kept for it. Journals of the run
// return ErrNotFound afterwards.
func (s *Store) Delete(name string) error {
	return s.update(func(tx *bolt.Tx) error {
		err := tx.Bucket(runsBucket).DeleteBucket([]byte(name))
		if errors.Is(err, bolterrors.ErrBucketNotFound) {
			return fmt.Errorf("%w: %q in %s", ErrNotFound, name, s.path)
		}
		return err
	})
}

// view and update run fn in a bbolt transaction, turning a panic (bbolt
// panics on some damaged pages) or a fault on the mapped file into
// ErrCorrupt, and bbolt's "not open" into ErrClosed.
func (s *Store) view(fn func(*bolt.Tx) error) error {
	return s.guard(func() error { return s.db.View(fn) })
}

func (s *Store) update(fn func(*bolt.Tx) error) error {
	return s.guard(func() error { return s.db.Update(fn) })
}

func (s *Store) guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: the database is damaged: %v", ErrCorrupt, s.path, r)
		}
	}()
	err = fn()
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("%w: %s", ErrClosed, s.path)
	}
	return err
}

// seqKey is the key of event or snapshot seq: big-endian, so keys sort in
// sequence order.
func seqKey(seq uint64) []byte {
	var k [8]byte
	for i := 7; i >= 0; i-- {
		k[i] = byte(seq)
		seq >>= 8
	}
	return k[:]
}

func parseSeq(k []byte) (uint64, bool) {
	if len(k) != 8 {
		return 0, false
	}
	var n uint64
	for _, b := range k {
		n = n<<8 | uint64(b)
	}
	return n, n > 0
}

// keyString shows a key in errors: its sequence number, or the raw bytes.
func keyString(k []byte) string {
	if n, ok := parseSeq(k); ok {
		return strconv.FormatUint(n, 10)
	}
	if bytes.ContainsFunc(k, func(r rune) bool { return r < 0x20 || r == 0x7f || r == 0xfffd }) {
		return fmt.Sprintf("%x", k)
	}
	return strconv.Quote(string(k))
}
