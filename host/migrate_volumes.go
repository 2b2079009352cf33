package host

import (
	"context"
	"fmt"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
)

// Volumes in a migration. A VM whose volumes are in a dir pool moves with
// them: the destination prepares an empty qcow2 overlay of the same image
// (copying the image from another host first if it has none), a blank file
// of each data volume's size, and the VM's cloud-init seed; the source then
// has libvirt copy their blocks with the memory (NBD), and removes its own
// volumes only once the guest runs on the destination. A destination whose
// guest never arrives removes what it prepared. In a shared pool nothing is
// copied or removed: both hosts see the same files.

// rootDisk is the target of a VM's root volume: the first disk of a VM made
// from an image (hypervisor.DomainSpec.Disks).
const rootDisk = "vda"

// incomingVM is a VM this host prepared volumes for as a migration's
// destination, with the data volumes it prepared.
type incomingVM struct {
	vm      fsm.VM
	volumes []fsm.Volume
}

// hasVolumes reports whether this host keeps files for vm, given its data
// volumes.
func (m *migrator) hasVolumes(vm *fsm.VM, data []fsm.Volume) bool {
	return m.host.cfg.Disks != nil && m.driver == m.host.driver && m.driver.Name() != "sim" &&
		(vm.Spec.Image != "" || vm.Spec.CloudInit != nil || len(data) > 0)
}

// prepareVolumes makes the volumes of an incoming VM, as its destination,
// and returns the folder of its pool here ("" for a VM without volumes).
func (m *migrator) prepareVolumes(ctx context.Context, mig fsm.Migration, vm *fsm.VM) (string, error) {
	data := m.host.state.VolumesOf(vm.ID)
	if !m.hasVolumes(vm, data) {
		return "", nil
	}
	pool, err := m.host.state.Pool(vm.Spec.EffectivePool())
	if err != nil {
		return "", err
	}
	var img fsm.Image
	if vm.Spec.Image != "" {
		if img, err = m.host.state.Image(vm.Spec.Image); err != nil {
			return "", err
		}
	}
	if vm.LocalDisks {
		// A root volume left here by an earlier try holds stale blocks that
		// an incremental copy would not overwrite: start from an empty one.
		if err := m.host.cfg.Disks.RemoveVM(pool, vm.ID, false); err != nil {
			return "", fmt.Errorf("removing an old root volume: %w", err)
		}
	}
	m.mu.Lock()
	m.incoming[mig.ID] = incomingVM{vm: *vm, volumes: data}
	m.mu.Unlock()
	if _, err := m.host.cfg.Disks.PrepareVM(ctx, vm, pool, img); err != nil {
		return "", fmt.Errorf("preparing volumes: %w", err)
	}
	for _, v := range data {
		// A dir pool's file starts blank (the copy fills it); a shared
		// pool's is the very file the source uses.
		prepare := m.host.cfg.Disks.ResetVolume
		if pool.Shared() {
			prepare = m.host.cfg.Disks.PrepareVolume
		}
		if _, err := prepare(ctx, pool, v); err != nil {
			return "", fmt.Errorf("preparing volume %s: %w", v.Name, err)
		}
	}
	return m.host.cfg.Disks.PoolDir(pool), nil
}

// copyOptions sets what the source's copy of vm moves: the root volume's
// blocks when they are on this host's own disk, to the folder the
// destination prepared (mig.TargetPoolDir) when it is not this host's.
func (m *migrator) copyOptions(mig fsm.Migration, vm *fsm.VM, opts *hypervisor.MigrateOptions) {
	data := m.host.state.VolumesOf(vm.ID)
	if !m.hasVolumes(vm, data) {
		return
	}
	if vm.LocalDisks {
		if vm.Spec.Image != "" {
			opts.CopyDisks = []string{rootDisk}
		}
		for _, v := range data {
			opts.CopyDisks = append(opts.CopyDisks, v.Target)
		}
	}
	pool, err := m.host.state.Pool(vm.Spec.EffectivePool())
	if err != nil {
		return
	}
	opts.SharedStorage = pool.Shared() && (vm.Spec.Image != "" || len(data) > 0)
	if mig.TargetPoolDir == "" {
		return
	}
	if here := m.host.cfg.Disks.PoolDir(pool); here != mig.TargetPoolDir {
		opts.DestPaths = map[string]string{here: mig.TargetPoolDir}
	}
}

// dropIncoming forgets the incoming migrations that ended, removing the
// volumes prepared for those whose guest did not arrive.
func (m *migrator) dropIncoming(ctx context.Context) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, in := range m.incoming {
		mig, err := m.host.state.Migration(id)
		if err == nil && !mig.State.Final() {
			continue
		}
		delete(m.incoming, id)
		if now, err := m.host.state.VM(in.vm.ID); err == nil && now.Node == m.nodeID {
			continue // it arrived (or lives here now): its volumes are its own
		}
		m.logger.Info("removing the volumes prepared for a guest that did not arrive", "migration", id, "vm", in.vm.Spec.Name)
		m.removeLocalVolumes(&in.vm, in.volumes)
	}
}

// removeLocalVolumes removes vm's volumes (data ones included) from this
// host's own disk; those in a shared pool are the same files the other
// host uses, and stay.
func (m *migrator) removeLocalVolumes(vm *fsm.VM, data []fsm.Volume) {
	if !m.hasVolumes(vm, data) {
		return
	}
	pool, err := m.host.state.Pool(vm.Spec.EffectivePool())
	if err != nil || pool.Shared() {
		return
	}
	if err := m.host.cfg.Disks.RemoveVM(pool, vm.ID, false); err != nil {
		m.logger.Warn("removing a moved vm's volumes", "vm", vm.Spec.Name, "error", err)
	}
	for _, v := range data {
		if err := m.host.cfg.Disks.RemoveVolume(pool, v.ID); err != nil {
			m.logger.Warn("removing a moved vm's data volume", "vm", vm.Spec.Name, "volume", v.Name, "error", err)
		}
	}
}

// Cold migrations of a VM whose disks are on its host's own disk: once the
// source has shut the guest down it records SourceStopped and serves the
// disk files; the destination copies them (verified) and records
// DisksCopied; the source then ends the migration, and removes its own
// files only once the record says completed. Either side failing fails the
// migration: the VM stays on the source with its disks, and the
// destination removes what it copied.

// coldCopyPoll is how often the source looks whether the destination has
// copied the disks.
const coldCopyPoll = 250 * time.Millisecond

// handOverDisks is the source's part: it says the guest is down, then
// waits for the destination's copy, a failure, or a cancel.
func (m *migrator) handOverDisks(ctx context.Context, mig fsm.Migration) error {
	vm, err := m.host.state.VM(mig.VMID)
	if err != nil || !vm.LocalDisks || !m.hasVolumes(&vm, m.host.state.VolumesOf(vm.ID)) {
		return nil
	}
	if !mig.SourceStopped {
		if _, err := m.host.cluster.Apply(ctx, &fsm.UpdateMigration{ID: mig.ID, State: fsm.MigrationRunning, SourceStopped: true, At: time.Now().UTC()}); err != nil {
			return fmt.Errorf("recording that the guest is down: %w", err)
		}
	}
	m.logger.Info("guest down; the destination copies its disks", "migration", mig.ID, "vm", vm.Spec.Name)
	tick := time.NewTicker(coldCopyPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		cur, err := m.host.state.Migration(mig.ID)
		switch {
		case err != nil:
			return err
		case cur.DisksCopied:
			return nil
		case cur.State.Final():
			return fmt.Errorf("the migration ended %s while the destination copied the disks: %s", cur.State, cur.Error)
		}
		if n, err := m.host.state.Node(mig.Target); err != nil || n.Status != fsm.NodeAlive {
			return fmt.Errorf("the destination went down while copying the disks")
		}
	}
}

// afterColdMove removes, on the source, the disk files of a VM that a cold
// migration moved, once the record (written at index idx: this node's copy
// of the state shows it a moment later) says it completed.
func (m *migrator) afterColdMove(mig fsm.Migration, idx uint64) {
	if mig.Mode != fsm.MigrateCold || idx == 0 {
		return
	}
	wctx, cancel := context.WithTimeout(m.host.ctx, 5*time.Second)
	m.host.state.WaitForIndex(wctx, idx)
	cancel()
	cur, err := m.host.state.Migration(mig.ID)
	if err != nil || cur.State != fsm.MigrationCompleted || !cur.DisksCopied {
		return
	}
	if vm, err := m.host.state.VM(mig.VMID); err == nil {
		m.removeLocalVolumes(&vm, m.host.state.VolumesOf(vm.ID))
	}
}

// pullDisks is the destination's part, in the background (once per
// migration): copy the disk files, then record DisksCopied, or fail the
// migration.
func (m *migrator) pullDisks(mig fsm.Migration) {
	vm, err := m.host.state.VM(mig.VMID)
	if err != nil || m.host.cfg.Disks == nil {
		return
	}
	data := m.host.state.VolumesOf(vm.ID)
	m.mu.Lock()
	if _, busy := m.jobs["pull:"+mig.ID]; busy {
		m.mu.Unlock()
		return
	}
	ctx, cancel := context.WithCancel(m.host.ctx)
	m.jobs["pull:"+mig.ID] = cancel
	m.incoming[mig.ID] = incomingVM{vm: vm, volumes: data}
	m.mu.Unlock()
	go func() {
		defer func() {
			cancel()
			m.mu.Lock()
			delete(m.jobs, "pull:"+mig.ID)
			m.mu.Unlock()
		}()
		start := time.Now()
		up := &fsm.UpdateMigration{ID: mig.ID, State: fsm.MigrationRunning, DisksCopied: true}
		if err := m.copyDisks(ctx, mig, &vm, data); err != nil {
			m.logger.Warn("copying a cold migration's disks", "migration", mig.ID, "vm", vm.Spec.Name, "error", err)
			up = &fsm.UpdateMigration{ID: mig.ID, State: fsm.MigrationFailed, Error: "copying the disks: " + err.Error()}
		} else {
			m.logger.Info("copied a cold migration's disks", "migration", mig.ID, "vm", vm.Spec.Name, "took", time.Since(start))
		}
		up.At = time.Now().UTC()
		m.record(up)
	}()
}

func (m *migrator) copyDisks(ctx context.Context, mig fsm.Migration, vm *fsm.VM, data []fsm.Volume) error {
	pool, err := m.host.state.Pool(vm.Spec.EffectivePool())
	if err != nil {
		return err
	}
	var img fsm.Image
	if vm.Spec.Image != "" {
		if img, err = m.host.state.Image(vm.Spec.Image); err != nil {
			return err
		}
	}
	return m.host.cfg.Disks.PullDisks(ctx, mig, vm, data, pool, img)
}
