package libvirt

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/internal/testutil"
)

// TestQEMU_DomainStats samples the lab's disk guest (2 vCPUs, 96 MiB, a
// qcow2 root and a blank data disk, and a virtio NIC on a tap attached
// while it runs) with virsh domstats as the witness: every counter
// DomainStats sums lies between virsh's sums read just before and just
// after it. Then:
//
//   - two samples a second or more apart give a CPU rate within (0, 100]%;
//   - 4 MiB the guest writes to its data disk show in the write counters;
//   - a paused guest is still sampled, paused;
//   - after a restart (a new QEMU, counters from zero) the interval across
//     it has no CPU or disk rate.
func TestQEMU_DomainStats(t *testing.T) {
	h := newQEMUHost(t)
	image := h.labImage(t)
	d := h.driver(t)
	spec, dom := h.guestSpec(t, "stats")
	ctx := ctxT(t, 5*time.Minute)
	root := filepath.Join(t.TempDir(), "root.qcow2")
	if _, err := run(ctx, "", "qemu-img", "create", "-q", "-f", "qcow2", "-b", image, "-F", "qcow2", root); err != nil {
		t.Fatal(err)
	}
	spec.Boot, spec.VCPUs = nil, 2
	spec.Disks = []hypervisor.Disk{{Path: root, Format: "qcow2"}, {Path: blankQCOW2(t, "data.qcow2", "32M"), Format: "qcow2"}}
	if err := d.Start(ctx, spec); err != nil {
		t.Fatalf("Start: %v", err)
	}
	h.waitConsole(t, dom, "novacron lab guest: init started (disk)", 1, 2*time.Minute)
	h.waitConsole(t, dom, "tick 1", 1, time.Minute)
	h.attachTap(t, dom, "ncst"+spec.ID[:8])

	first := h.sampleWithWitness(t, d, spec.ID, dom)
	if first.State != hypervisor.StateRunning || first.VCPUs != 2 || first.CPUTime <= 0 {
		t.Fatalf("first sample %+v, want a running domain with 2 vCPUs and CPU time", first)
	}
	if first.CPUMissing || first.DiskMissing || first.NetMissing {
		t.Fatalf("first sample %+v, want every group read", first)
	}
	if first.MemoryMaxBytes != uint64(spec.MemoryMiB)<<20 || first.BalloonBytes == 0 || first.BalloonBytes > first.MemoryMaxBytes {
		t.Fatalf("memory max %d, balloon %d; want max %d MiB and a balloon within it", first.MemoryMaxBytes, first.BalloonBytes, spec.MemoryMiB)
	}
	if !first.GuestMemory && first.MemoryUsedBytes != first.BalloonBytes {
		t.Fatalf("used %d without the guest's figures, want the balloon's %d", first.MemoryUsedBytes, first.BalloonBytes)
	}
	if first.DiskReadBytes == 0 || first.DiskReadOps == 0 {
		t.Fatalf("a guest that booted from its disk read nothing: %+v", first)
	}
	t.Logf("first sample: %+v", first)

	h.guestShell(t, d, spec.ID, dom, `dd if=/dev/zero of=/dev/vdb bs=64k count=64 conv=fsync 2>/dev/null; echo "data wr""itten"`, "data written")
	var second hypervisor.DomainStats
	testutil.EventuallyEvery(t, time.Minute, 200*time.Millisecond, "CPU time to grow over a second or more", func() error {
		second = h.sampleWithWitness(t, d, spec.ID, dom)
		if second.CPUTime <= first.CPUTime || second.At.Sub(first.At) < time.Second {
			return fmt.Errorf("CPU time %s after %s, then %s", first.CPUTime, second.At.Sub(first.At), second.CPUTime)
		}
		return nil
	})
	if got := second.DiskWriteBytes - first.DiskWriteBytes; got < 4<<20 || second.DiskWriteOps <= first.DiskWriteOps {
		t.Fatalf("the guest wrote 4 MiB; the write counters grew by %d bytes, %d ops", got, second.DiskWriteOps-first.DiskWriteOps)
	}
	r := hypervisor.Rates(first, second)
	if !r.HasCPU || !r.HasDisk || !r.HasNet || r.CPUPercent <= 0 || r.CPUPercent > 100 || r.DiskWriteBytesPerSec <= 0 {
		t.Fatalf("rates %+v", r)
	}
	t.Logf("rates over %s: cpu %.1f%% of 2 vCPUs (%.2f cores), disk read %.0f B/s write %.0f B/s (%.1f ops/s), net rx %.0f B/s tx %.0f B/s",
		r.Interval.Round(time.Millisecond), r.CPUPercent, r.CPUCores, r.DiskReadBytesPerSec, r.DiskWriteBytesPerSec,
		r.DiskWriteOpsPerSec, r.NetRxBytesPerSec, r.NetTxBytesPerSec)

	if err := d.Suspend(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	if paused := h.sampleWithWitness(t, d, spec.ID, dom); paused.State != hypervisor.StatePaused {
		t.Fatalf("sample of the paused domain: %+v", paused)
	}
	if err := d.Resume(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	before := h.sampleWithWitness(t, d, spec.ID, dom)
	if err := d.Destroy(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	if err := d.Start(ctx, spec); err != nil {
		t.Fatalf("Start again: %v", err)
	}
	after := h.sampleWithWitness(t, d, spec.ID, dom)
	if r := hypervisor.Rates(before, after); r.HasCPU || r.HasDisk {
		t.Fatalf("rates across a restart (CPU %s then %s, disk read %d then %d): %+v",
			before.CPUTime, after.CPUTime, before.DiskReadBytes, after.DiskReadBytes, r)
	}
}

// attachTap gives the running domain a virtio NIC on a tap named tap that
// libvirt creates, and removes with the domain's QEMU: the lab has no
// networks, and a tap leaves nothing behind on this machine.
func (h *qemuHost) attachTap(t *testing.T, dom, tap string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nic.xml")
	nic := fmt.Sprintf("<interface type='ethernet'><target dev='%s'/><model type='virtio'/></interface>", tap)
	if err := os.WriteFile(path, []byte(nic), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := h.virsh(t, "attach-device", dom, path, "--live"); err != nil {
		t.Fatalf("virsh attach-device: %v\n%s", err, out)
	}
}

// sampleWithWitness returns domain id's sample, checking each counter
// against virsh domstats' sums read just before and just after it (the
// counters only grow meanwhile).
func (h *qemuHost) sampleWithWitness(t *testing.T, d *Driver, id, dom string) hypervisor.DomainStats {
	t.Helper()
	lo := h.domstats(t, dom)
	stats, err := d.DomainStats(ctxT(t, 30*time.Second))
	if err != nil {
		t.Fatalf("DomainStats: %v", err)
	}
	hi := h.domstats(t, dom)
	var s *hypervisor.DomainStats
	for i := range stats {
		if stats[i].ID == id {
			s = &stats[i]
		}
	}
	if s == nil {
		t.Fatalf("DomainStats = %+v, without %s", stats, id)
	}
	for _, c := range []struct {
		name string
		got  uint64
		key  string
	}{
		{"cpu time", uint64(s.CPUTime), `cpu\.time`},
		{"disk read bytes", s.DiskReadBytes, `block\.\d+\.rd\.bytes`},
		{"disk write bytes", s.DiskWriteBytes, `block\.\d+\.wr\.bytes`},
		{"disk read ops", s.DiskReadOps, `block\.\d+\.rd\.reqs`},
		{"disk write ops", s.DiskWriteOps, `block\.\d+\.wr\.reqs`},
		{"net rx bytes", s.NetRxBytes, `net\.\d+\.rx\.bytes`},
		{"net tx bytes", s.NetTxBytes, `net\.\d+\.tx\.bytes`},
		{"net rx packets", s.NetRxPackets, `net\.\d+\.rx\.pkts`},
		{"net tx packets", s.NetTxPackets, `net\.\d+\.tx\.pkts`},
	} {
		re := regexp.MustCompile(`^` + c.key + `$`)
		if a, b := lo.sum(re), hi.sum(re); c.got < a || c.got > b {
			t.Fatalf("%s: DomainStats says %d, virsh %d before and %d after", c.name, c.got, a, b)
		}
	}
	if want := hi["vcpu.current"]; uint64(s.VCPUs) != want {
		t.Fatalf("vCPUs %d, virsh says %d", s.VCPUs, want)
	}
	if want := hi["balloon.maximum"] << 10; s.MemoryMaxBytes != want {
		t.Fatalf("memory max %d, virsh says %d bytes", s.MemoryMaxBytes, want)
	}
	if _, ok := hi["net.count"]; !ok {
		t.Fatalf("virsh domstats shows no interface: %v", hi)
	}
	return *s
}

// domstatsValues are virsh domstats' numeric figures by name.
type domstatsValues map[string]uint64

// domstats is `virsh domstats` of dom for the groups DomainStats reads.
func (h *qemuHost) domstats(t *testing.T, dom string) domstatsValues {
	t.Helper()
	out, err := h.virsh(t, "domstats", dom, "--state", "--cpu-total", "--balloon", "--vcpu", "--interface", "--block")
	if err != nil {
		t.Fatalf("virsh domstats: %v", err)
	}
	v := domstatsValues{}
	for _, line := range strings.Split(out, "\n") {
		key, val, ok := strings.Cut(strings.TrimSpace(line), "=")
		if n, err := strconv.ParseUint(val, 10, 64); ok && err == nil {
			v[key] = n
		}
	}
	return v
}

// sum adds the figures whose names match re.
func (v domstatsValues) sum(re *regexp.Regexp) uint64 {
	var n uint64
	for k, x := range v {
		if re.MatchString(k) {
			n += x
		}
	}
	return n
}
