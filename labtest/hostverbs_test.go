package labtest

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// Host failures through lab.sh's verbs: kill (agent, libvirtd, virtlogd and
// QEMUs SIGKILLed together), restart (as after a reboot), cut (the host's
// address and everything its agent and QEMUs send dropped by iptables; its
// guests and agent keep running) and heal. Each test that breaks a host leaves
// it whole again when it ends, passed or not, so the next test has the full
// lab.

// hostVerbTimeout bounds one lab.sh kill/cut/heal/restart (restart waits for
// the agent to see a leader, up to 90 s in lab.sh).
const hostVerbTimeout = 2 * time.Minute

// nodeAliveTimeout is how long a restarted or healed host gets to be an alive
// node again in the API.
const nodeAliveTimeout = 90 * time.Second

// hostVerb runs `lab.sh VERB NAME` and returns the time it printed as
// KEY=EPOCH (seconds with microseconds), the moment it acted.
func (l *lab) hostVerb(tb testing.TB, verb string, h *labHost, key string) time.Time {
	tb.Helper()
	stdout, stderr, err := l.Command(hostVerbTimeout, verb, h.Name)
	if err != nil {
		tb.Fatalf("lab.sh %s %s: %v\n%s", verb, h.Name, err, stderr)
	}
	if _, isBench := tb.(*testing.B); !isBench {
		tb.Logf("lab.sh %s %s: %s", verb, h.Name, strings.TrimSpace(testutil.LastLines(stderr, 3)))
	}
	if key == "" {
		return time.Time{}
	}
	for _, line := range strings.Split(stdout, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+"="); ok {
			at, err := parseEpoch(v)
			if err != nil {
				tb.Fatalf("lab.sh %s %s printed %s=%q: %v", verb, h.Name, key, v, err)
			}
			return at
		}
	}
	tb.Fatalf("lab.sh %s %s printed no %s= line; stdout:\n%s", verb, h.Name, key, stdout)
	return time.Time{}
}

// parseEpoch reads bash's $EPOCHREALTIME (decimal point or comma).
func parseEpoch(s string) (time.Time, error) {
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, ",", "."), 64)
	if err != nil {
		return time.Time{}, err
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3), nil
}

// killHost kills the host with `lab.sh kill` and returns the moment of the
// first SIGKILL. The host is restarted when the test ends if the test has not
// restarted it.
func (l *lab) killHost(tb testing.TB, h *labHost) time.Time {
	tb.Helper()
	// Marked before lab.sh runs: a kill that fails half-way is restarted too.
	h.killed = true
	tb.Cleanup(func() {
		if h.killed {
			tb.Logf("cleanup: %s may still be down: restarting it", h.Name)
			l.restartHost(tb, h)
		}
	})
	return l.hostVerb(tb, "kill", h, "killed_at")
}

// restartHost starts the host again with `lab.sh restart` (libvirtd, then the
// agent, which must see a leader) and waits until the API lists it as an alive
// node with its capacity.
func (l *lab) restartHost(tb testing.TB, h *labHost) {
	tb.Helper()
	l.hostVerb(tb, "restart", h, "")
	h.killed = false
	l.waitNodeAlive(tb, h)
}

// cutHost cuts the host off the network with `lab.sh cut` and returns the
// moment the rules were in. The host is healed when the test ends if the test
// has not healed it.
func (l *lab) cutHost(tb testing.TB, h *labHost) time.Time {
	tb.Helper()
	// Marked before lab.sh runs: a cut that fails half-way is healed too.
	h.cut = true
	tb.Cleanup(func() {
		if h.cut {
			tb.Logf("cleanup: %s may still be cut off: healing it", h.Name)
			l.healHost(tb, h)
			l.waitNodeAlive(tb, h)
		}
	})
	return l.hostVerb(tb, "cut", h, "cut_at")
}

// healHost undoes cutHost and returns the moment the rules were gone.
func (l *lab) healHost(tb testing.TB, h *labHost) time.Time {
	tb.Helper()
	at := l.hostVerb(tb, "heal", h, "healed_at")
	h.cut = false
	return at
}

// waitNodeAlive waits until another host's API lists h as an alive node with
// a libvirt capacity.
func (l *lab) waitNodeAlive(tb testing.TB, h *labHost) time.Duration {
	tb.Helper()
	c := l.client(tb, h.Name)
	return testutil.Eventually(tb, nodeAliveTimeout, h.Name+" alive in the API", func() error {
		n, err := c.Node(context.Background(), h.Name)
		if err != nil {
			return err
		}
		if n.Status != "alive" || n.Capacity.VCPUs == 0 || n.Hypervisor.Driver != "libvirt" {
			return fmt.Errorf("node %s is %s (%s), capacity %d vCPUs", n.Name, n.Status, n.StatusCause, n.Capacity.VCPUs)
		}
		return nil
	})
}

// victimHost picks a lab host that is not the Raft leader, so that a test
// measures a host failure, not a leader election too.
func (l *lab) victimHost(tb testing.TB, c *client.Client, skip ...string) *labHost {
	tb.Helper()
	cl, err := c.Cluster(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	if cl.Leader == "" {
		tb.Fatalf("no leader: %+v", cl)
	}
	for _, h := range l.hosts {
		if h.Name != cl.Leader && !slices.Contains(skip, h.Name) && !h.killed && !h.cut {
			return h
		}
	}
	tb.Fatalf("no host to break besides the leader %s", cl.Leader)
	return nil
}

// guestsOn creates n HA guests (the default HA policy) that prefer host h and
// waits until they all run there. It first waits until h is alive in the API:
// a host the previous test broke may still be suspect for a moment after it
// recovered, and placement rightly passes a suspect host over.
func (l *lab) guestsOn(tb testing.TB, c *client.Client, h *labHost, prefix string, n int) []placed {
	tb.Helper()
	l.waitNodeAlive(tb, h)
	var ids []string
	for i := range n {
		req := l.guest(uniqueName(fmt.Sprintf("%s%d", prefix, i)), "")
		req.Placement = &client.PlacementSpec{PreferredNodes: []string{h.Name}}
		ids = append(ids, l.createVM(tb, c, req).ID)
	}
	var ps []placed
	for _, id := range ids {
		p := l.waitRunning(tb, c, id, runTimeout)
		if p.Host != h {
			why := "(placement reason unknown)"
			if vm, err := c.VM(context.Background(), id); err == nil {
				why = vm.PlacementReason
			}
			tb.Fatalf("vm %s runs on %s, though it prefers %s: %s", p.Name, p.Host.Name, h.Name, why)
		}
		ps = append(ps, p)
	}
	return ps
}

// movedVM is a VM the test saw running on another host after a failure.
type movedVM struct {
	placed
	To   *labHost
	At   time.Time     // first witness sample with it active there
	Took time.Duration // from the failure
}

// waitRunningElsewhere waits until the witness has seen every VM active on a
// host other than from, after since; it returns where and when.
func (l *lab) waitRunningElsewhere(tb testing.TB, w *witness, ps []placed, from *labHost, since time.Time, timeout time.Duration) []movedVM {
	tb.Helper()
	out := make([]movedVM, len(ps))
	testutil.Eventually(tb, timeout, fmt.Sprintf("the witness to see %d vms running on another host than %s", len(ps), from.Name), func() error {
		var missing []string
		for i, p := range ps {
			host, at, ok := w.firstActiveElsewhere(p.ID, from.Name, since)
			if !ok {
				missing = append(missing, fmt.Sprintf("%s (active on %v)", p.Name, w.activeOn(p.ID)))
				continue
			}
			out[i] = movedVM{placed: p, To: l.host(tb, host), At: at, Took: at.Sub(since)}
		}
		if len(missing) > 0 {
			return fmt.Errorf("not yet elsewhere: %s", strings.Join(missing, ", "))
		}
		return nil
	})
	return out
}

// runsOnlyOn checks, through the API and libvirt, that the VM runs on host to
// only: the API says running there, its domain runs there and no other host
// in up (the hosts whose libvirtd answers) has it defined.
func (l *lab) runsOnlyOn(c *client.Client, id string, to *labHost, up []*labHost) error {
	vm, err := vmIn(c, id, client.StateRunning, client.StateRunning)
	if err != nil {
		return err
	}
	if vm.NodeName != to.Name {
		return fmt.Errorf("the API has vm %s on %s, the witness saw it run on %s", vm.Name, vm.NodeName, to.Name)
	}
	for _, h := range up {
		ids, err := h.domainIDs()
		if err != nil {
			return err
		}
		has := slices.Contains(ids, strings.ToLower(id))
		switch {
		case h == to && !has:
			return fmt.Errorf("%s has no domain for vm %s", h.Name, vm.Name)
		case h != to && has:
			st, _ := h.domState(id)
			return fmt.Errorf("%s still has a domain for vm %s (%s), which runs on %s", h.Name, vm.Name, st, to.Name)
		}
	}
	st, err := to.domState(id)
	if err != nil {
		return err
	}
	if st != "running" {
		return fmt.Errorf("domain of vm %s on %s is %q", vm.Name, to.Name, st)
	}
	return nil
}

// hostsExcept returns the lab hosts other than skip.
func (l *lab) hostsExcept(skip *labHost) []*labHost {
	var out []*labHost
	for _, h := range l.hosts {
		if h != skip {
			out = append(out, h)
		}
	}
	return out
}

// checkFailoverRecord waits for the failover record of host from that moves
// every VM in moved to where the witness saw it, with the time each ran again,
// and logs it. It fails the test, and returns nil, when none comes.
func checkFailoverRecord(tb testing.TB, c *client.Client, from *labHost, moved []movedVM) *client.Failover {
	tb.Helper()
	var rec *client.Failover
	_, err := testutil.Poll(30*time.Second, 200*time.Millisecond, func() error {
		fos, err := c.Failovers(context.Background(), from.Name)
		if err != nil {
			return err
		}
		for i := range fos {
			if fos[i].NodeName != from.Name {
				continue
			}
			if err := failoverCovers(&fos[i], moved); err != nil {
				return err
			}
			rec = &fos[i]
			return nil
		}
		return fmt.Errorf("no failover record for %s among %d", from.Name, len(fos))
	})
	if err != nil {
		tb.Errorf("failover record of %s: %v", from.Name, err)
		return nil
	}
	tb.Logf("failover record %s: node %s, cause %q; from the last renewal: detected %d ms, fenced %d ms, restarted %d ms",
		rec.ID, rec.NodeName, rec.Cause, rec.DetectedAfterMs, rec.FencedAfterMs, rec.RestartedAfterMs)
	for _, v := range rec.VMs {
		tb.Logf("  vm %s -> %s, running %d ms after the last renewal", v.VMName, v.NodeName, v.RunningAfterMs)
	}
	return rec
}

// failoverCovers checks that the record moves every VM where the witness saw
// it run, and has the time each ran again.
func failoverCovers(fo *client.Failover, moved []movedVM) error {
	for _, m := range moved {
		i := slices.IndexFunc(fo.VMs, func(v client.FailoverVM) bool { return strings.EqualFold(v.VMID, m.ID) })
		if i < 0 {
			return fmt.Errorf("failover %s does not list vm %s", fo.ID, m.Name)
		}
		v := fo.VMs[i]
		if v.NodeName != m.To.Name {
			return fmt.Errorf("failover %s moves vm %s to %q (%s), the witness saw it run on %s", fo.ID, m.Name, v.NodeName, v.Reason, m.To.Name)
		}
		if v.RunningAt == nil {
			return fmt.Errorf("failover %s: vm %s has no running_at yet", fo.ID, m.Name)
		}
	}
	if fo.DetectedAt.IsZero() || fo.FencedAt.IsZero() || fo.RestartedAt.IsZero() {
		return fmt.Errorf("failover %s lacks a step time: %+v", fo.ID, fo)
	}
	return nil
}

// agentLogSince returns the lines of the host's agent log written at or after
// since that contain substr (slog's text format: time=RFC3339 first).
func (h *labHost) agentLogSince(since time.Time, substr string) []string {
	b, err := os.ReadFile(filepath.Join(h.Dir, "agent.log"))
	if err != nil {
		return []string{"(" + err.Error() + ")"}
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		ts, ok := strings.CutPrefix(line, "time=")
		if !ok || !strings.Contains(line, substr) {
			continue
		}
		ts, _, _ = strings.Cut(ts, " ")
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err == nil && !at.Before(since.Add(-time.Millisecond)) {
			out = append(out, line)
		}
	}
	return out
}
