package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/fleetkit/fleetkit/fleetupdate"
)

// Journal is one durable run. Its methods are safe for concurrent use; two
// Journals of the same run (two Loads) may not both write: the second to
// step gets ErrConflict.
type Journal struct {
	mu      sync.Mutex
	s       *Store
	name    string
	rs      *runState // shared by the Journals of the run
	run     fleetupdate.Run
	seq     uint64 // events accepted so far: the key of the newest
	snapSeq uint64 // the newest snapshot's seq; 0 for none
	mark    uint64 // the newest snapshot's seq, or a later failed attempt's
	base    int    // bytes of the newest snapshot, or of the inputs
	tail    int    // bytes of the events logged after mark
	snapErr error  // why the last automatic snapshot was not taken
}

// inputs are the arguments of fleetupdate.New, as kept in the file.
type inputs struct {
	Name    string               `json:"name"`
	Spec    fleetupdate.Spec     `json:"spec"`
	Members []fleetupdate.Member `json:"members"`
	Catalog fleetupdate.Catalog  `json:"catalog"`
}

// Indirections for tests that need a snapshot to fail.
var (
	marshalRun   = func(r fleetupdate.Run) ([]byte, error) { return json.Marshal(r) }
	unmarshalRun = func(b []byte, r *fleetupdate.Run) error { return r.UnmarshalJSON(b) } // json.Unmarshal would first scan it all once more
)

// Create makes a new run with fleetupdate.New and stores its inputs. It
// returns New's error if the inputs are invalid, and ErrExists if the file
// already holds a run of that name. The run is built from the inputs as
// stored, so Load rebuilds exactly the same run.
func (s *Store) Create(name string, spec fleetupdate.Spec, members []fleetupdate.Member, catalog fleetupdate.Catalog) (*Journal, error) {
	if err := s.view(func(tx *bolt.Tx) error {
		if tx.Bucket(runsBucket).Bucket([]byte(name)) != nil {
			return fmt.Errorf("%w: %q in %s", ErrExists, name, s.path)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	b, err := json.Marshal(inputs{Name: name, Spec: spec, Members: members, Catalog: catalog})
	if err != nil {
		return nil, fmt.Errorf("journal: run %q: encode inputs: %w", name, err)
	}
	var in inputs
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("journal: run %q: its inputs do not decode: %w", name, err)
	}
	run, err := fleetupdate.New(in.Name, in.Spec, in.Members, in.Catalog)
	if err != nil {
		return nil, err
	}
	// The commit and the run's shared state at once: a Load (or Delete)
	// in between would leave two Journals that can both write event 1.
	s.mu.Lock()
	defer s.mu.Unlock()
	err = s.update(func(tx *bolt.Tx) error {
		rb, err := tx.Bucket(runsBucket).CreateBucket([]byte(name))
		if errors.Is(err, bolterrors.ErrBucketExists) {
			return fmt.Errorf("%w: %q in %s", ErrExists, name, s.path)
		}
		if err != nil {
			return err
		}
		ib, err := rb.CreateBucket(inputsBucket)
		if err != nil {
			return err
		}
		if err := ib.Put(inputsKey, b); err != nil {
			return err
		}
		if _, err := rb.CreateBucket(eventsBucket); err != nil {
			return err
		}
		_, err = rb.CreateBucket(snapshotsBucket)
		return err
	})
	if err != nil {
		return nil, err
	}
	rs := &runState{}
	s.runs[name] = rs
	return &Journal{s: s, name: name, rs: rs, run: run, base: len(b)}, nil
}

// Load rebuilds a run: its newest snapshot (or New of its inputs) and a
// replay of the events after it. It returns ErrNotFound for a run the file
// does not hold, and an error wrapping ErrCorrupt, naming the run, bucket
// and key, for anything that does not decode or replay.
func (s *Store) Load(name string) (*Journal, error) {
	j := &Journal{s: s, name: name}
	err := s.guard(func() error {
		tx, pend, err := s.beginLoad(j)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		return j.load(tx.Bucket(runsBucket).Bucket([]byte(name)), pend)
	})
	if err != nil {
		return nil, err
	}
	return j, nil
}

// beginLoad starts the read transaction Load reads j's run in, and returns
// the run's events that are in the log but not yet in the database; both
// taken at once, so that no fold falls between them. It gives j the run's
// shared state.
func (s *Store) beginLoad(j *Journal) (*bolt.Tx, []logRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log == nil {
		return nil, nil, fmt.Errorf("%w: %s", ErrClosed, s.path)
	}
	tx, err := s.db.Begin(false)
	if err != nil {
		return nil, nil, err
	}
	rb := tx.Bucket(runsBucket).Bucket([]byte(j.name))
	if rb == nil {
		tx.Rollback()
		return nil, nil, fmt.Errorf("%w: %q in %s", ErrNotFound, j.name, s.path)
	}
	var pend []logRecord
	for _, r := range s.pending {
		if r.run == j.name {
			pend = append(pend, r)
		}
	}
	j.rs = s.runs[j.name]
	if j.rs == nil {
		// No Journal of the run yet: the run is at the event the file says.
		j.rs = &runState{seq: uint64(len(pend))}
		if eb := rb.Bucket(eventsBucket); eb != nil {
			j.rs.seq += eb.Sequence()
		}
		s.runs[j.name] = j.rs
	}
	return tx, pend, nil
}

// corrupt is the error for damaged data at bucket and key (either may be
// nil) of the run; it wraps ErrCorrupt and cause, if any.
func (j *Journal) corrupt(bucket []byte, key []byte, what string, cause error) error {
	where := fmt.Sprintf("run %q", j.name)
	if bucket != nil {
		where += fmt.Sprintf(", bucket %q", bucket)
	}
	if key != nil {
		where += ", key " + keyString(key)
	}
	if cause != nil {
		return fmt.Errorf("%w: %s: %s: %s: %w", ErrCorrupt, j.s.path, where, what, cause)
	}
	return fmt.Errorf("%w: %s: %s: %s", ErrCorrupt, j.s.path, where, what)
}

func (j *Journal) load(rb *bolt.Bucket, pend []logRecord) error {
	var sub [3]*bolt.Bucket
	for i, name := range [][]byte{inputsBucket, eventsBucket, snapshotsBucket} {
		if sub[i] = rb.Bucket(name); sub[i] == nil {
			return j.corrupt(name, nil, "bucket is missing", nil)
		}
	}
	ib, eb, sb := sub[0], sub[1], sub[2]
	if err := rb.ForEach(func(k, _ []byte) error {
		switch string(k) {
		case string(inputsBucket), string(eventsBucket), string(snapshotsBucket):
			return nil
		}
		return j.corrupt(nil, k, "unknown key in the run's bucket", nil)
	}); err != nil {
		return err
	}

	c := sb.Cursor()
	if k, v := c.Last(); k != nil {
		seq, ok := parseSeq(k)
		if !ok || v == nil {
			return j.corrupt(snapshotsBucket, k, "not a snapshot (keys are sequence numbers, values runs)", nil)
		}
		if pk, _ := c.Prev(); pk != nil {
			return j.corrupt(snapshotsBucket, pk, "an older snapshot was not compacted", nil)
		}
		if err := unmarshalRun(v, &j.run); err != nil {
			return j.corrupt(snapshotsBucket, k, "snapshot does not decode", err)
		}
		if j.run.Name() != j.name {
			return j.corrupt(snapshotsBucket, k, fmt.Sprintf("snapshot is of run %q", j.run.Name()), nil)
		}
		j.seq, j.snapSeq, j.mark, j.base = seq, seq, seq, len(v)
	} else {
		b := ib.Get(inputsKey)
		if b == nil {
			return j.corrupt(inputsBucket, inputsKey, "the run's inputs are missing", nil)
		}
		var in inputs
		if err := json.Unmarshal(b, &in); err != nil {
			return j.corrupt(inputsBucket, inputsKey, "inputs do not decode", err)
		}
		if in.Name != j.name {
			return j.corrupt(inputsBucket, inputsKey, fmt.Sprintf("inputs are of run %q", in.Name), nil)
		}
		run, err := fleetupdate.New(in.Name, in.Spec, in.Members, in.Catalog)
		if err != nil {
			return j.corrupt(inputsBucket, inputsKey, "inputs are refused by fleetupdate.New", err)
		}
		j.run, j.base = run, len(b)
	}

	if err := eb.ForEach(func(k, v []byte) error {
		seq, ok := parseSeq(k)
		switch {
		case !ok || v == nil:
			return j.corrupt(eventsBucket, k, "not an event (keys are sequence numbers, values events)", nil)
		case seq <= j.snapSeq:
			return j.corrupt(eventsBucket, k, fmt.Sprintf("event is covered by snapshot %d but was not compacted", j.snapSeq), nil)
		case seq != j.seq+1:
			return j.corrupt(eventsBucket, k, fmt.Sprintf("events %d to %d are missing", j.seq+1, seq-1), nil)
		}
		return j.replay(eventsBucket, k, v, "event")
	}); err != nil {
		return err
	}
	if n := eb.Sequence(); n != j.seq {
		return j.corrupt(eventsBucket, nil, fmt.Sprintf("its sequence says %d events were appended, the log and snapshot hold %d", n, j.seq), nil)
	}
	// Events in the log file, not yet folded: Open checked that they
	// continue the run.
	for _, r := range pend {
		if err := j.replay(nil, seqKey(r.seq), r.event, "event in the log file"); err != nil {
			return err
		}
	}
	return nil
}

// replay steps the run with event v, stored at bucket and key.
func (j *Journal) replay(bucket, k, v []byte, what string) error {
	e, err := fleetupdate.UnmarshalEvent(v)
	if err != nil {
		return j.corrupt(bucket, k, what+" does not decode", err)
	}
	next, _, err := fleetupdate.Step(j.run, e)
	if err != nil {
		return j.corrupt(bucket, k, what+" is refused on replay", err)
	}
	j.run, j.seq, j.tail = next, j.seq+1, j.tail+len(v)
	return nil
}

// Name returns the run's name.
func (j *Journal) Name() string { return j.name }

// Run returns the run as of the last committed step.
func (j *Journal) Run() fleetupdate.Run {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.run
}

// Step is fleetupdate.Step made durable. If the run accepts e, the event is
// appended to the journal's log file (and fsynced unless Options.NoSync)
// before Step returns the new run and its commands, so a host that performs
// them after Step returns keeps host contract rule 1. A refused event
// returns the run unchanged, no commands and the run's error, and is not
// written. A failure to write returns the run unchanged too, with an error
// wrapping ErrWrite: this Journal did not take the step, and the host
// should stop. After a failed append the Store writes no more, and the
// event may still have reached the file (if only its fsync failed): a
// restarted host performs whatever Load's run has outstanding, as after
// any crash.
//
// What is stepped is e as decoded from its own encoding, so the run in
// memory is always the one Load would rebuild (times in UTC, for one).
func (j *Journal) Step(e fleetupdate.Event) (fleetupdate.Run, []fleetupdate.Command, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	b, err := fleetupdate.MarshalEvent(e)
	if err != nil {
		return j.run, nil, err
	}
	e, err = fleetupdate.UnmarshalEvent(b)
	if err != nil {
		return j.run, nil, fmt.Errorf("journal: event does not survive its own encoding: %w", err)
	}
	next, cmds, err := fleetupdate.Step(j.run, e)
	if err != nil {
		return j.run, nil, err
	}
	seq := j.seq + 1
	if err := j.s.appendEvent(j, seq, b); err != nil {
		return j.run, nil, fmt.Errorf("%w: run %q, event %d: %w", ErrWrite, j.name, seq, err)
	}
	j.run, j.seq, j.tail = next, seq, j.tail+len(b)
	if j.snapshotDue() {
		// The log is the truth; a snapshot only shortens replay. On
		// failure carry on without it and try again an interval later.
		if err := j.snapshot(); err != nil {
			j.snapErr = fmt.Errorf("journal: run %q: automatic snapshot at event %d: %w", j.name, seq, err)
			j.mark, j.tail = seq, 0 // back off, as if taken
		}
	}
	return j.run, cmds, nil
}

// Snapshot writes a snapshot of the run now and compacts what it covers.
// It also returns the error of the last automatic snapshot if that failed
// (automatic snapshots never fail a Step: the event log alone is enough to
// rebuild the run).
func (j *Journal) Snapshot() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.seq == 0 {
		return nil // the run is New of its inputs: nothing to save
	}
	if j.snapErr == nil && j.seq == j.snapSeq {
		return nil // the newest snapshot is of this very run
	}
	if err := j.snapshot(); err != nil {
		return errors.Join(j.snapErr, fmt.Errorf("journal: run %q: snapshot at event %d: %w", j.name, j.seq, err))
	}
	return nil
}

// snapshot encodes the run and, with the log's pending events, writes it
// and compacts what it covers in one transaction. The caller holds j.mu.
func (j *Journal) snapshot() error {
	snap, run, err := encodeSnapshot(j.run)
	if err != nil {
		return err
	}
	s := j.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := j.check(); err != nil {
		return fmt.Errorf("%w: %w", ErrWrite, err)
	}
	err = s.fold(func(tx *bolt.Tx) error {
		rb := tx.Bucket(runsBucket).Bucket([]byte(j.name))
		if rb == nil {
			return fmt.Errorf("%w: %q in %s (deleted?)", ErrNotFound, j.name, s.path)
		}
		return compact(rb, j.seq, snap)
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrWrite, err)
	}
	j.run, j.snapSeq, j.mark, j.base, j.tail, j.snapErr = run, j.seq, j.seq, len(snap), 0, nil
	return nil
}

func (j *Journal) snapshotDue() bool {
	if every := j.s.opt.SnapshotEvery; every > 0 {
		return j.seq-j.mark >= uint64(every)
	}
	return j.tail >= j.base
}

// encodeSnapshot encodes r and decodes it again, returning the decoded run:
// the journal carries on from exactly what a Load would rebuild, and a run
// that does not survive its encoding is never written as a snapshot.
func encodeSnapshot(r fleetupdate.Run) ([]byte, fleetupdate.Run, error) {
	b, err := marshalRun(r)
	if err != nil {
		return nil, r, err
	}
	var back fleetupdate.Run
	if err := unmarshalRun(b, &back); err != nil {
		return nil, r, fmt.Errorf("the run does not decode from its own encoding: %w", err)
	}
	return b, back, nil
}

// check says why j may not write: its run was deleted, or another Journal
// of the run has written since this one last did. The caller holds j.s.mu.
func (j *Journal) check() error {
	switch {
	case j.rs.gone:
		return fmt.Errorf("%w: %q in %s (deleted?)", ErrNotFound, j.name, j.s.path)
	case j.rs.seq != j.seq:
		return fmt.Errorf("%w: %q in %s is at event %d, this Journal at %d; Load it again", ErrConflict, j.name, j.s.path, j.rs.seq, j.seq)
	}
	return nil
}

// compact replaces the run's snapshot with snap, taken after event seq, and
// drops every event: all of them are covered by it. Dropping whole buckets
// frees their pages at once.
func compact(rb *bolt.Bucket, seq uint64, snap []byte) error {
	for _, name := range [][]byte{eventsBucket, snapshotsBucket} {
		if err := rb.DeleteBucket(name); err != nil {
			return err
		}
		if _, err := rb.CreateBucket(name); err != nil {
			return err
		}
	}
	if err := rb.Bucket(eventsBucket).SetSequence(seq); err != nil {
		return err
	}
	return rb.Bucket(snapshotsBucket).Put(seqKey(seq), snap)
}
