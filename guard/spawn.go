package guard

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Process is a guard the agent started with Spawn.
type Process struct {
	l    *Lease
	cmd  *exec.Cmd
	done chan struct{}
	err  error // the exit status, set before done closes
}

// Spawn starts the guard, exe with args (`novacron guard --lease ...`), as a
// child in a process group of its own: a SIGSTOP or SIGKILL sent to the
// agent, or to the agent's group from a terminal, does not reach it, and it
// outlives the agent on purpose (to fence when the agent dies). It shares the
// agent's stderr and environment, and clears a disarm left in l. To replace a
// guard that hangs, Kill it first: only one process may hold the watchdog.
func Spawn(l *Lease, exe string, args ...string) (*Process, error) {
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	l.store(offDisarm, 0)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start guard: %w", err)
	}
	p := &Process{l: l, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid is the guard's process ID (and its process group's).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the guard has exited; the agent then fences by itself
// or starts another.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the guard's exit status once Done is closed (nil for a clean exit).
func (p *Process) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// WaitAlive waits up to timeout for the guard's first heartbeat, so the agent
// knows it is guarded before it runs HA domains.
func (p *Process) WaitAlive(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if p.l.load(offGuardPID) == int64(p.Pid()) && p.l.GuardAlive(timeout) {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("guard exited before its first heartbeat: %v", p.err)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("guard wrote no heartbeat in time")
		}
	}
}

// Stop is the agent's clean stop: it disarms the lease, so the guard exits
// without fencing and disarms the watchdog, and waits up to timeout for it to
// exit; a guard that does not is killed.
func (p *Process) Stop(timeout time.Duration) error {
	p.l.Disarm()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.done:
		return p.exitErr()
	case <-timer.C:
	}
	p.Kill()
	<-p.done
	return fmt.Errorf("guard did not exit within %s after disarm; killed", timeout)
}

// Kill kills the guard at once (SIGKILL), without disarming: an armed
// watchdog stays armed. For a guard that hangs; start another after Done.
func (p *Process) Kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
}

// exitErr is the exit status, with the guard's deliberate exit (status 0)
// as nil.
func (p *Process) exitErr() error {
	if p.err != nil {
		return fmt.Errorf("guard: %w", p.err)
	}
	return nil
}
