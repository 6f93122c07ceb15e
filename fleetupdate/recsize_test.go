package fleetupdate

import (
	"testing"
	"unsafe"
)

// A step allocates the records it changes: these sizes are what keeps a
// one-by-one step under 1 KB (BenchmarkFloor). A field that grows one of
// them past its allocation size class costs every step; put rarely
// changed fields behind the record's pointers instead (cold, times, text).
func TestRecordsFitTheirSizeClasses(t *testing.T) {
	for _, c := range []struct {
		what      string
		size, max uintptr
	}{
		{"state", unsafe.Sizeof(state{}), 112},
		{"a member's vector entry", unsafe.Sizeof(fentry[memberRec]{}), 112},
		{"a group's vector entry", unsafe.Sizeof(fentry[groupRec]{}), 96},
		{"stageRec", unsafe.Sizeof(stageRec{}), 24},
		{"stepChange", unsafe.Sizeof(stepChange{}), 48},
	} {
		if c.size > c.max {
			t.Errorf("%s is %d bytes, over %d", c.what, c.size, c.max)
		}
	}
}
