package labtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// markerOffsetMiB is where on the root volume the snapshot test writes its
// markers: past the lab disk's own partition.
const markerOffsetMiB = 512

// bootMarkerScript is user-data that prints, once per boot, the marker
// found on the root volume: a guest restarted from its disks shows what
// they hold.
func bootMarkerScript(n int) string {
	return fmt.Sprintf("#!/bin/sh\necho \"boot-marker: $(dd if=/dev/vda bs=1M skip=%d count=1 2>/dev/null | head -c %d)\"\n", markerOffsetMiB, n)
}

// console is a serial console a test types commands into.
type console struct {
	t    *testing.T
	conn net.Conn
	seen chan string
}

func openConsole(t *testing.T, c *client.Client, vmID string) *console {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	conn, err := c.Console(ctx, vmID)
	if err != nil {
		t.Fatalf("console of %s: %v", vmID, err)
	}
	t.Cleanup(func() { conn.Close() })
	con := &console{t: t, conn: conn, seen: make(chan string, 256)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if n > 0 {
				con.seen <- string(buf[:n])
			}
			if err != nil {
				close(con.seen)
				return
			}
		}
	}()
	return con
}

// run types cmd followed by `echo done-<tag>` (spelt so the echo of what is
// typed does not match) until the guest answers.
func (con *console) run(cmd, tag string) {
	con.t.Helper()
	line := fmt.Sprintf("%s && echo done-$((40+2))-%s\n", cmd, tag)
	want := "done-42-" + tag
	var got strings.Builder
	testutil.EventuallyEvery(con.t, 30*time.Second, time.Second, "the guest running "+cmd, func() error {
		if _, err := con.conn.Write([]byte(line)); err != nil {
			return err
		}
		deadline := time.After(2 * time.Second)
		for {
			select {
			case s, ok := <-con.seen:
				if !ok {
					return fmt.Errorf("the console closed")
				}
				got.WriteString(s)
				if strings.Contains(got.String(), want) {
					return nil
				}
			case <-deadline:
				return fmt.Errorf("no %q yet", want)
			}
		}
	})
}

// writeMarker has the guest write marker to its root volume, synced.
func (con *console) writeMarker(marker string) {
	con.run(fmt.Sprintf("echo %s | dd of=/dev/vda bs=1M seek=%d conv=fsync 2>/dev/null", marker, markerOffsetMiB), marker)
}

// rootHolds reads the root volume's file at the marker's place, as qemu
// would, sharing the running guest's lock.
func rootHolds(path, marker string) error {
	out, err := exec.Command("qemu-io", "-r", "-U", "-f", "qcow2", "-c", fmt.Sprintf("read -v %d 16", markerOffsetMiB<<20), path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("qemu-io %s: %v: %s", path, err, out)
	}
	if !strings.Contains(string(out), marker) {
		return fmt.Errorf("the root volume does not hold %q: %s", marker, out)
	}
	return nil
}

func waitSnapshot(t *testing.T, c *client.Client, vmID, name, state string) {
	t.Helper()
	testutil.EventuallyEvery(t, 60*time.Second, virshPoll, "snapshot "+name+" "+state, func() error {
		sn, err := c.VMSnapshot(context.Background(), vmID, name)
		if err != nil {
			return err
		}
		if sn.Error != "" {
			t.Fatalf("snapshot %s: %s", name, sn.Error)
		}
		if sn.State != state {
			return fmt.Errorf("snapshot %s is %s", name, sn.State)
		}
		return nil
	})
}

// TestLab_SnapshotRevertBringsTheMarkerBack: the guest writes a marker to
// its disk, a snapshot is taken, the guest overwrites the marker, and a
// revert brings it back (the guest, restarted from its disks, reads it at
// boot). A snapshot with memory resumes the guest from its instant: its
// tick counter goes back. A VM with snapshots does not migrate.
func TestLab_SnapshotRevertBringsTheMarkerBack(t *testing.T) {
	l := needLab(t)
	c := l.client(t)
	ctx := context.Background()
	img := l.importLabImage(t, c)
	name := uniqueName("snap")
	before, after := diskMarker("KEEP"), diskMarker("LOSE")
	vm := l.createVM(t, c, client.VMRequest{Name: name, VCPUs: 1, MemoryMiB: 96, Image: img.Name,
		CloudInit: &client.CloudInit{Hostname: name, UserData: bootMarkerScript(len(before))}})
	p := l.waitRunning(t, c, vm.ID, bootTimeout)
	p.Host.waitTicks(t, p.Domain, 2, bootTimeout)
	disks, err := p.Host.blockDevices(p.Domain)
	if err != nil {
		t.Fatal(err)
	}
	root := disks["vda"]
	con := openConsole(t, c, vm.ID)

	con.writeMarker(before)
	if err := rootHolds(root, before); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateVMSnapshot(ctx, vm.ID, client.SnapshotRequest{Name: "before"}); err != nil {
		t.Fatal(err)
	}
	waitSnapshot(t, c, vm.ID, "before", "ready")
	con.writeMarker(after)
	if err := rootHolds(root, after); err != nil {
		t.Fatal(err)
	}
	if _, err := c.MigrateVM(ctx, vm.ID, client.MigrateRequest{Target: l.otherHost(p.Host).Name}); err == nil || !strings.Contains(err.Error(), "snapshots") {
		t.Fatalf("migrating a vm with snapshots: %v, want a refusal naming them", err)
	}

	offset := fileSize(p.Host.serialLog(p.Domain))
	if _, err := c.RevertVMSnapshot(ctx, vm.ID, "before"); err != nil {
		t.Fatal(err)
	}
	waitSnapshot(t, c, vm.ID, "before", "ready")
	testutil.EventuallyEvery(t, bootTimeout, virshPoll, "the guest restarted from its disks, reading the first marker", func() error {
		b, err := sinceRevert(p.Host.serialLog(p.Domain), offset)
		if err != nil {
			return err
		}
		if !strings.Contains(string(b), "boot-marker: "+before) {
			return fmt.Errorf("no boot-marker: %s since the revert", before)
		}
		return nil
	})
	if err := rootHolds(root, before); err != nil {
		t.Fatal(err)
	}

	// With memory: the guest goes on from the snapshot's instant.
	p.Host.waitTicks(t, p.Domain, 3, bootTimeout)
	if _, err := c.CreateVMSnapshot(ctx, vm.ID, client.SnapshotRequest{Name: "live", Memory: true}); err != nil {
		t.Fatal(err)
	}
	waitSnapshot(t, c, vm.ID, "live", "ready")
	atSnapshot := lastTick(p.Host.serialLog(p.Domain))
	testutil.EventuallyEvery(t, 30*time.Second, virshPoll, "the guest ticking on past the snapshot", func() error {
		if last := lastTick(p.Host.serialLog(p.Domain)); last < atSnapshot+5 {
			return fmt.Errorf("tick %d, want %d", last, atSnapshot+5)
		}
		return nil
	})
	offset = fileSize(p.Host.serialLog(p.Domain))
	if _, err := c.RevertVMSnapshot(ctx, vm.ID, "live"); err != nil {
		t.Fatal(err)
	}
	waitSnapshot(t, c, vm.ID, "live", "ready")
	testutil.EventuallyEvery(t, 30*time.Second, virshPoll, "ticks resuming from the snapshot's instant", func() error {
		from := offset
		if fileSize(p.Host.serialLog(p.Domain)) < offset {
			from = 0 // the revert restarted QEMU, which started the log anew
		}
		ts, err := ticks(p.Host.serialLog(p.Domain), from)
		if err != nil || len(ts) == 0 {
			return fmt.Errorf("no tick since the revert (%v)", err)
		}
		if ts[0] > atSnapshot+2 || ts[0] <= 1 {
			return fmt.Errorf("first tick after the revert is %d; the snapshot was taken at about %d", ts[0], atSnapshot)
		}
		return nil
	})

	for _, sn := range []string{"before", "live"} {
		if _, err := c.DeleteVMSnapshot(ctx, vm.ID, sn); err != nil {
			t.Fatal(err)
		}
		testutil.EventuallyEvery(t, 60*time.Second, virshPoll, "snapshot "+sn+" deleted", func() error {
			if _, err := c.VMSnapshot(ctx, vm.ID, sn); !client.IsNotFound(err) {
				return fmt.Errorf("still there (%v)", err)
			}
			return nil
		})
	}
	out, err := exec.Command("qemu-img", "snapshot", "-l", "-U", root).CombinedOutput()
	if err != nil || strings.Contains(string(out), "before") || strings.Contains(string(out), "live") {
		t.Fatalf("qemu-img snapshot -l %s after the deletes (%v): %s", root, err, out)
	}
}

// sinceRevert is what the serial log at path holds past offset, or all of
// it when it is shorter: a revert restarts QEMU, which starts the log anew.
func sinceRevert(path string, offset int64) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) < offset {
		return b, nil
	}
	return b[offset:], nil
}
