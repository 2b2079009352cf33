package guard

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The lease file is one page of 64-bit fields in host byte order, each read
// and written only with sync/atomic. magic is written last when a file is
// initialized, so a reader that sees it sees the rest.
const (
	offMagic          = 0  // leaseMagic
	offVersion        = 8  // leaseVersion
	offBootHi         = 16 // boot ID: a monotonic time means nothing after a reboot
	offBootLo         = 24
	offDeadline       = 32 // agent: lease deadline, monotonic ns; 0 = not armed
	offHeartbeat      = 40 // guard: last heartbeat, monotonic ns
	offOwnerPID       = 48 // agent: pid of the agent that owns the file
	offGuardPID       = 56 // guard: pid of the guard that serves it
	offDisarm         = 64 // agent: 1 = clean stop, exit without fencing
	offFencedDeadline = 72 // guard: the deadline whose lapse it has fenced
	offFences         = 80 // guard: fences completed since the file was made
	offFencing        = 88 // guard: deadline being fenced now, 0 = none
	offDomainsGen     = 96 // agent: bumped after each side file rename

	leaseSize    = 4096
	leaseMagic   = 0x4e43475541524431 // "NCGUARD1"
	leaseVersion = 1
)

// Errors of the lease file.
var (
	// ErrBadLease: the file is not a lease file of this version.
	ErrBadLease = errors.New("not a guard lease file of this version")
	// ErrClosed: the Lease was closed.
	ErrClosed = errors.New("guard lease closed")
)

// Lease is one process's mapping of the lease file. The agent opens it with
// OpenLease; the guard maps the same file. Methods are safe for concurrent
// use, and every field is read and written atomically, so the two processes
// need no lock.
type Lease struct {
	path string
	mem  []byte
}

// MonotonicNow is CLOCK_MONOTONIC in nanoseconds: the clock the lease
// deadline and the heartbeat are counted in.
func MonotonicNow() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic("guard: clock_gettime(CLOCK_MONOTONIC): " + err.Error())
	}
	return ts.Nano()
}

// OpenLease opens the lease file at path for the agent, creating it (mode
// 0600) when missing or not a lease file of this boot, and makes the calling
// process its owner. It keeps the deadline an earlier agent left in this boot:
// the leader counts from the last renewal it saw, whoever sent it. Put the
// file on tmpfs (/run): it is written every renewal and needs no durability.
func OpenLease(path string) (*Lease, error) {
	l, err := mapLease(path, true)
	if err != nil {
		return nil, err
	}
	l.store(offOwnerPID, int64(os.Getpid()))
	l.store(offDisarm, 0)
	return l, nil
}

// openGuardLease maps an existing, initialized lease file for the guard.
func openGuardLease(path string) (*Lease, error) { return mapLease(path, false) }

func mapLease(path string, create bool) (*Lease, error) {
	flags := os.O_RDWR
	if create {
		flags |= os.O_CREATE
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return nil, fmt.Errorf("guard lease: %w", err)
	}
	defer f.Close() // the mapping outlives the descriptor
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("guard lease: %w", err)
	}
	if st.Size() != leaseSize {
		if !create {
			return nil, fmt.Errorf("guard lease %s: %w (size %d)", path, ErrBadLease, st.Size())
		}
		if err := f.Truncate(leaseSize); err != nil {
			return nil, fmt.Errorf("guard lease: %w", err)
		}
	}
	mem, err := unix.Mmap(int(f.Fd()), 0, leaseSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("guard lease: mmap %s: %w", path, err)
	}
	l := &Lease{path: path, mem: mem}
	hi, lo := bootID()
	valid := l.load(offMagic) == leaseMagic && l.load(offVersion) == leaseVersion
	if valid && (l.load(offBootHi) != hi || l.load(offBootLo) != lo) {
		valid = false // left by an earlier boot: its monotonic times are void
	}
	if !valid {
		if !create {
			l.Close()
			return nil, fmt.Errorf("guard lease %s: %w", path, ErrBadLease)
		}
		l.store(offMagic, 0)
		for off := 8; off < leaseSize; off += 8 {
			l.store(off, 0)
		}
		l.store(offVersion, leaseVersion)
		l.store(offBootHi, hi)
		l.store(offBootLo, lo)
		l.store(offMagic, leaseMagic)
	}
	return l, nil
}

// Path is the lease file's path.
func (l *Lease) Path() string { return l.path }

// Close unmaps the file. The file stays: the guard may still be using it.
func (l *Lease) Close() error {
	if l.mem == nil {
		return nil
	}
	err := unix.Munmap(l.mem)
	l.mem = nil
	return err
}

// Renew moves the lease deadline forward to until, a time read from this
// process's clock (its monotonic reading is what counts). A deadline earlier
// than the one held is ignored, as a late renewal must not shorten the lease.
func (l *Lease) Renew(until time.Time) {
	now := MonotonicNow() // read first: the stored deadline errs early, never late
	l.RenewMonotonic(now + int64(time.Until(until)))
}

// RenewMonotonic is Renew with the deadline in CLOCK_MONOTONIC nanoseconds.
func (l *Lease) RenewMonotonic(deadline int64) {
	p := l.ptr(offDeadline)
	for {
		old := atomic.LoadInt64(p)
		if deadline <= old || atomic.CompareAndSwapInt64(p, old, deadline) {
			return
		}
	}
}

// Deadline is the lease deadline in monotonic ns; 0 before the first renewal.
func (l *Lease) Deadline() int64 { return l.load(offDeadline) }

// GuardAlive reports whether the guard wrote its heartbeat within maxAge. An
// agent whose guard is not alive must fence by itself.
func (l *Lease) GuardAlive(maxAge time.Duration) bool {
	hb := l.load(offHeartbeat)
	return hb != 0 && MonotonicNow()-hb <= int64(maxAge)
}

// GuardPID is the pid of the guard serving the file (0 if none started yet).
func (l *Lease) GuardPID() int { return int(l.load(offGuardPID)) }

// Disarm tells the guard that the agent stops cleanly: it exits without
// fencing and disarms the watchdog.
func (l *Lease) Disarm() { l.store(offDisarm, 1) }

// Fences counts the fences the guard has completed on this file; the agent
// compares it across renewals to learn that its domains were stopped.
func (l *Lease) Fences() uint64 { return uint64(l.load(offFences)) }

// Fenced reports whether the guard has fenced the current deadline's lapse.
func (l *Lease) Fenced() bool {
	d := l.load(offDeadline)
	return d != 0 && l.load(offFencedDeadline) == d
}

// Fencing reports whether the guard is fencing now.
func (l *Lease) Fencing() bool { return l.load(offFencing) != 0 }

func (l *Lease) ptr(off int) *int64 {
	if l.mem == nil {
		panic(ErrClosed)
	}
	return (*int64)(unsafe.Pointer(&l.mem[off]))
}

func (l *Lease) load(off int) int64         { return atomic.LoadInt64(l.ptr(off)) }
func (l *Lease) store(off int, v int64)     { atomic.StoreInt64(l.ptr(off), v) }
func (l *Lease) add(off int, d int64) int64 { return atomic.AddInt64(l.ptr(off), d) }

// bootID is the kernel's boot ID (two halves of its UUID), or zeros when it
// cannot be read.
func bootID() (hi, lo int64) {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return 0, 0
	}
	var h [2]uint64
	n := 0
	for _, c := range b {
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		default:
			continue
		}
		if n < 32 {
			h[n/16] = h[n/16]<<4 | uint64(v)
			n++
		}
	}
	return int64(h[0]), int64(h[1])
}
