package control

import (
	"encoding/json"
	"strings"

	"github.com/novacron/novacron/fsm"
)

// shape is what a placement decision reads of a VM outside placement groups:
// its size, its networks and its placement constraints. Within one pass the
// cluster only fills up, so once a VM of some shape fits nowhere, every later
// VM of that shape fits nowhere either, for the same reasons: a backlog of
// 20,000 replicas of one VM costs one decision per shape, not one per VM.
type shape struct {
	vcpus      int
	memory     int64
	disk       int64
	networks   string
	constraint string
}

// shapeOf returns vm's shape, or false for a VM in a placement group (its
// decision depends on where the other members went during the pass).
func shapeOf(vm *fsm.VM) (shape, bool) {
	if inGroups(&vm.Spec) {
		return shape{}, false
	}
	s := shape{vcpus: vm.Spec.VCPUs, memory: vm.Spec.MemoryMiB, disk: vm.Spec.DiskGiB}
	if len(vm.Spec.NICs) > 0 {
		nets := make([]string, len(vm.Spec.NICs))
		for i, nic := range vm.Spec.NICs {
			nets[i] = nic.Network
		}
		s.networks = strings.Join(nets, "\x00")
	}
	if p := vm.Spec.Placement; p != nil {
		b, err := json.Marshal(p)
		if err != nil {
			return shape{}, false
		}
		s.constraint = string(b)
	}
	return s, true
}
