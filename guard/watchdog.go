package guard

import "os"

// Watchdog pets a watchdog device (/dev/watchdog, softdog) while the host is
// safe, so a host whose guard and agent hang, or whose fence does not finish,
// is reset by its kernel before the leader restarts its VMs elsewhere. Without
// a device it does nothing. The guard holds it when one runs; the agent holds
// it itself otherwise (the sim hypervisor). Only one process may open it.
type Watchdog struct{ f *os.File }

// OpenWatchdog opens the device at path, which arms it; "" for none.
func OpenWatchdog(path string) (*Watchdog, error) {
	if path == "" {
		return &Watchdog{}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	return &Watchdog{f: f}, nil
}

// Pet keeps the kernel from resetting the host, if safe.
func (w *Watchdog) Pet(safe bool) {
	if w.f != nil && safe {
		w.f.Write([]byte{'1'})
	}
}

// Disarm stops the watchdog on a clean exit (the magic close character).
func (w *Watchdog) Disarm() {
	if w.f != nil {
		w.f.Write([]byte{'V'})
		w.f.Close()
	}
}

// Abandon closes the device leaving it armed: unless someone pets it again,
// the kernel resets the host.
func (w *Watchdog) Abandon() {
	if w.f != nil {
		w.f.Close()
	}
}
