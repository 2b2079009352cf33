package labtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// diskWatchScript is user-data that prints, every second, the disks the
// guest's kernel sees and the size of vdc; once per boot, as soon as vdc
// appears, it says whether vdc starts with marker ("vdc: found marker", a
// disk that kept its data) or writes it there, synced ("vdc: marked").
func diskWatchScript(marker string) string {
	return "#!/bin/sh\n" +
		"marked=\n" +
		"while true; do\n" +
		"  echo \"disks: $(grep -o 'vd[a-z]*$' /proc/partitions | tr '\\n' ' ')\"\n" +
		"  if [ -b /dev/vdc ]; then\n" +
		"    echo \"vdc-sectors: $(cat /sys/block/vdc/size)\"\n" +
		"    if [ -z \"$marked\" ]; then\n" +
		"      marked=1\n" +
		"      if [ \"$(head -c " + fmt.Sprint(len(marker)) + " /dev/vdc)\" = " + marker + " ]; then echo 'vdc: found marker'\n" +
		"      else echo " + marker + " | dd of=/dev/vdc conv=fsync 2>/dev/null && echo 'vdc: marked'; fi\n" +
		"    fi\n" +
		"  fi\n" +
		"  sleep 1\n" +
		"done\n"
}

// diskMarker is a marker no hexdump mangles: letters and digits only.
func diskMarker(prefix string) string {
	return fmt.Sprintf("%s%06d", prefix, time.Now().UnixNano()%1e6)
}

// volumeStartsWith reads the first bytes of a qcow2 volume file, as qemu
// itself would (qemu-io, sharing the lock of the running guest), and
// checks they hold marker.
func volumeStartsWith(path, marker string) error {
	out, err := exec.Command("qemu-io", "-r", "-U", "-f", "qcow2", "-c", "read -v 0 16", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("qemu-io %s: %v: %s", path, err, out)
	}
	if !strings.Contains(string(out), marker) {
		return fmt.Errorf("%s does not start with %q: %s", path, marker, out)
	}
	return nil
}

// waitVolume polls a volume until check passes.
func waitVolume(tb testing.TB, c *client.Client, id, what string, check func(*client.Volume) error) *client.Volume {
	tb.Helper()
	var v *client.Volume
	testutil.EventuallyEvery(tb, 60*time.Second, virshPoll, what, func() error {
		var err error
		if v, err = c.Volume(context.Background(), id); err != nil {
			return err
		}
		if v.Error != "" {
			return fmt.Errorf("volume %s: %s", v.Name, v.Error)
		}
		return check(v)
	})
	return v
}

// TestLab_DataVolumeHotplugGrowMoveDetach: a blank volume attached to a
// running VM appears in the guest as a new disk (its kernel lists vdc),
// the guest writes to it, it grows while the guest runs (the guest sees the
// new size), it moves with a live migration (the data is in the
// destination's file, the source's file is gone), and it detaches (the
// guest no longer lists it) and is deleted with its file.
func TestLab_DataVolumeHotplugGrowMoveDetach(t *testing.T) {
	l := needLab(t)
	c := l.client(t)
	ctx := context.Background()
	img := l.importLabImage(t, c)
	name := uniqueName("vol")
	marker := diskMarker("VOL")
	// Made first, so its clean-up runs after the VM's (which detaches it).
	vol, err := c.CreateVolume(ctx, client.VolumeRequest{Name: name + "-data", SizeGiB: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteVolume(t, l, vol.ID) })
	vm := l.createVM(t, c, client.VMRequest{Name: name, VCPUs: 1, MemoryMiB: 96, Image: img.Name,
		CloudInit: &client.CloudInit{Hostname: name, UserData: diskWatchScript(marker)}})
	p := l.waitRunning(t, c, vm.ID, bootTimeout)
	testutil.EventuallyEvery(t, bootTimeout, virshPoll, "the guest listing its disks", func() error {
		return logHas(p.Host.serialLog(p.Domain), "disks: vda vdb ")
	})

	if _, err := c.AttachVolume(ctx, vm.ID, vol.Name); err != nil {
		t.Fatalf("attach %s to %s: %v", vol.Name, vm.Name, err)
	}
	vol = waitVolume(t, c, vol.ID, "the volume attached", func(v *client.Volume) error {
		if v.Attachment != "attached" || v.Target != "vdc" || v.FileGiB != 1 {
			return fmt.Errorf("attachment %q as %q, file %d GiB", v.Attachment, v.Target, v.FileGiB)
		}
		return nil
	})
	disks, err := p.Host.blockDevices(p.Domain)
	if err != nil {
		t.Fatal(err)
	}
	srcFile := disks["vdc"]
	if !strings.HasPrefix(srcFile, p.Host.Dir) {
		t.Fatalf("libvirt has vdc at %q, want a file under %s", srcFile, p.Host.Dir)
	}
	testutil.EventuallyEvery(t, 30*time.Second, virshPoll, "the guest seeing the new disk and writing to it", func() error {
		log := p.Host.serialLog(p.Domain)
		if err := logHas(log, "disks: vda vdb vdc "); err != nil {
			return err
		}
		return logHas(log, "vdc: marked")
	})
	if err := volumeStartsWith(srcFile, marker); err != nil {
		t.Fatal(err)
	}

	// Grown while the guest runs: 2 GiB is 4194304 sectors.
	if _, err := c.ResizeVolume(ctx, vol.ID, 2); err != nil {
		t.Fatal(err)
	}
	waitVolume(t, c, vol.ID, "the volume grown", func(v *client.Volume) error {
		if v.FileGiB != 2 {
			return fmt.Errorf("file %d GiB", v.FileGiB)
		}
		return nil
	})
	testutil.EventuallyEvery(t, 30*time.Second, virshPoll, "the guest seeing the new size", func() error {
		return logHas(p.Host.serialLog(p.Domain), "vdc-sectors: 4194304")
	})

	// It moves with the VM.
	dst := l.otherHost(p.Host)
	m, err := c.MigrateVM(ctx, vm.ID, client.MigrateRequest{Mode: client.MigrateLive, Target: dst.Name})
	if err != nil {
		t.Fatalf("migrate %s to %s: %v", vm.Name, dst.Name, err)
	}
	if f := followMigration(t, c, m.ID, migrateTimeout, 100*time.Millisecond).final; f.State != client.MigrationCompleted {
		t.Fatalf("migration ended %s (error %q), want completed", f.State, f.Error)
	}
	testutil.EventuallyEvery(t, 15*time.Second, virshPoll, "the domain running on the destination only", func() error {
		return l.onlyOn(dst, vm.ID, "running")
	})
	dstDisks, err := dst.blockDevices(p.Domain)
	if err != nil {
		t.Fatal(err)
	}
	dstFile := dstDisks["vdc"]
	if dstFile == srcFile || !strings.HasPrefix(dstFile, dst.Dir) {
		t.Fatalf("on the destination vdc is %q, want a file of its own under %s", dstFile, dst.Dir)
	}
	if err := volumeStartsWith(dstFile, marker); err != nil {
		t.Fatalf("the data written before the move: %v", err)
	}
	testutil.Eventually(t, 15*time.Second, "the source's copy removed", func() error {
		if _, err := os.Stat(srcFile); !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s still there (%v)", srcFile, err)
		}
		return nil
	})
	if v, err := c.Volume(ctx, vol.ID); err != nil || v.Host == "" || v.Host == vol.Host {
		t.Fatalf("after the move the volume is on %q (was %q): %v", v.Host, vol.Host, err)
	}

	// Detached while the guest runs: the guest no longer lists it.
	offset := fileSize(dst.serialLog(p.Domain))
	if _, err := c.DetachVolume(ctx, vm.ID, vol.ID); err != nil {
		t.Fatal(err)
	}
	waitVolume(t, c, vol.ID, "the volume detached", func(v *client.Volume) error {
		if v.VM != "" || v.Attachment != "" {
			return fmt.Errorf("still %s to %s", v.Attachment, v.VM)
		}
		return nil
	})
	if d, err := dst.blockDevices(p.Domain); err != nil || d["vdc"] != "" {
		t.Fatalf("libvirt still lists vdc (%v): %v", d, err)
	}
	testutil.EventuallyEvery(t, 30*time.Second, virshPoll, "the guest without vdc", func() error {
		b, err := os.ReadFile(dst.serialLog(p.Domain))
		if err != nil {
			return err
		}
		if int64(len(b)) < offset {
			return errors.New("the serial log shrank")
		}
		// The serial console ends its lines with \r\n.
		if !strings.Contains(strings.ReplaceAll(string(b[offset:]), "\r", ""), "disks: vda vdb \n") {
			return errors.New("the guest still lists vdc")
		}
		return nil
	})
	if _, err := c.DeleteVolume(ctx, vol.ID); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "the volume and its file gone", func() error {
		if _, err := c.Volume(ctx, vol.ID); !client.IsNotFound(err) {
			return fmt.Errorf("the volume is still there (%v)", err)
		}
		if _, err := os.Stat(dstFile); !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s still there (%v)", dstFile, err)
		}
		return nil
	})
}

// deleteVolume removes a test's volume if it is still there (after its VM
// is gone, which detaches it).
func deleteVolume(tb testing.TB, l *lab, id string) {
	c := l.client(tb)
	if _, err := c.DeleteVolume(context.Background(), id); err != nil && !client.IsNotFound(err) {
		tb.Errorf("cleanup: delete volume %s: %v", id, err)
	}
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// TestLab_ColdMigrationMovesDisks: a cold migration of a VM whose root
// volume and data volume are on its host's own disk copies both to the
// destination: the guest boots there and finds the marker it wrote to its
// data volume, the destination's root overlay is backed by its own copy of
// the image, and the source's files are gone.
func TestLab_ColdMigrationMovesDisks(t *testing.T) {
	l := needLab(t)
	c := l.client(t)
	ctx := context.Background()
	img := l.importLabImage(t, c)
	name := uniqueName("cold")
	marker := diskMarker("COLD")
	vol, err := c.CreateVolume(ctx, client.VolumeRequest{Name: name + "-data", SizeGiB: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deleteVolume(t, l, vol.ID) })
	vm := l.createVM(t, c, client.VMRequest{Name: name, VCPUs: 1, MemoryMiB: 96, Image: img.Name,
		CloudInit: &client.CloudInit{Hostname: name, UserData: diskWatchScript(marker)}})
	p := l.waitRunning(t, c, vm.ID, bootTimeout)
	if _, err := c.AttachVolume(ctx, vm.ID, vol.ID); err != nil {
		t.Fatal(err)
	}
	testutil.EventuallyEvery(t, bootTimeout, virshPoll, "the guest marking its data volume", func() error {
		return logHas(p.Host.serialLog(p.Domain), "vdc: marked")
	})
	src, dst := p.Host, l.otherHost(p.Host)
	srcDisks, err := src.blockDevices(p.Domain)
	if err != nil {
		t.Fatal(err)
	}

	m, err := c.MigrateVM(ctx, vm.ID, client.MigrateRequest{Mode: client.MigrateCold, Target: dst.Name})
	if err != nil {
		t.Fatalf("cold migration of %s to %s: %v", vm.Name, dst.Name, err)
	}
	if f := followMigration(t, c, m.ID, migrateTimeout, 100*time.Millisecond).final; f.State != client.MigrationCompleted {
		t.Fatalf("migration ended %s (error %q), want completed", f.State, f.Error)
	}
	testutil.EventuallyEvery(t, bootTimeout, virshPoll, "the guest running on the destination, finding its marker", func() error {
		if err := l.onlyOn(dst, vm.ID, "running"); err != nil {
			return err
		}
		return logHas(dst.serialLog(p.Domain), "vdc: found marker")
	})
	dstDisks, err := dst.blockDevices(p.Domain)
	if err != nil {
		t.Fatal(err)
	}
	info, err := imgInfo(dstDisks["vda"])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dstDisks["vda"], dst.Dir) || !strings.HasPrefix(info.Backing, dst.Dir) || !strings.HasPrefix(dstDisks["vdc"], dst.Dir) {
		t.Fatalf("on the destination: root %s backed by %s, vdc %s; want them all under %s", dstDisks["vda"], info.Backing, dstDisks["vdc"], dst.Dir)
	}
	testutil.Eventually(t, 15*time.Second, "the source's files removed", func() error {
		for _, f := range []string{srcDisks["vda"], srcDisks["vdc"]} {
			if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("%s still there (%v)", f, err)
			}
		}
		return nil
	})
}
