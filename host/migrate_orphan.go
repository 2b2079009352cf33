package host

import (
	"context"
	"errors"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
)

// A migration whose source host dies mid-copy would otherwise stay running
// for ever: only the source drives it, and the leader's failover leaves a
// migrating VM alone, because deciding without the source could start a second
// copy. The destination settles it instead, from its own hypervisor, once the
// source has been failed for a whole fence timeout: by then a source that is
// only cut off has fenced its HA guests, which aborts the copy.
//
// Only HA VMs: a host fences only those, so for any other VM a source that is
// cut off (not dead) may still be copying, and the record stays running until
// the source comes back and settles it (settle).

// sourceSurelyFenced reports whether mig's source has been failed for at least
// a fence timeout.
func (m *migrator) sourceSurelyFenced(mig fsm.Migration, now time.Time) bool {
	src, err := m.host.state.Node(mig.Source)
	return err == nil && src.Status == fsm.NodeFailed && now.Sub(src.StatusSince) >= m.host.cfg.Lease.Timeout
}

// settleForDeadSource decides, as the destination, a migration of an HA VM
// whose source is surely fenced. The guest running here at the new generation:
// the copy finished before the source died, completed. Anything else: the copy
// cannot finish any more; a half-received guest (paused) is destroyed, and the
// migration failed, after which the leader's failover restarts the VM.
func (m *migrator) settleForDeadSource(ctx context.Context, mig fsm.Migration) {
	vm, err := m.host.state.VM(mig.VMID)
	if err != nil || !vm.Spec.HAEnabled() {
		return
	}
	dom, err := m.driver.Inspect(ctx, mig.VMID)
	now := time.Now().UTC()
	switch {
	case err == nil && dom.State == hypervisor.StateRunning && dom.Generation == mig.FromGeneration+1:
		m.logger.Warn("source host failed mid-migration; the guest already runs here", "migration", mig.ID, "vm", mig.VMName)
		m.decide(ctx, &fsm.UpdateMigration{ID: mig.ID, State: fsm.MigrationCompleted, At: now, Progress: &fsm.MigrationProgress{Percent: 100},
			Error: "settled by the destination after the source host failed; libvirt's figures were lost"})
	case err == nil || errors.Is(err, hypervisor.ErrNotFound):
		if err == nil {
			if derr := m.driver.Destroy(ctx, mig.VMID); derr != nil && !errors.Is(derr, hypervisor.ErrNotFound) {
				m.logger.Warn("source host failed mid-migration; cannot remove the half-received guest", "migration", mig.ID, "vm", mig.VMName, "error", derr)
				return
			}
			// A definition left behind is removed by the reconciler anyway.
			_ = m.driver.Undefine(ctx, mig.VMID)
		}
		m.logger.Warn("source host failed mid-migration; failing it so that the vm fails over", "migration", mig.ID, "vm", mig.VMName)
		m.decide(ctx, &fsm.UpdateMigration{ID: mig.ID, State: fsm.MigrationFailed, At: now,
			Error: "the source host failed mid-migration; the vm fails over"})
	default:
		m.logger.Debug("cannot settle a dead source's migration yet", "migration", mig.ID, "error", err)
	}
}
