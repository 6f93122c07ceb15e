package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// The event log file. A bbolt transaction per event costs tens of
// microseconds of CPU and rewrites a path of pages (about 24 KB) however
// small the event; an append to a plain file costs one write. So Step
// appends each event to the log file beside the database, and the events
// are folded into the database in batches: when the log grows past
// foldBytes, with every snapshot, Delete, Open and Close.
//
// Which log file holds events the database does not is decided by a
// generation number: the database's meta key "log" says "live G" (the log
// file of generation G may hold events not yet folded) or "closed G"
// (every event is in the database). A fold commits its events and
// "live G+1" in one transaction, then replaces the log file with an empty
// one of generation G+1; a crash in between leaves a file of generation G
// whose events are all in the database, which is recognised and dropped.

const (
	logMagic      = "FKJLOG\x00\x02"
	logHeaderSize = len(logMagic) + 8 + 8 + 4 // magic, journal id, generation, crc of them
	recHeaderSize = 8                         // payload length, crc of the payload
)

// foldBytes is how large the log file grows before its events are folded
// into the database. A variable for tests.
var foldBytes int64 = 1 << 20

// crashHook, if set, is called where a crash leaves the database and the
// log file out of step: before a new log file is made ("new log") and
// after Close's commit, before it removes the log file ("close"). An error
// stops there, as a crash would. For tests.
var crashHook func(point string) error

var (
	logKey   = []byte("log")
	idKey    = []byte("id")
	crcTable = crc32.MakeTable(crc32.Castagnoli)
)

// logPath is the log file of the journal at path.
func logPath(path string) string { return path + ".log" }

// logRecord is one event in the log: the run's name, the event's sequence
// number in its run, and its wire encoding.
type logRecord struct {
	run   string
	seq   uint64
	event []byte
}

// appendRecord encodes r as a record: payload length and its CRC-32C (both
// big-endian uint32), then the payload: uvarint length of the run's name,
// the name, the sequence number (big-endian uint64), the event.
func appendRecord(dst []byte, r logRecord) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, recHeaderSize)...)
	dst = binary.AppendUvarint(dst, uint64(len(r.run)))
	dst = append(dst, r.run...)
	dst = binary.BigEndian.AppendUint64(dst, r.seq)
	dst = append(dst, r.event...)
	payload := dst[start+recHeaderSize:]
	binary.BigEndian.PutUint32(dst[start:], uint32(len(payload)))
	binary.BigEndian.PutUint32(dst[start+4:], crc32.Checksum(payload, crcTable))
	return dst
}

// logState is the database's "log" key: the log file's generation and
// whether it may hold events the database does not.
type logState struct {
	gen  uint64
	live bool
}

func (ls logState) String() string {
	if ls.live {
		return "live " + strconv.FormatUint(ls.gen, 10)
	}
	return "closed " + strconv.FormatUint(ls.gen, 10)
}

func readLogState(tx *bolt.Tx, path string) (logState, error) {
	v := tx.Bucket(metaBucket).Get(logKey)
	if v == nil {
		return logState{}, nil // never opened for writing
	}
	word, num, _ := strings.Cut(string(v), " ")
	gen, err := strconv.ParseUint(num, 10, 64)
	if err != nil || word != "live" && word != "closed" {
		return logState{}, fmt.Errorf("%w: %s: %s/%s is %q, not \"live N\" or \"closed N\"", ErrCorrupt, path, metaBucket, logKey, v)
	}
	return logState{gen: gen, live: word == "live"}, nil
}

func writeLogState(tx *bolt.Tx, ls logState) error {
	return tx.Bucket(metaBucket).Put(logKey, []byte(ls.String()))
}

// logHeader is what a log file's header says: the id of the journal it
// belongs to, and its generation.
type logHeader struct{ id, gen uint64 }

// readLog reads the log file at path: its header and records. A
// missing file is reported with ok false. The last record may be cut short
// or fail its checksum (an append the process died in, never
// acknowledged): it is dropped. Any other damage is ErrCorrupt.
func readLog(path string) (hdr logHeader, recs []logRecord, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return hdr, nil, false, nil
	}
	if err != nil {
		return hdr, nil, false, fmt.Errorf("journal: %w", err)
	}
	bad := func(off int, format string, a ...any) error {
		return fmt.Errorf("%w: %s, offset %d: %s", ErrCorrupt, path, off, fmt.Sprintf(format, a...))
	}
	if len(b) < logHeaderSize || string(b[:len(logMagic)]) != logMagic ||
		binary.BigEndian.Uint32(b[logHeaderSize-4:]) != crc32.Checksum(b[:logHeaderSize-4], crcTable) {
		return hdr, nil, false, bad(0, "not a fleetkit journal log (bad header)")
	}
	hdr.id = binary.BigEndian.Uint64(b[len(logMagic):])
	hdr.gen = binary.BigEndian.Uint64(b[len(logMagic)+8:])
	for off := logHeaderSize; off < len(b); {
		rest := b[off:]
		var n, sum uint32
		if len(rest) >= recHeaderSize {
			n, sum = binary.BigEndian.Uint32(rest), binary.BigEndian.Uint32(rest[4:])
		}
		end := recHeaderSize + int64(n)
		if len(rest) < recHeaderSize || end > int64(len(rest)) || n == 0 || crc32.Checksum(rest[recHeaderSize:end], crcTable) != sum {
			if len(rest) < recHeaderSize || end >= int64(len(rest)) || isZero(rest) {
				// The append the process died in, unless a whole record
				// follows: then the damage is in the middle (a length
				// made too large), and dropping the rest would lose
				// steps that Step returned.
				if at := nextRecord(rest[1:]); at >= 0 {
					return hdr, nil, false, bad(off, "record is damaged, and a whole record follows at offset %d", off+1+at)
				}
				break
			}
			return hdr, nil, false, bad(off, "record fails its checksum")
		}
		r, err := parseRecord(rest[recHeaderSize:end])
		if err != nil {
			return hdr, nil, false, bad(off, "%v", err)
		}
		recs = append(recs, r)
		off += int(end)
	}
	return hdr, recs, true, nil
}

// nextRecord returns where the first whole record (length, checksum and
// layout right) in b starts, or -1. Only damaged logs are searched. A
// crafted b could make the search quadratic, so it checksums at most 16
// bytes per byte of b and then answers 0: damaged, not torn.
func nextRecord(b []byte) int {
	budget := 16*int64(len(b)) + 1<<16
	for i := 0; i+recHeaderSize < len(b); i++ {
		n, sum := binary.BigEndian.Uint32(b[i:]), binary.BigEndian.Uint32(b[i+4:])
		end := int64(i) + recHeaderSize + int64(n)
		if n == 0 || end > int64(len(b)) {
			continue
		}
		if budget -= int64(n); budget < 0 {
			return 0
		}
		p := b[i+recHeaderSize : end]
		if crc32.Checksum(p, crcTable) == sum {
			if _, err := parseRecord(p); err == nil {
				return i
			}
		}
	}
	return -1
}

func isZero(b []byte) bool { return len(bytes.Trim(b, "\x00")) == 0 }

func parseRecord(p []byte) (logRecord, error) {
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)-k) || uint64(len(p)-k)-n < 8 {
		return logRecord{}, fmt.Errorf("record is malformed")
	}
	p = p[k:]
	r := logRecord{run: string(p[:n]), seq: binary.BigEndian.Uint64(p[n:])}
	if ev := p[n+8:]; len(ev) > 0 {
		r.event = ev
	}
	return r, nil
}

// logFile is the open log file of a Store.
type logFile struct {
	f       *os.File
	gen     uint64
	size    int64 // bytes in the file, header included
	written int64 // bytes appended since Open, for benchmarks
}

// createLog writes an empty log file with header h at path, replacing
// any, so that the file is never missing or half-written: a temporary file,
// synced, renamed over the old one, and the directory synced.
func createLog(path string, h logHeader, sync bool) (*logFile, error) {
	if crashHook != nil {
		if err := crashHook("new log"); err != nil {
			return nil, err
		}
	}
	hdr := make([]byte, 0, logHeaderSize)
	hdr = append(hdr, logMagic...)
	hdr = binary.BigEndian.AppendUint64(hdr, h.id)
	hdr = binary.BigEndian.AppendUint64(hdr, h.gen)
	hdr = binary.BigEndian.AppendUint32(hdr, crc32.Checksum(hdr, crcTable))
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*logFile, error) {
		f.Close()
		os.Remove(tmp)
		return nil, err
	}
	if _, err := f.Write(hdr); err != nil {
		return fail(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			return fail(err)
		}
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	if sync {
		if err := syncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, err
		}
	}
	return &logFile{f: f, gen: h.gen, size: int64(len(hdr))}, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// append writes rec (an encoded record) at the end of the file and, if
// sync, waits for it to reach the disk. After a failure the file's end is
// unknown (and after a failed fsync, what reached the disk), so the caller
// must append no more.
func (l *logFile) append(rec []byte, sync bool) error {
	if _, err := l.f.WriteAt(rec, l.size); err != nil {
		return err
	}
	if sync {
		if err := l.f.Sync(); err != nil {
			return err
		}
	}
	l.size += int64(len(rec))
	l.written += int64(len(rec))
	return nil
}
