package fleetupdate

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A step that grows a group's bucket vector (a member moves into a window
// the group has not met, and the vector is full) and then changes another
// of the group's buckets must note that bucket too: Changed names the
// members whose Pending it clears.
func TestChangedAfterBucketVectorGrows(t *testing.T) {
	ms := members("g", "b1", "b2", "c")
	ms[0].AutoUpgradeWindow = dailyWindow("22:00", 4)
	ms[1].AutoUpgradeWindow = dailyWindow("22:00", 4)
	ms[2].AutoUpgradeWindow = dailyWindow("14:00", 4)
	h := newHost(t, Spec{ManagedClusterUpdate: full(k8sTo)}, ms, catalog())
	h.start()
	require.Equal(t, Pending, h.state("b2"))
	moved := ms[2]
	for i := 0; ; i++ {
		// Each move brings a window the group has not met; the last one,
		// once the 22:00 window is open, makes the vector grow.
		moved.AutoUpgradeWindow = dailyWindow(fmt.Sprintf("%02d:00", []int{15, 16, 17, 18, 3}[i]), 4)
		if i < 4 {
			h.now = h.now.Add(time.Minute)
			h.step(MemberChanged{At: h.now, Member: moved})
			require.Equal(t, Pending, h.state("b2"))
			continue
		}
		prev := h.run
		h.now = time.Date(2026, 3, 4, 22, 30, 0, 0, time.UTC)
		h.step(MemberChanged{At: h.now, Member: moved})
		require.Equal(t, []string{"b1"}, h.started())
		require.Equal(t, NotStarted, h.state("b2"), "its window is open")
		require.Contains(t, h.run.Changed(prev), "b2")
		return
	}
}
