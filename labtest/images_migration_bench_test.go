package labtest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// fillScript is user-data that writes 64 MiB of data to the guest's root
// volume past the lab disk's partition, then says so: the blocks a
// storage-copying migration has to move.
const fillScript = "#!/bin/sh\nyes novacron | head -c 67108864 | dd of=/dev/vda bs=1M seek=256 conv=fsync 2>/dev/null\necho \"disk filled\"\n"

// BenchmarkLab_DiskMigrationVsVirsh moves a VM whose 1 GiB root volume (an
// overlay of the lab image holding 64 MiB of written data) is on its host's
// own disk, through NovaCron, and a foreign twin of it (its own overlay of
// the same image, the same seed, the same data written) with `virsh migrate
// --live --copy-storage-inc --migrate-disks vda` onto an overlay made ahead
// on the destination, in the same run. It reports libvirt's total for each
// (the migration record's for NovaCron, `domjobinfo --completed` for virsh)
// and their ratio. Incremental on both sides: both destinations hold the
// image, so only the overlay's blocks move (`--copy-storage-all` would
// flatten the chain into a full 1 GiB copy that NovaCron never makes).
func BenchmarkLab_DiskMigrationVsVirsh(b *testing.B) {
	l := needLab(b)
	a, dst := l.hosts[0], l.hosts[1]
	c := l.clientOf(b, a)
	img := l.importLabImage(b, c)
	name := uniqueName("bench-dmig")
	vm := l.createVM(b, c, client.VMRequest{Name: name, VCPUs: 1, MemoryMiB: 96, Image: img.Name,
		Placement: &client.PlacementSpec{Nodes: []string{a.Name, dst.Name}, PreferredNodes: []string{a.Name}},
		CloudInit: &client.CloudInit{UserData: fillScript}})
	p := l.waitRunning(b, c, vm.ID, bootTimeout)
	if p.Host != a {
		b.Fatalf("vm runs on %s, want %s", p.Host.Name, a.Name)
	}
	disks, err := a.blockDevices(p.Domain)
	if err != nil {
		b.Fatal(err)
	}
	info, err := imgInfo(disks["vda"])
	if err != nil {
		b.Fatal(err)
	}
	// The twin: its own overlay of a's copy of the image, the VM's seed.
	twinDir := b.TempDir()
	twin := uniqueName("labtest-dtwin")
	twinRoot := filepath.Join(twinDir, "a-root.qcow2")
	qemuImg(b, "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", info.Backing, twinRoot, "1G")
	xml, err := a.virsh("dumpxml", "--inactive", vm.ID)
	if err != nil {
		b.Fatal(err)
	}
	xml = strings.ReplaceAll(xml, disks["vda"], twinRoot)
	xml = strings.ReplaceAll(xml, p.Domain, twin)
	xml = regexp.MustCompile(`<uuid>[^<]*</uuid>`).ReplaceAllString(xml, "")
	xml = regexp.MustCompile(`(?s)<metadata>.*?</metadata>`).ReplaceAllString(xml, "")
	file := filepath.Join(twinDir, "twin.xml")
	if err := os.WriteFile(file, []byte(xml), 0o600); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		for _, h := range l.hosts {
			h.virsh("destroy", twin)  //nolint:errcheck // not running there
			h.virsh("undefine", twin) //nolint:errcheck // not defined there
		}
	})
	if _, err := a.virsh("define", file); err != nil {
		b.Fatal(err)
	}
	if _, err := a.virsh("start", twin); err != nil {
		b.Fatal(err)
	}
	for _, d := range []string{p.Domain, twin} {
		testutil.EventuallyEvery(b, 3*bootTimeout, virshPoll, d+" filling its disk", func() error {
			return logHas(a.serialLog(d), "disk filled")
		})
	}

	start := time.Now()
	m, err := c.MigrateVM(context.Background(), vm.ID, client.MigrateRequest{Mode: client.MigrateLive, Target: dst.Name})
	if err != nil {
		b.Fatal(err)
	}
	f := followMigration(b, c, m.ID, migrateTimeout, 20*time.Millisecond).final
	if f.State != client.MigrationCompleted || f.Result == nil {
		b.Fatalf("migration ended %s (%q)", f.State, f.Error)
	}
	ncWall := time.Since(start)

	// The twin's destination overlay, on dst's copy of the image, which
	// NovaCron's move has just made.
	dstDisks, err := dst.blockDevices(p.Domain)
	if err != nil {
		b.Fatal(err)
	}
	dstInfo, err := imgInfo(dstDisks["vda"])
	if err != nil {
		b.Fatal(err)
	}
	dstRoot := filepath.Join(twinDir, "b-root.qcow2")
	qemuImg(b, "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", dstInfo.Backing, dstRoot, "1G")
	live, err := a.virsh("dumpxml", "--migratable", twin)
	if err != nil {
		b.Fatal(err)
	}
	destFile := filepath.Join(twinDir, "twin-dest.xml")
	live = strings.ReplaceAll(live, twinRoot, dstRoot)
	live = strings.ReplaceAll(live, info.Backing, dstInfo.Backing)
	// The source's seed went with NovaCron's move; the destination's has
	// the same bytes.
	live = strings.ReplaceAll(live, disks["vdb"], dstDisks["vdb"])
	if err := os.WriteFile(destFile, []byte(live), 0o600); err != nil {
		b.Fatal(err)
	}
	vstart := time.Now()
	if out, err := a.virsh("migrate", "--live", "--persistent", "--undefinesource", "--copy-storage-inc", "--migrate-disks", "vda",
		"--xml", destFile, twin, dst.URI, "tcp://127.0.0.1"); err != nil {
		b.Fatalf("virsh migrate: %v %s", err, out)
	}
	virshWall := time.Since(vstart)
	job, err := dst.completedJob(twin)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(f.Result.TotalMs), "novacron-total-ms")
	b.ReportMetric(float64(f.Result.DowntimeMs), "novacron-downtime-ms")
	b.ReportMetric(job.total, "virsh-total-ms")
	b.ReportMetric(job.downtime, "virsh-downtime-ms")
	b.ReportMetric(float64(f.Result.TotalMs)/job.total, "total-ratio")
	b.Logf("NovaCron: total %d ms, downtime %d ms, %d bytes, POST to completed %s; virsh: total %.0f ms, downtime %.0f ms, command %s",
		f.Result.TotalMs, f.Result.DowntimeMs, f.Result.DataTransferred, ncWall.Round(time.Millisecond), job.total, job.downtime, virshWall.Round(time.Millisecond))
}

// qemuImg runs qemu-img and fails the benchmark on an error.
func qemuImg(tb testing.TB, args ...string) {
	tb.Helper()
	if out, err := exec.Command("qemu-img", args...).CombinedOutput(); err != nil {
		tb.Fatalf("qemu-img %s: %v %s", strings.Join(args, " "), err, out)
	}
}
