package host

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
)

// settleSnapshots carries out the snapshot action under way on vm, a VM
// this host runs or holds stopped (one at a time: the FSM refuses a second
// until the first is reported), and reports it done or failed.
func (h *hostReconciler) settleSnapshots(ctx context.Context, vm *fsm.VM) {
	var sn *fsm.VMSnapshot
	for i := range vm.Snapshots {
		switch vm.Snapshots[i].State {
		case fsm.SnapshotCreating, fsm.SnapshotReverting, fsm.SnapshotDeleting:
			sn = &vm.Snapshots[i]
		}
	}
	if sn == nil {
		return
	}
	r := &fsm.ReportVMSnapshot{VM: vm.ID, Name: sn.Name, Node: h.nodeID}
	logger := h.logger.With("vm", vm.Spec.Name, "snapshot", sn.Name)
	start := time.Now()
	err := h.snapshotAction(ctx, vm, sn)
	if errors.Is(err, hypervisor.ErrUnavailable) {
		return // says nothing about the snapshot: try at the next pass
	}
	if err != nil {
		logger.Warn("snapshot action failed", "state", sn.State, "error", err)
		r.Error = err.Error()
	} else {
		logger.Info("snapshot action done", "state", sn.State, "took", time.Since(start))
	}
	r.At = time.Now().UTC()
	if err := h.applyAndWait(ctx, r); err != nil && ctx.Err() == nil {
		logger.Warn("reporting a snapshot", "error", err)
	}
}

func (h *hostReconciler) snapshotAction(ctx context.Context, vm *fsm.VM, sn *fsm.VMSnapshot) error {
	snap, ok := h.driver.(hypervisor.Snapshotter)
	if !ok {
		return fmt.Errorf("the %s hypervisor driver cannot take snapshots", h.driver.Name())
	}
	switch sn.State {
	case fsm.SnapshotCreating:
		return snap.CreateSnapshot(ctx, vm.ID, sn.Name)
	case fsm.SnapshotReverting:
		return snap.RevertSnapshot(ctx, vm.ID, sn.Name, sn.Memory, vm.DesiredState != fsm.VMStopped)
	default:
		return snap.DeleteSnapshot(ctx, vm.ID, sn.Name)
	}
}

// dropSnapshots deletes the snapshots of a deleted VM's domain before it
// goes: they live inside its volume files, and a data volume (or a root
// volume kept) outlives the domain. Only for a deleted VM: the files of a
// VM placed elsewhere are its new host's (a shared pool).
func (h *hostReconciler) dropSnapshots(ctx context.Context, id string) {
	snap, ok := h.driver.(hypervisor.Snapshotter)
	if !ok {
		return
	}
	names, err := snap.Snapshots(ctx, id)
	if err != nil {
		h.logger.Warn("listing a deleted vm's snapshots", "id", id, "error", err)
		return
	}
	for _, name := range names {
		if err := snap.DeleteSnapshot(ctx, id, name); err != nil {
			h.logger.Warn("deleting a deleted vm's snapshot", "id", id, "snapshot", name, "error", err)
		}
	}
}
