package labrun

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The machine-wide lab lock. Every test process that starts private libvirtds
// or a lab (labtest, the libvirt driver's lab tests) holds it while it runs,
// so that two `make test` runs on one machine never share libvirt hosts,
// migration ports, lab addresses or the guest image cache being built. The
// test processes of one run (`go test ./...` runs packages in parallel, one
// process each) share it; a process of another run waits a bounded time and
// then fails with ErrBusy, naming who holds the lock since when.
//
// It is a flock(2), so the kernel drops it when its holders die: no stale lock
// survives a crash. A lab's watchdog inherits it (see StartWatchdog), so a lab
// whose test process died stays locked until the watchdog has taken it down.
const (
	// DefaultLockDir holds the lock (a tmpfs: nothing of it survives a reboot).
	DefaultLockDir = "/run/novacron-lab"
	// DefaultLockWait is how long a second run waits for the lock: long enough
	// for a finishing run to take its labs down, far shorter than a run.
	DefaultLockWait = 2 * time.Minute
	// LockWaitEnv overrides DefaultLockWait (a Go duration: 10m, 0s).
	LockWaitEnv = "NOVACRON_LAB_LOCK_WAIT"
	// LockDirEnv overrides DefaultLockDir.
	LockDirEnv = "NOVACRON_LAB_LOCK_DIR"
	// RunEnv names the run a test process belongs to; by default it is the
	// process's parent (the `go test` command) with its start time.
	RunEnv = "NOVACRON_LAB_RUN"
)

// ErrBusy means another run holds the lab lock.
var ErrBusy = errors.New("the lab is busy")

// lockPollInterval is how often a waiting process tries the lock again.
const lockPollInterval = 250 * time.Millisecond

// Lock is one process's hold on the lab lock.
type Lock struct {
	f *os.File
	// Owner is the run that holds the lock (this one).
	Owner Owner
}

// Owner is the record in the lock file: which run holds the lock, since when,
// and the processes that took it.
type Owner struct {
	Run     string    `json:"run"`
	RunCmd  string    `json:"run_cmd,omitempty"`
	Since   time.Time `json:"since"`
	Holders []Holder  `json:"holders"`
}

// Holder is one process that took the lock.
type Holder struct {
	PID int    `json:"pid"`
	Cmd string `json:"cmd"`
}

// File is the open lock file; a child process that inherits it (ExtraFiles)
// keeps the lock held until it exits.
func (l *Lock) File() *os.File { return l.f }

// Release drops this process's hold; the lock is free once every holder of
// the run has released it or exited.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// AcquireLock takes the lab lock in dir for run, joining the run's other
// processes if they hold it, and waits up to wait while another run does.
func AcquireLock(dir, run string, wait time.Duration) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lab lock: %w", err)
	}
	deadline := time.Now().Add(wait)
	tick := time.NewTicker(lockPollInterval)
	defer tick.Stop()
	told := false
	var owner Owner
	for {
		l, o, err := tryLock(dir, run)
		if l != nil || err != nil {
			return l, err
		}
		if o.Run != "" { // "" while another process passes the gate
			owner = o
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("%w: %s (waited %s for it; set %s=10m to wait longer)", ErrBusy, owner.describe(), wait, LockWaitEnv)
		}
		if !told && owner.Run != "" {
			fmt.Fprintf(os.Stderr, "labrun: %s: %s; waiting up to %s (lock %s)\n", ErrBusy, owner.describe(), wait, filepath.Join(dir, "lock"))
			told = true
		}
		<-tick.C
	}
}

// tryLock makes one attempt; it returns the lock, or the owner of a lock held
// by another run, or an error that waiting does not cure.
func tryLock(dir, run string) (*Lock, Owner, error) {
	// The gate serializes attempts: taking the lock is read the record, lock,
	// write the record, and Linux converts a flock from exclusive to shared
	// by dropping it first.
	gate, err := flockNB(filepath.Join(dir, "gate"), syscall.LOCK_EX)
	if err != nil {
		return nil, Owner{}, err
	}
	if gate == nil {
		return nil, Owner{}, nil
	}
	defer gate.Close()
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, Owner{}, fmt.Errorf("lab lock: %w", err)
	}
	me := Holder{PID: os.Getpid(), Cmd: cmdline(os.Getpid())}
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
		// Nobody holds it: this run owns it now.
		owner := Owner{Run: run, RunCmd: runCmd(), Since: time.Now().Round(time.Second), Holders: []Holder{me}}
		if err := writeOwner(f, owner); err != nil {
			f.Close()
			return nil, Owner{}, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
			f.Close()
			return nil, Owner{}, fmt.Errorf("lab lock: share %s: %w", path, err)
		}
		return &Lock{f: f, Owner: owner}, Owner{}, nil
	}
	owner, err := readOwner(f)
	if err != nil {
		f.Close()
		return nil, Owner{}, err
	}
	if owner.Run != run {
		f.Close()
		return nil, owner, nil
	}
	// Another process of this run holds it (shared): join.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, owner, nil
	}
	owner.Holders = append(owner.Holders, me)
	if err := writeOwner(f, owner); err != nil {
		f.Close()
		return nil, Owner{}, err
	}
	return &Lock{f: f, Owner: owner}, Owner{}, nil
}

// flockNB opens path and flocks it without waiting; nil when it is taken.
func flockNB(path string, how int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lab lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("lab lock: flock %s: %w", path, err)
	}
	return f, nil
}

func writeOwner(f *os.File, o Owner) error {
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("lab lock: %w", err)
	}
	if _, err := f.WriteAt(append(b, '\n'), 0); err != nil {
		return fmt.Errorf("lab lock: %w", err)
	}
	return nil
}

func readOwner(f *os.File) (Owner, error) {
	var o Owner
	b, err := os.ReadFile(f.Name())
	if err != nil {
		return o, fmt.Errorf("lab lock: %w", err)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return Owner{Run: "(unknown: the lock file has no record)"}, nil
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return Owner{Run: "(unknown: " + err.Error() + ")"}, nil
	}
	return o, nil
}

// describe says who holds the lock, for the busy message: the holders still
// alive, or that they are gone (a lab watchdog is then taking a lab down).
func (o Owner) describe() string {
	var alive []string
	seen := map[int]bool{}
	for _, h := range o.Holders {
		if !seen[h.PID] && processAlive(h.PID) {
			seen[h.PID] = true
			alive = append(alive, fmt.Sprintf("pid %d (%s)", h.PID, h.Cmd))
		}
	}
	s := "held by "
	switch {
	case len(alive) > 0:
		s += strings.Join(alive, ", ")
	case len(o.Holders) > 0:
		s += fmt.Sprintf("pid %d, which has exited (its lab watchdog is still taking its lab down)", o.Holders[0].PID)
	default:
		s += "an unknown process"
	}
	if o.RunCmd != "" {
		s += " of `" + o.RunCmd + "`"
	}
	if !o.Since.IsZero() {
		s += fmt.Sprintf(" since %s (%s ago)", o.Since.Format(time.DateTime), time.Since(o.Since).Round(time.Second))
	}
	return s
}

func processAlive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) == nil
}

// cmdline is the process's command line, shortened.
func cmdline(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return "?"
	}
	s := strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// ThisRun is the run this process belongs to: $NOVACRON_LAB_RUN, else its
// parent process (the `go test` command that runs every package of a run)
// with the parent's start time, so a reused pid is another run.
func ThisRun() string {
	if r := os.Getenv(RunEnv); r != "" {
		return r
	}
	ppid := os.Getppid()
	return "pid " + strconv.Itoa(ppid) + " started " + startTime(ppid)
}

// runCmd describes the run for the busy message: the parent's command line.
func runCmd() string {
	if r := os.Getenv(RunEnv); r != "" {
		return RunEnv + "=" + r
	}
	return cmdline(os.Getppid())
}

// startTime is field 22 of /proc/PID/stat (clock ticks since boot).
func startTime(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "?"
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s)
	if len(f) < 20 {
		return "?"
	}
	return f[19] // field 22 of the whole line; fields 1-2 are cut off
}

var (
	machineOnce sync.Once
	machineLock *Lock
	machineErr  error
)

// MachineLock takes the machine-wide lab lock for this process, once: later
// calls return the same lock (or error). It is held until the process exits.
// $NOVACRON_LAB_LOCK_DIR and $NOVACRON_LAB_LOCK_WAIT override the folder and
// the wait.
func MachineLock() (*Lock, error) {
	machineOnce.Do(func() {
		dir := DefaultLockDir
		if d := os.Getenv(LockDirEnv); d != "" {
			dir = d
		}
		wait := DefaultLockWait
		if w := os.Getenv(LockWaitEnv); w != "" {
			d, err := time.ParseDuration(w)
			if err != nil || d < 0 {
				machineErr = fmt.Errorf("%s=%q: want a duration such as 10m", LockWaitEnv, w)
				return
			}
			wait = d
		}
		machineLock, machineErr = AcquireLock(dir, ThisRun(), wait)
	})
	return machineLock, machineErr
}
