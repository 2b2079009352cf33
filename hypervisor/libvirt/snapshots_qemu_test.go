package libvirt

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	golibvirt "libvirt.org/go/libvirt"

	"github.com/novacron/novacron/cloudinit"
	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/internal/testutil"
)

// TestQEMU_SnapshotsOfDiskGuest takes, reverts and deletes internal
// snapshots of the lab's disk guest set up as a real VM: a qcow2 overlay
// root, a raw read-only cloud-init seed, and a blank qcow2 data volume
// attached while it runs. virsh, qemu-img and the guest's serial console
// are the witnesses:
//
//   - a checkpoint of the running guest is in the root and the data volume
//     (qemu-img snapshot -l), and the seed is left alone (unchanged bytes);
//   - a revert with memory: the guest's tick counter goes back to where it
//     was, without a boot, and a mark the guest wrote to the data volume
//     after the snapshot is gone;
//   - a revert without memory: the guest boots again ("init started"), and
//     the mark is gone;
//   - Migrate refuses a domain with snapshots, saying so;
//   - a disk-only snapshot of the stopped domain, and reverts that keep it
//     stopped, with the data volume's content (written with qemu-io while
//     no QEMU holds it) back as it was;
//   - a revert with memory of the stopped domain resumes the guest;
//   - DeleteSnapshot removes it from libvirt and from the disks;
//   - libvirt refuses a plain undefine of the domain, Undefine works.
func TestQEMU_SnapshotsOfDiskGuest(t *testing.T) {
	h := newQEMUHost(t)
	image := h.labImage(t)
	d := h.driver(t)
	spec, dom := h.guestSpec(t, "snaps")
	// guestSpec's cleanup undefines without --snapshots-metadata, which
	// libvirt refuses while the domain has snapshots; this one runs first.
	t.Cleanup(func() {
		ctx := ctxT(t, 30*time.Second)
		run(ctx, "", "virsh", "-c", h.uri, "destroy", dom)
		run(ctx, "", "virsh", "-c", h.uri, "undefine", "--snapshots-metadata", "--nvram", dom)
	})
	ctx := ctxT(t, 10*time.Minute)
	dir := t.TempDir()
	root := filepath.Join(dir, "root.qcow2")
	if _, err := run(ctx, "", "qemu-img", "create", "-q", "-f", "qcow2", "-b", image, "-F", "qcow2", root); err != nil {
		t.Fatal(err)
	}
	files, err := cloudinit.Files(spec.ID, "snaps", cloudinit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	seed := filepath.Join(dir, "seed.iso")
	if err := cloudinit.WriteISO(seed, files); err != nil {
		t.Fatal(err)
	}
	seedSum := fileSum(t, seed)
	spec.Boot = nil
	spec.Disks = []hypervisor.Disk{{Path: root, Format: "qcow2"}, {Path: seed, Format: "raw", ReadOnly: true}}
	if err := d.Start(ctx, spec); err != nil {
		t.Fatalf("Start: %v", err)
	}
	h.waitConsole(t, dom, "cloud-init: hostname=snaps", 1, 2*time.Minute)
	h.waitConsole(t, dom, "tick 2", 1, time.Minute)
	data := blankQCOW2(t, "data.qcow2", "64M")
	if err := d.AttachDisk(ctx, spec.ID, hypervisor.Disk{Path: data, Format: "qcow2", Target: "vdc"}); err != nil {
		t.Fatalf("AttachDisk: %v", err)
	}
	h.waitConsole(t, dom, "[vdc] 131072 512-byte logical blocks", 1, time.Minute)

	// A checkpoint of the running guest.
	pauses := watchPauses(t, h.uri, spec.ID)
	before := h.lastTick(dom)
	start := time.Now()
	if err := d.CreateSnapshot(ctx, spec.ID, "ckpt"); err != nil {
		t.Fatalf("CreateSnapshot of the running guest: %v", err)
	}
	took := time.Since(start)
	after := h.lastTick(dom)
	t.Logf("checkpoint of the running 96 MiB guest: CreateSnapshot took %s, the guest was paused %s (its ticks %d..%d)",
		took.Round(time.Millisecond), pauses.wait(t).Round(time.Millisecond), before, after)
	if err := d.CreateSnapshot(ctx, spec.ID, "ckpt"); err != nil {
		t.Fatalf("CreateSnapshot of a name the domain has: %v, want a no-op", err)
	}
	h.wantSnapshots(t, d, spec.ID, dom, "ckpt")
	h.wantDiskSnapshots(t, root, "ckpt")
	h.wantDiskSnapshots(t, data, "ckpt")
	t.Logf("the checkpoint in the root: %s", diskSnapshotLine(t, root, "ckpt"))
	if fileSum(t, seed) != seedSum {
		t.Fatal("the read-only seed changed")
	}
	if got := h.domstate(t, dom); got != "running" {
		t.Fatalf("virsh domstate after the checkpoint: %q", got)
	}

	// Revert with memory: the guest goes on from the checkpoint.
	h.guestShell(t, d, spec.ID, dom, markVDC, "mark written")
	h.guestShell(t, d, spec.ID, dom, checkVDC, "vdc: marked")
	h.waitConsole(t, dom, fmt.Sprintf("tick %d", after+5), 1, time.Minute)
	was := h.lastTick(dom)
	mark := h.consoleMark(dom)
	start = time.Now()
	if err := d.RevertSnapshot(ctx, spec.ID, "ckpt", true, true); err != nil {
		t.Fatalf("RevertSnapshot with memory: %v", err)
	}
	t.Logf("revert with memory (running) took %s", time.Since(start).Round(time.Millisecond))
	first := h.firstTickSince(t, dom, mark)
	if first < before || first > after+2 || first >= was {
		t.Fatalf("the first tick after the revert is %d; the checkpoint was taken between ticks %d and %d, the guest was at %d",
			first, before, after, was)
	}
	if out := h.consoleSince(dom, mark); strings.Contains(out, "init started") {
		t.Fatalf("the guest booted after a revert with memory:\n%s", out)
	}
	t.Logf("the guest was at tick %d; after the revert it went on from tick %d (checkpoint between %d and %d)", was, first, before, after)
	h.waitDomstate(t, dom, "running", 10*time.Second)
	h.guestShell(t, d, spec.ID, dom, checkVDC, "vdc: clean")

	// Migrate refuses a domain with snapshots, and says why.
	_, err = d.Migrate(ctx, spec.ID, hypervisor.MigrateOptions{
		DestURI: "qemu+unix:///system?socket=" + filepath.Join(dir, "no-such.sock"), Live: true,
	}, nil)
	if !errors.Is(err, ErrState) || !strings.Contains(err.Error(), "snapshot") {
		t.Fatalf("Migrate of a domain with a snapshot: %v, want ErrState naming the snapshots", err)
	}
	t.Logf("Migrate of a domain with a snapshot: %v", err)

	// Revert without memory: the guest boots from its disks as they were.
	h.guestShell(t, d, spec.ID, dom, markVDC, "mark written")
	mark = h.consoleMark(dom)
	start = time.Now()
	if err := d.RevertSnapshot(ctx, spec.ID, "ckpt", false, true); err != nil {
		t.Fatalf("RevertSnapshot without memory: %v", err)
	}
	t.Logf("revert without memory (running) took %s", time.Since(start).Round(time.Millisecond))
	booted := h.waitConsoleSince(t, dom, mark, "init started (disk)", 2*time.Minute)
	t.Logf("the guest booted again %s after the revert returned", booted.Round(time.Millisecond))
	h.waitConsoleSince(t, dom, mark, "tick 1", time.Minute)
	h.waitDomstate(t, dom, "running", 10*time.Second)
	wantState(t, d, spec.ID, hypervisor.StateRunning)
	h.guestShell(t, d, spec.ID, dom, checkVDC, "vdc: clean")

	// A disk-only snapshot of the stopped domain; reverts that keep it
	// stopped.
	if err := d.Destroy(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := d.CreateSnapshot(ctx, spec.ID, "off"); err != nil {
		t.Fatalf("CreateSnapshot of the stopped domain: %v", err)
	}
	t.Logf("snapshot of the stopped domain took %s", time.Since(start).Round(time.Millisecond))
	h.wantSnapshots(t, d, spec.ID, dom, "ckpt", "off")
	h.wantDiskSnapshots(t, root, "ckpt", "off")
	h.wantDiskSnapshots(t, data, "ckpt", "off")
	for _, snap := range []struct {
		name   string
		memory bool
	}{{"off", false}, {"ckpt", true}} {
		qemuIO(t, data, "write -P 0x4e 0 4k")
		if err := d.RevertSnapshot(ctx, spec.ID, snap.name, snap.memory, false); err != nil {
			t.Fatalf("RevertSnapshot %s (not running): %v", snap.name, err)
		}
		if got := h.domstate(t, dom); got != "shut off" {
			t.Fatalf("virsh domstate after reverting to %s not running: %q", snap.name, got)
		}
		wantState(t, d, spec.ID, hypervisor.StateStopped)
		qemuIO(t, data, "read -P 0 0 4k") // fails unless the block reads zeros again
	}

	// A revert with memory of the stopped domain resumes the guest.
	mark = h.consoleMark(dom)
	if err := d.RevertSnapshot(ctx, spec.ID, "ckpt", true, true); err != nil {
		t.Fatalf("RevertSnapshot with memory of the stopped domain: %v", err)
	}
	if first := h.firstTickSince(t, dom, mark); first < before || first > after+2 {
		t.Fatalf("the first tick after reverting the stopped domain is %d, want %d..%d", first, before, after+2)
	}
	wantState(t, d, spec.ID, hypervisor.StateRunning)

	// Delete.
	for i := 0; i < 2; i++ { // the second finds nothing to do
		start = time.Now()
		if err := d.DeleteSnapshot(ctx, spec.ID, "off"); err != nil {
			t.Fatalf("DeleteSnapshot off (%d): %v", i, err)
		}
		t.Logf("DeleteSnapshot of the running guest's disk-only snapshot (%d) took %s", i, time.Since(start).Round(time.Millisecond))
	}
	h.wantSnapshots(t, d, spec.ID, dom, "ckpt")
	h.wantDiskSnapshots(t, root, "ckpt")
	h.wantDiskSnapshots(t, data, "ckpt")

	// Undefine: libvirt refuses it without DOMAIN_UNDEFINE_SNAPSHOTS_METADATA.
	if err := d.Destroy(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	if out, err := h.virsh(t, "undefine", dom); err == nil || !strings.Contains(out+err.Error(), "snapshot") {
		t.Fatalf("virsh undefine (no flags) of a domain with a snapshot: %v\n%s", err, out)
	}
	if err := d.Undefine(ctx, spec.ID); err != nil {
		t.Fatalf("Undefine of a domain with a snapshot: %v", err)
	}
	if _, err := d.Inspect(ctx, spec.ID); !errors.Is(err, hypervisor.ErrNotFound) {
		t.Fatalf("Inspect after Undefine: %v", err)
	}
	// libvirt dropped its metadata only: the data stays in the disk files,
	// which go with the VM's volumes.
	h.wantDiskSnapshots(t, root, "ckpt")
}

// markVDC writes a mark at the start of the guest's vdc; checkVDC prints
// whether it is there, read past the guest's page cache. The quotes keep
// the console's echo of the command from matching what it prints.
const (
	markVDC  = `printf NOVACRON-MARK | dd of=/dev/vdc 2>/dev/null; sync; echo "mark wr""itten"`
	checkVDC = `echo 3 >/proc/sys/vm/drop_caches; if dd if=/dev/vdc bs=13 count=1 2>/dev/null | grep -q NOVACRON-MARK; then echo "vdc: ma""rked"; else echo "vdc: cl""ean"; fi`
)

// guestShell types cmd on the guest's serial console (its shell) and waits
// for want in the console log, where the command line shows too (so it
// must not contain want).
func (h *qemuHost) guestShell(t *testing.T, d *Driver, id, dom, cmd, want string) {
	t.Helper()
	if strings.Contains(cmd, want) {
		t.Fatalf("the echo of %q would match %q", cmd, want)
	}
	mark := h.consoleMark(dom)
	c, err := d.OpenConsole(ctxT(t, 30*time.Second), id)
	if err != nil {
		t.Fatalf("OpenConsole: %v", err)
	}
	// Nothing reads the stream: the log is the witness, and a Read blocked
	// in libvirt while Close frees the stream makes libvirt warn of a freed
	// object. The little the guest prints meanwhile fits its buffers.
	defer c.Close()
	if _, err := c.Write([]byte("\n" + cmd + "\n")); err != nil {
		t.Fatalf("type on the console: %v", err)
	}
	h.waitConsoleSince(t, dom, mark, want, time.Minute)
}

// consoleMark is where a domain's console log stands: its QEMU, and how
// much the log holds. A new QEMU (a revert restarts it) truncates the log.
type consoleMark struct {
	pid  string
	size int
}

func (h *qemuHost) consoleMark(dom string) consoleMark {
	b, _ := os.ReadFile(h.runFile("qemu", dom+".pid"))
	return consoleMark{pid: strings.TrimSpace(string(b)), size: len(h.console(dom))}
}

// consoleSince is what the console log got after mark: all of it when
// another QEMU writes it now.
func (h *qemuHost) consoleSince(dom string, mark consoleMark) string {
	now := h.consoleMark(dom)
	log := h.console(dom)
	if now.pid != mark.pid || len(log) < mark.size {
		return log
	}
	return log[mark.size:]
}

func (h *qemuHost) waitConsoleSince(t *testing.T, dom string, mark consoleMark, s string, within time.Duration) time.Duration {
	t.Helper()
	return testutil.EventuallyEvery(t, within, pollEvery, "console of "+dom+" shows "+s, func() error {
		if !strings.Contains(h.consoleSince(dom, mark), s) {
			return errors.New("not yet")
		}
		return nil
	})
}

// firstTickSince waits for a tick in the console after mark and returns the
// first one's number.
func (h *qemuHost) firstTickSince(t *testing.T, dom string, mark consoleMark) int {
	t.Helper()
	var first int
	testutil.EventuallyEvery(t, time.Minute, pollEvery, "a tick on the console of "+dom, func() error {
		nums := ticksIn(h.consoleSince(dom, mark))
		if len(nums) == 0 {
			return errors.New("no tick yet")
		}
		first = nums[0]
		return nil
	})
	return first
}

// tickRE is a tick at the end of a console line: the shell's prompt or a
// kernel message may have started the line.
var tickRE = regexp.MustCompile(`(?m)tick (\d+)\r?$`)

// ticksIn returns the numbers of the ticks in console output.
func ticksIn(s string) []int {
	var out []int
	for _, m := range tickRE.FindAllStringSubmatch(s, -1) {
		if n, err := strconv.Atoi(m[1]); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// lastTick is the last tick on the domain's console, 0 if none.
func (h *qemuHost) lastTick(dom string) int {
	nums := ticksIn(h.console(dom))
	if len(nums) == 0 {
		return 0
	}
	return nums[len(nums)-1]
}

// wantSnapshots checks the domain's snapshots as the driver and virsh list
// them.
func (h *qemuHost) wantSnapshots(t *testing.T, d *Driver, id, dom string, want ...string) {
	t.Helper()
	got, err := d.Snapshots(ctxT(t, 30*time.Second), id)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("Snapshots = %v, %v; want %v", got, err, want)
	}
	out, err := h.virsh(t, "snapshot-list", "--name", dom)
	if err != nil {
		t.Fatal(err)
	}
	names := strings.Fields(out)
	slices.Sort(names)
	if !slices.Equal(names, want) {
		t.Fatalf("virsh snapshot-list: %v, want %v", names, want)
	}
}

// wantDiskSnapshots checks the internal snapshots in a qcow2 file, read
// with -U (--force-share) while QEMU may hold it.
func (h *qemuHost) wantDiskSnapshots(t *testing.T, path string, want ...string) {
	t.Helper()
	var got []string
	for _, line := range diskSnapshotLines(t, path) {
		got = append(got, strings.Fields(line)[1])
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("qemu-img snapshot -l %s: %v, want %v", filepath.Base(path), got, want)
	}
}

// diskSnapshotLines are the rows of `qemu-img snapshot -l`.
func diskSnapshotLines(t *testing.T, path string) []string {
	t.Helper()
	out, err := run(ctxT(t, 30*time.Second), "", "qemu-img", "snapshot", "-l", "-U", path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] != "ID" && f[0] != "Snapshot" {
			rows = append(rows, line)
		}
	}
	return rows
}

func diskSnapshotLine(t *testing.T, path, name string) string {
	for _, line := range diskSnapshotLines(t, path) {
		if strings.Fields(line)[1] == name {
			return strings.Join(strings.Fields(line), " ")
		}
	}
	return ""
}

// qemuIO runs one qemu-io command on a qcow2 file no QEMU holds.
func qemuIO(t *testing.T, path, cmd string) {
	t.Helper()
	out, err := run(ctxT(t, 30*time.Second), "", "qemu-io", "-f", "qcow2", "-c", cmd, path)
	if err != nil || strings.Contains(out, "failed") {
		t.Fatalf("qemu-io -c %q %s: %v\n%s", cmd, filepath.Base(path), err, out)
	}
}

func fileSum(t *testing.T, path string) [sha256.Size]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// pauseWatch times a domain's pauses from libvirt's lifecycle events, on a
// connection of the test's own.
type pauseWatch struct {
	mu        sync.Mutex
	suspended time.Time
	pauses    []time.Duration
}

func watchPauses(t *testing.T, uri, id string) *pauseWatch {
	t.Helper()
	c := rawConn(t, uri)
	dom, err := c.LookupDomainByUUIDString(id)
	if err != nil {
		t.Fatal(err)
	}
	defer dom.Free()
	w := &pauseWatch{}
	cb, err := c.DomainEventLifecycleRegister(dom, func(_ *golibvirt.Connect, _ *golibvirt.Domain, ev *golibvirt.DomainEventLifecycle) {
		w.mu.Lock()
		defer w.mu.Unlock()
		switch ev.Event {
		case golibvirt.DOMAIN_EVENT_SUSPENDED:
			w.suspended = time.Now()
		case golibvirt.DOMAIN_EVENT_RESUMED:
			if !w.suspended.IsZero() {
				w.pauses = append(w.pauses, time.Since(w.suspended))
				w.suspended = time.Time{}
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.DomainEventDeregister(cb) })
	return w
}

// wait returns the first pause, waiting a little for its events.
func (w *pauseWatch) wait(t *testing.T) time.Duration {
	t.Helper()
	var d time.Duration
	testutil.EventuallyEvery(t, 10*time.Second, pollEvery, "the guest's pause and resume events", func() error {
		w.mu.Lock()
		defer w.mu.Unlock()
		if len(w.pauses) == 0 {
			return errors.New("none yet")
		}
		d = w.pauses[0]
		return nil
	})
	return d
}
