package libvirt

import (
	"context"
	"errors"
	"fmt"
	"github.com/novacron/novacron/internal/testutil"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/novacron/novacron/hypervisor"
)

func processGone(pid int) error {
	if err := syscall.Kill(pid, 0); err == nil {
		return fmt.Errorf("pid %d still exists", pid)
	}
	return nil
}

func TestQEMU_ReconnectsAfterLibvirtdRestart(t *testing.T) {
	// The test's own libvirtd: the lab takes it down, whatever state it is in.
	h := newQEMUHost(t)
	d := h.driver(t)
	pid := h.libvirtdPid(t)
	ctx := ctxT(t, 5*time.Minute)
	keep, keepDom := h.guestSpec(t, "keeps-running")
	lost, lostDom := h.guestSpec(t, "dies-unseen")
	for _, s := range []hypervisor.DomainSpec{keep, lost} {
		if err := d.Start(ctx, s); err != nil {
			t.Fatal(err)
		}
		waitEvent(t, d, s.ID, 30*time.Second, stateIs(hypervisor.StateRunning))
	}
	keepPid, lostPid := h.qemuPid(t, keepDom), h.qemuPid(t, lostDom)

	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	testutil.EventuallyEvery(t, 30*time.Second, pollEvery, "libvirtd exits", func() error { return processGone(pid) })
	testutil.EventuallyEvery(t, 10*time.Second, pollEvery, "the driver reports the lost connection", func() error {
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
	testutil.EventuallyEvery(t, 10*time.Second, pollEvery, "QEMU of "+lostDom+" exits", func() error { return processGone(lp) })

	restarted := time.Now()
	h.startLibvirtd(t)
	testutil.EventuallyEvery(t, time.Minute, pollEvery, "List works again", func() error {
		_, err := d.List(ctx)
		return err
	})
	t.Logf("libvirtd started -> driver answers again: %s", time.Since(restarted).Round(time.Millisecond))

	wantState(t, d, keep.ID, hypervisor.StateRunning)
	if got := h.domstate(t, keepDom); got != "running" {
		t.Fatalf("virsh domstate %s: %q", keepDom, got)
	}
	if now := h.qemuPid(t, keepDom); now != keepPid {
		t.Fatalf("QEMU of %s changed from %s to %s", keepDom, keepPid, now)
	}
	ev := waitEvent(t, d, lost.ID, 15*time.Second, func(ev hypervisor.Event) bool { return ev.State != hypervisor.StateRunning })
	t.Logf("event for the guest that died during the outage: %+v (virsh: %s)", ev, h.domstate(t, lostDom))
	if ev.State != hypervisor.StateCrashed {
		t.Fatalf("event %+v, want crashed", ev)
	}
	wantState(t, d, lost.ID, hypervisor.StateCrashed)

	// Events flow on the new connection.
	if out, err := h.virsh(t, "suspend", keepDom); err != nil {
		t.Fatalf("virsh suspend: %v %s", err, out)
	}
	waitEvent(t, d, keep.ID, 10*time.Second, stateIs(hypervisor.StatePaused))
	if out, err := h.virsh(t, "resume", keepDom); err != nil {
		t.Fatalf("virsh resume: %v %s", err, out)
	}
	waitEvent(t, d, keep.ID, 10*time.Second, stateIs(hypervisor.StateRunning))
}

func TestQEMU_HungLibvirtdNeitherHangsCallsNorTheDriver(t *testing.T) {
	h := newQEMUHost(t)
	d := h.driver(t)
	pid := h.libvirtdPid(t)
	spec, _ := h.guestSpec(t, "hung-daemon")
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
	testutil.EventuallyEvery(t, time.Minute, pollEvery, "keepalive declares the connection dead", func() error {
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
	testutil.EventuallyEvery(t, time.Minute, pollEvery, "List works after the daemon resumes", func() error {
		_, err := d.List(ctx)
		return err
	})
	t.Logf("daemon resumed -> driver answers again: %s", time.Since(resumed).Round(time.Millisecond))
	wantState(t, d, spec.ID, hypervisor.StateRunning)
}
