package fleetupdate

import (
	"testing"
	"unsafe"
)

// A step allocates the state and the records it changes: these sizes are
// what keeps a step under 1 KB (BenchmarkFloor). The state is allocated on
// its own, so it must stay within its size class; vector entries, change
// list entries and index buckets come in arrays, so every byte counts. A
// field that grows one of them costs every step; put rarely changed fields
// behind the record's pointers instead (cold, times, text).
func TestRecordsFitTheirSizeClasses(t *testing.T) {
	for _, c := range []struct {
		what      string
		size, max uintptr
	}{
		{"state", unsafe.Sizeof(state{}), 112},
		{"a member's vector entry", unsafe.Sizeof(fentry[memberRec]{}), 104},
		{"a group's vector entry", unsafe.Sizeof(fentry[groupRec]{}), 88},
		{"a stage's vector entry", unsafe.Sizeof(fentry[stageRec]{}), 32},
		{"stepChange", unsafe.Sizeof(stepChange{}), 40},
		{"an index bucket", unsafe.Sizeof(ixBucket{}), 56},
	} {
		if c.size > c.max {
			t.Errorf("%s is %d bytes, over %d", c.what, c.size, c.max)
		}
	}
}
