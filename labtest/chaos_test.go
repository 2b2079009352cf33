package labtest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/chaos"
	"github.com/novacron/novacron/internal/testutil"
)

// TestLab_LeaderCutOffThenKilledLinearizable runs internal/chaos's load (200
// writes/s and 200 consistent reads/s through the HTTP API of every host,
// including the broken one) while the Raft leader is first cut off for real
// (lab.sh cut: iptables drops its address and its group's packets while its
// agent, libvirtd and guests keep running), healed, and then the next leader's
// whole host is killed (lab.sh kill) and restarted. Each register is a running
// HA guest, so each broken leader's guests must be fenced (or die with it)
// before the new leader restarts them elsewhere. The history must be
// linearizable with no acknowledged write lost, every host's state digest the
// same at the end, and the witness must never see a guest on two hosts.
func TestLab_LeaderCutOffThenKilledLinearizable(t *testing.T) {
	l := needLab(t)
	c0 := l.client(t)

	// Two register guests per host, created together, then waited for.
	const registers = 6
	var names, keys []string
	for i := range registers {
		names = append(names, uniqueName("lin"+strconv.Itoa(i)))
		keys = append(keys, l.createVM(t, c0, l.register(names[i], i, 0)).ID)
	}
	for _, id := range keys {
		l.waitRunning(t, c0, id, runTimeout)
	}
	w := l.startWitness(t)
	w.waitRounds(t, 5)
	targets := make([]chaos.Target, len(l.hosts))
	tlsCfg, err := l.tlsConfig()
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range l.hosts {
		tg, err := chaos.NewHTTPTarget(h.Name, h.Addr, l.token, tlsCfg, func(k int, v int64) client.VMRequest {
			return l.register(names[k], k, v)
		})
		if err != nil {
			t.Fatal(err)
		}
		targets[i] = tg
	}
	// Each phase is a history of its own, so that a failure names the fault
	// it followed (and porcupine, which cross-checks the zone test, can
	// usually finish its search within its minute).
	// A write of the first phase that timed out may still land in the second
	// (TCP retransmits it once the cut heals): it is pending there.
	var pending []chaos.Input
	t.Run("cut", func(t *testing.T) {
		pending = l.chaosPhase(t, targets, keys, nil, func(load *chaos.Run) {
			old := l.leaderHost(t)
			onOld := l.guestsOf(t, keys, old)
			cutAt := l.cutHost(t, old)
			t.Logf("%7s cut off the leader %s, which runs %d register guests", load.Elapsed(), old.Name, len(onOld))
			l.waitLeaderAmong(t, l.hostsExcept(old), cutAt)
			for _, m := range l.waitRunningElsewhere(t, w, onOld, old, cutAt, failoverTimeout) {
				t.Logf("vm %s: last active on the cut leader %.2fs after the cut, running on %s %.2fs after it",
					m.Name, w.lastActiveOn(m.ID, old.Name).Sub(cutAt).Seconds(), m.To.Name, m.Took.Seconds())
			}
			healAt := l.healHost(t, old)
			l.waitNodeAlive(t, old)
			t.Logf("%7s %s healed; alive in the API %.1fs later", load.Elapsed(), old.Name, time.Since(healAt).Seconds())
		})
	})
	t.Run("kill", func(t *testing.T) {
		l.chaosPhase(t, targets, keys, pending, func(load *chaos.Run) {
			old := l.leaderHost(t)
			onOld := l.guestsOf(t, keys, old)
			w.expectDown(old.Name)
			killedAt := l.killHost(t, old)
			t.Logf("%7s killed the leader %s's host, which ran %d register guests", load.Elapsed(), old.Name, len(onOld))
			l.waitLeaderAmong(t, l.hostsExcept(old), killedAt)
			for _, m := range l.waitRunningElsewhere(t, w, onOld, old, killedAt, failoverTimeout) {
				t.Logf("vm %s: running on %s %.2fs after the kill", m.Name, m.To.Name, m.Took.Seconds())
			}
			l.restartHost(t, old)
			w.expectUp(old.Name)
			t.Logf("%7s %s restarted", load.Elapsed(), old.Name)
		})
	})
	w.report(t)
}

// chaosPhase runs the chaos load through targets around fault, then checks
// that every host holds the same state and that the history is linearizable.
// A broken host stays on the clients' list: its answers must be errors, never
// stale reads. pending are an earlier phase's unresolved writes; it returns
// its own.
func (l *lab) chaosPhase(t *testing.T, targets []chaos.Target, keys []string, pending []chaos.Input, fault func(*chaos.Run)) []chaos.Input {
	ctx := context.Background()
	leader := l.leaderHost(t)
	for _, tg := range targets {
		if tg.Name() == leader.Name {
			if err := chaos.Reset(ctx, tg, keys); err != nil {
				t.Fatal(err)
			}
		}
	}
	load := chaos.Start(chaos.Config{Name: t.Name(), Keys: keys, Pending: pending}, func() []chaos.Target { return targets })
	<-time.After(2 * time.Second) // load before the fault, not a wait for a condition
	fault(load)
	<-time.After(3 * time.Second) // load after it
	load.Stop()
	var apis []*client.Client
	for _, h := range l.hosts {
		apis = append(apis, l.clientOf(t, h))
	}
	sameCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	ds, err := client.WaitSameState(sameCtx, apis, 100*time.Millisecond)
	cancel()
	if err != nil {
		t.Fatalf("the nodes do not hold the same state: %v", err)
	}
	t.Logf("every node at index %d holds state %.12s (%d nodes, %d VMs, %d failovers)", ds[0].AppliedIndex, ds[0].SHA256, ds[0].Nodes, ds[0].VMs, ds[0].Failovers)
	load.Finish(ctx, targets, l.leaderHost(t).Name, time.Minute).Write(t)
	return load.Unresolved()
}

// register is register k's guest holding value v: a lab guest preferring host
// k mod N, so that every host runs some.
func (l *lab) register(name string, k int, v int64) client.VMRequest {
	req := l.guest(name, "")
	req.Placement = &client.PlacementSpec{PreferredNodes: []string{l.hosts[k%len(l.hosts)].Name}}
	req.Labels = map[string]string{"v": strconv.FormatInt(v, 10)}
	return req
}

// leaderHost is the host whose agent leads, as every host that is up (not
// killed or cut off by the test) agrees.
func (l *lab) leaderHost(tb testing.TB) *labHost {
	tb.Helper()
	var up []*labHost
	for _, h := range l.hosts {
		if !h.killed && !h.cut {
			up = append(up, h)
		}
	}
	return l.waitLeaderAmong(tb, up, time.Time{})
}

// waitLeaderAmong waits until the hosts in up agree on a leader among them
// and returns it; since, when set, is the fault the election follows.
func (l *lab) waitLeaderAmong(tb testing.TB, up []*labHost, since time.Time) *labHost {
	tb.Helper()
	var leader string
	testutil.Eventually(tb, 30*time.Second, "a leader among the hosts that are up", func() error {
		leader = ""
		for _, h := range up {
			cl, err := l.clientOf(tb, h).Cluster(context.Background())
			if err != nil {
				return err
			}
			if cl.Leader == "" || (leader != "" && cl.Leader != leader) {
				return fmt.Errorf("%s sees leader %q, others %q", h.Name, cl.Leader, leader)
			}
			leader = cl.Leader
		}
		if !slices.ContainsFunc(up, func(h *labHost) bool { return h.Name == leader }) {
			return fmt.Errorf("they still follow %s", leader)
		}
		return nil
	})
	if !since.IsZero() {
		tb.Logf("%s leads the majority, %.2fs after the fault", leader, time.Since(since).Seconds())
	}
	return l.host(tb, leader)
}

// guestsOf returns the VMs among ids that run on h now.
func (l *lab) guestsOf(tb testing.TB, ids []string, h *labHost) []placed {
	tb.Helper()
	c := l.client(tb, h.Name)
	var out []placed
	for _, id := range ids {
		if p := l.waitRunning(tb, c, id, runTimeout); p.Host == h {
			out = append(out, p)
		}
	}
	return out
}
