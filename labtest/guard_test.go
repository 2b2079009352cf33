package labtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// The fencing guard (package guard): a process of its own beside each agent
// on libvirt, which fences the host's HA guests when the agent's lease ends
// even while the agent cannot run. Without it a frozen agent fences nothing,
// QEMU runs on, and the leader restarts the guests elsewhere: a double run.
// With both the agent and the guard frozen or killed, only a hardware
// watchdog (--watchdog, which the guard pets) can stop the guests in time:
// that is what it is for.

// guardPid is the pid of the fencing guard of host h's agent.
func (h *labHost) guardPid() (int, error) {
	lease := filepath.Join(h.Dir, "agent", "guard.lease")
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		args, err := procArgs(pid)
		if err != nil || len(args) < 4 || args[1] != "guard" {
			continue
		}
		for i, a := range args[:len(args)-1] {
			if a == "--lease" && args[i+1] == lease {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("no fencing guard runs for %s (lease %s)", h.Name, lease)
}

// freeze sends SIGSTOP to pid and makes sure the test's end resumes it.
func freeze(tb testing.TB, what string, pid int) {
	tb.Helper()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		tb.Fatalf("SIGSTOP %s (pid %d): %v", what, pid, err)
	}
	tb.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })
}

// TestLab_FrozenAgentGuardFences freezes an agent (SIGSTOP) while two HA
// guests run on its host: its guard must stop them there before the leader
// restarts them elsewhere (the witness sees no double run). Resumed, the agent
// rejoins and holds none of them.
func TestLab_FrozenAgentGuardFences(t *testing.T) {
	l := needLab(t)
	c0 := l.client(t)
	victim := l.victimHost(t, c0)
	c := l.client(t, victim.Name)
	ps := l.guestsOn(t, c, victim, "hafreeze", 2)
	for _, p := range ps {
		p.Host.waitTicks(t, p.Domain, 1, bootTimeout)
	}
	agent, err := victim.agentPid()
	if err != nil {
		t.Fatal(err)
	}
	guardPid, err := victim.guardPid()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("2 guests run on %s; its agent is pid %d, its guard pid %d", victim.Name, agent, guardPid)

	w := l.startWitness(t)
	w.waitRounds(t, 5)
	frozenAt := time.Now()
	freeze(t, victim.Name+"'s agent", agent)

	moved := l.waitRunningElsewhere(t, w, ps, victim, frozenAt, failoverTimeout)
	for _, m := range moved {
		if last, ok := fencedFirst(t, w, m, victim, "the frozen agent's host"); ok {
			t.Logf("vm %s: last active on %s %.2fs after the freeze, running on %s %.2fs after it",
				m.Name, victim.Name, last.Sub(frozenAt).Seconds(), m.To.Name, m.Took.Seconds())
		}
	}
	stoppedBeforeRestart(t, w, c, victim, moved, "the frozen agent's host")

	if err := syscall.Kill(agent, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumedAt := time.Now()
	l.waitNodeAlive(t, victim)
	t.Logf("%s's agent resumed; alive in the API %.1fs later", victim.Name, time.Since(resumedAt).Seconds())
	l.holdsNoneOfTheMoved(t, w, c, moved, "resumed")
	for _, line := range victim.agentLogSince(frozenAt, "fenc") {
		t.Logf("%s: %s", victim.Name, line)
	}
	w.report(t)
}

// TestLab_FrozenGuardAgentFences freezes the guard (SIGSTOP) while an HA guest
// runs: a guard that cannot run cannot fence for a hung agent, so the agent
// fences the guest at once and starts another guard; once that one beats, the
// host holds its lease again and runs the guest again.
func TestLab_FrozenGuardAgentFences(t *testing.T) {
	l := needLab(t)
	c0 := l.client(t)
	victim := l.victimHost(t, c0)
	c := l.client(t, victim.Name)
	ps := l.guestsOn(t, c, victim, "guardfreeze", 1)
	p := ps[0]
	p.Host.waitTicks(t, p.Domain, 1, bootTimeout)
	oldGuard, err := victim.guardPid()
	if err != nil {
		t.Fatal(err)
	}
	qemu, err := victim.qemuPid(p.Domain)
	if err != nil {
		t.Fatal(err)
	}
	frozenAt := time.Now()
	freeze(t, victim.Name+"'s guard", oldGuard)
	t.Cleanup(func() { syscall.Kill(oldGuard, syscall.SIGKILL) })

	took := testutil.EventuallyEvery(t, 20*time.Second, virshPoll, "the agent to fence the guest once its guard froze", func() error {
		now, err := victim.qemuPid(p.Domain)
		if err == nil && now == qemu {
			return fmt.Errorf("vm %s still runs in QEMU pid %d", p.Name, qemu)
		}
		return nil
	})
	t.Logf("guard frozen -> guest fenced by the agent: %.2fs", took.Seconds())
	testutil.Eventually(t, 20*time.Second, "another guard to run", func() error {
		pid, err := victim.guardPid()
		if err != nil {
			return err
		}
		if pid == oldGuard {
			return fmt.Errorf("the frozen guard %d is still the one found", pid)
		}
		return nil
	})
	testutil.Eventually(t, runTimeout, "the guest to run again on its host", func() error {
		_, err := vmIn(c, p.ID, client.StateRunning, client.StateRunning)
		return err
	})
	if lines := victim.agentLogSince(frozenAt, "guard"); len(lines) == 0 {
		t.Errorf("%s's agent logged nothing about its guard", victim.Name)
	} else {
		t.Logf("%s: %s", victim.Name, strings.Join(lines, "\n"))
	}
}
