package libvirt

import (
	golibvirt "libvirt.org/go/libvirt"

	"github.com/novacron/novacron/hypervisor"
)

// Reason words, as `virsh domstate --reason` prints them, for each libvirt state.
var (
	runningReasons = map[golibvirt.DomainRunningReason]string{
		golibvirt.DOMAIN_RUNNING_BOOTED: "booted", golibvirt.DOMAIN_RUNNING_MIGRATED: "migrated",
		golibvirt.DOMAIN_RUNNING_RESTORED: "restored", golibvirt.DOMAIN_RUNNING_FROM_SNAPSHOT: "from snapshot",
		golibvirt.DOMAIN_RUNNING_UNPAUSED: "unpaused", golibvirt.DOMAIN_RUNNING_MIGRATION_CANCELED: "migration canceled",
		golibvirt.DOMAIN_RUNNING_SAVE_CANCELED: "save canceled", golibvirt.DOMAIN_RUNNING_WAKEUP: "event wakeup",
		golibvirt.DOMAIN_RUNNING_CRASHED: "crashed", golibvirt.DOMAIN_RUNNING_POSTCOPY: "post-copy",
		golibvirt.DOMAIN_RUNNING_POSTCOPY_FAILED: "post-copy failed",
	}
	pausedReasons = map[golibvirt.DomainPausedReason]string{
		golibvirt.DOMAIN_PAUSED_USER: "user", golibvirt.DOMAIN_PAUSED_MIGRATION: "migrating",
		golibvirt.DOMAIN_PAUSED_SAVE: "saving", golibvirt.DOMAIN_PAUSED_DUMP: "dumping",
		golibvirt.DOMAIN_PAUSED_IOERROR: "I/O error", golibvirt.DOMAIN_PAUSED_WATCHDOG: "watchdog",
		golibvirt.DOMAIN_PAUSED_FROM_SNAPSHOT: "from snapshot", golibvirt.DOMAIN_PAUSED_SHUTTING_DOWN: "shutting down",
		golibvirt.DOMAIN_PAUSED_SNAPSHOT: "creating snapshot", golibvirt.DOMAIN_PAUSED_CRASHED: "crashed",
		golibvirt.DOMAIN_PAUSED_STARTING_UP: "starting up", golibvirt.DOMAIN_PAUSED_POSTCOPY: "post-copy",
		golibvirt.DOMAIN_PAUSED_POSTCOPY_FAILED: "post-copy failed", golibvirt.DOMAIN_PAUSED_API_ERROR: "api error",
	}
	shutoffReasons = map[golibvirt.DomainShutoffReason]string{
		golibvirt.DOMAIN_SHUTOFF_SHUTDOWN: "shutdown", golibvirt.DOMAIN_SHUTOFF_DESTROYED: "destroyed",
		golibvirt.DOMAIN_SHUTOFF_CRASHED: "crashed", golibvirt.DOMAIN_SHUTOFF_MIGRATED: "migrated",
		golibvirt.DOMAIN_SHUTOFF_SAVED: "saved", golibvirt.DOMAIN_SHUTOFF_FAILED: "failed",
		golibvirt.DOMAIN_SHUTOFF_FROM_SNAPSHOT: "from snapshot", golibvirt.DOMAIN_SHUTOFF_DAEMON: "daemon",
	}
	crashedReasons = map[golibvirt.DomainCrashedReason]string{golibvirt.DOMAIN_CRASHED_PANICKED: "panicked"}
)

// word returns the reason word for r, "unknown" when libvirt gives none.
func word[K comparable](m map[K]string, r K) string {
	if w, ok := m[r]; ok {
		return w
	}
	return "unknown"
}

// classify maps libvirt's state and reason to the driver's state and reason
// word. requested says this driver stopped the domain on request: a domain
// destroyed that way is stopped, not crashed.
func classify(st golibvirt.DomainState, reason int, requested bool) (hypervisor.DomainState, string) {
	switch st {
	case golibvirt.DOMAIN_RUNNING:
		return hypervisor.StateRunning, word(runningReasons, golibvirt.DomainRunningReason(reason))
	case golibvirt.DOMAIN_BLOCKED:
		return hypervisor.StateRunning, "blocked"
	case golibvirt.DOMAIN_SHUTDOWN:
		// Shutting down: the guest still runs until it powers off.
		return hypervisor.StateRunning, "shutting down"
	case golibvirt.DOMAIN_PAUSED:
		return hypervisor.StatePaused, word(pausedReasons, golibvirt.DomainPausedReason(reason))
	case golibvirt.DOMAIN_PMSUSPENDED:
		return hypervisor.StatePaused, "pmsuspended"
	case golibvirt.DOMAIN_CRASHED:
		w := word(crashedReasons, golibvirt.DomainCrashedReason(reason))
		if requested {
			return hypervisor.StateStopped, w
		}
		return hypervisor.StateCrashed, w
	case golibvirt.DOMAIN_SHUTOFF:
		r := golibvirt.DomainShutoffReason(reason)
		w := word(shutoffReasons, r)
		switch r {
		case golibvirt.DOMAIN_SHUTOFF_DESTROYED, golibvirt.DOMAIN_SHUTOFF_CRASHED,
			golibvirt.DOMAIN_SHUTOFF_FAILED, golibvirt.DOMAIN_SHUTOFF_DAEMON:
			if !requested {
				return hypervisor.StateCrashed, w
			}
		}
		return hypervisor.StateStopped, w
	}
	return hypervisor.StateStopped, "unknown"
}

// active reports whether a libvirt state has a QEMU process behind it. A
// crashed domain is active (libvirt keeps it for inspection) until destroyed,
// though with on_crash=destroy managed domains do not stay crashed.
func active(st golibvirt.DomainState) bool {
	return st != golibvirt.DOMAIN_SHUTOFF && st != golibvirt.DOMAIN_NOSTATE
}

// translate maps a lifecycle event to the state it leaves the domain in. ok is
// false for events that change no run state (defined, shutdown begun).
func translate(ev golibvirt.DomainEventType, detail int, requested bool) (st hypervisor.DomainState, reason string, ok bool) {
	pick := func(words map[int]string) string {
		if w, ok := words[detail]; ok {
			return w
		}
		return "unknown"
	}
	switch ev {
	case golibvirt.DOMAIN_EVENT_STARTED:
		return hypervisor.StateRunning, pick(map[int]string{
			int(golibvirt.DOMAIN_EVENT_STARTED_BOOTED): "booted", int(golibvirt.DOMAIN_EVENT_STARTED_MIGRATED): "migrated",
			int(golibvirt.DOMAIN_EVENT_STARTED_RESTORED): "restored", int(golibvirt.DOMAIN_EVENT_STARTED_FROM_SNAPSHOT): "from snapshot",
			int(golibvirt.DOMAIN_EVENT_STARTED_WAKEUP): "wakeup", int(golibvirt.DOMAIN_EVENT_STARTED_RECREATED): "recreated",
		}), true
	case golibvirt.DOMAIN_EVENT_SUSPENDED:
		return hypervisor.StatePaused, pick(map[int]string{
			int(golibvirt.DOMAIN_EVENT_SUSPENDED_PAUSED): "paused", int(golibvirt.DOMAIN_EVENT_SUSPENDED_MIGRATED): "migrated",
			int(golibvirt.DOMAIN_EVENT_SUSPENDED_IOERROR): "ioerror", int(golibvirt.DOMAIN_EVENT_SUSPENDED_WATCHDOG): "watchdog",
			int(golibvirt.DOMAIN_EVENT_SUSPENDED_RESTORED): "restored", int(golibvirt.DOMAIN_EVENT_SUSPENDED_FROM_SNAPSHOT): "from snapshot",
			int(golibvirt.DOMAIN_EVENT_SUSPENDED_API_ERROR): "api error", int(golibvirt.DOMAIN_EVENT_SUSPENDED_POSTCOPY): "post-copy",
			int(golibvirt.DOMAIN_EVENT_SUSPENDED_POSTCOPY_FAILED): "post-copy failed",
		}), true
	case golibvirt.DOMAIN_EVENT_RESUMED:
		return hypervisor.StateRunning, pick(map[int]string{
			int(golibvirt.DOMAIN_EVENT_RESUMED_UNPAUSED): "unpaused", int(golibvirt.DOMAIN_EVENT_RESUMED_MIGRATED): "migrated",
			int(golibvirt.DOMAIN_EVENT_RESUMED_FROM_SNAPSHOT): "from snapshot", int(golibvirt.DOMAIN_EVENT_RESUMED_POSTCOPY): "post-copy",
			int(golibvirt.DOMAIN_EVENT_RESUMED_POSTCOPY_FAILED): "post-copy failed",
		}), true
	case golibvirt.DOMAIN_EVENT_STOPPED:
		st := hypervisor.StateStopped
		switch golibvirt.DomainEventStoppedDetailType(detail) {
		case golibvirt.DOMAIN_EVENT_STOPPED_DESTROYED, golibvirt.DOMAIN_EVENT_STOPPED_CRASHED, golibvirt.DOMAIN_EVENT_STOPPED_FAILED:
			if !requested {
				st = hypervisor.StateCrashed
			}
		}
		return st, pick(map[int]string{
			int(golibvirt.DOMAIN_EVENT_STOPPED_SHUTDOWN): "shutdown", int(golibvirt.DOMAIN_EVENT_STOPPED_DESTROYED): "destroyed",
			int(golibvirt.DOMAIN_EVENT_STOPPED_CRASHED): "crashed", int(golibvirt.DOMAIN_EVENT_STOPPED_MIGRATED): "migrated",
			int(golibvirt.DOMAIN_EVENT_STOPPED_SAVED): "saved", int(golibvirt.DOMAIN_EVENT_STOPPED_FAILED): "failed",
			int(golibvirt.DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT): "from snapshot", int(golibvirt.DOMAIN_EVENT_STOPPED_RECREATED): "recreated",
		}), true
	case golibvirt.DOMAIN_EVENT_PMSUSPENDED:
		return hypervisor.StatePaused, "pmsuspended", true
	case golibvirt.DOMAIN_EVENT_CRASHED:
		st := hypervisor.StateCrashed
		if requested {
			st = hypervisor.StateStopped
		}
		return st, pick(map[int]string{
			int(golibvirt.DOMAIN_EVENT_CRASHED_PANICKED): "panicked", int(golibvirt.DOMAIN_EVENT_CRASHED_CRASHLOADED): "crashloaded",
		}), true
	case golibvirt.DOMAIN_EVENT_UNDEFINED:
		return hypervisor.StateStopped, "undefined", true
	}
	return "", "", false
}
