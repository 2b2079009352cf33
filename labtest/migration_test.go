package labtest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// TestLab_LiveMigrationKeepsTheGuestRunning live-migrates a ticking guest to
// another host through the API and follows its record to completed, with
// libvirt's figures. Afterwards the guest runs on the destination only (virsh on
// every host), the API puts it there at the next generation, and it did not
// reboot: its tick counter on the destination goes on from the last one it
// printed on the source, and the destination's serial log shows no kernel boot.
func TestLab_LiveMigrationKeepsTheGuestRunning(t *testing.T) {
	l := needLab(t)
	c := l.client(t)
	vm := l.createVM(t, c, l.guest(uniqueName("live"), ""))
	p := l.waitRunning(t, c, vm.ID, runTimeout)
	p.Host.waitTicks(t, p.Domain, 3, bootTimeout)
	src, dst := p.Host, l.otherHost(p.Host)
	before, err := c.VM(context.Background(), vm.ID)
	if err != nil {
		t.Fatal(err)
	}
	seenOnSource := lastTick(src.serialLog(p.Domain))

	start := time.Now()
	m, err := c.MigrateVM(context.Background(), vm.ID, client.MigrateRequest{Mode: client.MigrateLive, Target: dst.Name})
	if err != nil {
		t.Fatalf("migrate %s to %s: %v", vm.Name, dst.Name, err)
	}
	if m.VMID != vm.ID || m.SourceName != src.Name || m.TargetName != dst.Name || m.Mode != client.MigrateLive ||
		m.Reason != "user" || client.MigrationFinal(m.State) {
		t.Fatalf("the accepted migration record is %+v, want a live move of %s from %s to %s for the user, not ended",
			m, vm.Name, src.Name, dst.Name)
	}
	w := followMigration(t, c, m.ID, migrateTimeout, 50*time.Millisecond)
	f := w.final
	t.Logf("migration %s: states %v, completed %s after the POST", m.ID, w.states, w.completedAt.Sub(start).Round(time.Millisecond))
	if w.progress != nil {
		t.Logf("progress seen while running: %+v", *w.progress.Progress)
	} else {
		t.Logf("no progress seen while running: the copy was over before a poll caught it")
	}
	if f.State != client.MigrationCompleted || f.Error != "" {
		t.Fatalf("migration ended %s (error %q), want completed", f.State, f.Error)
	}
	if f.Result == nil || f.Result.TotalMs <= 0 || f.Result.DowntimeMs <= 0 {
		t.Fatalf("completed migration has result %+v, want libvirt's total and downtime (both > 0)", f.Result)
	}
	if f.StartedAt == nil || f.FinishedAt == nil || f.FinishedAt.Before(*f.StartedAt) || !f.TargetReady {
		t.Errorf("completed record: started %v, finished %v, target ready %v", f.StartedAt, f.FinishedAt, f.TargetReady)
	}
	t.Logf("libvirt's figures: total %d ms, downtime %d ms, %d bytes in %d iterations",
		f.Result.TotalMs, f.Result.DowntimeMs, f.Result.DataTransferred, f.Result.Iterations)

	testutil.EventuallyEvery(t, 15*time.Second, virshPoll, "the domain running on the destination only", func() error {
		return l.onlyOn(dst, vm.ID, "running")
	})
	after, err := vmIn(c, vm.ID, client.StateRunning, client.StateRunning)
	if err != nil {
		t.Fatal(err)
	}
	if after.NodeName != dst.Name || after.Generation != before.Generation+1 || after.Migration != "" || after.MovedAt == nil {
		t.Errorf("vm after the move: node %s, generation %d (was %d), migration %q, moved_at %v; want %s, %d, none, set",
			after.NodeName, after.Generation, before.Generation, after.Migration, after.MovedAt, dst.Name, before.Generation+1)
	}
	if !strings.HasPrefix(after.PlacementReason, "live migration from "+src.Name) {
		t.Errorf("vm placement reason %q does not name the migration from %s", after.PlacementReason, src.Name)
	}
	last := lastTick(src.serialLog(p.Domain))
	if last < seenOnSource {
		t.Fatalf("the source log's last tick %d is below %d, seen before the move: was it truncated?", last, seenOnSource)
	}
	testutil.EventuallyEvery(t, 20*time.Second, virshPoll, "the guest to go on counting on "+dst.Name, func() error {
		return guestContinued(src, dst, p.Domain, 3, 3)
	})
	t.Logf("the guest printed tick %d on %s (tick %d before the POST) and goes on with %v on %s",
		last, src.Name, seenOnSource, readTicks(dst.serialLog(p.Domain))[:3], dst.Name)
	if pids := qemuOf(p.Domain); len(pids) != 1 {
		t.Errorf("QEMU processes for %s after the move: %v, want exactly one (on %s)", p.Domain, pids, dst.Name)
	}
}

// TestLab_MigrationFailsSafelyWhenTheDestinationDies starts a live migration
// throttled to 2 MiB/s and, while it copies, kills the destination's libvirtd
// with SIGKILL. The migration must end failed with the reason, the guest must
// go on running in its QEMU on the source without a reboot, the VM record must
// be as it was, and the destination must have nothing of it, neither a domain
// nor a QEMU process, once its libvirtd is back.
func TestLab_MigrationFailsSafelyWhenTheDestinationDies(t *testing.T) {
	l := needLab(t)
	c := l.client(t)
	vm := l.createVM(t, c, l.guest(uniqueName("doomed"), ""))
	p := l.waitRunning(t, c, vm.ID, runTimeout)
	p.Host.waitTicks(t, p.Domain, 3, bootTimeout)
	src, dst := p.Host, l.otherHost(p.Host)
	pid, err := src.qemuPid(p.Domain)
	if err != nil {
		t.Fatal(err)
	}
	before, err := c.VM(context.Background(), vm.ID)
	if err != nil {
		t.Fatal(err)
	}

	m, err := c.MigrateVM(context.Background(), vm.ID, client.MigrateRequest{Target: dst.Name, BandwidthMiBps: 2})
	if err != nil {
		t.Fatalf("migrate %s to %s: %v", vm.Name, dst.Name, err)
	}
	running := waitMigrationRunning(t, c, m.ID, migrateTimeout)
	t.Logf("migration %s copies at 2 MiB/s: %+v", m.ID, *running.Progress)

	old := dst.killLibvirtd(t)
	killedAt := time.Now()
	restarted := false
	t.Cleanup(func() { // the next tests need the host
		if !restarted {
			dst.startLibvirtd(t, old)
		}
	})
	lastBeforeKill := lastTick(src.serialLog(p.Domain))
	t.Logf("killed %s's libvirtd (pid %d) mid-copy; the guest had printed tick %d", dst.Name, old, lastBeforeKill)

	w := followMigration(t, c, m.ID, migrateTimeout, testutil.PollInterval)
	f := w.final
	t.Logf("migration ended %s %s after the kill: %q", f.State, time.Since(killedAt).Round(time.Millisecond), f.Error)
	if f.State != client.MigrationFailed || f.Error == "" {
		t.Fatalf("migration ended %s with error %q, want failed with the reason", f.State, f.Error)
	}
	// The guest runs on the source in the same QEMU, and not in the source's
	// libvirt only: it goes on counting.
	testutil.EventuallyEvery(t, 30*time.Second, virshPoll, "the guest running on the source in its QEMU", func() error {
		return sameQEMU(p, pid)
	})
	testutil.EventuallyEvery(t, 30*time.Second, virshPoll, "the guest to go on counting on the source", func() error {
		ts := readTicks(src.serialLog(p.Domain))
		if len(ts) == 0 || ts[len(ts)-1] < lastBeforeKill+3 {
			return fmt.Errorf("last tick on %s is %v, it was %d at the kill", src.Name, ts[len(ts)-min(len(ts), 3):], lastBeforeKill)
		}
		return counting(ts)
	})

	dst.startLibvirtd(t, old)
	restarted = true
	t.Logf("%s's libvirtd is back", dst.Name)
	nothingOnDest := func() error {
		if err := l.onlyOn(src, vm.ID, "running"); err != nil {
			return err
		}
		if pids := qemuOf(p.Domain); !slices.Equal(pids, []int{pid}) {
			return fmt.Errorf("QEMU processes for %s: %v, want only the source's %d", p.Domain, pids, pid)
		}
		return nil
	}
	testutil.EventuallyEvery(t, 30*time.Second, virshPoll, "nothing of the guest on the destination", nothingOnDest)
	after, err := vmIn(c, vm.ID, client.StateRunning, client.StateRunning)
	if err != nil {
		t.Fatal(err)
	}
	if after.NodeName != src.Name || after.Generation != before.Generation || after.Migration != "" ||
		after.MovedAt != nil || after.Crashes != before.Crashes {
		t.Errorf("vm after the failed move: node %s, generation %d, migration %q, moved_at %v, crashes %d; want it as it was: %s, %d, none, none, %d",
			after.NodeName, after.Generation, after.Migration, after.MovedAt, after.Crashes,
			src.Name, before.Generation, before.Crashes)
	}
	// Through the destination agent's resync after its libvirtd came back.
	testutil.HoldsFor(t, hostResync, time.Second, "the guest on the source only, in its QEMU", func() error {
		if err := nothingOnDest(); err != nil {
			return err
		}
		return sameQEMU(p, pid)
	})
}
