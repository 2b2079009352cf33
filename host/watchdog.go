package host

import "os"

// watchdog pets a watchdog device (softdog) while the host is safe (see
// hostLease.safe), so a host whose agent hangs, or whose fence does not
// finish, is reset by its kernel before the leader restarts its VMs elsewhere.
// Without a device it does nothing.
type watchdog struct {
	f *os.File
}

func openWatchdog(path string) (*watchdog, error) {
	if path == "" {
		return &watchdog{}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	return &watchdog{f: f}, nil
}

func (w *watchdog) pet(safe bool) {
	if w.f != nil && safe {
		w.f.Write([]byte{'1'})
	}
}

// close disarms the watchdog on a clean stop (the magic close character).
func (w *watchdog) close() {
	if w.f != nil {
		w.f.Write([]byte{'V'})
		w.f.Close()
	}
}
