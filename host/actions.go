package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
)

// reconcile closes the gap between one VM record (nil if deleted) and its domain
// on this host (nil if absent). It returns the report of the observed state when
// that differs from the record, for the caller to send with others in one batch.
func (h *hostReconciler) reconcile(ctx context.Context, vm *fsm.VM, dom *hypervisor.Domain) *fsm.ReportVM {
	me := h.nodeID
	if vm != nil && vm.Migration != "" {
		// A migration owns the VM's domains on both hosts until it ends.
		return nil
	}
	if vm == nil || vm.Node != me {
		// Deleted, or placed elsewhere at a newer generation: our copy must go.
		h.removeDomain(ctx, vm, dom)
		return nil
	}
	if dom != nil && dom.Generation > vm.Generation {
		// The domain comes from an order newer than our FSM knows: wait to catch up.
		return nil
	}
	if !h.host.lease.valid() {
		// Without a lease (fenced, or not yet renewed) this host starts and
		// reports nothing: the leader may be restarting the VM elsewhere.
		return nil
	}
	if h.isStopping(vm.ID) {
		return nil // a shutdown is under way; its end wakes us again
	}
	logger := h.logger.With("vm", vm.Spec.Name, "id", vm.ID)
	restartSeq := vm.ReportedRestartSeq
	state, reason := hypervisor.StateStopped, ""
	if dom != nil {
		state, reason = dom.State, dom.Reason
	}
	crash := ""
	if h.diedUnasked(vm, state) {
		if dom == nil {
			// Undefined behind the agent's back: as much a failure as a kill.
			state, reason = hypervisor.StateCrashed, "vanished"
		}
		if state == hypervisor.StateCrashed {
			crash = reason
			if crash == "" {
				crash = "crashed"
			}
		}
		policy := vm.Spec.EffectiveRestartPolicy()
		if !restartAllowed(policy, state) {
			logger.Info("vm stopped without being asked; its restart policy keeps it stopped", "policy", policy, "reason", reason)
			h.keepStopped(ctx, vm, reason)
			return h.reportIfChanged(vm, fsm.VMStopped, "", restartSeq, crash)
		}
		logger.Warn("vm died without being asked; restarting it", "policy", policy, "reason", reason)
	}
	restartSeq, shutdown, ok, actErr := h.act(ctx, logger, vm, state, restartSeq)
	if !ok || shutdown {
		return nil
	}
	h.settleVolumes(ctx, vm)
	h.settleSnapshots(ctx, vm)
	observed, errText := fsm.VMStopped, ""
	if errors.Is(actErr, hypervisor.ErrUnavailable) {
		// Says nothing about the VM: try again once the hypervisor is back.
		logger.Debug("hypervisor unavailable", "error", actErr)
		return nil
	}
	if actErr != nil {
		logger.Warn("hypervisor action failed", "desired", vm.DesiredState, "error", actErr)
		observed, errText = fsm.VMError, actErr.Error()
	} else if d, err := h.driver.Inspect(ctx, vm.ID); err == nil {
		observed = observedState(d.State)
	}
	return h.reportIfChanged(vm, observed, errText, restartSeq, crash)
}

// reportIfChanged returns a report when what was observed differs from the
// record, or when there is a crash to record.
func (h *hostReconciler) reportIfChanged(vm *fsm.VM, observed fsm.VMState, errText string, restartSeq uint64, crash string) *fsm.ReportVM {
	if crash == "" && observed == vm.State && errText == vm.Error && restartSeq == vm.ReportedRestartSeq {
		return nil
	}
	return &fsm.ReportVM{
		ID: vm.ID, Node: h.nodeID, Generation: vm.Generation, State: observed,
		RestartSeq: restartSeq, Error: errText, Crash: crash, At: time.Now().UTC(),
	}
}

// diedUnasked reports whether a VM that this host had reported running (or
// paused) and that should still run is now found stopped or crashed: the guest
// powered itself off, crashed, or was destroyed behind the agent's back.
func (h *hostReconciler) diedUnasked(vm *fsm.VM, state hypervisor.DomainState) bool {
	wasUp := vm.State == fsm.VMRunning || vm.State == fsm.VMPaused
	wantUp := vm.DesiredState == fsm.VMRunning || vm.DesiredState == fsm.VMPaused
	down := state == hypervisor.StateStopped || state == hypervisor.StateCrashed
	return wasUp && wantUp && down
}

// restartAllowed applies a restart policy to how the guest went down.
func restartAllowed(policy string, state hypervisor.DomainState) bool {
	switch policy {
	case fsm.RestartNever:
		return false
	case fsm.RestartOnFailure:
		return state == hypervisor.StateCrashed
	}
	return true
}

// keepStopped records the user-visible consequence of a policy that does not
// restart: the VM's desired state becomes stopped, so nothing starts it again
// until someone asks.
func (h *hostReconciler) keepStopped(ctx context.Context, vm *fsm.VM, reason string) {
	_, err := h.host.cluster.Apply(ctx, &fsm.VMAction{ID: vm.ID, Action: fsm.ActionStop, At: time.Now().UTC()})
	if err != nil && ctx.Err() == nil {
		h.logger.Warn("recording that the vm stays stopped", "vm", vm.Spec.Name, "reason", reason, "error", err)
	}
}

// shutdownAsync shuts a domain down in the background: a guest may take the whole
// stop timeout, and the host must go on reconciling its other VMs meanwhile.
func (h *hostReconciler) shutdownAsync(vm *fsm.VM) {
	h.mu.Lock()
	h.stopping[vm.ID] = true
	h.mu.Unlock()
	h.logger.Info("shutting down domain", "vm", vm.Spec.Name, "id", vm.ID, "timeout", h.host.cfg.StopTimeout)
	go func() {
		if err := h.driver.Shutdown(h.host.ctx, vm.ID, h.host.cfg.StopTimeout); err != nil {
			h.logger.Warn("shutting down domain", "vm", vm.Spec.Name, "error", err)
		}
		h.mu.Lock()
		delete(h.stopping, vm.ID)
		h.mu.Unlock()
		select {
		case h.stopped <- vm.ID:
		case <-h.host.ctx.Done():
		}
	}()
}

func (h *hostReconciler) isStopping(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.stopping[id]
}

// report sends the reports of one pass, as one batch when there are several. A
// refused report (stale generation: the VM moved meanwhile) is dropped; the next
// pass looks again.
func (h *hostReconciler) report(ctx context.Context, reports []*fsm.ReportVM) {
	var cmd fsm.Command
	switch len(reports) {
	case 0:
		return
	case 1:
		cmd = reports[0]
	default:
		cmds := make([]fsm.Command, len(reports))
		for i, r := range reports {
			cmds[i] = r
		}
		b, err := fsm.NewBatch(cmds...)
		if err != nil {
			h.logger.Error("encoding reports", "error", err)
			return
		}
		cmd = b
	}
	if err := h.applyAndWait(ctx, cmd); err != nil && ctx.Err() == nil {
		h.logger.Debug("reporting vm states", "reports", len(reports), "error", err)
	}
}

// applyAndWait writes a host's report and waits (briefly) until this
// node's own copy of the state shows it: the next pass, woken by the
// driver's event for the same change, must not find it missing and report
// (or act) again.
func (h *hostReconciler) applyAndWait(ctx context.Context, cmd fsm.Command) error {
	idx, err := h.host.cluster.Apply(ctx, cmd)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	h.host.state.WaitForIndex(wctx, idx)
	cancel()
	return nil
}

// removeDomain destroys and undefines a managed domain that no VM record on this
// node accounts for.
func (h *hostReconciler) removeDomain(ctx context.Context, vm *fsm.VM, dom *hypervisor.Domain) {
	if dom == nil {
		return
	}
	if vm != nil && dom.Generation > vm.Generation {
		return // our FSM is behind the order that made this domain
	}
	reason := "vm deleted"
	if vm != nil {
		reason = "vm placed on another node"
	}
	h.logger.Info("removing domain", "id", dom.ID, "name", dom.Name, "reason", reason)
	if dom.State != hypervisor.StateStopped {
		if err := h.driver.Destroy(ctx, dom.ID); err != nil {
			h.logger.Warn("destroying domain", "id", dom.ID, "error", err)
			return
		}
	}
	if vm == nil {
		h.dropSnapshots(ctx, dom.ID)
	}
	if err := h.driver.Undefine(ctx, dom.ID); err != nil {
		h.logger.Warn("undefining domain", "id", dom.ID, "error", err)
		return
	}
	if h.guarded() {
		h.host.guard.forget(dom.ID)
	}
}

// guarded reports whether the fencing guard watches this reconciler's
// domains: the agent's own host's, not the sim fleet's.
func (h *hostReconciler) guarded() bool {
	return h.host.guard != nil && h.nodeID == h.host.cfg.NodeID
}

// tellGuard names vm's domain in the guard's list before it is started or
// changed, with what the guard does to it when it fences.
func (h *hostReconciler) tellGuard(vm *fsm.VM) error {
	if !h.guarded() {
		return nil
	}
	if err := h.host.guard.track(vm); err != nil {
		return fmt.Errorf("telling the fencing guard about the domain: %w", err)
	}
	return nil
}

func observedState(s hypervisor.DomainState) fsm.VMState {
	switch s {
	case hypervisor.StateRunning:
		return fsm.VMRunning
	case hypervisor.StatePaused:
		return fsm.VMPaused
	}
	return fsm.VMStopped
}

// domainSpec turns a VM record into what the driver needs.
func domainSpec(vm *fsm.VM) hypervisor.DomainSpec {
	s := hypervisor.DomainSpec{
		ID: vm.ID, Name: vm.Spec.Name, Generation: vm.Generation,
		VCPUs: vm.Spec.VCPUs, MemoryMiB: vm.Spec.MemoryMiB, DiskGiB: vm.Spec.DiskGiB,
		Labels: vm.Spec.Labels,
	}
	if b := vm.Spec.Boot; b != nil {
		s.Boot = &hypervisor.BootSource{Kernel: b.Kernel, Initrd: b.Initrd, Cmdline: b.Cmdline, Disk: b.Disk, DiskFormat: b.DiskFormat}
	}
	for _, n := range vm.Spec.NICs {
		s.NICs = append(s.NICs, hypervisor.NIC{Network: n.Network, Bridge: n.Bridge, MAC: n.MAC})
	}
	return s
}

// act moves the domain towards the VM's desired state: start, resume, reboot,
// pause, or a shutdown in the background (shutdown true). It runs only while
// the lease holds (ok false: it did nothing), and a fence waits until it
// returns, so a fence never misses a domain started here and none starts once
// a fence has begun.
func (h *hostReconciler) act(ctx context.Context, logger *slog.Logger, vm *fsm.VM, state hypervisor.DomainState, restartSeq uint64) (_ uint64, shutdown, ok bool, actErr error) {
	release, ok := h.host.lease.holdValid()
	if !ok {
		return restartSeq, false, false, nil
	}
	defer release()
	if err := h.tellGuard(vm); err != nil {
		return restartSeq, false, true, err
	}
	switch vm.DesiredState {
	case fsm.VMRunning:
		switch state {
		case hypervisor.StateStopped, hypervisor.StateCrashed:
			logger.Info("starting domain")
			actErr = h.start(ctx, vm)
			restartSeq = vm.RestartSeq
		case hypervisor.StatePaused:
			actErr = h.driver.Resume(ctx, vm.ID)
		case hypervisor.StateRunning:
			if vm.RestartSeq > vm.ReportedRestartSeq {
				logger.Info("rebooting domain")
				actErr = h.driver.Reboot(ctx, vm.ID)
				restartSeq = vm.RestartSeq
			}
		}
	case fsm.VMStopped:
		if state == hypervisor.StateRunning || state == hypervisor.StatePaused {
			h.shutdownAsync(vm)
			return restartSeq, true, true, nil
		}
	case fsm.VMPaused:
		if state == hypervisor.StateStopped || state == hypervisor.StateCrashed {
			actErr = h.start(ctx, vm)
			restartSeq = vm.RestartSeq
		}
		if actErr == nil && state != hypervisor.StatePaused {
			actErr = h.driver.Suspend(ctx, vm.ID)
		}
	}
	return restartSeq, false, true, actErr
}

// start defines and starts vm's domain, after checking its boot files.
func (h *hostReconciler) start(ctx context.Context, vm *fsm.VM) error {
	spec, err := h.startSpec(vm)
	if err != nil {
		return err
	}
	if spec.Disks, err = h.prepareVolumes(ctx, vm); err != nil {
		return err
	}
	return h.driver.Start(ctx, spec)
}
