package libvirt

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/internal/testutil"
)

// blankQCOW2 makes an empty qcow2 image of size (qemu-img's notation) in the
// test's temporary folder, removed when the test ends.
func blankQCOW2(t *testing.T, name, size string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if _, err := run(ctxT(t, time.Minute), "", "qemu-img", "create", "-q", "-f", "qcow2", path, size); err != nil {
		t.Skipf("cannot make a qcow2 image: %v", err)
	}
	return path
}

// blklist is `virsh domblklist` of dom as target -> source: the running
// domain's, or with inactive its definition's.
func (h *qemuHost) blklist(t *testing.T, dom string, inactive bool) map[string]string {
	t.Helper()
	args := []string{"domblklist", dom}
	if inactive {
		args = append(args, "--inactive")
	}
	out, err := h.virsh(t, args...)
	if err != nil {
		t.Fatalf("virsh domblklist: %v", err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			got[f[0]] = f[1]
		}
	}
	return got
}

// capacity is the disk's size as `virsh domblkinfo` reports it, in bytes.
func (h *qemuHost) capacity(t *testing.T, dom, target string) string {
	t.Helper()
	out, err := h.virsh(t, "domblkinfo", dom, target)
	if err != nil {
		t.Fatalf("virsh domblkinfo: %v", err)
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "Capacity:" {
			return f[1]
		}
	}
	t.Fatalf("virsh domblkinfo printed no capacity:\n%s", out)
	return ""
}

// TestQEMU_DiskHotplug attaches, grows and detaches a blank qcow2 on the
// test guest, with virsh as the witness.
//
// What the guest does with a hot-unplug: its kernel honours ACPI PCI
// hotplug (acpiphp) and ejects the device at once, so a detach from the
// running guest comes back nil on the first call, in well under a second.
// (Its busybox initramfs loads no modules, so no virtio_blk driver holds
// the disk here; TestQEMU_DiskGuestBootsFromItsRootAndHotplugs shows a
// guest whose driver holds it letting go as fast.) ErrDetachPending is
// shown with the guest paused: its vCPUs cannot answer the request, libvirt
// waits its 5 s and leaves the disk live, the call returns ErrDetachPending
// with the disk gone from the definition already; a second call so soon
// does not ask again (see unplugAgain), and once the guest runs again it
// lets go and a repeated call returns nil. Attaching the same file again
// afterwards shows QEMU closed it (it would hold its write lock).
func TestQEMU_DiskHotplug(t *testing.T) {
	h := newQEMUHost(t)
	d := h.driver(t)
	spec, dom := h.guestSpec(t, "disks")
	ctx := ctxT(t, 5*time.Minute)
	img := blankQCOW2(t, "data.qcow2", "64M")
	if err := d.Start(ctx, spec); err != nil {
		t.Fatalf("Start: %v", err)
	}
	// Hotplug once the guest's kernel runs, as it would on a real VM.
	h.waitConsole(t, dom, "tick 1", 1, 2*time.Minute)

	vdc := hypervisor.Disk{Path: img, Format: "qcow2", Target: "vdc"}
	if err := d.AttachDisk(ctx, spec.ID, vdc); err != nil {
		t.Fatalf("AttachDisk: %v", err)
	}
	for _, inactive := range []bool{false, true} {
		if got := h.blklist(t, dom, inactive); got["vdc"] != img {
			t.Fatalf("virsh domblklist (inactive %v) after AttachDisk: %v, want vdc %s", inactive, got, img)
		}
	}
	if targets, err := d.DiskTargets(ctx, spec.ID); err != nil || !slices.Contains(targets, "vdc") {
		t.Fatalf("DiskTargets = %v, %v; want vdc among them", targets, err)
	}
	if err := d.AttachDisk(ctx, spec.ID, vdc); err != nil {
		t.Fatalf("AttachDisk again: %v, want a no-op", err)
	}
	if got := h.blklist(t, dom, false); len(got) != 1 || got["vdc"] != img {
		t.Fatalf("virsh domblklist after the second AttachDisk: %v", got)
	}
	other := vdc
	other.Path = blankQCOW2(t, "other.qcow2", "64M")
	if err := d.AttachDisk(ctx, spec.ID, other); !errors.Is(err, hypervisor.ErrInvalidSpec) {
		t.Fatalf("AttachDisk of another file at vdc: %v, want ErrInvalidSpec", err)
	}

	if got := h.capacity(t, dom, "vdc"); got != fmt.Sprint(64<<20) {
		t.Fatalf("capacity before ResizeDisk: %s", got)
	}
	for i := 0; i < 2; i++ { // the second is a no-op
		if err := d.ResizeDisk(ctx, spec.ID, "vdc", 128<<20); err != nil {
			t.Fatalf("ResizeDisk %d: %v", i, err)
		}
	}
	if got := h.capacity(t, dom, "vdc"); got != fmt.Sprint(128<<20) {
		t.Fatalf("virsh domblkinfo capacity after ResizeDisk: %s, want %d", got, 128<<20)
	}
	if err := d.ResizeDisk(ctx, spec.ID, "vdc", 64<<20); !errors.Is(err, hypervisor.ErrInvalidSpec) {
		t.Fatalf("shrinking ResizeDisk: %v, want ErrInvalidSpec", err)
	}
	if err := d.ResizeDisk(ctx, spec.ID, "vdq", 64<<20); !errors.Is(err, ErrState) {
		t.Fatalf("ResizeDisk of a disk the domain lacks: %v, want ErrState", err)
	}

	// A paused guest cannot release the disk: pending, and gone from the
	// definition already.
	if err := d.Suspend(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := d.DetachDisk(ctx, spec.ID, "vdc"); !errors.Is(err, hypervisor.ErrDetachPending) {
		t.Fatalf("DetachDisk from a paused guest: %v, want ErrDetachPending", err)
	}
	t.Logf("DetachDisk from the paused guest returned ErrDetachPending after %s", time.Since(start).Round(time.Millisecond))
	if got := h.blklist(t, dom, false); got["vdc"] != img {
		t.Fatalf("the paused guest's disk left the running domain: %v", got)
	}
	if got := h.blklist(t, dom, true); got["vdc"] != "" {
		t.Fatalf("virsh domblklist --inactive after a pending DetachDisk: %v, want no vdc", got)
	}
	start = time.Now()
	if err := d.DetachDisk(ctx, spec.ID, "vdc"); !errors.Is(err, hypervisor.ErrDetachPending) || time.Since(start) > 2*time.Second {
		t.Fatalf("DetachDisk again: %v after %s, want ErrDetachPending at once (no second request so soon)", err, time.Since(start))
	}
	if err := d.Resume(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	detachUntilGone(t, d, spec.ID, "vdc")
	t.Logf("the resumed guest released the disk %s after Resume", time.Since(start).Round(time.Millisecond))
	for _, inactive := range []bool{false, true} {
		if got := h.blklist(t, dom, inactive); got["vdc"] != "" {
			t.Fatalf("virsh domblklist (inactive %v) after DetachDisk: %v, want no vdc", inactive, got)
		}
	}

	// The running guest lets go at once. The same file attaches again: QEMU
	// let go of it too.
	if err := d.AttachDisk(ctx, spec.ID, vdc); err != nil {
		t.Fatalf("AttachDisk after the detach: %v", err)
	}
	start = time.Now()
	detachUntilGone(t, d, spec.ID, "vdc")
	t.Logf("DetachDisk from the running guest done after %s", time.Since(start).Round(time.Millisecond))
	if got := h.blklist(t, dom, true); got["vdc"] != "" {
		t.Fatalf("virsh domblklist --inactive after DetachDisk: %v", got)
	}
	if err := d.DetachDisk(ctx, spec.ID, "vdc"); err != nil {
		t.Fatalf("DetachDisk of a target the domain lacks: %v, want nil", err)
	}

	// A stopped domain: its definition alone changes.
	if err := d.Destroy(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.AttachDisk(ctx, spec.ID, vdc); err != nil {
		t.Fatalf("AttachDisk to a stopped domain: %v", err)
	}
	if got := h.blklist(t, dom, true); got["vdc"] != img {
		t.Fatalf("definition after AttachDisk to a stopped domain: %v", got)
	}
	if err := d.ResizeDisk(ctx, spec.ID, "vdc", 256<<20); !errors.Is(err, ErrState) {
		t.Fatalf("ResizeDisk on a stopped domain: %v, want ErrState", err)
	}
	if err := d.DetachDisk(ctx, spec.ID, "vdc"); err != nil {
		t.Fatalf("DetachDisk from a stopped domain: %v", err)
	}
	if got := h.blklist(t, dom, true); got["vdc"] != "" {
		t.Fatalf("definition after DetachDisk from a stopped domain: %v", got)
	}
}

// detachUntilGone repeats DetachDisk until it returns nil, as an agent would,
// failing on any other error or after a deadline.
func detachUntilGone(t *testing.T, d *Driver, id, target string) {
	t.Helper()
	testutil.EventuallyEvery(t, time.Minute, pollEvery, "DetachDisk "+target, func() error {
		err := d.DetachDisk(ctxT(t, 30*time.Second), id, target)
		if err != nil && !errors.Is(err, hypervisor.ErrDetachPending) {
			t.Fatalf("DetachDisk %s: %v", target, err)
		}
		return err
	})
}

// TestQEMU_DiskHotplugRefusals: bad input is refused before libvirt sees it
// (a closed driver answers the same), and an unknown domain is not found.
func TestQEMU_DiskHotplugRefusals(t *testing.T) {
	h := newQEMUHost(t)
	d := h.driver(t)
	closed := h.driver(t)
	closed.Close()
	ctx := ctxT(t, time.Minute)
	img := blankQCOW2(t, "data.qcow2", "64M")
	id := newID(t)
	bad := map[string]hypervisor.Disk{
		"target sda":    {Path: img, Format: "qcow2", Target: "sda"},
		"target vd":     {Path: img, Format: "qcow2", Target: "vd"},
		"no target":     {Path: img, Format: "qcow2"},
		"relative path": {Path: "data.qcow2", Format: "qcow2", Target: "vdc"},
		"format vmdk":   {Path: img, Format: "vmdk", Target: "vdc"},
	}
	for _, drv := range []*Driver{d, closed} {
		for name, disk := range bad {
			if err := drv.AttachDisk(ctx, id, disk); !errors.Is(err, hypervisor.ErrInvalidSpec) {
				t.Errorf("AttachDisk %s: %v, want ErrInvalidSpec", name, err)
			}
		}
		for _, target := range []string{"sda", "vd", "vdaa", ""} {
			if err := drv.DetachDisk(ctx, id, target); !errors.Is(err, hypervisor.ErrInvalidSpec) {
				t.Errorf("DetachDisk %q: %v, want ErrInvalidSpec", target, err)
			}
			if err := drv.ResizeDisk(ctx, id, target, 1<<30); !errors.Is(err, hypervisor.ErrInvalidSpec) {
				t.Errorf("ResizeDisk %q: %v, want ErrInvalidSpec", target, err)
			}
		}
		if err := drv.ResizeDisk(ctx, id, "vdc", 0); !errors.Is(err, hypervisor.ErrInvalidSpec) {
			t.Errorf("ResizeDisk to 0 bytes: %v, want ErrInvalidSpec", err)
		}
	}
	vdc := hypervisor.Disk{Path: img, Format: "qcow2", Target: "vdc"}
	if err := d.AttachDisk(ctx, id, vdc); !errors.Is(err, hypervisor.ErrNotFound) {
		t.Errorf("AttachDisk to an unknown domain: %v, want ErrNotFound", err)
	}
	if err := d.DetachDisk(ctx, id, "vdc"); !errors.Is(err, hypervisor.ErrNotFound) {
		t.Errorf("DetachDisk from an unknown domain: %v, want ErrNotFound", err)
	}
	if err := d.ResizeDisk(ctx, id, "vdc", 1<<30); !errors.Is(err, hypervisor.ErrNotFound) {
		t.Errorf("ResizeDisk of an unknown domain: %v, want ErrNotFound", err)
	}
	if _, err := d.DiskTargets(ctx, id); !errors.Is(err, hypervisor.ErrNotFound) {
		t.Errorf("DiskTargets of an unknown domain: %v, want ErrNotFound", err)
	}
	missing := vdc
	missing.Path = img + ".missing"
	spec, _ := h.guestSpec(t, "refusals")
	if err := d.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := d.AttachDisk(ctx, spec.ID, missing); !errors.Is(err, hypervisor.ErrInvalidSpec) {
		t.Errorf("AttachDisk of a missing file: %v, want ErrInvalidSpec", err)
	}
}

// TestQEMU_VolumeBootOrder: a domain booting from its volumes is accepted by
// libvirt with a boot order on its first volume and none in <os>, and a disk
// attached later gets none, so it never becomes the boot disk.
func TestQEMU_VolumeBootOrder(t *testing.T) {
	h := newQEMUHost(t)
	d := h.driver(t)
	spec, dom := h.guestSpec(t, "volume-boot")
	ctx := ctxT(t, 2*time.Minute)
	// A blank root: the firmware finds nothing to boot and waits, which is
	// all this test needs of the guest.
	spec.Boot = nil
	spec.Disks = []hypervisor.Disk{{Path: blankQCOW2(t, "root.qcow2", "64M"), Format: "qcow2", Target: "vdb"}}
	if err := d.Start(ctx, spec); err != nil {
		t.Fatalf("Start from a volume: %v", err)
	}
	if err := d.AttachDisk(ctx, spec.ID, hypervisor.Disk{Path: blankQCOW2(t, "data.qcow2", "64M"), Format: "qcow2", Target: "vda"}); err != nil {
		t.Fatalf("AttachDisk: %v", err)
	}
	out, err := h.virsh(t, "dumpxml", "--inactive", dom)
	if err != nil {
		t.Fatal(err)
	}
	disks, err := parseDisks(out)
	if err != nil {
		t.Fatal(err)
	}
	root, data := findDisk(disks, "vdb"), findDisk(disks, "vda")
	if root == nil || data == nil || root.Boot == nil || root.Boot.Order != 1 || data.Boot != nil {
		t.Fatalf("want vdb with boot order 1 and vda without one:\n%s", out)
	}
	if strings.Contains(out, "<boot dev=") {
		t.Fatalf("the definition has an OS-level boot device beside the disk's boot order:\n%s", out)
	}
}
