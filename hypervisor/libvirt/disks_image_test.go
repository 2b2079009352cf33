package libvirt

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/internal/labrun"
)

// labImage is the lab's boot disk (`lab.sh up` builds it): a guest that
// boots from it loads virtio_blk, so a disk attached to it is one the
// guest's kernel holds, unlike in the kernel-boot test guest.
func (h *qemuHost) labImage(t *testing.T) string {
	t.Helper()
	out, stderr, err := h.lab.Command(time.Minute, "env")
	if err != nil {
		t.Fatalf("lab.sh env: %v\n%s", err, stderr)
	}
	env, err := labrun.ParseEnv(out)
	if err != nil || env["NOVACRON_LAB_IMAGE"] == "" || !nonEmpty(env["NOVACRON_LAB_IMAGE"]) {
		t.Skipf("the lab printed no boot disk (NOVACRON_LAB_IMAGE): %v\n%s", err, out)
	}
	return env["NOVACRON_LAB_IMAGE"]
}

// TestQEMU_DiskGuestBootsFromItsRootAndHotplugs boots the lab's disk guest
// from a root volume named vdb with a blank volume named vda beside it:
// libvirt lists disks by name, so the blank one takes the first PCI slot,
// and only the root's boot order makes the firmware boot the root (with
// <boot dev='hd'/> SeaBIOS tries the first disk alone). Then a disk is
// attached, grown and detached while the guest's virtio_blk holds it; the
// guest's kernel reports each step on the console. (With <boot dev='hd'/>
// instead of the root's boot order, this guest never boots: tried once.)
func TestQEMU_DiskGuestBootsFromItsRootAndHotplugs(t *testing.T) {
	h := newQEMUHost(t)
	image := h.labImage(t)
	d := h.driver(t)
	spec, dom := h.guestSpec(t, "disk-guest")
	ctx := ctxT(t, 5*time.Minute)
	root := filepath.Join(t.TempDir(), "root.qcow2")
	if _, err := run(ctx, "", "qemu-img", "create", "-q", "-f", "qcow2", "-b", image, "-F", "qcow2", root); err != nil {
		t.Fatal(err)
	}
	spec.Boot = nil
	spec.Disks = []hypervisor.Disk{
		{Path: root, Format: "qcow2", Target: "vdb"},
		{Path: blankQCOW2(t, "blank.qcow2", "32M"), Format: "qcow2", Target: "vda"},
	}
	if err := d.Start(ctx, spec); err != nil {
		t.Fatalf("Start: %v", err)
	}
	h.waitConsole(t, dom, "novacron lab guest: init started (disk)", 1, 2*time.Minute)
	h.waitConsole(t, dom, "tick 1", 1, time.Minute)

	data := hypervisor.Disk{Path: blankQCOW2(t, "data.qcow2", "64M"), Format: "qcow2", Target: "vdc"}
	if err := d.AttachDisk(ctx, spec.ID, data); err != nil {
		t.Fatalf("AttachDisk: %v", err)
	}
	// 64 MiB in 512-byte sectors; the guest names disks in the order it
	// finds them, which here is the same.
	h.waitConsole(t, dom, "[vdc] 131072 512-byte logical blocks", 1, time.Minute)
	if err := d.ResizeDisk(ctx, spec.ID, "vdc", 128<<20); err != nil {
		t.Fatalf("ResizeDisk: %v", err)
	}
	h.waitConsole(t, dom, "[vdc] new size: 262144 512-byte logical blocks", 1, time.Minute)
	if got := h.capacity(t, dom, "vdc"); got != "134217728" {
		t.Fatalf("virsh domblkinfo capacity %s", got)
	}
	start := time.Now()
	detachUntilGone(t, d, spec.ID, "vdc")
	t.Logf("the guest released the disk its virtio_blk held %s after the first DetachDisk", time.Since(start).Round(time.Millisecond))
	for _, inactive := range []bool{false, true} {
		if got := h.blklist(t, dom, inactive); got["vdc"] != "" || got["vdb"] != root {
			t.Fatalf("virsh domblklist (inactive %v) after DetachDisk: %v", inactive, got)
		}
	}
	// The guest lives on without the disk.
	h.waitConsole(t, dom, fmt.Sprintf("tick %d", lastTick(h.consoleLog(dom))+2), 1, time.Minute)
}
