package host

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
)

// fence stops this host's HA VMs because its lease ended: the leader may
// restart them elsewhere soon, and they must not run twice. It acts on what the
// hypervisor runs, not only on what the (possibly stale) local state says: a
// managed domain whose VM this node does not know is stopped too.
func (a *Host) fence(ctx context.Context) {
	if !a.lease.beginFence() {
		return
	}
	a.logger.Warn("lease with the leader expired: fencing this host's HA VMs")
	a.stopHA(ctx)
}

// stopHA stops every HA domain of the host and, once all are surely stopped,
// marks the fence done. The fence watcher calls it again while a fence holds
// that is not done (a destroy failed, the hypervisor did not answer).
func (a *Host) stopHA(ctx context.Context) {
	// Every domain is stopped at once: one libvirt destroy can take seconds,
	// and the last must be done before the leader restarts them elsewhere.
	var wg sync.WaitGroup
	var failed atomic.Bool
	for _, h := range a.hosts() {
		domains, err := h.driver.List(ctx)
		if err != nil {
			a.logger.Error("fencing: cannot list domains", "node", h.nodeID, "error", err)
			failed.Store(true)
			continue
		}
		for _, dom := range domains {
			if dom.State != hypervisor.StateRunning && dom.State != hypervisor.StatePaused {
				continue
			}
			action := fsm.FenceDestroy
			if vm, err := a.state.VM(dom.ID); err == nil {
				if !vm.Spec.HAEnabled() {
					continue
				}
				action = vm.Spec.EffectiveFenceAction()
			}
			if action == fsm.FencePause && dom.State == hypervisor.StatePaused {
				continue
			}
			wg.Add(1)
			go func(driver hypervisor.Driver, node string, dom hypervisor.Domain, action string) {
				defer wg.Done()
				var err error
				if action == fsm.FencePause {
					err = driver.Suspend(ctx, dom.ID)
				} else {
					err = driver.Destroy(ctx, dom.ID)
				}
				if err != nil && !errors.Is(err, hypervisor.ErrNotFound) {
					failed.Store(true)
				}
				a.logger.Warn("fenced vm", "node", node, "domain", dom.Name, "action", action, "error", err)
			}(h.driver, h.nodeID, dom, action)
		}
	}
	wg.Wait()
	if !failed.Load() {
		// Only a fence that surely stopped everything lets the watchdog be
		// petted again; otherwise the kernel resets the host.
		a.lease.endFence()
	}
}
