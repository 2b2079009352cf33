package labtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// percentile is the p-th percentile (0..100, nearest rank) of ds, in ms.
func percentile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p / 100 * float64(len(s)-1))
	return float64(s[i].Microseconds()) / 1000
}

// samples is how many measurements a benchmark takes: n, or b.N when asked
// for more (-benchtime 20x).
func samples(b *testing.B, n int) int { return max(n, b.N) }

// BenchmarkLab_CreateToRunning measures, one VM at a time, the time from the
// API's 201 to the domain's Started event on its host.
func BenchmarkLab_CreateToRunning(b *testing.B) {
	l := needLab(b)
	c := l.client(b)
	w := l.watchEvents(b)
	var took []time.Duration
	for i := range samples(b, 10) {
		req := l.guest(uniqueName(fmt.Sprintf("bench-c%d", i)), "")
		vm, err := c.CreateVM(context.Background(), req)
		if err != nil {
			b.Fatalf("create %s: %v", req.Name, err)
		}
		accepted := time.Now()
		at := w.waitEvent(b, domainName(vm.ID, vm.Name), "Started", runTimeout)
		// The event must be the VM's domain running on its assigned host.
		got, err := c.VM(context.Background(), vm.ID)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.onlyOn(l.host(b, got.NodeName), vm.ID, "running"); err != nil {
			b.Fatal(err)
		}
		took = append(took, at.Sub(accepted))
		l.deleteVM(b, vm.ID)
	}
	b.ReportMetric(percentile(took, 50), "create-to-running-p50-ms")
	b.ReportMetric(percentile(took, 100), "create-to-running-max-ms")
	b.Logf("create to running (ms), %d VMs: %v", len(took), took)
}

// BenchmarkLab_EventToReported measures the time from libvirt's Stopped event
// of a never-policy VM destroyed with virsh (as a virsh watcher received it) to
// the first answer of the API that shows the VM stopped, asking the leader and
// a follower: a follower applies a commit when the leader's next message
// reaches it, so its answers may lag. Both are polled every 5 ms from before
// the destroy.
func BenchmarkLab_EventToReported(b *testing.B) {
	l := needLab(b)
	c := l.client(b)
	cl, err := c.Cluster(context.Background())
	if err != nil || cl.Leader == "" {
		b.Fatalf("no leader: %+v %v", cl, err)
	}
	leader := l.client(b, l.namesExcept(cl.Leader)...)
	follower := l.client(b, cl.Leader)
	w := l.watchEvents(b)
	const batch = 5 // fits the lab: 3 hosts of 2 vCPUs
	var fromLeader, fromFollower []time.Duration
	for n := samples(b, batch); len(fromLeader) < n; {
		var ps []placed
		for i := range min(batch, n-len(fromLeader)) {
			vm := l.createVM(b, c, l.guest(uniqueName(fmt.Sprintf("bench-e%d", i)), "never"))
			ps = append(ps, placed{ID: vm.ID})
		}
		for i, p := range ps {
			ps[i] = l.waitRunning(b, c, p.ID, runTimeout)
		}
		for _, p := range ps { // booting TCG guests would skew the timings
			p.Host.waitTicks(b, p.Domain, 2, 2*bootTimeout)
		}
		for _, p := range ps {
			onLeader := pollStopped(leader, p.ID, 15*time.Second)
			onFollower := pollStopped(follower, p.ID, 15*time.Second)
			if _, err := p.Host.virsh("destroy", p.ID); err != nil {
				b.Fatal(err)
			}
			event := w.waitEvent(b, p.Domain, "Stopped", 15*time.Second)
			atLeader, atFollower := <-onLeader, <-onFollower
			if atLeader.IsZero() || atFollower.IsZero() {
				b.Fatalf("vm %s: the API did not show it stopped within 15s", p.Name)
			}
			fromLeader = append(fromLeader, atLeader.Sub(event))
			fromFollower = append(fromFollower, atFollower.Sub(event))
		}
		for _, p := range ps {
			l.deleteVM(b, p.ID)
		}
	}
	b.ReportMetric(percentile(fromLeader, 50), "event-to-reported-p50-ms")
	b.ReportMetric(percentile(fromLeader, 100), "event-to-reported-max-ms")
	b.ReportMetric(percentile(fromFollower, 50), "follower-p50-ms")
	b.ReportMetric(percentile(fromFollower, 100), "follower-max-ms")
	b.Logf("libvirt Stopped event to API stopped (ms), %d VMs, leader %s: %v", len(fromLeader), cl.Leader, fromLeader)
	b.Logf("the same, asking follower %s: %v", follower.Address(), fromFollower)
}

// pollStopped polls the API every 5 ms in the background and sends the time of
// the first answer that shows the VM stopped, the zero time at the timeout.
func pollStopped(c *client.Client, id string, timeout time.Duration) <-chan time.Time {
	out := make(chan time.Time, 1)
	go func() {
		_, err := testutil.Poll(timeout, 5*time.Millisecond, func() error {
			_, err := vmIn(c, id, client.StateStopped, "")
			return err
		})
		if err != nil {
			out <- time.Time{}
			return
		}
		out <- time.Now()
	}()
	return out
}

// BenchmarkLab_IdleAgentCPU fills the lab with idle guests (up to 20, as many as
// the cluster places: it does not overcommit vCPUs, and a lab host has as many
// as the machine), waits until they have booted, and measures each agent's CPU
// use (utime+stime from /proc) over 30 s. The guests get 96 MiB: with 64 the lab
// guest's kernel does not boot (no output at all on its serial console).
func BenchmarkLab_IdleAgentCPU(b *testing.B) {
	l := needLab(b)
	c := l.client(b)
	var ps []placed
	for i := 0; i < 20; i++ {
		req := l.guest(uniqueName(fmt.Sprintf("bench-idle%d", i)), "")
		vm := l.createVM(b, c, req)
		if vm.NodeName == "" && !placedWithin(c, vm.ID, 3*time.Second) {
			b.Logf("the cluster places no more than %d such guests (vm %d stays %s): no vCPU overcommit", i, i+1, vm.State)
			break
		}
		ps = append(ps, placed{ID: vm.ID})
	}
	perHost := map[string]int{}
	for i, p := range ps {
		ps[i] = l.waitRunning(b, c, p.ID, runTimeout)
		perHost[ps[i].Host.Name]++
	}
	for _, p := range ps {
		p.Host.waitTicks(b, p.Domain, 3, 3*bootTimeout)
	}

	const window = 30 * time.Second
	hz := float64(clockTicks())
	before := map[string]int64{}
	pids := map[string]int{}
	for _, h := range l.hosts {
		pid, err := h.agentPid()
		if err != nil {
			b.Fatal(err)
		}
		if before[h.Name], err = cpuTicks(pid); err != nil {
			b.Fatal(err)
		}
		pids[h.Name] = pid
	}
	b.ResetTimer()
	start := time.Now()
	testutil.HoldsFor(b, window, time.Second, "every agent alive through the measurement", func() error {
		for name, pid := range pids {
			if !alive(pid) {
				return fmt.Errorf("%s's agent exited", name)
			}
		}
		return nil
	})
	elapsed := time.Since(start).Seconds()
	b.StopTimer()
	var maxPct float64
	maxHost := ""
	for _, h := range l.hosts {
		now, err := cpuTicks(pids[h.Name])
		if err != nil {
			b.Fatal(err)
		}
		pct := float64(now-before[h.Name]) / hz / elapsed * 100
		b.Logf("%s: agent used %.2f%% of one core over %.0fs with %d idle guests", h.Name, pct, elapsed, perHost[h.Name])
		if pct > maxPct || maxHost == "" {
			maxPct, maxHost = pct, h.Name
		}
	}
	b.ReportMetric(maxPct, "agent-cpu-max-%")
	b.ReportMetric(float64(perHost[maxHost]), "guests-on-that-agent")
	b.ReportMetric(float64(len(ps)), "guests-total")
}

// placedWithin polls the API until the VM is on a node, false at the timeout.
func placedWithin(c *client.Client, id string, timeout time.Duration) bool {
	_, err := testutil.Poll(timeout, testutil.PollInterval, func() error {
		vm, err := c.VM(context.Background(), id)
		if err == nil && vm.NodeName == "" {
			err = errors.New("not placed")
		}
		return err
	})
	return err == nil
}
