package libvirt

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	golibvirt "libvirt.org/go/libvirt"

	"github.com/novacron/novacron/hypervisor"
)

// The test driver ships this running domain; the driver must treat it as foreign.
const (
	foreignName = "test"
	foreignUUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"
)

func TestTestDriver_Lifecycle(t *testing.T) {
	d := newTestDriver(t)
	ctx := ctxT(t, 30*time.Second)
	if d.VirtType() != VirtTest || d.Labels()["virt-type"] != VirtTest || d.Labels()["hypervisor"] != "libvirt" {
		t.Fatalf("virt type %q labels %v", d.VirtType(), d.Labels())
	}
	spec := testSpec(t, "life")
	if err := d.Start(ctx, spec); err != nil {
		t.Fatalf("Start: %v", err)
	}
	dom := wantState(t, d, spec.ID, hypervisor.StateRunning)
	if dom.Name != "life" || dom.Generation != 1 || dom.VCPUs != 1 || dom.MemoryMiB != 64 || dom.Reason != "booted" {
		t.Fatalf("inspect = %+v", dom)
	}
	if err := d.Start(ctx, spec); err != nil {
		t.Fatalf("Start on a running domain: %v", err)
	}
	if err := d.Suspend(ctx, spec.ID); err != nil {
		t.Fatalf("Suspend: %v", err)
	}
	wantState(t, d, spec.ID, hypervisor.StatePaused)
	if err := d.Suspend(ctx, spec.ID); err != nil {
		t.Fatalf("Suspend on a paused domain: %v", err)
	}
	if err := d.Reboot(ctx, spec.ID); !errors.Is(err, ErrState) {
		t.Fatalf("Reboot on a paused domain: %v, want ErrState", err)
	}
	if err := d.Resume(ctx, spec.ID); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	wantState(t, d, spec.ID, hypervisor.StateRunning)
	if err := d.Reboot(ctx, spec.ID); err != nil {
		t.Fatalf("Reboot: %v", err)
	}
	wantState(t, d, spec.ID, hypervisor.StateRunning)
	if err := d.Undefine(ctx, spec.ID); !errors.Is(err, ErrState) {
		t.Fatalf("Undefine on a running domain: %v, want ErrState", err)
	}
	if err := d.Shutdown(ctx, spec.ID, 5*time.Second); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if dom := wantState(t, d, spec.ID, hypervisor.StateStopped); dom.Reason != "shutdown" {
		t.Fatalf("after Shutdown reason = %q", dom.Reason)
	}
	if err := d.Resume(ctx, spec.ID); !errors.Is(err, ErrState) {
		t.Fatalf("Resume on a stopped domain: %v, want ErrState", err)
	}
	if err := d.Start(ctx, spec); err != nil {
		t.Fatalf("Start again: %v", err)
	}
	wantState(t, d, spec.ID, hypervisor.StateRunning)
	if err := d.Destroy(ctx, spec.ID); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	if dom := wantState(t, d, spec.ID, hypervisor.StateStopped); dom.Reason != "destroyed" {
		t.Fatalf("after Destroy reason = %q, want destroyed (and stopped, not crashed)", dom.Reason)
	}
	if err := d.Destroy(ctx, spec.ID); err != nil {
		t.Fatalf("Destroy on a stopped domain: %v", err)
	}
	if err := d.Undefine(ctx, spec.ID); err != nil {
		t.Fatalf("Undefine: %v", err)
	}
	if _, err := d.Inspect(ctx, spec.ID); !errors.Is(err, hypervisor.ErrNotFound) {
		t.Fatalf("Inspect after Undefine: %v, want ErrNotFound", err)
	}
}

func TestTestDriver_ForeignDomainsAreNeverTouched(t *testing.T) {
	d := newTestDriver(t)
	ctx := ctxT(t, 30*time.Second)
	mine := testSpec(t, "mine")
	if err := d.Start(ctx, mine); err != nil {
		t.Fatal(err)
	}
	doms, err := d.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(doms, func(dom hypervisor.Domain) bool { return dom.ID == mine.ID }) {
		t.Fatalf("List = %+v, want it to hold %s", doms, mine.ID)
	}
	for _, dom := range doms {
		if dom.ID == foreignUUID {
			t.Fatalf("List holds the foreign domain: %+v", doms)
		}
	}
	foreign, err := d.Foreign(ctx)
	if err != nil || !slices.Contains(foreign, foreignName) {
		t.Fatalf("Foreign = %v, %v; want it to hold %q", foreign, err, foreignName)
	}
	calls := map[string]func() error{
		"Inspect":  func() error { _, err := d.Inspect(ctx, foreignUUID); return err },
		"Destroy":  func() error { return d.Destroy(ctx, foreignUUID) },
		"Shutdown": func() error { return d.Shutdown(ctx, foreignUUID, time.Second) },
		"Suspend":  func() error { return d.Suspend(ctx, foreignUUID) },
		"Resume":   func() error { return d.Resume(ctx, foreignUUID) },
		"Reboot":   func() error { return d.Reboot(ctx, foreignUUID) },
		"Undefine": func() error { return d.Undefine(ctx, foreignUUID) },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, hypervisor.ErrNotFound) {
			t.Errorf("%s on the foreign domain: %v, want ErrNotFound", name, err)
		}
	}
	spec := testSpec(t, "squatter")
	spec.ID = foreignUUID
	if err := d.Start(ctx, spec); !errors.Is(err, hypervisor.ErrInvalidSpec) {
		t.Errorf("Start with the foreign domain's UUID: %v, want ErrInvalidSpec", err)
	}
	c := rawConn(t, testURI)
	dom, err := c.LookupDomainByName(foreignName)
	if err != nil {
		t.Fatal(err)
	}
	defer dom.Free()
	if st, _, err := dom.GetState(); err != nil || st != golibvirt.DOMAIN_RUNNING {
		t.Fatalf("foreign domain state %v, %v; want it still running", st, err)
	}
	stats, err := d.Stats(ctx)
	if _, ok := stats[mine.ID]; err != nil || !ok {
		t.Fatalf("Stats = %v, %v; want the managed domain", stats, err)
	}
	if _, ok := stats[foreignUUID]; ok {
		t.Fatalf("Stats holds the foreign domain: %v", stats)
	}
}

func TestTestDriver_MetadataAndGenerationRoundTrip(t *testing.T) {
	d := newTestDriver(t)
	ctx := ctxT(t, 30*time.Second)
	spec := testSpec(t, "meta")
	spec.Generation = 7
	if err := d.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	c := rawConn(t, testURI)
	dom, err := c.LookupDomainByUUIDString(spec.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer dom.Free()
	raw, err := dom.GetMetadata(golibvirt.DOMAIN_METADATA_ELEMENT, MetadataNamespace, golibvirt.DOMAIN_AFFECT_LIVE)
	if err != nil {
		t.Fatalf("GetMetadata in our namespace: %v", err)
	}
	if m, err := parseMetadata(raw); err != nil || m.ID != spec.ID || m.Generation != 7 || m.Name != "meta" {
		t.Fatalf("metadata as libvirt keeps it: %q: %+v, %v", raw, m, err)
	}
	full, err := dom.GetXMLDesc(0)
	if err != nil || !strings.Contains(full, `xmlns:novacron="`+MetadataNamespace+`"`) {
		t.Fatalf("domain xml lacks the novacron namespace: %v\n%s", err, full)
	}
	if name, _ := dom.GetName(); name != domainName(spec.ID, "meta") {
		t.Fatalf("domain name %q", name)
	}
	if err := d.Destroy(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	spec.Generation, spec.Name, spec.MemoryMiB = 8, "meta-renamed", 128
	if err := d.Start(ctx, spec); err != nil {
		t.Fatalf("Start a new generation under a new name: %v", err)
	}
	got := wantState(t, d, spec.ID, hypervisor.StateRunning)
	if got.Generation != 8 || got.Name != "meta-renamed" || got.MemoryMiB != 128 {
		t.Fatalf("after redefinition: %+v", got)
	}
	// A second driver (an agent restart) reads the same from libvirt alone.
	d2 := newTestDriver(t)
	doms, err := d2.List(ctx)
	i := slices.IndexFunc(doms, func(dom hypervisor.Domain) bool { return dom.ID == spec.ID })
	if err != nil || i < 0 || doms[i].Generation != 8 || doms[i].State != hypervisor.StateRunning {
		t.Fatalf("second driver List = %+v, %v", doms, err)
	}
}

func TestTestDriver_DestroyBehindTheBackIsCrashed(t *testing.T) {
	d := newTestDriver(t)
	ctx := ctxT(t, 30*time.Second)
	spec := testSpec(t, "victim")
	if err := d.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, d, spec.ID, 5*time.Second, stateIs(hypervisor.StateRunning))
	c := rawConn(t, testURI)
	dom, err := c.LookupDomainByUUIDString(spec.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer dom.Free()
	if err := dom.Destroy(); err != nil {
		t.Fatal(err)
	}
	ev := waitEvent(t, d, spec.ID, 5*time.Second, func(hypervisor.Event) bool { return true })
	if ev.State != hypervisor.StateCrashed || ev.Reason != "destroyed" {
		t.Fatalf("event = %+v, want crashed/destroyed", ev)
	}
	if got := wantState(t, d, spec.ID, hypervisor.StateCrashed); got.Reason != "destroyed" {
		t.Fatalf("inspect reason %q", got.Reason)
	}
	// Starting it again clears the crash.
	if err := d.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	wantState(t, d, spec.ID, hypervisor.StateRunning)
}

func TestTestDriver_StopRequestSurvivesAgentRestart(t *testing.T) {
	d := newTestDriver(t)
	ctx := ctxT(t, 30*time.Second)
	spec := testSpec(t, "stopped-on-purpose")
	if err := d.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := d.Destroy(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	d2 := newTestDriver(t) // knows nothing of d's in-memory requests
	if got := wantState(t, d2, spec.ID, hypervisor.StateStopped); got.Reason != "destroyed" {
		t.Fatalf("reason %q", got.Reason)
	}
	if err := d2.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	// After a restart the marker is gone: a destroy behind our back is a crash.
	c := rawConn(t, testURI)
	dom, err := c.LookupDomainByUUIDString(spec.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer dom.Free()
	if err := dom.Destroy(); err != nil {
		t.Fatal(err)
	}
	wantState(t, d2, spec.ID, hypervisor.StateCrashed)
}

func TestTestDriver_ShutdownOfAPausedGuestDestroysIt(t *testing.T) {
	d := newTestDriver(t)
	ctx := ctxT(t, 30*time.Second)
	spec := testSpec(t, "paused-stop")
	if err := d.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := d.Suspend(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := d.Shutdown(ctx, spec.ID, time.Minute); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("Shutdown of a paused guest waited %s: it cannot answer ACPI", time.Since(start))
	}
	if got := wantState(t, d, spec.ID, hypervisor.StateStopped); got.Reason != "destroyed" {
		t.Fatalf("reason %q, want destroyed", got.Reason)
	}
	if err := d.Shutdown(ctx, spec.ID, time.Minute); err != nil {
		t.Fatalf("Shutdown of a stopped domain: %v", err)
	}
}
