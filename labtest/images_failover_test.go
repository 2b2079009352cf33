package labtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// keepMarker is user-data that writes marker past the lab disk's partition
// on the first boot only, and on every boot says whether it found it: a
// restart on another host that finds it ran on the same disk.
func keepMarker(marker string) string {
	n := fmt.Sprint(len(marker))
	return "#!/bin/sh\n" +
		"cur=$(dd if=/dev/vda bs=1M skip=512 count=1 2>/dev/null | head -c " + n + ")\n" +
		"if [ \"$cur\" = " + marker + " ]; then echo \"marker: found $cur\"; else echo " + marker + " | dd of=/dev/vda bs=1M seek=512 conv=fsync 2>/dev/null; echo \"marker: wrote\"; fi\n"
}

// TestLab_FailoverKeepsDisks: a host dies with two VMs made from an image.
// The one whose disk is in a shared pool restarts elsewhere on the same
// disk (it finds what it wrote), and a live migration of it copies
// nothing. The one whose disk is on the dead host's own disk (a dir pool)
// is not restarted on a blank disk: the failover leaves it, saying why,
// and it runs again on its host, disk and data intact, once the host is
// back.
func TestLab_FailoverKeepsDisks(t *testing.T) {
	l := needLab(t)
	c0 := l.client(t)
	victim := l.victimHost(t, c0)
	c := l.client(t, victim.Name)
	ctx := context.Background()

	// A shared pool: one folder every host sees at the same path.
	poolName := uniqueName("shared")
	dir := filepath.Join(l.Dir, poolName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreatePool(ctx, client.PoolRequest{Name: poolName, Type: "shared", Path: dir}); err != nil {
		t.Fatal(err)
	}
	sharedImg, err := c.ImportImage(ctx, client.ImageRequest{Name: uniqueName("shared-disk"), Source: l.image, Pool: poolName})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.DeleteImage(ctx, sharedImg.ID)
		c.DeletePool(ctx, poolName)
	})
	waitImage(t, c, sharedImg.ID, "ready")
	testutil.Eventually(t, 30*time.Second, "every host reporting pool "+poolName, func() error {
		pools, err := c.Pools(ctx)
		if err != nil {
			return err
		}
		for _, p := range pools {
			if p.Name != poolName {
				continue
			}
			ok := 0
			for _, h := range p.Hosts {
				if h.Error == "" && h.AvailableBytes > 0 {
					ok++
				}
			}
			if ok == len(l.hosts) {
				return nil
			}
			return fmt.Errorf("hosts %+v", p.Hosts)
		}
		return fmt.Errorf("no pool %s", poolName)
	})
	localImg := l.importLabImage(t, c)

	l.waitNodeAlive(t, victim)
	create := func(prefix, image, marker string) *client.VM {
		return l.createVM(t, c, client.VMRequest{Name: uniqueName(prefix), VCPUs: 1, MemoryMiB: 96, Image: image,
			Placement: &client.PlacementSpec{PreferredNodes: []string{victim.Name}}, CloudInit: &client.CloudInit{UserData: keepMarker(marker)}})
	}
	shared := create("on-shared", sharedImg.Name, "SHARED-1")
	local := create("on-local", localImg.Name, "LOCAL-1")
	if shared.LocalDisks || !local.LocalDisks {
		t.Fatalf("local_disks: shared %v, local %v; want false and true", shared.LocalDisks, local.LocalDisks)
	}
	ps := []placed{l.waitRunning(t, c, shared.ID, bootTimeout), l.waitRunning(t, c, local.ID, bootTimeout)}
	for _, p := range ps {
		if p.Host != victim {
			t.Skipf("vm %s runs on %s, not the preferred %s: the lab is too full for this test now", p.Name, p.Host.Name, victim.Name)
		}
		testutil.EventuallyEvery(t, bootTimeout, virshPoll, p.Name+" writing its marker", func() error {
			return logHas(victim.serialLog(p.Domain), "marker: wrote")
		})
	}
	if plan, err := c.FailoverPlan(ctx, victim.Name); err != nil || !planLeaves(plan, local.ID, "dir pool") {
		t.Fatalf("failover plan of %s: %+v (%v); want %s left, waiting for its host", victim.Name, plan, err, local.Name)
	}

	w := l.startWitness(t)
	w.waitRounds(t, 3)
	w.expectDown(victim.Name)
	killedAt := l.killHost(t, victim)
	moved := l.waitRunningElsewhere(t, w, ps[:1], victim, killedAt, failoverTimeout)
	to := moved[0].To
	testutil.EventuallyEvery(t, bootTimeout, virshPoll, "the shared vm finding its marker on "+to.Name, func() error {
		return logHas(to.serialLog(ps[0].Domain), "marker: found SHARED-1")
	})
	if vm, err := c.VM(ctx, local.ID); err != nil || vm.NodeName != victim.Name {
		t.Fatalf("the local-disk vm after the failover: %+v (%v); want it still on %s", vm, err, victim.Name)
	}
	fo := checkFailoverRecordOf(t, c, victim)
	if !strings.Contains(fmt.Sprint(fo.LeftBehind), "dir pool") {
		t.Fatalf("failover left behind %+v: want the local-disk vm, waiting for its host's disk", fo.LeftBehind)
	}

	l.restartHost(t, victim)
	w.expectUp(victim.Name)
	testutil.EventuallyEvery(t, 2*bootTimeout, virshPoll, "the local-disk vm running again on "+victim.Name+" with its marker", func() error {
		if err := l.onlyOn(victim, local.ID, "running"); err != nil {
			return err
		}
		return logHas(victim.serialLog(ps[1].Domain), "marker: found LOCAL-1")
	})

	// A live migration in a shared pool copies nothing: the root is the same
	// file before and after, and stays.
	disks, err := to.blockDevices(ps[0].Domain)
	if err != nil {
		t.Fatal(err)
	}
	dst := l.otherHost(to)
	start := time.Now()
	m, err := c.MigrateVM(ctx, shared.ID, client.MigrateRequest{Mode: client.MigrateLive, Target: dst.Name})
	if err != nil {
		t.Fatal(err)
	}
	if f := followMigration(t, c, m.ID, migrateTimeout, 50*time.Millisecond).final; f.State != client.MigrationCompleted {
		t.Fatalf("migration in a shared pool ended %s: %s", f.State, f.Error)
	}
	after, err := dst.blockDevices(ps[0].Domain)
	if err != nil {
		t.Fatal(err)
	}
	if after["vda"] != disks["vda"] || !strings.HasPrefix(after["vda"], dir) {
		t.Fatalf("root before %s, after %s: want the same file in the shared pool", disks["vda"], after["vda"])
	}
	if _, err := os.Stat(after["vda"]); err != nil {
		t.Fatalf("the shared root after the move: %v", err)
	}
	t.Logf("live migration in a shared pool took %s", time.Since(start).Round(time.Millisecond))
}

// planLeaves reports whether plan leaves VM id where it is, for reason.
func planLeaves(plan *client.FailoverPlan, id, reason string) bool {
	for _, m := range plan.NotFit {
		if m.VMID == id && strings.Contains(m.Decision.Reason, reason) {
			return true
		}
	}
	return false
}

// checkFailoverRecordOf returns the failover recorded for host h.
func checkFailoverRecordOf(tb testing.TB, c *client.Client, h *labHost) *client.Failover {
	tb.Helper()
	var fo *client.Failover
	testutil.Eventually(tb, 30*time.Second, "a failover record of "+h.Name, func() error {
		fos, err := c.Failovers(context.Background(), h.Name)
		if err != nil {
			return err
		}
		for i := range fos {
			if fos[i].NodeName == h.Name && len(fos[i].LeftBehind) > 0 {
				fo = &fos[i]
				return nil
			}
		}
		return fmt.Errorf("none yet among %d", len(fos))
	})
	return fo
}
