package fleetupdate

import (
	"testing"
	"time"
	"unsafe"
)

// A step allocates the state and the records it changes: these sizes are
// what keeps a step under 1 KB (BenchmarkFloor). The state is allocated on
// its own, so it must stay within its size class; vector entries, change
// list entries, bucket records and index buckets come in arrays, so every
// byte counts. A field that grows one of them costs every step; put rarely
// changed fields behind the record's pointers instead (cold, groupCold,
// times, text).
func TestRecordsFitTheirSizeClasses(t *testing.T) {
	for _, c := range []struct {
		what      string
		size, max uintptr
	}{
		{"state", unsafe.Sizeof(state{}), 112},
		{"a member's vector entry", unsafe.Sizeof(fentry[memberRec]{}), 80},
		{"a group's vector entry", unsafe.Sizeof(fentry[groupRec]{}), 64},
		{"a stage's vector entry", unsafe.Sizeof(fentry[stageRec]{}), 32},
		{"stepChange", unsafe.Sizeof(stepChange{}), 40},
		{"an index bucket", unsafe.Sizeof(ixBucket{}), 56},
		{"a bucket record", unsafe.Sizeof(bucketRec{}), 48},
	} {
		if c.size > c.max {
			t.Errorf("%s is %d bytes, over %d", c.what, c.size, c.max)
		}
	}
}

// The memberState constants the step counts by name the states they say.
func TestMemberStateConstants(t *testing.T) {
	for ms, st := range map[memberState]State{msRunning: Running, msCompleted: Completed, msSkipped: Skipped, msFailed: Failed} {
		if memberStates[ms] != st {
			t.Errorf("memberState %d is %s, not %s", ms, memberStates[ms], st)
		}
	}
	for ms, st := range memberStates {
		want := st == Completed || st == Skipped || st == Failed
		if memberState(ms).finished() != want {
			t.Errorf("%s: finished() is %v", st, !want)
		}
	}
}

// A member's packed times give back the instant they were given, in UTC,
// and the zero time as the zero time.
func TestMemberTimesPack(t *testing.T) {
	east := time.FixedZone("east", 2*3600)
	for _, in := range []time.Time{
		{},
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(0, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 500, time.UTC),
		time.Date(2026, 11, 26, 21, 31, 25, 123_456_789, east),
		MaxEventTime.Add(-time.Nanosecond),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
	} {
		var m memberRec
		m.setStart(in)
		m.setEnd(in.Add(time.Second))
		if got := m.start(); got != in.UTC() && !(in.IsZero() && got.IsZero()) {
			t.Errorf("start %v came back as %v", in, got)
		}
		if got := m.end(); !got.Equal(in.Add(time.Second)) || got.Location() != time.UTC {
			t.Errorf("end %v came back as %v", in.Add(time.Second), got)
		}
	}
	var m memberRec
	if m.start() != (time.Time{}) || m.end() != (time.Time{}) {
		t.Errorf("a new record's times are %v, %v; want zero", m.start(), m.end())
	}
}

// fit sizes a chunk to fill a size class: up to 512 bytes as asked; above,
// as many values as fit in the largest power of two of bytes not above the
// chunk asked for, with the runtime's 8-byte malloc header.
func TestFitFillsAPowerOfTwoWithTheHeader(t *testing.T) {
	check := func(size, n, got int) {
		t.Helper()
		b := n * size
		if b <= 512 {
			if got != n {
				t.Errorf("%d of %d bytes: fit gives %d, want %d", n, size, got, n)
			}
			return
		}
		p := 512
		for p*2 <= b {
			p *= 2
		}
		if got*size+8 > p && got*size > 512 || (got+1)*size+8 <= p {
			t.Errorf("%d of %d bytes: fit gives %d (%d bytes); want the most that fit in %d with the header", n, size, got, got*size, p)
		}
	}
	for n := 1; n <= 64; n++ {
		check(int(unsafe.Sizeof(fentry[memberRec]{})), n, fit[fentry[memberRec]](n))
		check(int(unsafe.Sizeof(bucketRec{})), n, fit[bucketRec](n))
		check(int(unsafe.Sizeof(Command(nil))), n, fit[Command](n))
		check(int(unsafe.Sizeof(stepChange{})), n, fit[stepChange](n))
	}
}
