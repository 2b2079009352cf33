package labtest

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// TestLab_DomainRemovedBehindBackIsDefinedAgain removes a running VM's domain
// from libvirt behind the agent's back (`virsh undefine`, then `virsh destroy`:
// libvirt forgets it entirely, as after a lost /etc/libvirt or an operator's
// clean-up). The agent must live through it and, the VM's restart policy being
// always, define and start the VM again on its host.
func TestLab_DomainRemovedBehindBackIsDefinedAgain(t *testing.T) {
	l := needLab(t)
	c := l.client(t)
	vm := l.createVM(t, c, l.guest(uniqueName("vanish"), "always"))
	p := l.waitRunning(t, c, vm.ID, runTimeout)
	oldPid, err := p.Host.qemuPid(p.Domain)
	if err != nil {
		t.Fatal(err)
	}
	agentPid, err := p.Host.agentPid()
	if err != nil {
		t.Fatal(err)
	}
	proc, err := agentProcOf(agentPid)
	if err != nil {
		t.Fatal(err)
	}
	// Should the agent die, the next tests need it back; it can only come back
	// once the VM that makes it fail is gone.
	t.Cleanup(func() {
		if alive(agentPid) {
			return
		}
		l.deleteVM(t, vm.ID)
		p.Host.restartAgent(t, proc)
	})

	for _, args := range [][]string{{"undefine", vm.ID}, {"destroy", vm.ID}} {
		if _, err := p.Host.virsh(args...); err != nil {
			t.Fatal(err)
		}
	}
	// No check that the domain is gone now: the agent may already have defined it
	// again. The new QEMU pid below shows it was removed and came back.
	took := testutil.EventuallyEvery(t, runTimeout, virshPoll, "the vm defined and running again on its host", func() error {
		if !alive(agentPid) {
			t.Fatalf("%s's agent died after the domain of vm %s was removed behind its back; its log:\n%s",
				p.Host.Name, vm.Name, testutil.LogTail(filepath.Join(p.Host.Dir, "agent.log"), 25))
		}
		if _, err := vmIn(c, vm.ID, client.StateRunning, client.StateRunning); err != nil {
			return err
		}
		if err := l.onlyOn(p.Host, vm.ID, "running"); err != nil {
			return err
		}
		pid, err := p.Host.qemuPid(p.Domain)
		if err != nil {
			return err
		}
		if pid == oldPid {
			return fmt.Errorf("QEMU pid %d unchanged", pid)
		}
		return nil
	})
	t.Logf("the agent defined and started vm %s again after %s", vm.Name, took.Round(time.Millisecond))
	testutil.HoldsFor(t, 3*time.Second, 500*time.Millisecond, "the agent alive and the vm running once", func() error {
		if !alive(agentPid) {
			return fmt.Errorf("%s's agent died", p.Host.Name)
		}
		return l.onlyOn(p.Host, vm.ID, "running")
	})
}
