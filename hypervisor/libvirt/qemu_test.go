package libvirt

import (
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/novacron/novacron/hypervisor"
)

func TestQEMU_AutoVirtTypeOnThisHost(t *testing.T) {
	h := newQEMUHost(t)
	d, err := New(Config{URI: h.uri, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	t.Logf("auto chose %q: %s", d.VirtType(), d.virtReason)
	cpuinfo, _ := os.ReadFile("/proc/cpuinfo")
	if strings.Contains(string(cpuinfo), " hypervisor") && d.VirtType() != VirtQEMU {
		t.Fatalf("this host is a VM (cpu flag hypervisor), yet auto chose %q", d.VirtType())
	}
	if d.VirtType() != VirtQEMU && d.VirtType() != VirtKVM {
		t.Fatalf("virt type %q", d.VirtType())
	}
}

func TestQEMU_GuestLifecycle(t *testing.T) {
	h := newQEMUHost(t)
	d := h.driver(t)
	spec, dom := h.guestSpec(t, "life")
	ctx := ctxT(t, 5*time.Minute)
	start := time.Now()
	if err := d.Start(ctx, spec); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("Start returned after %s", time.Since(start).Round(time.Millisecond))
	if got := h.domstate(t, dom); got != "running" {
		t.Fatalf("virsh domstate after Start: %q", got)
	}
	boot := h.waitConsole(t, dom, "tick 2", 1, 2*time.Minute)
	t.Logf("guest ticking %s after Start returned", boot.Round(time.Millisecond))
	stats, err := d.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st := stats[spec.ID]; st.CPUTime <= 0 || st.MemoryMiB <= 0 || st.MemoryMiB > 96 {
		t.Fatalf("stats %+v", st)
	}
	t.Logf("stats: %+v", stats[spec.ID])

	if err := d.Suspend(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	h.waitDomstate(t, dom, "paused", 10*time.Second)
	wantState(t, d, spec.ID, hypervisor.StatePaused)
	if err := d.Resume(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	h.waitDomstate(t, dom, "running", 10*time.Second)

	// busybox ignores the ACPI request, so Reboot falls back to a reset after
	// RebootTimeout; the console shows the second boot either way.
	if err := d.Reboot(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	rebooted := h.waitConsole(t, dom, "novacron guest: init started", 2, 2*time.Minute)
	waitEvent(t, d, spec.ID, 10*time.Second, func(ev hypervisor.Event) bool { return ev.Reason == "rebooted" })
	t.Logf("second boot seen %s after Reboot", rebooted.Round(time.Millisecond))
	if got := h.domstate(t, dom); got != "running" {
		t.Fatalf("virsh domstate after reboot: %q", got)
	}

	start = time.Now()
	if err := d.Shutdown(ctx, spec.ID, 2*time.Second); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	t.Logf("Shutdown took %s", time.Since(start).Round(time.Millisecond))
	if got := h.domstate(t, dom); got != "shut off" {
		t.Fatalf("virsh domstate after Shutdown: %q", got)
	}
	if got := wantState(t, d, spec.ID, hypervisor.StateStopped); got.Reason == "" {
		t.Fatalf("no reason: %+v", got)
	}
	if err := d.Undefine(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	if out, err := h.virsh(t, "dominfo", dom); err == nil {
		t.Fatalf("domain still defined after Undefine: %s", out)
	}
}

func TestQEMU_DestroyBehindTheBackIsACrashEvent(t *testing.T) {
	h := newQEMUHost(t)
	d := h.driver(t)
	spec, dom := h.guestSpec(t, "victim")
	ctx := ctxT(t, 5*time.Minute)
	if err := d.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, d, spec.ID, 30*time.Second, stateIs(hypervisor.StateRunning))
	var sinceExit, sinceVirsh []time.Duration
	for i := 0; i < 5; i++ {
		if i > 0 {
			if err := d.Start(ctx, spec); err != nil {
				t.Fatal(err)
			}
			waitEvent(t, d, spec.ID, 30*time.Second, stateIs(hypervisor.StateRunning))
		}
		pid, _ := strconv.Atoi(h.qemuPid(t, dom))
		exited := make(chan time.Time, 1)
		go func() { // the QEMU process's end, seen from outside libvirt
			ticker := time.NewTicker(2 * time.Millisecond)
			defer ticker.Stop()
			for deadline := time.Now().Add(30 * time.Second); syscall.Kill(pid, 0) == nil; <-ticker.C {
				if time.Now().After(deadline) {
					exited <- time.Time{}
					return
				}
			}
			exited <- time.Now()
		}()
		virshDone := make(chan error, 1)
		start := time.Now()
		go func() {
			_, err := h.virsh(t, "destroy", dom)
			virshDone <- err
		}()
		ev := waitEvent(t, d, spec.ID, 10*time.Second, func(ev hypervisor.Event) bool { return ev.State != hypervisor.StateRunning })
		got := time.Now()
		if err := <-virshDone; err != nil {
			t.Fatalf("virsh destroy: %v", err)
		}
		gone := <-exited
		if gone.IsZero() {
			t.Fatalf("QEMU pid %d still runs 30s after virsh destroy", pid)
		}
		sinceExit = append(sinceExit, got.Sub(gone))
		sinceVirsh = append(sinceVirsh, got.Sub(start))
		if ev.State != hypervisor.StateCrashed || ev.Reason != "destroyed" {
			t.Fatalf("event %+v, want crashed/destroyed", ev)
		}
		if got := wantState(t, d, spec.ID, hypervisor.StateCrashed); got.Reason != "destroyed" {
			t.Fatalf("inspect %+v", got)
		}
	}
	t.Logf("virsh destroy -> crashed event: p50 %s, max %s; QEMU process gone -> event: p50 %s, max %s (all %v)",
		percentile(sinceVirsh, 0.5).Round(time.Millisecond), percentile(sinceVirsh, 1).Round(time.Millisecond),
		percentile(sinceExit, 0.5).Round(time.Millisecond), percentile(sinceExit, 1).Round(time.Millisecond), sinceExit)
}

func TestQEMU_AgentRestartReattachesWithoutASecondCopy(t *testing.T) {
	h := newQEMUHost(t)
	d := h.driver(t)
	spec, dom := h.guestSpec(t, "survivor")
	spec.Generation = 5
	ctx := ctxT(t, 5*time.Minute)
	if err := d.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	before := h.qemuPid(t, dom)
	d.Close() // the agent stops; the domain keeps running

	d2 := h.driver(t)
	doms, err := d2.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(doms, func(x hypervisor.Domain) bool { return x.ID == spec.ID })
	if i < 0 || doms[i].State != hypervisor.StateRunning || doms[i].Generation != 5 || doms[i].Name != "survivor" {
		t.Fatalf("List after restart = %+v", doms)
	}
	if err := d2.Start(ctx, spec); err != nil {
		t.Fatalf("Start on the running domain: %v", err)
	}
	if after := h.qemuPid(t, dom); after != before {
		t.Fatalf("QEMU pid changed from %s to %s: the domain was started again", before, after)
	}
	if got := h.domstate(t, dom); got != "running" {
		t.Fatalf("virsh domstate %q", got)
	}
}

func TestQEMU_StartLatency(t *testing.T) {
	h := newQEMUHost(t)
	d := h.driver(t)
	spec, dom := h.guestSpec(t, "latency")
	ctx := ctxT(t, 10*time.Minute)
	const n = 10
	var starts, boots []time.Duration
	for i := 0; i < n; i++ {
		spec.Generation = uint64(i + 1)
		t0 := time.Now()
		if err := d.Start(ctx, spec); err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		starts = append(starts, time.Since(t0))
		if got := h.domstate(t, dom); got != "running" {
			t.Fatalf("start %d: virsh domstate %q", i, got)
		}
		boots = append(boots, time.Since(t0)+h.waitConsole(t, dom, "novacron guest: init started", 1, 2*time.Minute))
		if err := d.Destroy(ctx, spec.ID); err != nil {
			t.Fatal(err)
		}
		h.waitDomstate(t, dom, "shut off", 30*time.Second)
	}
	t.Logf("Start call until running (n=%d): p50 %s, max %s; all %v", n,
		percentile(starts, 0.5).Round(time.Millisecond), percentile(starts, 1).Round(time.Millisecond), starts)
	t.Logf("Start call until the guest's /init runs: p50 %s, max %s", percentile(boots, 0.5).Round(time.Millisecond),
		percentile(boots, 1).Round(time.Millisecond))
}

func TestQEMU_ErrorsFromARealHost(t *testing.T) {
	h := newQEMUHost(t)
	d := h.driver(t)
	spec, _ := h.guestSpec(t, "broken")
	ctx := ctxT(t, time.Minute)
	missing := spec
	missing.Boot = &hypervisor.BootSource{Kernel: "/nonexistent/vmlinuz"}
	if err := d.Start(ctx, missing); !errors.Is(err, hypervisor.ErrInvalidSpec) {
		t.Fatalf("missing kernel: %v, want ErrInvalidSpec", err)
	}
	nonet := spec
	nonet.NICs = []hypervisor.NIC{{Network: "novacron-no-such-net"}}
	if err := d.Start(ctx, nonet); !errors.Is(err, hypervisor.ErrInvalidSpec) {
		t.Fatalf("unknown network: %v, want ErrInvalidSpec", err)
	}
	nobr := spec
	nobr.NICs = []hypervisor.NIC{{Bridge: "novacron-nobr0"}}
	if err := d.Start(ctx, nobr); !errors.Is(err, hypervisor.ErrInvalidSpec) {
		t.Fatalf("unknown bridge: %v, want ErrInvalidSpec", err)
	}
	capa, err := d.Capacity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	huge := spec
	huge.MemoryMiB = capa.MemoryMiB + 1024
	if err := d.Start(ctx, huge); !errors.Is(err, hypervisor.ErrInsufficientResources) {
		t.Fatalf("more memory than the host: %v, want ErrInsufficientResources", err)
	}
	t.Logf("capacity: %+v", capa)
}
