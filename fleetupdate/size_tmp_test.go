package fleetupdate

import (
	"testing"
	"unsafe"
)

func TestSizesTmp(t *testing.T) {
	t.Log("state", unsafe.Sizeof(state{}), "member", unsafe.Sizeof(memberRec{}), "group", unsafe.Sizeof(groupRec{}), "stage", unsafe.Sizeof(stageRec{}), "um", unsafe.Sizeof(UpgradeMember{}), "stepper", unsafe.Sizeof(stepper{}))
}
