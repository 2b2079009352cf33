package labtest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/chaos"
)

// TestLab_LeaderCutOffLinearizable partitions the Raft leader from the
// majority for real (lab.sh cut: iptables drops its address and its group's
// packets while its agent, libvirtd and guests keep running) under
// internal/chaos's load: 200 writes/s and 200 consistent reads/s through the
// HTTP API of every host, the cut one included. Each register is a running HA
// guest, so the cut leader must also fence its own guests before the new leader
// restarts them elsewhere. The history must be linearizable, no acknowledged
// write lost, every host's state digest the same after the heal, and the
// witness must never see a guest on two hosts.
func TestLab_LeaderCutOffLinearizable(t *testing.T) {
	l := needLab(t)
	ctx := context.Background()
	c0 := l.client(t)
	cl, err := c0.Cluster(ctx)
	if err != nil || cl.Leader == "" {
		t.Fatalf("no leader to cut off: %+v %v", cl, err)
	}
	old := l.host(t, cl.Leader)

	// Two register guests per host, created together, then waited for.
	const registers = 6
	var names, keys []string
	for i := range registers {
		names = append(names, uniqueName("lin"+strconv.Itoa(i)))
		keys = append(keys, l.createVM(t, c0, l.register(names[i], i, 0)).ID)
	}
	var onOld []placed
	for _, id := range keys {
		if p := l.waitRunning(t, c0, id, runTimeout); p.Host == old {
			onOld = append(onOld, p)
		}
	}
	if len(onOld) == 0 {
		t.Fatalf("no register guest runs on the leader %s", old.Name)
	}
	t.Logf("%d register guests run, %d of them on the leader %s", registers, len(onOld), old.Name)

	w := l.startWitness(t)
	w.waitRounds(t, 5)
	targets := make([]chaos.Target, len(l.hosts))
	for i, h := range l.hosts {
		if targets[i], err = chaos.NewHTTPTarget(h.Name, h.Addr, l.token, func(k int, v int64) client.VMRequest {
			return l.register(names[k], k, v)
		}); err != nil {
			t.Fatal(err)
		}
	}
	// The cut host stays on the clients' list: its answers must be errors,
	// never stale reads.
	load := chaos.Start(chaos.Config{Name: t.Name(), Keys: keys}, func() []chaos.Target { return targets })
	<-time.After(2 * time.Second) // load before the fault, not a wait for a condition

	cutAt := l.cutHost(t, old)
	others := l.hostsExcept(old)
	var leader string
	waitFor(t, 30*time.Second, pollInterval, "the majority to elect a leader", func() error {
		leader = ""
		for _, h := range others {
			cl, err := l.client(t, hostsBut(l, h.Name)...).Cluster(ctx)
			if err != nil {
				return err
			}
			if cl.Leader == "" || cl.Leader == old.Name || (leader != "" && cl.Leader != leader) {
				return fmt.Errorf("%s sees leader %q", h.Name, cl.Leader)
			}
			leader = cl.Leader
		}
		return nil
	})
	t.Logf("%7s %s leads the majority, %.2fs after the cut", load.Elapsed(), leader, time.Since(cutAt).Seconds())
	for _, m := range l.waitRunningElsewhere(t, w, onOld, old, cutAt, failoverTimeout) {
		t.Logf("vm %s: last active on the cut leader %.2fs after the cut, running on %s %.2fs after it",
			m.Name, w.lastActiveOn(m.ID, old.Name).Sub(cutAt).Seconds(), m.To.Name, m.Took.Seconds())
	}

	healAt := l.healHost(t, old)
	l.waitNodeAlive(t, old)
	t.Logf("%7s %s healed; alive in the API %.1fs later", load.Elapsed(), old.Name, time.Since(healAt).Seconds())
	<-time.After(3 * time.Second) // load after the heal
	load.Stop()

	var apis []*client.Client
	for _, h := range l.hosts {
		apis = append(apis, l.client(t, hostsBut(l, h.Name)...))
	}
	waitFor(t, 30*time.Second, pollInterval, "every host at one applied index", func() error {
		d, err := chaos.CompareDigests(ctx, apis)
		if errors.Is(err, chaos.ErrDiverged) {
			t.Fatal(err)
		}
		if err == nil {
			t.Logf("every host at index %d holds state %.12s (%d VMs, %d failovers)", d.AppliedIndex, d.SHA256, d.VMs, d.Failovers)
		}
		return err
	})
	cl, err = c0.Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	load.Finish(ctx, targets, cl.Leader, 60*time.Second).Write(t)
	w.report(t)
}

// register is register k's guest holding value v: a lab guest preferring host
// k mod N, so that every host runs some.
func (l *lab) register(name string, k int, v int64) client.VMRequest {
	req := l.guest(name, "")
	req.Placement = &client.PlacementSpec{PreferredNodes: []string{l.hosts[k%len(l.hosts)].Name}}
	req.Labels = map[string]string{"v": strconv.FormatInt(v, 10)}
	return req
}
