package labtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// hostResync is a little more than the agent's periodic host resync (10 s by
// default): a hold this long sees the agent compare every domain at least once.
const hostResync = 11 * time.Second

// sameQEMU checks that the VM's domain runs with the QEMU process it had.
func sameQEMU(p placed, pid int) error {
	st, err := p.Host.domState(p.ID)
	if err != nil {
		return err
	}
	if st != "running" {
		return fmt.Errorf("domain %s on %s is %q, want running", p.Domain, p.Host.Name, st)
	}
	now, err := p.Host.qemuPid(p.Domain)
	if err != nil {
		return err
	}
	if now != pid {
		return fmt.Errorf("domain %s on %s runs in QEMU pid %d, was %d: the guest was restarted", p.Domain, p.Host.Name, now, pid)
	}
	return nil
}

// TestLab_AgentKilledGuestsKeepRunning kills an agent with SIGKILL: its guests
// go on running in the same QEMU processes, and once the agent is started again
// with the same command line it adopts them: the API shows them running and no
// domain is started twice, on that host or any other.
func TestLab_AgentKilledGuestsKeepRunning(t *testing.T) {
	l := needLab(t)
	c := l.client(t)
	var ids []string
	for i := range 2 {
		ids = append(ids, l.createVM(t, c, l.guest(uniqueName(fmt.Sprintf("keep%d", i)), "")).ID)
	}
	var ps []placed
	pids := map[string]int{}
	for _, id := range ids {
		p := l.waitRunning(t, c, id, runTimeout)
		pid, err := p.Host.qemuPid(p.Domain)
		if err != nil {
			t.Fatal(err)
		}
		ps, pids[id] = append(ps, p), pid
		t.Logf("vm %s runs on %s in QEMU pid %d", p.Name, p.Host.Name, pid)
	}

	victim := ps[0].Host
	proc := victim.killAgent(t)
	t.Logf("killed %s's agent (kill -9): %v", victim.Name, proc.args)
	other := l.client(t, victim.Name)
	everyGuestUnchanged := func() error {
		for _, p := range ps {
			if err := sameQEMU(p, pids[p.ID]); err != nil {
				return err
			}
		}
		return nil
	}
	testutil.HoldsFor(t, 3*time.Second, virshPoll, "the guests running in their QEMU without an agent", everyGuestUnchanged)

	start := time.Now()
	victim.restartAgent(t, proc)
	t.Logf("%s's agent answers again %s after its restart", victim.Name, time.Since(start).Round(time.Millisecond))
	mine := l.clientOf(t, victim)
	testutil.Eventually(t, runTimeout, "the API (on the restarted agent and another one) to show the VMs running", func() error {
		for _, cl := range []*client.Client{mine, other} {
			for _, p := range ps {
				vm, err := vmIn(cl, p.ID, client.StateRunning, client.StateRunning)
				if err != nil {
					return fmt.Errorf("%s: %w", cl.Address(), err)
				}
				if vm.NodeName != p.Host.Name {
					return fmt.Errorf("vm %s is on %s, was on %s", p.Name, vm.NodeName, p.Host.Name)
				}
			}
		}
		return nil
	})
	// The restarted agent compares every domain at start and again at its
	// periodic resync: through both, nothing is restarted or duplicated.
	testutil.HoldsFor(t, hostResync, 500*time.Millisecond, "the guests adopted as they were, once each", func() error {
		if err := everyGuestUnchanged(); err != nil {
			return err
		}
		for _, p := range ps {
			if err := l.onlyOn(p.Host, p.ID, "running"); err != nil {
				return err
			}
			if _, err := vmIn(other, p.ID, client.StateRunning, client.StateRunning); err != nil {
				return err
			}
		}
		return nil
	})
}

// clientOf returns an API client of host h itself.
func (l *lab) clientOf(tb testing.TB, h *labHost) *client.Client {
	tb.Helper()
	return l.client(tb, l.namesExcept(h.Name)...)
}

// namesExcept names every lab host except keep, for lab.client's avoid list.
func (l *lab) namesExcept(keep string) []string {
	var out []string
	for _, h := range l.hosts {
		if h.Name != keep {
			out = append(out, h.Name)
		}
	}
	return out
}

// TestLab_DestroyBehindBackIsReportedAndRestarted destroys running domains with
// virsh, behind the agent's back. The API records the crash for both; the
// on-failure VM runs again in a new QEMU, the never VM stays shut off and its
// desired state becomes stopped.
func TestLab_DestroyBehindBackIsReportedAndRestarted(t *testing.T) {
	l := needLab(t)
	c := l.client(t)
	onFailure := l.createVM(t, c, l.guest(uniqueName("onfail"), "on-failure"))
	never := l.createVM(t, c, l.guest(uniqueName("never"), "never"))
	pOn := l.waitRunning(t, c, onFailure.ID, runTimeout)
	pNever := l.waitRunning(t, c, never.ID, runTimeout)
	// The hosts hold their leases (an earlier test may have restarted an
	// agent): what follows measures the reaction to a destroy, not a host
	// still rejoining.
	l.waitNodeAlive(t, pOn.Host)
	l.waitNodeAlive(t, pNever.Host)
	t.Logf("on-failure vm on %s, never vm on %s", pOn.Host.Name, pNever.Host.Name)
	oldPid, err := pOn.Host.qemuPid(pOn.Domain)
	if err != nil {
		t.Fatal(err)
	}
	destroyed := map[string]time.Time{}
	destroy := func(p placed) {
		t.Helper()
		if _, err := p.Host.virsh("destroy", p.ID); err != nil {
			t.Fatal(err)
		}
		destroyed[p.ID] = time.Now()
	}

	crashed := func(vm *client.VM) error {
		if vm.Crashes < 1 || vm.LastCrash == "" {
			return fmt.Errorf("vm %s shows crashes=%d last_crash=%q, want the destroy recorded", vm.Name, vm.Crashes, vm.LastCrash)
		}
		return nil
	}
	var newPid int
	destroy(pOn)
	testutil.EventuallyEvery(t, 15*time.Second, virshPoll, "the on-failure vm's crash recorded and the vm running in a new QEMU", func() error {
		vm, err := vmIn(c, pOn.ID, client.StateRunning, client.StateRunning)
		if err != nil {
			return err
		}
		if err := crashed(vm); err != nil {
			return err
		}
		if err := l.onlyOn(pOn.Host, pOn.ID, "running"); err != nil {
			return err
		}
		if newPid, err = pOn.Host.qemuPid(pOn.Domain); err != nil {
			return err
		}
		if newPid == oldPid {
			return fmt.Errorf("QEMU pid %d unchanged", newPid)
		}
		return nil
	})
	vm, _ := c.VM(context.Background(), pOn.ID)
	t.Logf("on-failure: crash %q recorded (crashes %d), running again in QEMU %d (was %d) after %s",
		vm.LastCrash, vm.Crashes, newPid, oldPid, time.Since(destroyed[pOn.ID]).Round(time.Millisecond))

	stoppedForGood := func() error {
		vm, err := vmIn(c, pNever.ID, client.StateStopped, client.StateStopped)
		if err != nil {
			return err
		}
		if err := crashed(vm); err != nil {
			return err
		}
		return l.onlyOn(pNever.Host, pNever.ID, "shut off")
	}
	destroy(pNever)
	testutil.EventuallyEvery(t, 15*time.Second, virshPoll, "the never vm recorded as crashed, stopped and desired stopped", stoppedForGood)
	vm, _ = c.VM(context.Background(), pNever.ID)
	t.Logf("never: crash %q recorded (crashes %d), desired %s, state %s after %s",
		vm.LastCrash, vm.Crashes, vm.DesiredState, vm.State, time.Since(destroyed[pNever.ID]).Round(time.Millisecond))
	testutil.HoldsFor(t, hostResync, 500*time.Millisecond, "the never vm staying shut off", stoppedForGood)
}

// TestLab_LibvirtdRestartAgentReconnects restarts one host's libvirtd under its
// agent: the running guest survives in its QEMU, and the agent reconnects and
// carries on: a new VM placed on that host runs, the old one pauses and resumes.
func TestLab_LibvirtdRestartAgentReconnects(t *testing.T) {
	l := needLab(t)
	c := l.client(t)
	a := l.createVM(t, c, l.guest(uniqueName("lvd"), ""))
	pa := l.waitRunning(t, c, a.ID, runTimeout)
	h := pa.Host
	pid, err := h.qemuPid(pa.Domain)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	h.restartLibvirtd(t)
	t.Logf("%s: libvirtd killed (kill -9) and started again; answers after %s", h.Name, time.Since(start).Round(time.Millisecond))
	testutil.EventuallyEvery(t, 15*time.Second, virshPoll, "the guest running in its QEMU after the libvirtd restart", func() error {
		return sameQEMU(pa, pid)
	})

	// Placement takes the host with the most free memory: VMs a little larger
	// than pa fill the other hosts until one lands on h.
	var landed *placed
	for i := 0; i < len(l.hosts)+1 && landed == nil; i++ {
		req := l.guest(uniqueName(fmt.Sprintf("lvd-new%d", i)), "")
		req.MemoryMiB = 128
		vm := l.createVM(t, c, req)
		node := vm.NodeName
		if node == "" {
			testutil.Eventually(t, 10*time.Second, "vm "+vm.Name+" placed", func() error {
				got, err := c.VM(context.Background(), vm.ID)
				if err != nil {
					return err
				}
				if node = got.NodeName; node == "" {
					return fmt.Errorf("vm %s is %s, on no node", got.Name, got.State)
				}
				return nil
			})
		}
		if node == h.Name {
			p := l.waitRunning(t, c, vm.ID, runTimeout)
			landed = &p
		}
	}
	if landed == nil {
		t.Fatalf("no new vm was placed on %s", h.Name)
	}
	t.Logf("new vm %s runs on %s after the libvirtd restart", landed.Name, h.Name)

	for _, s := range []struct{ action, state, dom string }{
		{client.ActionPause, client.StatePaused, "paused"},
		{client.ActionResume, client.StateRunning, "running"},
	} {
		if _, err := c.VMAction(context.Background(), a.ID, s.action); err != nil {
			t.Fatalf("%s vm %s: %v", s.action, a.Name, err)
		}
		testutil.EventuallyEvery(t, runTimeout, virshPoll, s.action+" of the vm that lived through the libvirtd restart", func() error {
			if _, err := vmIn(c, a.ID, s.state, s.state); err != nil {
				return err
			}
			return l.onlyOn(h, a.ID, s.dom)
		})
	}
	if err := sameQEMU(pa, pid); err != nil {
		t.Error(err)
	}
}
