package libvirt

import (
	"context"
	"fmt"
	"time"

	golibvirt "libvirt.org/go/libvirt"
)

// markStopRequested records that this driver is about to stop the domain on
// request: in memory, and in the persistent definition's metadata so that a
// restarted agent still reads "stopped", not "crashed". The metadata write is
// best effort.
func (d *Driver) markStopRequested(dom *golibvirt.Domain, m vmMeta) {
	d.setRequested(m.ID, true)
	m.StopRequested = true
	el, err := metadataElement(m)
	if err == nil {
		err = dom.SetMetadata(golibvirt.DOMAIN_METADATA_ELEMENT, string(el), metadataPrefix, MetadataNamespace, golibvirt.DOMAIN_AFFECT_CONFIG)
	}
	if err != nil {
		d.logger.Debug("recording stop request in domain metadata", "id", m.ID, "error", err)
	}
}

// Destroy stops the domain at once (power cut). A stopped domain is left as it
// is. The domain then reads stopped (reason "destroyed"), not crashed.
func (d *Driver) Destroy(ctx context.Context, id string) error {
	// On a connection of its own: a destroy waits for QEMU to exit (seconds),
	// and a host fencing itself destroys every guest at once; on the shared,
	// serialized connection they would queue one behind the other.
	return d.onShort(ctx, d.cfg.URI, func(c *golibvirt.Connect) error {
		dom, m, err := d.lookupOn(c, d.cfg.URI, id)
		if err != nil {
			return err
		}
		defer dom.Free()
		st, _, err := dom.GetState()
		if err != nil {
			return fmt.Errorf("read state of domain %s (vm %q): %w", m.ID, m.Name, err)
		}
		if !active(st) {
			return nil
		}
		d.markStopRequested(dom, m)
		if err := dom.Destroy(); err != nil && libvirtCode(err) != golibvirt.ERR_OPERATION_INVALID {
			return fmt.Errorf("destroy domain %s (vm %q): %w", m.ID, m.Name, err)
		}
		d.logger.Info("domain destroyed", "id", m.ID, "vm", m.Name)
		return nil
	})
}

// Shutdown asks the guest to power off (ACPI), waits up to timeout for it to
// do so, and destroys it then. A paused guest cannot answer ACPI and is
// destroyed at once; a stopped domain is left as it is. Either way the domain
// reads stopped afterwards.
func (d *Driver) Shutdown(ctx context.Context, id string, timeout time.Duration) error {
	destroyNow := false
	stopped := false
	err := d.onDomain(ctx, id, func(dom *golibvirt.Domain, m vmMeta, st golibvirt.DomainState, _ int) error {
		if !active(st) {
			stopped = true
			return nil
		}
		d.markStopRequested(dom, m)
		if st != golibvirt.DOMAIN_RUNNING && st != golibvirt.DOMAIN_BLOCKED && st != golibvirt.DOMAIN_SHUTDOWN {
			destroyNow = true
			return nil
		}
		if err := dom.Shutdown(); err != nil {
			d.logger.Info("guest shutdown request failed; destroying", "id", m.ID, "vm", m.Name, "error", err)
			destroyNow = true
		}
		return nil
	})
	if err != nil || stopped {
		return err
	}
	if !destroyNow {
		off, err := d.pollUntil(ctx, time.Now().Add(timeout), func() (bool, error) {
			st, err := d.stateOf(ctx, id)
			return err == nil && !active(st), err
		})
		if err != nil || off {
			return err
		}
		d.logger.Info("guest did not power off in time; destroying", "id", id, "timeout", timeout)
	}
	return d.Destroy(ctx, id)
}

// Reboot restarts a running guest: it asks the guest (ACPI) and returns. If the
// guest has not rebooted after Config.RebootTimeout, it is reset, in the
// background. Any state but running is refused with ErrState.
func (d *Driver) Reboot(ctx context.Context, id string) error {
	var waiter chan struct{}
	var vmID string
	err := d.onDomain(ctx, id, func(dom *golibvirt.Domain, m vmMeta, st golibvirt.DomainState, reason int) error {
		if st != golibvirt.DOMAIN_RUNNING && st != golibvirt.DOMAIN_BLOCKED {
			have, _ := classify(st, reason, false)
			return fmt.Errorf("%w: cannot reboot domain %s (vm %q): it is %s, not running", ErrState, m.ID, m.Name, have)
		}
		vmID = m.ID
		waiter = d.expectReboot(m.ID)
		if err := dom.Reboot(golibvirt.DOMAIN_REBOOT_DEFAULT); err != nil {
			d.logger.Info("graceful reboot refused; resetting", "id", m.ID, "vm", m.Name, "error", err)
			d.forgetReboot(m.ID, waiter)
			if err := dom.Reset(0); err != nil {
				return fmt.Errorf("reset domain %s (vm %q): %w", m.ID, m.Name, err)
			}
			waiter = nil
		}
		return nil
	})
	if err != nil || waiter == nil {
		if waiter != nil {
			d.forgetReboot(vmID, waiter)
		}
		return err
	}
	go d.resetIfNoReboot(vmID, waiter)
	return nil
}

// expectReboot registers interest in the next reboot event of id.
func (d *Driver) expectReboot(id string) chan struct{} {
	ch := make(chan struct{})
	d.mu.Lock()
	defer d.mu.Unlock()
	if old, ok := d.rebooted[id]; ok {
		close(old)
	}
	d.rebooted[id] = ch
	return ch
}

func (d *Driver) forgetReboot(id string, ch chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.rebooted[id] == ch {
		delete(d.rebooted, id)
	}
}

// sawReboot wakes a Reboot waiting for id. It runs on the event loop thread.
func (d *Driver) sawReboot(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ch, ok := d.rebooted[id]; ok {
		close(ch)
		delete(d.rebooted, id)
	}
}

// resetIfNoReboot resets id unless its reboot event arrives within
// RebootTimeout. Guests without an ACPI handler (a bare initramfs) ignore the
// graceful request.
func (d *Driver) resetIfNoReboot(id string, waiter chan struct{}) {
	timer := time.NewTimer(d.cfg.RebootTimeout)
	defer timer.Stop()
	select {
	case <-waiter:
		return
	case <-d.stop:
		return
	case <-timer.C:
	}
	d.forgetReboot(id, waiter)
	ctx, cancel := context.WithTimeout(d.bg, 30*time.Second)
	defer cancel()
	err := d.call(ctx, func(c *golibvirt.Connect) error {
		dom, _, err := d.lookup(c, id)
		if err != nil {
			return err
		}
		defer dom.Free()
		if st, _, err := dom.GetState(); err != nil || st != golibvirt.DOMAIN_RUNNING {
			return err // stopped or paused meanwhile: not ours to reset
		}
		return dom.Reset(0)
	})
	if err != nil {
		d.logger.Warn("resetting a guest that ignored the reboot request", "id", id, "error", err)
		return
	}
	d.logger.Info("guest ignored the reboot request; reset it", "id", id, "timeout", d.cfg.RebootTimeout)
}
