package host

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
)

// Data volumes on their host. The host that holds a volume's file (its
// VM's host while attached) carries out what the records ask and reports
// it (fsm.ReportVolume): it makes the file when the volume first attaches,
// hot-plugs and unplugs it while the guest runs, grows it (through the
// hypervisor while a guest uses it), and removes it once deleted. A
// simulated host has no files: it reports each change done at once.

// prepareDataVolumes makes the data volumes a VM starts with: every one
// attached or attaching (a detaching one is left out, so the detach is done
// once the domain starts without it).
func (h *hostReconciler) prepareDataVolumes(ctx context.Context, vm *fsm.VM) ([]hypervisor.Disk, error) {
	var out []hypervisor.Disk
	for _, v := range h.host.state.VolumesOf(vm.ID) {
		if v.Attachment == fsm.Detaching {
			continue
		}
		d, err := h.prepareVolume(ctx, v)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func (h *hostReconciler) prepareVolume(ctx context.Context, v fsm.Volume) (hypervisor.Disk, error) {
	pool, err := h.host.state.Pool(v.Pool)
	if err != nil {
		return hypervisor.Disk{}, fmt.Errorf("%w: volume %s: %w", hypervisor.ErrInvalidSpec, v.Name, err)
	}
	return h.host.cfg.Disks.PrepareVolume(ctx, pool, v)
}

// settleVolumes carries out the pending changes to the volumes of vm, a
// VM this host runs (or holds stopped): attaches and detaches (hot-plugged
// when its domain is up, else done with the record alone: the next start
// follows the records) and growth. It reports each one done, or failed.
func (h *hostReconciler) settleVolumes(ctx context.Context, vm *fsm.VM) {
	var pending []fsm.Volume
	for _, v := range h.host.state.VolumesOf(vm.ID) {
		if v.Attachment != fsm.Attached || v.FileGiB != v.SizeGiB {
			pending = append(pending, v)
		}
	}
	if len(pending) == 0 {
		return
	}
	hot, _ := h.driver.(hypervisor.DiskHotplug)
	up := false
	if dom, err := h.driver.Inspect(ctx, vm.ID); err == nil {
		up = dom.State == hypervisor.StateRunning || dom.State == hypervisor.StatePaused
	} else if !errors.Is(err, hypervisor.ErrNotFound) {
		return // the hypervisor does not answer: try at the next pass
	}
	if !h.hasFiles() {
		hot = nil
	}
	for _, v := range pending {
		r, ok := h.settleVolume(ctx, vm, v, up, hot)
		if ok {
			h.reportVolume(ctx, r)
		}
	}
}

// settleVolume does one volume's pending change; ok false when there is
// nothing to report yet (a guest that has not released a disk).
func (h *hostReconciler) settleVolume(ctx context.Context, vm *fsm.VM, v fsm.Volume, up bool, hot hypervisor.DiskHotplug) (r *fsm.ReportVolume, ok bool) {
	r = &fsm.ReportVolume{ID: v.ID, Node: h.nodeID, At: time.Now().UTC()}
	logger := h.logger.With("vm", vm.Spec.Name, "volume", v.Name, "target", v.Target)
	var err error
	switch {
	case v.Attachment == fsm.Attaching:
		r.Attached, r.FileGiB = true, v.SizeGiB
		if hot != nil {
			var d hypervisor.Disk
			if d, err = h.prepareVolume(ctx, v); err == nil && up {
				logger.Info("hot-plugging a volume")
				err = hot.AttachDisk(ctx, vm.ID, d)
			}
		}
	case v.Attachment == fsm.Detaching:
		r.Detached = true
		if hot != nil && up {
			logger.Info("unplugging a volume")
			err = hot.DetachDisk(ctx, vm.ID, v.Target)
			if errors.Is(err, hypervisor.ErrDetachPending) {
				logger.Info("the guest has not released the volume yet; asking again at the next pass")
				return nil, false
			}
		}
	case v.FileGiB == 0:
		r.FileGiB = v.SizeGiB // made at the domain's start, at its size
	default:
		r.FileGiB = v.SizeGiB
		err = h.growVolume(ctx, vm, v, up)
	}
	if err != nil {
		logger.Warn("changing a volume", "error", err)
		if errors.Is(err, hypervisor.ErrUnavailable) {
			return nil, false
		}
		r.Attached, r.Detached, r.FileGiB, r.Error = false, false, 0, err.Error()
	}
	return r, true
}

// growVolume grows a volume's file to its recorded size: through the
// hypervisor when a guest has it open (up: the guest sees the new size at
// once), with qemu-img otherwise.
func (h *hostReconciler) growVolume(ctx context.Context, vm *fsm.VM, v fsm.Volume, up bool) error {
	if !h.hasFiles() {
		return nil
	}
	if up {
		hot, ok := h.driver.(hypervisor.DiskHotplug)
		if !ok {
			return fmt.Errorf("the %s driver cannot grow a disk in use", h.driver.Name())
		}
		h.logger.Info("growing a volume in use", "vm", vm.Spec.Name, "volume", v.Name, "gib", v.SizeGiB)
		return hot.ResizeDisk(ctx, vm.ID, v.Target, v.SizeGiB<<30)
	}
	pool, err := h.host.state.Pool(v.Pool)
	if err != nil {
		return err
	}
	return h.host.cfg.Disks.GrowVolume(ctx, pool, v)
}

// settleDetached carries out what the detached volumes this host holds
// wait for: removal once deleted, growth.
func (h *hostReconciler) settleDetached(ctx context.Context, vols []fsm.Volume) {
	for _, v := range vols {
		if v.VM != "" || v.Host != h.nodeID {
			continue
		}
		r := &fsm.ReportVolume{ID: v.ID, Node: h.nodeID, At: time.Now().UTC()}
		var err error
		switch {
		case v.Deleting:
			r.Deleted = true
			err = h.removeVolume(v)
		case v.FileGiB > 0 && v.FileGiB != v.SizeGiB:
			r.FileGiB = v.SizeGiB
			err = h.growVolume(ctx, nil, v, false)
		default:
			continue
		}
		if err != nil {
			h.logger.Warn("changing a detached volume", "volume", v.Name, "error", err)
			r.Deleted, r.FileGiB, r.Error = false, 0, err.Error()
		}
		h.reportVolume(ctx, r)
	}
}

func (h *hostReconciler) removeVolume(v fsm.Volume) error {
	if !h.hasFiles() {
		return nil
	}
	pool, err := h.host.state.Pool(v.Pool)
	if err != nil {
		return nil // the pool went: nothing of it is left to remove
	}
	h.logger.Info("removing a deleted volume", "volume", v.Name)
	return h.host.cfg.Disks.RemoveVolume(pool, v.ID)
}

// volumeChanged acts on an FSM event about one volume.
func (h *hostReconciler) volumeChanged(ctx context.Context, id string) {
	v, err := h.host.state.Volume(id)
	if err != nil || v.Host != h.nodeID {
		return
	}
	if v.VM == "" {
		h.settleDetached(ctx, []fsm.Volume{v})
		return
	}
	if vm, err := h.host.state.VM(v.VM); err == nil && vm.Migration == "" && h.host.lease.valid() {
		h.settleVolumes(ctx, &vm)
	}
}

func (h *hostReconciler) reportVolume(ctx context.Context, r *fsm.ReportVolume) {
	if err := h.applyAndWait(ctx, r); err != nil && ctx.Err() == nil {
		h.logger.Warn("reporting a volume", "volume", r.ID, "error", err)
	}
}
