package labtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// markerScript is user-data that writes a marker to the guest's root volume,
// past the lab disk's own partition, and prints what is there every second:
// the copy of the volume is read back from inside the guest.
func markerScript(marker string) string {
	return "#!/bin/sh\n" +
		"echo " + marker + " | dd of=/dev/vda bs=1M seek=512 conv=fsync 2>/dev/null\n" +
		"while true; do echo \"marker: $(dd if=/dev/vda bs=1M skip=512 count=1 2>/dev/null | head -c " + fmt.Sprint(len(marker)) + ")\"; sleep 1; done\n"
}

// TestLab_LiveMigrationCopiesLocalDisk: a VM whose root volume is on its
// host's own disk moves live with it: its tick counter carries on, the data
// it wrote before the move reads back on the destination, the destination's
// copy is an overlay of its own copy of the image, and the source's volumes
// are gone.
func TestLab_LiveMigrationCopiesLocalDisk(t *testing.T) {
	l := needLab(t)
	c := l.client(t)
	img := l.importLabImage(t, c)
	name := uniqueName("disk-move")
	marker := "MARK-" + name[len(name)-6:]
	vm := l.createVM(t, c, client.VMRequest{Name: name, VCPUs: 1, MemoryMiB: 96, Image: img.Name,
		CloudInit: &client.CloudInit{Hostname: name, UserData: markerScript(marker)}})
	p := l.waitRunning(t, c, vm.ID, bootTimeout)
	src, dst := p.Host, l.otherHost(p.Host)
	testutil.EventuallyEvery(t, bootTimeout, virshPoll, "the marker read back on the source", func() error {
		return logHas(src.serialLog(p.Domain), "marker: "+marker)
	})
	disks, err := src.blockDevices(p.Domain)
	if err != nil {
		t.Fatal(err)
	}
	srcRoot := disks["vda"]
	seenOnSource := lastTick(src.serialLog(p.Domain))

	m, err := c.MigrateVM(context.Background(), vm.ID, client.MigrateRequest{Mode: client.MigrateLive, Target: dst.Name})
	if err != nil {
		t.Fatalf("migrate %s to %s: %v", vm.Name, dst.Name, err)
	}
	w := followMigration(t, c, m.ID, migrateTimeout, 50*time.Millisecond)
	if f := w.final; f.State != client.MigrationCompleted || f.Error != "" {
		t.Fatalf("migration ended %s (error %q), want completed", f.State, f.Error)
	}
	if r := w.final.Result; r != nil {
		t.Logf("libvirt's figures: total %d ms, downtime %d ms, %d bytes (memory and disk)", r.TotalMs, r.DowntimeMs, r.DataTransferred)
	}
	testutil.EventuallyEvery(t, 15*time.Second, virshPoll, "the domain running on the destination only", func() error {
		return l.onlyOn(dst, vm.ID, "running")
	})
	// The guest did not reboot: its ticks go on past what the source saw,
	// and it reads its marker back from the copied volume.
	testutil.EventuallyEvery(t, 30*time.Second, virshPoll, "ticks and the marker on the destination's console", func() error {
		if last := lastTick(dst.serialLog(p.Domain)); last <= seenOnSource {
			return fmt.Errorf("last tick on the destination %d, the source had shown %d", last, seenOnSource)
		}
		return logHas(dst.serialLog(p.Domain), "marker: "+marker)
	})
	if ts, _ := ticks(dst.serialLog(p.Domain), 0); len(ts) > 0 && ts[0] == 1 {
		t.Fatalf("the guest rebooted on the destination: ticks %v", ts)
	}
	dstDisks, err := dst.blockDevices(p.Domain)
	if err != nil {
		t.Fatal(err)
	}
	info, err := imgInfo(dstDisks["vda"])
	if err != nil {
		t.Fatal(err)
	}
	if dstDisks["vda"] == srcRoot || !strings.HasPrefix(dstDisks["vda"], dst.Dir) || info.Format != "qcow2" || !strings.HasPrefix(info.Backing, dst.Dir) {
		t.Fatalf("destination root %s (%+v): want its own overlay under %s backed by its own copy of the image", dstDisks["vda"], info, dst.Dir)
	}
	testutil.Eventually(t, 15*time.Second, "the source's volumes removed", func() error {
		if _, err := os.Stat(srcRoot); !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s still there (%v)", srcRoot, err)
		}
		return nil
	})
}

// logHas checks that the file holds s.
func logHas(path, s string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !strings.Contains(string(b), s) {
		return fmt.Errorf("no %q in %s yet", s, path)
	}
	return nil
}

// TestLab_DiskMigrationDestinationDies: the destination's libvirtd dies
// while a VM's local disk is being copied: the migration fails, the guest
// goes on running on the source with its disk, and the half-copied volume
// the destination prepared is removed.
func TestLab_DiskMigrationDestinationDies(t *testing.T) {
	l := needLab(t)
	c := l.client(t)
	img := l.importLabImage(t, c)
	name := uniqueName("disk-doomed")
	vm := l.createVM(t, c, client.VMRequest{Name: name, VCPUs: 1, MemoryMiB: 96, Image: img.Name,
		CloudInit: &client.CloudInit{Hostname: name, UserData: markerScript("DOOMED-1")}})
	p := l.waitRunning(t, c, vm.ID, bootTimeout)
	testutil.EventuallyEvery(t, bootTimeout, virshPoll, "the marker on the source", func() error {
		return logHas(p.Host.serialLog(p.Domain), "marker: DOOMED-1")
	})
	src, dst := p.Host, l.otherHost(p.Host)
	srcDisks, err := src.blockDevices(p.Domain)
	if err != nil {
		t.Fatal(err)
	}

	m, err := c.MigrateVM(context.Background(), vm.ID, client.MigrateRequest{Target: dst.Name, BandwidthMiBps: 2})
	if err != nil {
		t.Fatal(err)
	}
	waitMigrationRunning(t, c, m.ID, migrateTimeout)
	// The destination prepared the volume: the file libvirt copies into.
	var prepared string
	testutil.Eventually(t, 10*time.Second, "the destination's prepared root volume", func() error {
		matches, _ := filepath.Glob(filepath.Join(dst.Dir, "agent", "pools", "*", "volumes", vm.ID+"-root.qcow2"))
		if len(matches) != 1 {
			return fmt.Errorf("found %v", matches)
		}
		prepared = matches[0]
		return nil
	})
	old := dst.killLibvirtd(t)
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			dst.startLibvirtd(t, old)
		}
	})
	if f := followMigration(t, c, m.ID, migrateTimeout, testutil.PollInterval).final; f.State != client.MigrationFailed {
		t.Fatalf("migration ended %s (%q), want failed", f.State, f.Error)
	}
	before := lastTick(src.serialLog(p.Domain))
	testutil.EventuallyEvery(t, 30*time.Second, virshPoll, "the guest going on on the source", func() error {
		if st, err := src.domState(vm.ID); err != nil || st != "running" {
			return fmt.Errorf("on %s: %q (%v)", src.Name, st, err)
		}
		if last := lastTick(src.serialLog(p.Domain)); last <= before {
			return fmt.Errorf("tick %d, was %d", last, before)
		}
		return nil
	})
	if _, err := os.Stat(srcDisks["vda"]); err != nil {
		t.Fatalf("the source's root volume: %v", err)
	}
	testutil.Eventually(t, 30*time.Second, "the half-copied volume removed from "+dst.Name, func() error {
		if _, err := os.Stat(prepared); !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s still there (%v)", prepared, err)
		}
		return nil
	})
	dst.startLibvirtd(t, old)
	restarted = true
}
