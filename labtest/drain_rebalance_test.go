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

// TestLab_DrainEmptiesAHost puts three guests on one host (a soft preference
// for it), drains the host through the API and follows the drain until it is
// done: virsh on the host lists none of NovaCron's domains, each guest runs on
// another host without having rebooted, moved by a drain migration. A new VM
// that prefers the host goes elsewhere, one that may run only there waits;
// after the undrain that one runs there.
func TestLab_DrainEmptiesAHost(t *testing.T) {
	l := needLab(t)
	c := l.client(t)
	keepSettings(t, c)
	if _, err := c.UpdateSettings(context.Background(), client.SettingsUpdate{MaxMigrationsPerHost: ptr(oneAtATime)}); err != nil {
		t.Fatal(err)
	}
	host := l.hosts[len(l.hosts)-1]
	l.waitNodeAlive(t, host)
	prefer := &client.PlacementSpec{PreferredNodes: []string{host.Name}}
	var ps []placed
	for i := range 3 {
		req := l.guest(uniqueName(fmt.Sprintf("drain%d", i)), "")
		req.Placement = prefer
		ps = append(ps, placed{ID: l.createVM(t, c, req).ID})
	}
	for i, p := range ps {
		ps[i] = l.waitRunning(t, c, p.ID, runTimeout)
		if ps[i].Host != host {
			t.Fatalf("vm %s went to %s although it prefers %s", ps[i].Name, ps[i].Host.Name, host.Name)
		}
	}
	for _, p := range ps {
		p.Host.waitTicks(t, p.Domain, 3, bootTimeout)
	}
	drained := false
	t.Cleanup(func() {
		if !drained {
			return
		}
		if _, err := c.UndrainNode(context.Background(), host.Name); err != nil && client.ErrorCode(err) != client.CodeInvalidState {
			t.Errorf("cleanup: undrain %s: %v", host.Name, err)
		}
	})

	st, err := c.DrainNode(context.Background(), host.Name, "labtest drain")
	if err != nil {
		t.Fatalf("drain %s: %v", host.Name, err)
	}
	drained = true
	if !st.Maintenance || st.MaintenanceReason != "labtest drain" || st.Done {
		t.Errorf("drain answer: maintenance %v reason %q done %v, want in maintenance with the reason, not done",
			st.Maintenance, st.MaintenanceReason, st.Done)
	}
	seen := map[string]bool{}
	took := testutil.EventuallyEvery(t, drainTimeout, 250*time.Millisecond, "the drain of "+host.Name+" to be done", func() error {
		st, err := c.DrainStatus(context.Background(), host.Name)
		if err != nil {
			return err
		}
		for _, v := range st.VMs {
			if v.Migration != nil {
				seen[v.Name] = true
			}
		}
		if len(st.Unmovable) > 0 {
			t.Fatalf("drain reports unmovable vms: %+v", st.Unmovable)
		}
		if !st.Done || len(st.VMs) > 0 {
			return fmt.Errorf("drain not done: vms %+v", st.VMs)
		}
		return nil
	})
	t.Logf("%s drained in %s (vms seen migrating: %d)", host.Name, took.Round(time.Millisecond), len(seen))

	names, err := host.domainNames()
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(names, func(n string) bool { return strings.HasPrefix(n, "novacron-") }); i >= 0 {
		t.Errorf("the drained host still has NovaCron domains: %v", names)
	}
	var moves []client.Migration
	for _, p := range ps {
		vm, err := vmIn(c, p.ID, client.StateRunning, client.StateRunning)
		if err != nil {
			t.Fatal(err)
		}
		dst := l.host(t, vm.NodeName)
		if dst == host {
			t.Fatalf("vm %s is still on %s in the API", p.Name, host.Name)
		}
		testutil.EventuallyEvery(t, 15*time.Second, virshPoll, "vm "+p.Name+" running on "+dst.Name+" only", func() error {
			return l.onlyOn(dst, p.ID, "running")
		})
		testutil.EventuallyEvery(t, 20*time.Second, virshPoll, "vm "+p.Name+" to go on counting on "+dst.Name, func() error {
			return guestContinued(host, dst, p.Domain, 3, 3)
		})
		ms, err := c.Migrations(context.Background(), client.ListMigrationsOptions{VM: p.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != 1 || ms[0].State != client.MigrationCompleted || !strings.HasPrefix(ms[0].Reason, "drain") ||
			ms[0].Mode != client.MigrateLive || ms[0].TargetName != dst.Name {
			t.Errorf("vm %s's migrations: %+v, want one completed live drain move to %s", p.Name, ms, dst.Name)
		}
		moves = append(moves, ms...)
		t.Logf("vm %s moved to %s: %s", p.Name, dst.Name, ms[0].Reason)
	}
	if err := serialized(moves); err != nil {
		t.Error(err)
	}

	// Placement keeps off the host while it is in maintenance.
	soft := l.guest(uniqueName("drain-new"), "")
	soft.Placement = prefer
	newVM := l.createVM(t, c, soft)
	if pn := l.waitRunning(t, c, newVM.ID, runTimeout); pn.Host == host {
		t.Errorf("new vm %s was placed on %s, which is in maintenance", pn.Name, host.Name)
	}
	hard := l.guest(uniqueName("drain-pinned"), "")
	hard.Placement = &client.PlacementSpec{Nodes: []string{host.Name}}
	pinned := l.createVM(t, c, hard)
	testutil.HoldsFor(t, 3*time.Second, 500*time.Millisecond, "the vm pinned to the drained host waiting", func() error {
		vm, err := c.VM(context.Background(), pinned.ID)
		if err != nil {
			return err
		}
		if vm.State != client.StatePending || vm.Node != "" {
			return fmt.Errorf("vm %s pinned to %s is %s on %q", vm.Name, host.Name, vm.State, vm.NodeName)
		}
		return nil
	})
	vm, _ := c.VM(context.Background(), pinned.ID)
	t.Logf("pinned vm waits: %s", vm.PlacementReason)
	if !strings.Contains(vm.PlacementReason, "maintenance") {
		t.Errorf("pinned vm's placement reason %q does not say the host is in maintenance", vm.PlacementReason)
	}

	n, err := c.UndrainNode(context.Background(), host.Name)
	if err != nil {
		t.Fatalf("undrain %s: %v", host.Name, err)
	}
	drained = false
	if n.Maintenance {
		t.Errorf("node after the undrain: maintenance %v", n.Maintenance)
	}
	if pp := l.waitRunning(t, c, pinned.ID, runTimeout); pp.Host != host {
		t.Errorf("pinned vm runs on %s after the undrain, want %s", pp.Host.Name, host.Name)
	}
	if _, err := c.UndrainNode(context.Background(), host.Name); client.ErrorCode(err) != client.CodeInvalidState {
		t.Errorf("undrain of a node in service: %v, want 409 invalid_state", err)
	}
}

// TestLab_AutomaticRebalancingSpreadsAndSettles starts six guests on one host
// (binpack, rebalancing off), then turns on automatic rebalancing with the
// spread strategy. With memory the larger load (each guest is 96 of a host's
// 2048 MiB, about 0.047; an idle guest's CPU is far less of 8 vCPUs), six on one
// host is an imbalance of 0.133; 4-1-1 is 0.066 and 3-2-1 0.038, below the
// threshold of 0.05. So the rebalancer must end with at most three guests on a
// host and at least one on each, every move a completed live migration with its
// reason and an effect that lowers the imbalance, each guest moved at most once;
// then it must stay still for the next rounds.
func TestLab_AutomaticRebalancingSpreadsAndSettles(t *testing.T) {
	l := needLab(t)
	c := l.client(t)
	orig := keepSettings(t, c)
	off := client.RebalanceOff
	if _, err := c.UpdateSettings(context.Background(), client.SettingsUpdate{Strategy: ptr("binpack"),
		MaxMigrationsPerHost: ptr(oneAtATime), Rebalance: &client.RebalanceSettingsUpdate{Mode: &off, IntervalSeconds: ptr(int64(2))}}); err != nil {
		t.Fatal(err)
	}
	var ps []placed
	for i := range 6 {
		ps = append(ps, placed{ID: l.createVM(t, c, l.guest(uniqueName(fmt.Sprintf("rebal%d", i)), "")).ID})
	}
	// Rebalancing off before the guests are deleted: a move under way would
	// refuse the delete.
	t.Cleanup(func() { restoreSettings(t, c, orig) })
	for i, p := range ps {
		ps[i] = l.waitRunning(t, c, p.ID, runTimeout)
		if ps[i].Host != ps[0].Host {
			t.Fatalf("binpack put vm %s on %s and vm %s on %s, want all on one host", ps[0].Name, ps[0].Host.Name, ps[i].Name, ps[i].Host.Name)
		}
	}
	for _, p := range ps {
		p.Host.waitTicks(t, p.Domain, 3, 2*bootTimeout)
	}
	hot := ps[0].Host
	// Booting under TCG is CPU bound: wait until the rebalancer sees the six
	// guests on the host with memory the larger load, so the moves follow the
	// memory figures above (idle, the guests use about 0.01 core each).
	testutil.EventuallyEvery(t, 90*time.Second, time.Second, "the rebalancer to see six guests on one host, memory the larger load", func() error {
		rs, err := c.Rebalance(context.Background())
		if err != nil {
			return err
		}
		for _, n := range rs.Nodes {
			if n.NodeName == hot.Name && n.VMs == 6 && n.CPU < n.Memory {
				return nil
			}
		}
		return fmt.Errorf("rebalancer sees %+v", rs.Nodes)
	})
	rs, _ := c.Rebalance(context.Background())
	t.Logf("6 guests on %s: imbalance %.3f, nodes %+v", hot.Name, rs.Imbalance, rs.Nodes)

	auto := client.RebalanceAutomatic
	settings, err := c.UpdateSettings(context.Background(), client.SettingsUpdate{Strategy: ptr("spread"),
		Rebalance: &client.RebalanceSettingsUpdate{Mode: &auto, Threshold: ptr(0.05), MinGain: ptr(0.01),
			MaxMoves: ptr(2), IntervalSeconds: ptr(int64(2)), CooldownSeconds: ptr(int64(3600))}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("settings: %+v", *settings)

	perHost := func() (map[string]int, error) {
		counts := map[string]int{}
		for _, p := range ps {
			vm, err := c.VM(context.Background(), p.ID)
			if err != nil {
				return nil, err
			}
			if vm.Migration != "" {
				return nil, fmt.Errorf("vm %s is migrating (%s)", vm.Name, vm.Migration)
			}
			counts[vm.NodeName]++
		}
		return counts, nil
	}
	start := time.Now()
	var spread map[string]int
	testutil.EventuallyEvery(t, 4*time.Minute, 500*time.Millisecond, "the guests spread over the hosts and the rebalancer settled", func() error {
		counts, err := perHost()
		if err != nil {
			return err
		}
		for _, h := range l.hosts {
			if counts[h.Name] < 1 || counts[h.Name] > 3 {
				return fmt.Errorf("guests per host: %v", counts)
			}
		}
		rs, err := c.Rebalance(context.Background())
		if err != nil {
			return err
		}
		if rs.Imbalance > 0.05 || len(rs.Recommendations) > 0 {
			return fmt.Errorf("guests per host %v, rebalancer: imbalance %.3f, %d moves proposed (%s)", counts, rs.Imbalance, len(rs.Recommendations), rs.Reason)
		}
		spread = counts
		return nil
	})
	t.Logf("spread to %v after %s", spread, time.Since(start).Round(time.Millisecond))

	moves := checkRebalanceMoves(t, l, c, ps)
	rs, _ = c.Rebalance(context.Background())
	t.Logf("loads after the moves: %+v", rs.Nodes)
	t.Logf("%d rebalancing moves", moves)
	if moves < 3 {
		t.Errorf("%d moves took six guests from one host to at most three per host", moves)
	}

	rs, err = c.Rebalance(context.Background())
	if err != nil || rs.LastRound == nil {
		t.Fatalf("rebalance status %+v: %v", rs, err)
	}
	first, rounds := *rs.LastRound, 0
	all, err := c.Migrations(context.Background(), client.ListMigrationsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	testutil.EventuallyEvery(t, 30*time.Second, 500*time.Millisecond, "three more rounds without a move", func() error {
		now, err := c.Migrations(context.Background(), client.ListMigrationsOptions{})
		if err != nil {
			return err
		}
		if len(now) != len(all) {
			t.Fatalf("a new migration started after the rebalancer settled: %+v", now[0])
		}
		counts, err := perHost()
		if err != nil {
			t.Fatalf("after the rebalancer settled: %v", err)
		}
		if fmt.Sprint(counts) != fmt.Sprint(spread) {
			t.Fatalf("guests per host changed after the rebalancer settled: %v, was %v", counts, spread)
		}
		rs, err := c.Rebalance(context.Background())
		if err != nil {
			return err
		}
		if rs.LastRound != nil && rs.LastRound.After(first) {
			first, rounds = *rs.LastRound, rounds+1
		}
		if rounds < 3 {
			return fmt.Errorf("%d rounds since it settled (%s)", rounds, rs.Reason)
		}
		return nil
	})
	rs, _ = c.Rebalance(context.Background())
	t.Logf("still after %d rounds: imbalance %.3f, %s", rounds, rs.Imbalance, rs.Reason)
}

// checkRebalanceMoves checks every migration of the guests: each is a
// completed live move by the rebalancer with its reason and an effect that
// lowers the imbalance, no guest moved twice, and each guest runs where its
// move took it. It returns how many there were.
func checkRebalanceMoves(t *testing.T, l *lab, c *client.Client, ps []placed) int {
	t.Helper()
	var all []client.Migration
	for _, p := range ps {
		ms, err := c.Migrations(context.Background(), client.ListMigrationsOptions{VM: p.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) > 1 {
			t.Errorf("vm %s moved %d times: %+v", p.Name, len(ms), ms)
		}
		all = append(all, ms...)
		for _, m := range ms {
			e := m.Rebalance
			if m.State != client.MigrationCompleted || m.Mode != client.MigrateLive || !strings.HasPrefix(m.Reason, "rebalance") ||
				e == nil || e.ImbalanceAfter >= e.ImbalanceBefore || e.SourceLoad <= e.TargetLoad {
				t.Errorf("vm %s's migration is %s %s, reason %q, effect %+v; want a completed live rebalancing move that lowers the imbalance",
					p.Name, m.State, m.Mode, m.Reason, e)
				continue
			}
			dst := l.host(t, m.TargetName)
			if err := l.onlyOn(dst, p.ID, "running"); err != nil {
				t.Error(err)
			}
			testutil.EventuallyEvery(t, 20*time.Second, virshPoll, "vm "+p.Name+" to go on counting on "+dst.Name, func() error {
				return guestContinued(p.Host, dst, p.Domain, 3, 3)
			})
			t.Logf("vm %s: %s", p.Name, m.Reason)
		}
	}
	if err := serialized(all); err != nil {
		t.Error(err)
	}
	return len(all)
}
