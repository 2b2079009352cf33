package sim

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/hypervisor"
)

func TestStart_DefinesAndRuns(t *testing.T) {
	d, _ := newTestDriver(t, 4096)
	ctx := context.Background()
	if err := d.Start(ctx, spec("a", 1024)); err != nil {
		t.Fatal(err)
	}
	dom := mustState(t, d, "a", hypervisor.StateRunning)
	want := hypervisor.Domain{ID: "a", Name: "vm-a", Generation: 3, State: hypervisor.StateRunning, VCPUs: 2, MemoryMiB: 1024, Reason: "started"}
	if dom != want {
		t.Fatalf("domain %+v, want %+v", dom, want)
	}
	if ev := nextEvent(t, d); ev.ID != "a" || ev.State != hypervisor.StateRunning {
		t.Fatalf("event %+v", ev)
	}
	c, _ := d.Capacity(ctx)
	if c.FreeMemoryMiB != 3072 {
		t.Fatalf("free %d, want 3072", c.FreeMemoryMiB)
	}
	// Starting a running domain is a no-op: no event, no second reservation.
	if err := d.Start(ctx, spec("a", 1024)); err != nil {
		t.Fatal(err)
	}
	noEvent(t, d)
	if c, _ := d.Capacity(ctx); c.FreeMemoryMiB != 3072 {
		t.Fatalf("free %d after second start, want 3072", c.FreeMemoryMiB)
	}
}

func TestStart_AcceptsAnyBootPath(t *testing.T) {
	d, _ := newTestDriver(t, 4096)
	s := spec("a", 512)
	s.Boot = &hypervisor.BootSource{Kernel: "/does/not/exist/vmlinuz", Initrd: "/nope"}
	if err := d.Start(context.Background(), s); err != nil {
		t.Fatalf("sim must not check boot paths: %v", err)
	}
}

func TestStart_InvalidSpec(t *testing.T) {
	d, _ := newTestDriver(t, 4096)
	for _, s := range []hypervisor.DomainSpec{{Name: "x", VCPUs: 1, MemoryMiB: 1}, spec("a", 0), {ID: "b", MemoryMiB: 1}} {
		if err := d.Start(context.Background(), s); !errors.Is(err, hypervisor.ErrInvalidSpec) {
			t.Fatalf("start %+v: %v, want ErrInvalidSpec", s, err)
		}
	}
}

func TestStart_RefusesWithoutFreeMemory(t *testing.T) {
	d, _ := newTestDriver(t, 2048)
	ctx := context.Background()
	if err := d.Start(ctx, spec("a", 1536)); err != nil {
		t.Fatal(err)
	}
	err := d.Start(ctx, spec("b", 1024))
	if !errors.Is(err, hypervisor.ErrInsufficientResources) {
		t.Fatalf("got %v, want ErrInsufficientResources", err)
	}
	for _, n := range []string{"1024", "512", "2048"} {
		if !strings.Contains(err.Error(), n) {
			t.Fatalf("message %q does not name %s", err, n)
		}
	}
	if _, err := d.Inspect(ctx, "b"); !errors.Is(err, hypervisor.ErrNotFound) {
		t.Fatalf("refused domain was defined: %v", err)
	}
	// A paused domain still holds its memory; a stopped one does not.
	if err := d.Suspend(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, spec("b", 1024)); !errors.Is(err, hypervisor.ErrInsufficientResources) {
		t.Fatalf("paused domain's memory counted as free: %v", err)
	}
	if err := d.Destroy(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, spec("b", 1024)); err != nil {
		t.Fatalf("start after stopping a: %v", err)
	}
	// Restarting a with its old size no longer fits beside b.
	if err := d.Start(ctx, spec("a", 1536)); !errors.Is(err, hypervisor.ErrInsufficientResources) {
		t.Fatalf("got %v, want ErrInsufficientResources", err)
	}
	mustState(t, d, "a", hypervisor.StateStopped)
}

func TestStart_RedefinesStoppedDomain(t *testing.T) {
	d, _ := newTestDriver(t, 4096)
	ctx := context.Background()
	if err := d.Start(ctx, spec("a", 1024)); err != nil {
		t.Fatal(err)
	}
	if err := d.Shutdown(ctx, "a", time.Second); err != nil {
		t.Fatal(err)
	}
	s := spec("a", 2048)
	s.Generation = 4
	if err := d.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	dom := mustState(t, d, "a", hypervisor.StateRunning)
	if dom.MemoryMiB != 2048 || dom.Generation != 4 {
		t.Fatalf("definition not replaced: %+v", dom)
	}
}

func TestStop_ShutdownAndDestroy(t *testing.T) {
	d, _ := newTestDriver(t, 4096)
	ctx := context.Background()
	for _, id := range []string{"a", "b"} {
		if err := d.Start(ctx, spec(id, 512)); err != nil {
			t.Fatal(err)
		}
		nextEvent(t, d)
	}
	if err := d.Shutdown(ctx, "a", time.Second); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, d); ev != (hypervisor.Event{ID: "a", State: hypervisor.StateStopped, Reason: "shutdown"}) {
		t.Fatalf("event %+v", ev)
	}
	if err := d.Destroy(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, d); ev != (hypervisor.Event{ID: "b", State: hypervisor.StateStopped, Reason: "destroyed"}) {
		t.Fatalf("event %+v", ev)
	}
	mustState(t, d, "a", hypervisor.StateStopped)
	mustState(t, d, "b", hypervisor.StateStopped)
	// Stopping a stopped domain is a no-op.
	if err := d.Destroy(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	noEvent(t, d)
	if err := d.Shutdown(ctx, "nope", time.Second); !errors.Is(err, hypervisor.ErrNotFound) || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("got %v, want ErrNotFound naming the domain", err)
	}
	if err := d.Destroy(ctx, "nope"); !errors.Is(err, hypervisor.ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
}

func TestReboot_RunningOnly(t *testing.T) {
	d, _ := newTestDriver(t, 4096)
	ctx := context.Background()
	if err := d.Start(ctx, spec("a", 512)); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, d)
	if err := d.Reboot(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, d); ev.State != hypervisor.StateRunning || ev.Reason != "rebooted" {
		t.Fatalf("event %+v", ev)
	}
	mustState(t, d, "a", hypervisor.StateRunning)
	if err := d.Suspend(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := d.Reboot(ctx, "a"); !errors.Is(err, ErrState) {
		t.Fatalf("reboot paused: %v, want ErrState", err)
	}
	if err := d.Destroy(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := d.Reboot(ctx, "a"); !errors.Is(err, ErrState) {
		t.Fatalf("reboot stopped: %v, want ErrState", err)
	}
	if err := d.Reboot(ctx, "nope"); !errors.Is(err, hypervisor.ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
}

func TestSuspendResume(t *testing.T) {
	d, _ := newTestDriver(t, 4096)
	ctx := context.Background()
	if err := d.Resume(ctx, "nope"); !errors.Is(err, hypervisor.ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
	if err := d.Start(ctx, spec("a", 512)); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, d)
	if err := d.Resume(ctx, "a"); err != nil {
		t.Fatalf("resume running: %v", err)
	}
	noEvent(t, d)
	if err := d.Suspend(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, d); ev != (hypervisor.Event{ID: "a", State: hypervisor.StatePaused, Reason: "suspended"}) {
		t.Fatalf("event %+v", ev)
	}
	mustState(t, d, "a", hypervisor.StatePaused)
	if err := d.Suspend(ctx, "a"); err != nil {
		t.Fatalf("suspend paused: %v", err)
	}
	noEvent(t, d)
	if err := d.Resume(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, d); ev != (hypervisor.Event{ID: "a", State: hypervisor.StateRunning, Reason: "resumed"}) {
		t.Fatalf("event %+v", ev)
	}
	if err := d.Destroy(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := d.Suspend(ctx, "a"); !errors.Is(err, ErrState) {
		t.Fatalf("suspend stopped: %v, want ErrState", err)
	}
	if err := d.Resume(ctx, "a"); !errors.Is(err, ErrState) {
		t.Fatalf("resume stopped: %v, want ErrState", err)
	}
}

func TestUndefine_StoppedOnly(t *testing.T) {
	d, _ := newTestDriver(t, 4096)
	ctx := context.Background()
	if err := d.Undefine(ctx, "a"); !errors.Is(err, hypervisor.ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
	if err := d.Start(ctx, spec("a", 512)); err != nil {
		t.Fatal(err)
	}
	if err := d.Undefine(ctx, "a"); !errors.Is(err, ErrState) {
		t.Fatalf("undefine running: %v, want ErrState", err)
	}
	if err := d.Destroy(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, d)
	nextEvent(t, d)
	if err := d.Undefine(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, d); ev.ID != "a" || ev.Reason != "undefined" {
		t.Fatalf("event %+v", ev)
	}
	if _, err := d.Inspect(ctx, "a"); !errors.Is(err, hypervisor.ErrNotFound) {
		t.Fatalf("inspect after undefine: %v", err)
	}
	if l, _ := d.List(ctx); len(l) != 0 {
		t.Fatalf("list after undefine: %+v", l)
	}
}

func TestCrash_RunningDomain(t *testing.T) {
	d, _ := newTestDriver(t, 4096)
	ctx := context.Background()
	if err := d.Crash("a"); !errors.Is(err, hypervisor.ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
	if err := d.Start(ctx, spec("a", 1024)); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, d)
	if err := d.Crash("a"); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, d); ev != (hypervisor.Event{ID: "a", State: hypervisor.StateCrashed, Reason: "crashed"}) {
		t.Fatalf("event %+v", ev)
	}
	dom := mustState(t, d, "a", hypervisor.StateCrashed)
	if dom.Reason != "crashed" {
		t.Fatalf("reason %q", dom.Reason)
	}
	if c, _ := d.Capacity(ctx); c.FreeMemoryMiB != 4096 {
		t.Fatalf("crashed domain still holds memory: free %d", c.FreeMemoryMiB)
	}
	if err := d.Crash("a"); !errors.Is(err, ErrState) {
		t.Fatalf("crash crashed: %v, want ErrState", err)
	}
	// The reconciler can start it again, or clean it up.
	if err := d.Start(ctx, spec("a", 1024)); err != nil {
		t.Fatal(err)
	}
	mustState(t, d, "a", hypervisor.StateRunning)
	if err := d.Crash("a"); err != nil {
		t.Fatal(err)
	}
	if err := d.Undefine(ctx, "a"); err != nil {
		t.Fatalf("undefine crashed: %v", err)
	}
}
