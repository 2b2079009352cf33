package libvirt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/novacron/novacron/hypervisor"
)

const libvirtdPidFile = "/run/libvirtd.pid"

// libvirtdPid returns the pid of the running libvirtd started by hand (no
// systemd on the lab machines), or skips.
func libvirtdPid(t *testing.T) int {
	t.Helper()
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("libvirtd is managed by systemd here; this test restarts a hand-started libvirtd")
	}
	b, err := os.ReadFile(libvirtdPidFile)
	if err != nil {
		t.Skipf("no %s: %v", libvirtdPidFile, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Skipf("bad %s: %v", libvirtdPidFile, err)
	}
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) != "libvirtd" {
		t.Skipf("pid %d from %s is not libvirtd", pid, libvirtdPidFile)
	}
	return pid
}

func startLibvirtd(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := run(ctx, "", "libvirtd", "-d"); err != nil {
		t.Fatalf("libvirtd -d: %v %s", err, out)
	}
}

func processGone(pid int) error {
	if err := syscall.Kill(pid, 0); err == nil {
		return fmt.Errorf("pid %d still exists", pid)
	}
	return nil
}

func TestQEMU_ReconnectsAfterLibvirtdRestart(t *testing.T) {
	d := newQEMUDriver(t)
	pid := libvirtdPid(t)
	// Whatever happens, leave a libvirtd running.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := run(ctx, "", "virsh", "-c", qemuURI, "version"); err != nil {
			startLibvirtd(t)
		}
	})
	ctx := ctxT(t, 5*time.Minute)
	keep, keepDom := guestSpec(t, "keeps-running")
	lost, lostDom := guestSpec(t, "dies-unseen")
	for _, s := range []hypervisor.DomainSpec{keep, lost} {
		if err := d.Start(ctx, s); err != nil {
			t.Fatal(err)
		}
		waitEvent(t, d, s.ID, 30*time.Second, stateIs(hypervisor.StateRunning))
	}
	keepPid, lostPid := qemuPid(t, keepDom), qemuPid(t, lostDom)

	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "libvirtd exits", func() error { return processGone(pid) })
	eventually(t, 10*time.Second, "the driver reports the lost connection", func() error {
		_, err := d.List(ctx)
		if !errors.Is(err, ErrDisconnected) {
			return fmt.Errorf("List: %v", err)
		}
		return nil
	})
	_, err := d.Inspect(ctx, keep.ID)
	t.Logf("while libvirtd is down: %v", err)
	// A guest dies while nobody watches: its event can only come from the resync.
	lp, _ := strconv.Atoi(lostPid)
	if err := syscall.Kill(lp, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "QEMU of "+lostDom+" exits", func() error { return processGone(lp) })

	restarted := time.Now()
	startLibvirtd(t)
	eventually(t, time.Minute, "List works again", func() error {
		_, err := d.List(ctx)
		return err
	})
	t.Logf("libvirtd started -> driver answers again: %s", time.Since(restarted).Round(time.Millisecond))

	wantState(t, d, keep.ID, hypervisor.StateRunning)
	if got := domstate(t, keepDom); got != "running" {
		t.Fatalf("virsh domstate %s: %q", keepDom, got)
	}
	if now := qemuPid(t, keepDom); now != keepPid {
		t.Fatalf("QEMU of %s changed from %s to %s", keepDom, keepPid, now)
	}
	ev := waitEvent(t, d, lost.ID, 15*time.Second, func(ev hypervisor.Event) bool { return ev.State != hypervisor.StateRunning })
	t.Logf("event for the guest that died during the outage: %+v (virsh: %s)", ev, domstate(t, lostDom))
	if ev.State != hypervisor.StateCrashed {
		t.Fatalf("event %+v, want crashed", ev)
	}
	wantState(t, d, lost.ID, hypervisor.StateCrashed)

	// Events flow on the new connection.
	if out, err := virsh(t, "suspend", keepDom); err != nil {
		t.Fatalf("virsh suspend: %v %s", err, out)
	}
	waitEvent(t, d, keep.ID, 10*time.Second, stateIs(hypervisor.StatePaused))
	if out, err := virsh(t, "resume", keepDom); err != nil {
		t.Fatalf("virsh resume: %v %s", err, out)
	}
	waitEvent(t, d, keep.ID, 10*time.Second, stateIs(hypervisor.StateRunning))
}

func TestQEMU_HungLibvirtdNeitherHangsCallsNorTheDriver(t *testing.T) {
	d := newQEMUDriver(t)
	pid := libvirtdPid(t)
	spec, _ := guestSpec(t, "hung-daemon")
	ctx := ctxT(t, 5*time.Minute)
	if err := d.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })
	stopped := time.Now()

	short, cancel := context.WithTimeout(ctx, time.Second)
	start := time.Now()
	_, err := d.List(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("List on a hung daemon: %v after %s, want the context's deadline after about 1s", err, time.Since(start))
	}
	// The keepalive gives up on the silent daemon; calls then fail at once.
	eventually(t, time.Minute, "keepalive declares the connection dead", func() error {
		short, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		if _, err := d.List(short); !errors.Is(err, ErrDisconnected) {
			return fmt.Errorf("List: %v", err)
		}
		return nil
	})
	t.Logf("hung daemon -> ErrDisconnected after %s", time.Since(stopped).Round(time.Millisecond))

	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed := time.Now()
	eventually(t, time.Minute, "List works after the daemon resumes", func() error {
		_, err := d.List(ctx)
		return err
	})
	t.Logf("daemon resumed -> driver answers again: %s", time.Since(resumed).Round(time.Millisecond))
	wantState(t, d, spec.ID, hypervisor.StateRunning)
}
