package api

import (
	"fmt"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
)

// stateUnknown is what a VM shows while its host is failed (or left): nobody
// can tell whether it still runs there, so the API does not say "running"
// (Nomad says unknown, then lost). It is not stored: the VM's state is what
// its host last reported, and shows again once the host is back.
const stateUnknown = "unknown"

// hostLost reports whether a VM on n can no longer be vouched for.
func hostLost(n fsm.Node) bool { return n.Status == fsm.NodeFailed || n.Status == fsm.NodeLeft }

// shownState is the state a VM on host shows: unknown while the host is lost.
func shownState(vm *fsm.VM, host fsm.Node, hostKnown bool) string {
	if vm.Node != "" && vm.State != fsm.VMPending && hostKnown && hostLost(host) {
		return stateUnknown
	}
	return string(vm.State)
}

// markUnknown turns out into an unknown VM when its host is lost, saying why
// and keeping what the host last reported.
func markUnknown(out *client.VM, vm *fsm.VM, host fsm.Node, hostKnown bool, now time.Time) {
	if shownState(vm, host, hostKnown) != stateUnknown {
		return
	}
	out.LastState, out.State = out.State, stateUnknown
	why := string(host.Status)
	if host.StatusCause != "" {
		why += ": " + host.StatusCause
	}
	out.StateReason = fmt.Sprintf("host %s is %s (%s ago, %s); the VM was last reported %s",
		host.Name, host.Status, now.Sub(host.StatusSince).Round(time.Second), why, out.LastState)
	if why := vm.NoFailoverReason(); why != "" {
		out.StateReason += "; it is not restarted elsewhere: " + why
	}
}
