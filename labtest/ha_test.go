package labtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// HA on real hosts: a host dies or loses the network, and its HA VMs must run
// again elsewhere, never on two hosts at once. A witness (witness_test.go)
// samples every host's libvirt at 20 Hz through each test and fails it on any
// double run.
//
// The agents run with the default HA timings (--fence-timeout 10s,
// --heartbeat-interval 1s): a host fences itself 6.5 s after it last sent a
// lease renewal, and the leader restarts its VMs 11 s after it last received
// one.

// failoverTimeout is how long a test waits for a dead or cut-off host's VMs
// to run elsewhere; the target (docs, BenchmarkLab_HostFailover) is 20 s.
const failoverTimeout = 60 * time.Second

// failoverTarget is the target from a host failure to its VMs running
// elsewhere, with the default timings.
const failoverTarget = 20 * time.Second

// settleAfterReturn is how long a test watches a host that came back: past
// the agent's periodic host resync (10 s), so it has compared every domain.
const settleAfterReturn = hostResync + 2*time.Second

// TestLab_HostKilledVMsRunElsewhere kills a host running three HA guests
// (agent, libvirtd, virtlogd and QEMUs at once, lab.sh kill). Each guest's
// domain must run on another host within failoverTimeout of the kill, with no
// double run; the failover record must say where each went. The host is then
// restarted: it must rejoin, start no stale copy, and keep no definition of
// the guests that now run elsewhere.
func TestLab_HostKilledVMsRunElsewhere(t *testing.T) {
	l := needLab(t)
	c0 := l.client(t)
	victim := l.victimHost(t, c0)
	c := l.client(t, victim.Name)
	ps := l.guestsOn(t, c, victim, "hakill", 3)
	for _, p := range ps {
		p.Host.waitTicks(t, p.Domain, 1, bootTimeout)
	}
	t.Logf("3 guests run on %s: %s, %s, %s", victim.Name, ps[0].Name, ps[1].Name, ps[2].Name)

	w := l.startWitness(t)
	w.waitRounds(t, 5)
	w.expectDown(victim.Name)
	killedAt := l.killHost(t, victim)

	moved := l.waitRunningElsewhere(t, w, ps, victim, killedAt, failoverTimeout)
	var slowest time.Duration
	for _, m := range moved {
		t.Logf("vm %s runs on %s %.2fs after the kill", m.Name, m.To.Name, m.Took.Seconds())
		slowest = max(slowest, m.Took)
	}
	t.Logf("host kill to all 3 guests running elsewhere: %.2fs (target %s)", slowest.Seconds(), failoverTarget)
	up := l.hostsExcept(victim)
	testutil.EventuallyEvery(t, 30*time.Second, virshPoll, "the API and libvirt to agree on where the guests run", func() error {
		for _, m := range moved {
			if err := l.runsOnlyOn(c, m.ID, m.To, up); err != nil {
				return err
			}
		}
		return nil
	})
	if n, err := c.Node(context.Background(), victim.Name); err != nil || n.Status != "failed" {
		t.Errorf("the killed host's node: %+v (%v), want failed", n, err)
	} else {
		t.Logf("node %s is failed: %s", n.Name, n.StatusCause)
	}
	checkFailoverRecord(t, c, victim, moved)

	// The host comes back: it must rejoin and neither start nor keep a copy.
	restart := time.Now()
	l.restartHost(t, victim)
	w.expectUp(victim.Name)
	t.Logf("%s restarted and alive in the API %.1fs after lab.sh restart", victim.Name, time.Since(restart).Seconds())
	l.holdsNoneOfTheMoved(t, w, c, moved, "restarted")
	w.report(t)
}

// TestLab_HostCutOffFencesItself cuts a host running two HA guests off the
// network (lab.sh cut: its guests and agent keep running). The host must fence
// itself, destroying the guests, before they run anywhere else; then they run
// elsewhere. After lab.sh heal the host rejoins and holds none of them; the
// witness sees no double run throughout.
func TestLab_HostCutOffFencesItself(t *testing.T) {
	cutOffFencesItself(t, 2)
}

// TestLab_HostCutOffFencesFourGuests is the same with four guests: the fence
// takes longer with more guests to destroy (about 2 s each under TCG, one
// after the other), and must still end before the leader restarts them.
func TestLab_HostCutOffFencesFourGuests(t *testing.T) {
	cutOffFencesItself(t, 4)
}

func cutOffFencesItself(t *testing.T, guests int) {
	l := needLab(t)
	c0 := l.client(t)
	victim := l.victimHost(t, c0)
	c := l.client(t, victim.Name)
	ps := l.guestsOn(t, c, victim, "hacut", guests)
	for _, p := range ps {
		p.Host.waitTicks(t, p.Domain, 1, bootTimeout)
	}
	t.Logf("%d guests run on %s", guests, victim.Name)

	w := l.startWitness(t)
	w.waitRounds(t, 5)
	cutAt := l.cutHost(t, victim)

	moved := l.waitRunningElsewhere(t, w, ps, victim, cutAt, failoverTimeout)
	for _, m := range moved {
		last, ok := fencedFirst(t, w, m, victim, "the cut host")
		if !ok {
			continue
		}
		t.Logf("vm %s: last active on the cut host %.2fs after the cut, running on %s %.2fs after it (%.2fs later)",
			m.Name, last.Sub(cutAt).Seconds(), m.To.Name, m.Took.Seconds(), m.At.Sub(last).Seconds())
		// The cut host's libvirtd still answers (over its unix socket): the
		// guest is destroyed there (the default fence action), not paused.
		var st string
		var err error
		if _, perr := testutil.Poll(10*time.Second, virshPoll, func() error {
			st, err = victim.domState(m.ID)
			if err == nil && st != "shut off" {
				return fmt.Errorf("%q", st)
			}
			return nil
		}); perr != nil {
			t.Errorf("vm %s on the cut host is %s, want shut off (fenced by destroy)", m.Name, perr)
		} else {
			t.Logf("vm %s on the cut host: %s", m.Name, orGone(st, err))
		}
	}
	for _, m := range moved {
		t.Logf("vm %s (%s) ran on: %s", m.Name, m.ID, w.timeline(m.ID))
	}
	for _, line := range victim.agentLogSince(cutAt, "fenc") {
		t.Logf("%s agent: %s", victim.Name, line)
	}
	stoppedBeforeRestart(t, w, c, victim, moved, "the cut host")

	healAt := l.healHost(t, victim)
	l.waitNodeAlive(t, victim)
	t.Logf("%s healed; alive in the API %.1fs later", victim.Name, time.Since(healAt).Seconds())
	l.holdsNoneOfTheMoved(t, w, c, moved, "healed")
	if _, err := vmIn(l.clientOf(t, victim), ps[0].ID, client.StateRunning, client.StateRunning); err != nil {
		t.Errorf("the healed host's API: %v", err)
	}
	w.report(t)
}

// fencedFirst returns when vm m was last seen active on host from, and fails
// the test (false) unless that was before it ran on its new host: the fence
// must come first. where names the host for the message.
func fencedFirst(t *testing.T, w *witness, m movedVM, from *labHost, where string) (time.Time, bool) {
	t.Helper()
	last := w.lastActiveOn(m.ID, from.Name)
	if last.IsZero() || !last.Before(m.At) {
		t.Errorf("vm %s: last seen active on %s at %s, running on %s from %s: not fenced first",
			m.Name, where, last.Format("15:04:05.000"), m.To.Name, m.At.Format("15:04:05.000"))
		return last, false
	}
	return last, true
}

// stoppedBeforeRestart checks the failover record of from's guests: the
// leader orders the restart (the record's restarted_at) once the host has
// surely fenced, so its copies must all have stopped by then, or only the
// start latency on the new host stands between them and a double run.
func stoppedBeforeRestart(t *testing.T, w *witness, c *client.Client, from *labHost, moved []movedVM, where string) {
	t.Helper()
	rec := checkFailoverRecord(t, c, from, moved)
	if rec == nil {
		return
	}
	for _, m := range moved {
		if last := w.lastActiveOn(m.ID, from.Name); !last.Before(rec.RestartedAt) {
			t.Errorf("vm %s still ran on %s at %s, after the leader ordered its restart elsewhere at %s (failover %s): the fence had not finished",
				m.Name, where, last.Format("15:04:05.000"), rec.RestartedAt.Local().Format("15:04:05.000"), rec.ID)
		}
	}
}

// orGone describes a domain state read with virsh: the state, or that the
// domain is not defined.
func orGone(state string, err error) string {
	if err != nil {
		return "no such domain (" + err.Error() + ")"
	}
	return state
}

// holdsNoneOfTheMoved checks that a host that came back (how says how: restarted,
// healed) runs none of the guests that moved away meanwhile, for longer than a
// host resync, and keeps no definition of them.
func (l *lab) holdsNoneOfTheMoved(t *testing.T, w *witness, c *client.Client, moved []movedVM, how string) {
	t.Helper()
	testutil.HoldsFor(t, settleAfterReturn, 500*time.Millisecond, "the "+how+" host running none of the moved guests", func() error {
		for _, m := range moved {
			if hosts := w.activeOn(m.ID); len(hosts) != 1 || hosts[0] != m.To.Name {
				return fmt.Errorf("vm %s is active on %v, want on %s only", m.Name, hosts, m.To.Name)
			}
		}
		return nil
	})
	testutil.EventuallyEvery(t, 30*time.Second, virshPoll, "no definition of the moved guests left on the "+how+" host", func() error {
		for _, m := range moved {
			if err := l.runsOnlyOn(c, m.ID, m.To, l.hosts); err != nil {
				return err
			}
		}
		return nil
	})
}
