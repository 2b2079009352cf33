package libvirt

import (
	golibvirt "libvirt.org/go/libvirt"
)

// reasonIncomingFailed is the event reason of a domain whose incoming
// migration failed or was cancelled: libvirt kills the half-copied domain on
// the destination (STOPPED "failed"), which is no crash of a guest.
const reasonIncomingFailed = "incoming migration failed"

// incomingFailed follows migrations into this host through the events and
// reports whether ev ends one that failed. A migrated domain starts on the
// destination with STARTED "migrated" and, when the copy succeeds, is defined
// (PERSIST_DEST) and resumed there; when it fails it is killed with STOPPED
// "failed", which translate alone would report as a crash. Only the watcher
// calls it: it owns d.incoming. When the resync sees the domain gone before
// that event is handled, it reports the same reason (see resync).
//
// The source of a migration needs nothing of the kind: its domain leaves with
// SUSPENDED "migrated" and STOPPED "migrated", which translate already reports
// as paused and stopped, and with UNDEFINE_SOURCE libvirt then removes it
// without an UNDEFINED event (the resync reports it gone, reason "undefined").
func (d *Driver) incomingFailed(ev rawEvent) bool {
	if ev.reboot {
		return false
	}
	switch ev.kind {
	case golibvirt.DOMAIN_EVENT_STARTED:
		if ev.detail == int(golibvirt.DOMAIN_EVENT_STARTED_MIGRATED) {
			d.incoming[ev.id] = true
		} else {
			delete(d.incoming, ev.id)
		}
	case golibvirt.DOMAIN_EVENT_STOPPED:
		was := d.incoming[ev.id]
		delete(d.incoming, ev.id)
		return was
	case golibvirt.DOMAIN_EVENT_DEFINED, golibvirt.DOMAIN_EVENT_RESUMED, golibvirt.DOMAIN_EVENT_UNDEFINED:
		delete(d.incoming, ev.id)
	}
	return false
}
