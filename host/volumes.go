package host

import (
	"context"
	"fmt"
	"slices"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
)

// Disks keeps a host's volumes as files; *diskstore.Store implements it.
type Disks interface {
	// PrepareVM makes the volumes vm needs here (its root volume from its
	// image, its cloud-init seed) and returns them as the domain's disks.
	PrepareVM(ctx context.Context, vm *fsm.VM, p fsm.StoragePool, img fsm.Image) ([]hypervisor.Disk, error)
	// RemoveVM deletes a deleted VM's volumes, the root one unless keepRoot.
	RemoveVM(p fsm.StoragePool, vmID string, keepRoot bool) error
	// Usage realises every pool on this host and measures it.
	Usage(pools []fsm.StoragePool) []fsm.PoolUsage
	// PoolDir is where pool p lives on this host.
	PoolDir(p fsm.StoragePool) string
	// PrepareVolume makes data volume v if missing (blank), grows it to its
	// recorded size, and returns it as the disk its VM attaches.
	PrepareVolume(ctx context.Context, p fsm.StoragePool, v fsm.Volume) (hypervisor.Disk, error)
	// ResetVolume replaces v with a blank file: a migration's destination.
	ResetVolume(ctx context.Context, p fsm.StoragePool, v fsm.Volume) (hypervisor.Disk, error)
	// GrowVolume grows v's file, no guest running on it, to its size.
	GrowVolume(ctx context.Context, p fsm.StoragePool, v fsm.Volume) error
	// RemoveVolume deletes data volume id's file.
	RemoveVolume(p fsm.StoragePool, id string) error
	// PullDisks copies vm's disk files from the source of cold migration
	// mig (which has shut the guest down) into pool p here.
	PullDisks(ctx context.Context, mig fsm.Migration, vm *fsm.VM, data []fsm.Volume, p fsm.StoragePool, img fsm.Image) error
	// CollectImages removes the files of images no longer recorded, but
	// those a root volume here is backed by.
	CollectImages(ctx context.Context, pools []fsm.StoragePool, recorded func(id string) bool) (removed, kept []string)
}

// collectImages removes the files of deleted images from this host's
// pools. It runs once the FSM has caught up (an image it does not know yet
// may be one it is about to learn of) and after each image delete.
func (h *hostReconciler) collectImages(ctx context.Context) {
	if !h.hasFiles() {
		return
	}
	recorded := func(id string) bool {
		_, err := h.host.state.Image(id)
		return err == nil
	}
	removed, kept := h.host.cfg.Disks.CollectImages(ctx, h.host.state.Pools(), recorded)
	for _, f := range removed {
		h.logger.Info("removed the file of a deleted image", "file", f)
	}
	for _, f := range kept {
		h.logger.Info("kept the file of a deleted image: a root volume kept with keep_volumes is backed by it", "file", f)
	}
}

// hasFiles reports whether this reconciler's VMs have their volumes as
// files here: a simulated host (the dev agent's or a fleet's) keeps its
// VMs' volumes as records only.
func (h *hostReconciler) hasFiles() bool {
	return h.host.cfg.Disks != nil && h.driver == h.host.driver && h.driver.Name() != "sim"
}

// prepareVolumes makes the volumes of a VM made from an image or with a
// cloud-init configuration, on this host's own driver (a simulated host,
// the dev agent's or a fleet's, opens no file: its VMs' volumes exist as
// records only). A failure wraps hypervisor.ErrInvalidSpec when the
// VM's records cannot be run here, and becomes the VM's error.
func (h *hostReconciler) prepareVolumes(ctx context.Context, vm *fsm.VM) ([]hypervisor.Disk, error) {
	if !h.hasFiles() {
		return nil, nil
	}
	out, err := h.prepareRootAndSeed(ctx, vm)
	if err != nil {
		return nil, err
	}
	data, err := h.prepareDataVolumes(ctx, vm)
	return append(out, data...), err
}

// prepareRootAndSeed makes the root volume and the cloud-init seed of a
// VM that has them.
func (h *hostReconciler) prepareRootAndSeed(ctx context.Context, vm *fsm.VM) ([]hypervisor.Disk, error) {
	disks := h.host.cfg.Disks
	if vm.Spec.Image == "" && vm.Spec.CloudInit == nil {
		return nil, nil
	}
	pool, err := h.host.state.Pool(vm.Spec.EffectivePool())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", hypervisor.ErrInvalidSpec, err)
	}
	var img fsm.Image
	if vm.Spec.Image != "" {
		if img, err = h.host.state.Image(vm.Spec.Image); err != nil {
			return nil, fmt.Errorf("%w: %w", hypervisor.ErrInvalidSpec, err)
		}
	}
	return disks.PrepareVM(ctx, vm, pool, img)
}

// removeVolumes deletes the volumes of a deleted VM whose domain is gone
// from this host; it reports whether the removal may be confirmed (a
// volume that could not be removed is tried again at the next pass).
func (h *hostReconciler) removeVolumes(r *fsm.Removal) bool {
	disks := h.host.cfg.Disks
	if disks == nil || r.Pool == "" {
		return true
	}
	pool, err := h.host.state.Pool(r.Pool)
	if err != nil {
		return true // the pool went: nothing of it is left to remove
	}
	if err := disks.RemoveVM(pool, r.VMID, r.KeepVolumes); err != nil {
		h.logger.Warn("removing the volumes of a deleted vm", "vm", r.VMID, "pool", r.Pool, "error", err)
		return false
	}
	return true
}

// reportPools measures this host's pools and records them when they
// changed by more than poolReportSlack (or an error came or went), so a
// steady host writes nothing.
func (h *hostReconciler) reportPools(ctx context.Context, node *fsm.Node) []fsm.PoolUsage {
	disks := h.host.cfg.Disks
	if disks == nil {
		return node.Pools
	}
	now := disks.Usage(h.host.state.Pools())
	if poolsClose(node.Pools, now) {
		return node.Pools
	}
	return now
}

// poolReportSlack is how much a pool's free space may move before the
// host reports it again.
const poolReportSlack = 256 << 20

func poolsClose(a, b []fsm.PoolUsage) bool {
	return slices.EqualFunc(a, b, func(x, y fsm.PoolUsage) bool {
		d := x.AvailableBytes - y.AvailableBytes
		return x.Pool == y.Pool && x.Error == y.Error && x.CapacityBytes == y.CapacityBytes && d < poolReportSlack && d > -poolReportSlack
	})
}
