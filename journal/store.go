// Package journal keeps fleetupdate runs durable: the embedded store a real
// host writes before it performs a step's commands (host contract, rule 1)
// and rebuilds runs from after a restart (rule 5).
//
// A journal is a bbolt database (the path given to Open) and, while a Store
// has it open, a log file beside it (the path plus ".log"). The database
// holds many runs. Each run keeps its inputs (the arguments of
// fleetupdate.New, once), an append-only log of the events it accepted
// (fleetupdate.MarshalEvent, keyed by sequence number) and at most one
// snapshot (json.Marshal of the Run after some event).
//
// Journal.Step is fleetupdate.Step made durable: an accepted event is
// appended to the log file (and fsynced unless Options.NoSync) before Step
// returns its commands; a refused event changes nothing and is not written.
// The log file's events are folded into the database in one transaction
// when the file passes 1 MiB, and with every snapshot, Delete, Open and
// Close. A snapshot and the compaction it allows (deleting every event and
// snapshot it covers) commit in the same transaction as the fold before
// them, so whenever the process dies, Load returns exactly the run of the
// last step Step returned: the newest snapshot, or New of the inputs, plus
// a replay of the events after it, in the database and then in the log.
//
//	s, err := journal.Open("fleetkit.db", nil)
//	j, err := s.Create("roll-1-30", spec, members, catalog) // or s.Load("roll-1-30")
//	run, cmds, err := j.Step(fleetupdate.Start{At: now})
//
// Each Step writes one record of about 200 bytes however large the fleet
// (plus, amortised, the fold's pages) and, unless Options.NoSync, waits
// for one fsync, which then dominates its cost. Opening a run costs
// decoding its snapshot (or New of its inputs) plus replaying the events
// after it.
//
// Only one process (one Store) may have a journal open at a time: a second
// gets ErrLocked (the lock is the database's; the log file is only touched
// under it). Damaged or unknown data gives an error wrapping ErrCorrupt or
// ErrUnsupportedVersion that names the run, bucket and key (or the log
// file and offset), never a partly loaded run. The one exception is the
// log file's last record, if cut short or failing its checksum: that is
// the append a crash interrupted, which Step never returned, and it is
// dropped. Close folds the log file in and removes it, so a closed journal
// is one file.
//
// # Database layout (format version 2)
//
//	fleetkit.journal/format        "2" (version 1: the same, without a log file, "id" or "log")
//	fleetkit.journal/id            8 random bytes, made when the file is first opened
//	fleetkit.journal/log           "live G": the log file of generation G may hold events
//	                               the database does not; "closed G": it holds none
//	runs/<name>/inputs/json        {"name","spec","members","catalog"}
//	runs/<name>/events/<seq>       wire-format event; seq is 8 bytes big-endian, from 1;
//	                               the bucket's sequence is the number of the last event
//	runs/<name>/snapshots/<seq>    json.Marshal(run) after event seq (at most one)
//
// Events after a snapshot continue its numbering: a run with a snapshot at
// 40 and events 41 and 42 has seen 42 events.
//
// # Log file layout
//
//	header   "FKJLOG\x00\x02", the journal's id, generation (uint64), CRC-32C of them (uint32)
//	record   payload length (uint32), CRC-32C of the payload (uint32), payload:
//	         uvarint length of the run's name, the name, seq (uint64), the event
//
// Integers are big-endian. A log file whose id is not the database's is
// another journal's, and is refused. A fold commits its events and
// "live G+1" in one transaction, then replaces the log file (write, fsync,
// rename) with an empty one of generation G+1. Open folds in the records of a log file of
// the live generation, each of which must continue its run, and drops one
// of the generation before (left by a crash between the two). Opening a
// closed journal makes its log file before the commit that says "live", so
// a database that says "live" always has its log file; a missing one was
// lost, and Open refuses to go on without it.
package journal

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// FormatVersion is the version of the file layout this package writes. It
// reads version 1 too (no log file; it becomes version 2 when opened), and
// refuses others with ErrUnsupportedVersion.
const FormatVersion = 2

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
	// Journal did not take the step (though after a failed fsync it may be
	// in the file), and a host should stop rather than carry on.
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
	// NoSync skips fsync on appends and commits. A process crash loses
	// nothing. A power loss may lose steps Step returned (whose commands
	// were performed) or leave the journal damaged, refused with
	// ErrCorrupt: the kernel writes the log and database pages out in no
	// particular order. For benchmarks and tests.
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
	id   uint64 // the journal's id, in its log file's header too

	mu      sync.Mutex // guards what follows, and orders folds and appends
	log     *logFile   // nil once closed
	pending []logRecord
	buf     []byte               // the record being appended
	runs    map[string]*runState // runs a Journal has been made for
	broken  error                // why no more may be written, if so
	commits atomic.Int64         // bbolt write transactions, for benchmarks
}

// runState is what the Journals of one run share: how many events the run
// has, so that a Journal that is behind cannot write (ErrConflict).
type runState struct {
	seq  uint64
	gone bool // deleted
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
	s := &Store{db: db, path: path, opt: o, runs: map[string]*runState{}}
	if err := s.update(initFormat); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.recoverLog(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// recoverLog folds the events of the log file the database says is live
// into the database, and starts a new, empty log file.
//
// Every state a crash can leave must open, however many crashes follow:
// so a new log file is in place before the database says it is live
// (never "live G" without a file), and a log file with no events to fold
// is replaced without a commit (which would make the file on disk two
// generations old if the process died before replacing it).
func (s *Store) recoverLog() error {
	lp := logPath(s.path)
	var ls logState
	if err := s.view(func(tx *bolt.Tx) (err error) {
		if v := tx.Bucket(metaBucket).Get(idKey); len(v) == 8 {
			s.id = binary.BigEndian.Uint64(v)
		} else {
			return fmt.Errorf("%w: %s: %s/%s is %x, not 8 bytes", ErrCorrupt, s.path, metaBucket, idKey, v)
		}
		ls, err = readLogState(tx, s.path)
		return err
	}); err != nil {
		return err
	}
	hdr, recs, ok, err := readLog(lp)
	if err != nil {
		return err
	}
	gen := hdr.gen
	switch {
	case ok && hdr.id != s.id:
		return fmt.Errorf("%w: %s: the log file %s belongs to another journal (its id is %016x, the database's %016x)", ErrCorrupt, s.path, lp, hdr.id, s.id)
	case !ok && ls.live:
		return fmt.Errorf("%w: %s: the log file %s is missing, and the database says it may hold events (%s/%s is %q)", ErrCorrupt, s.path, lp, metaBucket, logKey, ls)
	case !ok:
	case ls.live && gen == ls.gen:
		s.pending = recs
	case gen+1 == ls.gen:
		// Left by a fold, Open or Close that committed and then died:
		// every event in it is in the database.
	case !ls.live && gen == ls.gen+1 && len(recs) == 0:
		// Made by an Open that died before its commit.
	default:
		return fmt.Errorf("%w: %s: the log file %s has generation %d, the database expects %q (a log file of another journal?)", ErrCorrupt, s.path, lp, gen, ls)
	}
	if ls.live && len(s.pending) == 0 {
		// Nothing to fold: the database is right as it is.
		l, err := createLog(lp, logHeader{s.id, ls.gen}, !s.opt.NoSync)
		if err != nil {
			return fmt.Errorf("journal: create the log file: %w", err)
		}
		s.log = l
		return nil
	}
	next := logState{gen: ls.gen + 1, live: true}
	var l *logFile
	if !ls.live {
		if l, err = createLog(lp, logHeader{s.id, next.gen}, !s.opt.NoSync); err != nil {
			return fmt.Errorf("journal: create the log file: %w", err)
		}
	}
	if err := s.update(func(tx *bolt.Tx) error {
		if err := s.applyPending(tx); err != nil {
			return err
		}
		// Version 1 had no log file: a reader of it would not see one.
		if err := tx.Bucket(metaBucket).Put(formatKey, []byte(strconv.Itoa(FormatVersion))); err != nil {
			return err
		}
		return writeLogState(tx, next)
	}); err != nil {
		if l != nil {
			l.f.Close()
		}
		return err
	}
	s.pending = nil
	if l == nil {
		if l, err = createLog(lp, logHeader{s.id, next.gen}, !s.opt.NoSync); err != nil {
			return fmt.Errorf("journal: create the log file: %w", err)
		}
	}
	s.log = l
	return nil
}

// applyPending writes the events of the log not yet in the database to it,
// checking that each continues its run.
func (s *Store) applyPending(tx *bolt.Tx) error {
	runs := tx.Bucket(runsBucket)
	buckets := map[string]*bolt.Bucket{}
	for i, r := range s.pending {
		eb := buckets[r.run]
		if eb == nil {
			rb := runs.Bucket([]byte(r.run))
			if rb == nil {
				return fmt.Errorf("%w: %s: log record %d is event %d of run %q, which the file does not hold", ErrCorrupt, s.path, i+1, r.seq, r.run)
			}
			if eb = rb.Bucket(eventsBucket); eb == nil {
				return fmt.Errorf("%w: %s: run %q, bucket %q: bucket is missing", ErrCorrupt, s.path, r.run, eventsBucket)
			}
			eb.FillPercent = 1 // append-only: fill pages instead of splitting them in half
			buckets[r.run] = eb
		}
		if next := eb.Sequence() + 1; r.seq != next || r.event == nil {
			return fmt.Errorf("%w: %s: log record %d is event %d of run %q, which is at event %d (or the event is empty)", ErrCorrupt, s.path, i+1, r.seq, r.run, next-1)
		}
		if err := eb.Put(seqKey(r.seq), r.event); err != nil {
			return err
		}
		if err := eb.SetSequence(r.seq); err != nil {
			return err
		}
	}
	return nil
}

// fold writes the log's pending events to the database, with whatever
// extra does, in one transaction, and starts a new log file. If the
// transaction fails nothing changed; if the new log file cannot be made,
// the Store writes no more. The caller holds s.mu.
func (s *Store) fold(extra func(tx *bolt.Tx) error) error {
	if err := s.writable(); err != nil {
		return err
	}
	next := logState{gen: s.log.gen + 1, live: true}
	if err := s.update(func(tx *bolt.Tx) error {
		if err := s.applyPending(tx); err != nil {
			return err
		}
		if extra != nil {
			if err := extra(tx); err != nil {
				return err
			}
		}
		return writeLogState(tx, next)
	}); err != nil {
		return err
	}
	s.pending = nil
	l, err := createLog(logPath(s.path), logHeader{s.id, next.gen}, !s.opt.NoSync)
	if err != nil {
		s.broken = fmt.Errorf("journal: %s: start a new log file: %w", s.path, err)
		return nil // what the transaction did is done
	}
	l.written = s.log.written
	s.log.f.Close()
	s.log = l
	return nil
}

// writable says why nothing may be written, if so. The caller holds s.mu.
func (s *Store) writable() error {
	switch {
	case s.log == nil:
		return fmt.Errorf("%w: %s", ErrClosed, s.path)
	case s.broken != nil:
		return fmt.Errorf("a write failed, so this Store writes no more (open the file again): %w", s.broken)
	}
	return nil
}

// appendEvent appends event seq of j's run to the log. The caller holds
// j.mu.
func (s *Store) appendEvent(j *Journal, seq uint64, event []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writable(); err != nil {
		return err
	}
	if err := j.check(); err != nil {
		return err
	}
	rec := logRecord{run: j.name, seq: seq, event: event}
	s.buf = appendRecord(s.buf[:0], rec)
	if err := s.log.append(s.buf, !s.opt.NoSync); err != nil {
		s.broken = err
		return err
	}
	s.pending = append(s.pending, rec)
	j.rs.seq = seq
	if s.log.size >= foldBytes {
		_ = s.fold(nil) // on failure the events stay in the log; the next append tries again
	}
	return nil
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

// initFormat marks a new file as a journal, or checks an existing one,
// and gives it an id if it has none (version 1, or new).
func initFormat(tx *bolt.Tx) error {
	if tx.Bucket(metaBucket) == nil && isEmpty(tx) {
		meta, err := tx.CreateBucket(metaBucket)
		if err != nil {
			return err
		}
		if err := meta.Put(formatKey, []byte(strconv.Itoa(FormatVersion))); err != nil {
			return err
		}
		if _, err = tx.CreateBucket(runsBucket); err != nil {
			return err
		}
	} else if err := checkFormat(tx, tx.DB().Path()); err != nil {
		return err
	}
	meta := tx.Bucket(metaBucket)
	if meta.Get(idKey) != nil {
		return nil
	}
	// Random, so that no two journals share an id: one journal's log file
	// next to another's database is then told apart even when the runs
	// and generations line up. It is in no run's bytes.
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return err
	}
	return meta.Put(idKey, id[:])
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
	if n != FormatVersion && n != 1 {
		return fmt.Errorf("%w: %s has journal format version %d; this version of fleetkit reads versions 1 and %d", ErrUnsupportedVersion, path, n, FormatVersion)
	}
	if tx.Bucket(runsBucket) == nil {
		return fmt.Errorf("%w: %s: bucket %q is missing", ErrCorrupt, path, runsBucket)
	}
	return nil
}

// Close folds the log into the database, removes the log file and
// releases the file and its lock. Journals of a closed Store return
// ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if s.log != nil {
		if s.broken == nil {
			err = s.update(func(tx *bolt.Tx) error {
				if err := s.applyPending(tx); err != nil {
					return err
				}
				return writeLogState(tx, logState{gen: s.log.gen + 1})
			})
			if err == nil && crashHook != nil {
				err = crashHook("close")
			}
			if err == nil {
				// If this removal is lost, the file is recognised as old.
				err = os.Remove(logPath(s.path))
			}
		}
		s.log.f.Close()
		s.log, s.pending = nil, nil
	}
	return errors.Join(err, s.db.Close())
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
	s.mu.Lock()
	defer s.mu.Unlock()
	// Folding first means no log record names a run the file lost.
	err := s.fold(func(tx *bolt.Tx) error {
		err := tx.Bucket(runsBucket).DeleteBucket([]byte(name))
		if errors.Is(err, bolterrors.ErrBucketNotFound) {
			return fmt.Errorf("%w: %q in %s", ErrNotFound, name, s.path)
		}
		return err
	})
	if err != nil {
		return err
	}
	if rs := s.runs[name]; rs != nil {
		rs.gone = true
		delete(s.runs, name)
	}
	return nil
}

// view and update run fn in a bbolt transaction, turning a panic (bbolt
// panics on some damaged pages) or a fault on the mapped file into
// ErrCorrupt, and bbolt's "not open" into ErrClosed.
func (s *Store) view(fn func(*bolt.Tx) error) error {
	return s.guard(func() error { return s.db.View(fn) })
}

func (s *Store) update(fn func(*bolt.Tx) error) error {
	err := s.guard(func() error { return s.db.Update(fn) })
	if err == nil {
		s.commits.Add(1)
	}
	return err
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
