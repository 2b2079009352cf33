package api

import (
	"context"
	"net/http"

	"github.com/novacron/novacron/fsm"
)

// undecided reports whether no placement decision has been made for vm yet:
// pending with no reason why.
func undecided(vm *fsm.VM) bool {
	return vm.State == fsm.VMPending && vm.Node == "" && vm.Decision == nil && vm.Placement == ""
}

// awaitPlacement waits, at most Config.PlacementWait, until the VM created at
// index has been placed or found to fit nowhere, and returns it with the
// index this node had applied when it read it. A create waits when its VM
// could not be placed in its own entry (a VM in a placement group, or one
// whose node filled up while its entry was in flight); the placement loop
// decides within a few milliseconds and one Raft entry, so the answer says
// "scheduled" on a node, or "pending" with why no node fits, instead of a
// bare "pending" that reads like "stuck" (issue 13). When the wait ends
// first (or the request does) it returns the VM as it stands: the create
// itself was made, and a 504 would tell the caller it may not have been.
func (s *Server) awaitPlacement(r *http.Request, vm fsm.VM, index uint64) (fsm.VM, uint64) {
	if s.cfg.PlacementWait < 0 {
		return vm, index
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.PlacementWait)
	defer cancel()
	for undecided(&vm) {
		if err := s.state.WaitForIndex(ctx, s.state.AppliedIndex()+1); err != nil {
			break // the wait is over: answer with the VM the create made
		}
		cur, err := s.state.VM(vm.ID)
		if err != nil {
			break // deleted meanwhile: answer with the VM the create made
		}
		vm, index = cur, s.state.AppliedIndex()
	}
	return vm, index
}
