package libvirt

import (
	"context"
	"errors"
	"strings"
	"time"

	golibvirt "libvirt.org/go/libvirt"

	"github.com/novacron/novacron/hypervisor"
)

// rawEvent is a libvirt event as the callback saw it, before the watcher
// decides whether the domain is managed.
type rawEvent struct {
	id     string
	kind   golibvirt.DomainEventType
	detail int
	reboot bool
	// requested: this driver had asked for the stop when the event arrived.
	requested bool
}

// onLifecycle runs on the event loop thread: it only takes note and hands the
// event to the watcher, since it must not block libvirt's loop.
func (d *Driver) onLifecycle(_ *golibvirt.Connect, dom *golibvirt.Domain, ev *golibvirt.DomainEventLifecycle) {
	id, err := dom.GetUUIDString()
	if err != nil {
		return
	}
	d.push(rawEvent{id: id, kind: ev.Event, detail: ev.Detail, requested: d.isRequested(id)})
}

// onReboot runs on the event loop thread when a guest reset itself.
func (d *Driver) onReboot(_ *golibvirt.Connect, dom *golibvirt.Domain) {
	id, err := dom.GetUUIDString()
	if err != nil {
		return
	}
	d.sawReboot(id)
	d.push(rawEvent{id: id, reboot: true})
}

// push queues a raw event; when the queue is full the event is dropped and the
// next resync reports the change instead.
func (d *Driver) push(ev rawEvent) {
	select {
	case d.raw <- ev:
	default:
		d.requestResync()
	}
}

func (d *Driver) requestResync() {
	select {
	case d.resyncNow <- struct{}{}:
	default:
	}
}

// watch is the one goroutine that emits events: translated libvirt events as
// they come, and differences found by the periodic resync.
func (d *Driver) watch() {
	defer d.wg.Done()
	ticker := time.NewTicker(d.cfg.ResyncInterval)
	defer ticker.Stop()
	for {
		select {
		case <-d.stop:
			return
		case ev := <-d.raw:
			d.handle(ev)
		case <-d.resyncNow:
			d.resync(true)
		case <-ticker.C:
			d.resync(true)
		}
	}
}

// handle emits a managed domain's event. A domain not seen before is checked
// for NovaCron metadata; an undefined one is only reported when it was known.
func (d *Driver) handle(ev rawEvent) {
	st, reason, ok := hypervisor.StateRunning, "rebooted", true
	if !ev.reboot {
		st, reason, ok = translate(ev.kind, ev.detail, ev.requested)
		if d.incomingFailed(ev) {
			st, reason = hypervisor.StateStopped, reasonIncomingFailed
		}
	}
	if !ok {
		return
	}
	d.mu.Lock()
	known := d.known[ev.id]
	d.mu.Unlock()
	if ev.kind == golibvirt.DOMAIN_EVENT_UNDEFINED && !ev.reboot {
		delete(d.foreign, ev.id)
		if !known {
			return
		}
		d.setKnown(ev.id, false)
		delete(d.seen, ev.id)
		d.emit(hypervisor.Event{ID: ev.id, State: st, Reason: reason})
		return
	}
	if !known {
		if d.foreign[ev.id] {
			return
		}
		managed, sure := d.isManaged(ev.id)
		if !managed {
			if sure {
				d.foreign[ev.id] = true
			}
			return
		}
	}
	d.seen[ev.id] = st
	d.emit(hypervisor.Event{ID: ev.id, State: st, Reason: reason})
}

// isManaged looks a domain up to tell whether it carries NovaCron metadata;
// sure is false when the lookup itself failed, and when the domain is gone:
// a late event about a managed domain that has just left (migrated away) must
// not mark its ID foreign, or its events would be ignored should it return.
func (d *Driver) isManaged(id string) (managed, sure bool) {
	ctx, cancel := context.WithTimeout(d.bg, 10*time.Second)
	defer cancel()
	exists := false
	err := d.call(ctx, func(c *golibvirt.Connect) error {
		dom, _, err := d.lookup(c, id) // marks it known when managed
		if err == nil {
			dom.Free()
			return nil
		}
		if other, lerr := c.LookupDomainByUUIDString(strings.ToLower(id)); lerr == nil {
			other.Free()
			exists = true
		}
		return err
	})
	return err == nil, err == nil || (exists && errors.Is(err, hypervisor.ErrNotFound))
}

// resync lists the managed domains and, when emit is set, sends an event for
// each whose state differs from the last one seen, and for each that vanished.
// It then remembers the states. Failures are logged: the next tick retries.
func (d *Driver) resync(emit bool) {
	ctx, cancel := context.WithTimeout(d.bg, 30*time.Second)
	defer cancel()
	doms, err := d.List(ctx)
	if err != nil {
		d.logger.Debug("resync: listing domains", "error", err)
		return
	}
	present := make(map[string]bool, len(doms))
	for _, dom := range doms {
		present[dom.ID] = true
		if last, ok := d.seen[dom.ID]; ok && last == dom.State {
			continue
		}
		d.seen[dom.ID] = dom.State
		if emit {
			d.logger.Debug("resync found a state change", "id", dom.ID, "state", dom.State, "reason", dom.Reason)
			d.emit(hypervisor.Event{ID: dom.ID, State: dom.State, Reason: dom.Reason})
		}
	}
	for id := range d.seen {
		if present[id] {
			continue
		}
		delete(d.seen, id)
		d.setKnown(id, false)
		reason := "undefined"
		if d.incoming[id] {
			// Its STOPPED event is still queued behind this resync.
			delete(d.incoming, id)
			reason = reasonIncomingFailed
		}
		if emit {
			d.emit(hypervisor.Event{ID: id, State: hypervisor.StateStopped, Reason: reason})
		}
	}
}

// emit sends without blocking: a stuck consumer must not stop the watcher.
// Only the watcher (and New, before it starts) calls it, and Close closes the
// channel only after the watcher has returned.
func (d *Driver) emit(ev hypervisor.Event) {
	select {
	case d.events <- ev:
	default:
		d.logger.Debug("event dropped: channel full", "id", ev.ID, "state", ev.State)
	}
}
