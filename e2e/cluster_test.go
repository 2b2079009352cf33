package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// runTimeout bounds how long a created VM may take to run.
const runTimeout = 30 * time.Second

func TestThreeAgents_FollowerWriteRunsEverywhere(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3, nil)
	leader := c.leader()

	var cl client.Cluster
	if err := cliJSON(t, leader.addr(), c.token, &cl, "cluster", "status"); err != nil {
		t.Fatal(err)
	}
	if cl.Leader != leader.name {
		t.Errorf("cluster status leader = %q, want %q", cl.Leader, leader.name)
	}
	voters, leaders := 0, 0
	for _, m := range cl.Members {
		if m.Status == "alive" && m.RaftRole == "voter" {
			voters++
		}
		if m.Leader {
			leaders++
			if m.Name != leader.name {
				t.Errorf("member %s is flagged leader, the leader is %s", m.Name, leader.name)
			}
		}
	}
	if voters != 3 || leaders != 1 || len(cl.Members) != 3 {
		t.Errorf("cluster status members = %s: want 3 alive voters, one of them the leader", describeMembers(cl.Members))
	}

	follower := c.followers(leader)[0]
	var created client.VM
	if err := cliJSON(t, follower.addr(), c.token, &created,
		"vm", "create", "web-1", "--vcpus", "2", "--memory", "512", "--disk", "5", "--label", "tier=web"); err != nil {
		t.Fatalf("vm create through follower %s: %v", follower.name, err)
	}
	if created.ID == "" || created.Name != "web-1" || created.VCPUs != 2 || created.MemoryMiB != 512 {
		t.Fatalf("created vm = %+v", created)
	}

	nodeOf := map[string]string{}
	for _, a := range c.agents {
		testutil.Eventually(t, runTimeout, "web-1 running as seen by "+a.name, func() error {
			var vm client.VM
			if err := cliJSON(t, a.addr(), c.token, &vm, "vm", "show", "web-1"); err != nil {
				return err
			}
			if vm.ID != created.ID || vm.State != client.StateRunning || vm.Node == "" {
				return fmt.Errorf("%s shows id %s state %q node %q", a.name, vm.ID, vm.State, vm.NodeName)
			}
			nodeOf[a.name] = vm.Node + "/" + vm.NodeName
			return nil
		})
	}
	first := nodeOf[c.agents[0].name]
	for name, node := range nodeOf {
		if node != first {
			t.Errorf("nodes disagree on where web-1 runs: %s says %s, %s says %s", c.agents[0].name, first, name, node)
		}
	}

	for _, a := range c.agents {
		testutil.Eventually(t, 10*time.Second, "node list on "+a.name+" to show 3 sim nodes", func() error {
			var nodes []client.Node
			if err := cliJSON(t, a.addr(), c.token, &nodes, "node", "list"); err != nil {
				return err
			}
			names := map[string]bool{}
			for _, n := range nodes {
				if n.Hypervisor.Driver != "sim" {
					return fmt.Errorf("node %s has hypervisor driver %q, want sim", n.Name, n.Hypervisor.Driver)
				}
				names[n.Name] = true
			}
			if len(nodes) != 3 || !names["n1"] || !names["n2"] || !names["n3"] {
				return fmt.Errorf("node list has %d nodes: %v", len(nodes), names)
			}
			return nil
		})
	}
}

func TestThreeAgents_LeaderKilledAndRestarted(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3, nil)
	old := c.leader()
	survivors := c.followers(old)

	var acked []string // IDs of every VM whose creation the CLI acknowledged
	create := func(a *agent, name string) bool {
		// Acknowledged is what counts here, not running: --no-wait.
		res := runCLI(t, a.addr(), c.token, "-o", "json", "vm", "create", name, "--no-wait")
		if res.Code != 0 {
			t.Logf("not acknowledged (may happen during the election): %s", strings.TrimSpace(res.Stderr))
			return false
		}
		var vm client.VM
		if err := json.Unmarshal([]byte(res.Stdout), &vm); err != nil || vm.ID == "" {
			t.Fatalf("vm create %s acknowledged with unreadable output %q: %v", name, res.Stdout, err)
		}
		acked = append(acked, vm.ID)
		return true
	}
	for i, a := range survivors {
		if !create(a, fmt.Sprintf("before-%d", i)) {
			t.Fatalf("vm create through %s failed in a healthy cluster", a.name)
		}
	}

	old.kill()
	killedAt := time.Now()

	// Keep writing through the survivors across the election, until a new leader
	// is known to both and a few writes went through it.
	deadline := time.Now().Add(45 * time.Second)
	newLeader, afterElection := "", 0
	for i := 0; newLeader == "" || afterElection < 4; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("after killing leader %s: new leader %q, %d writes acknowledged since", old.name, newLeader, afterElection)
		}
		if create(survivors[i%2], fmt.Sprintf("during-%02d", i)) && newLeader != "" {
			afterElection++
		}
		// Until their heartbeat times out, survivors may still name the dead leader.
		if l := agreedLeader(c.token, survivors); newLeader == "" && l != "" && l != old.name {
			newLeader = l
			t.Logf("new leader %s known to both survivors %s after the kill", newLeader, time.Since(killedAt).Round(time.Millisecond))
		}
	}

	old.start()
	c.waitFormed(3)

	// Read-your-writes on the restarted node: wait for the leader's index, then
	// every acknowledged VM must be there.
	leader := c.byName(newLeader)
	lcl, err := leader.client(c.token).Cluster(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	vms, err := old.client(c.token).WithReadOptions(client.ReadOptions{WaitIndex: lcl.AppliedIndex}).
		VMs(context.Background(), client.ListVMsOptions{})
	if err != nil {
		t.Fatalf("read on restarted %s at index %d: %v", old.name, lcl.AppliedIndex, err)
	}
	have := map[string]bool{}
	for _, vm := range vms {
		have[vm.ID] = true
	}
	for _, id := range acked {
		if !have[id] {
			t.Errorf("acknowledged vm %s is missing on restarted %s at index %d", id, old.name, lcl.AppliedIndex)
		}
	}

	testutil.Eventually(t, 20*time.Second, "all three nodes to list the same VMs", func() error {
		return sameVMsEverywhere(t, c.agents, c.token, acked)
	})

	// The restarted node takes writes again (it forwards them to the new leader).
	var vm client.VM
	if err := cliJSON(t, old.addr(), c.token, &vm, "vm", "create", "after-restart"); err != nil {
		t.Fatalf("write through the restarted node: %v", err)
	}
	acked = append(acked, vm.ID)
	testutil.Eventually(t, 20*time.Second, "all three nodes to list after-restart", func() error {
		return sameVMsEverywhere(t, c.agents, c.token, acked)
	})
	t.Logf("%d acknowledged VMs, all present on every node", len(acked))
}

// agreedLeader returns the leader every agent in agents reports, "" while they
// report none or disagree.
func agreedLeader(token string, agents []*agent) string {
	leader := ""
	for _, a := range agents {
		cl, err := a.client(token).Cluster(context.Background())
		if err != nil || cl.Leader == "" || (leader != "" && cl.Leader != leader) {
			return ""
		}
		leader = cl.Leader
	}
	return leader
}

func TestFourthAgentJoinsAsNonvoter(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3, nil)
	leader := c.leader()
	var before client.VM
	if err := cliJSON(t, leader.addr(), c.token, &before, "vm", "create", "before-join"); err != nil {
		t.Fatal(err)
	}

	n4 := newAgent(t, agentConfig{name: "n4", join: []string{c.agents[0].gossipAddr()}})
	n4.start()
	for _, a := range []*agent{leader, n4} {
		testutil.Eventually(t, formTimeout, a.name+" to show n4 as an alive non-voter", func() error {
			var cl client.Cluster
			if err := cliJSON(t, a.addr(), c.token, &cl, "cluster", "status"); err != nil {
				return err
			}
			roles := map[string]string{}
			for _, m := range cl.Members {
				roles[m.Name] = m.Status + "/" + m.RaftRole
			}
			want := map[string]string{"n1": "alive/voter", "n2": "alive/voter", "n3": "alive/voter", "n4": "alive/nonvoter"}
			if fmt.Sprint(roles) != fmt.Sprint(want) {
				return fmt.Errorf("members %v, want %v", roles, want)
			}
			return nil
		})
	}

	var after client.VM
	if err := cliJSON(t, leader.addr(), c.token, &after, "vm", "create", "after-join"); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, "n4 to list the same VMs as the leader", func() error {
		return sameVMsEverywhere(t, []*agent{leader, n4}, c.token, []string{before.ID, after.ID})
	})
}

func TestGossipKey_EncryptedCluster(t *testing.T) {
	t.Parallel()
	key := gossipKey(t)
	c := startCluster(t, 3, func(_ int, cfg *agentConfig) { cfg.gossipKey = key })

	stranger := newAgent(t, agentConfig{name: "stranger", gossipKey: gossipKey(t), join: []string{c.agents[0].gossipAddr()}})
	friend := newAgent(t, agentConfig{name: "friend", gossipKey: key, join: []string{c.agents[0].gossipAddr()}})
	stranger.start()
	friend.start()

	memberStatus := func(a *agent, name string) (string, error) {
		cl, err := a.client(c.token).Cluster(context.Background())
		if err != nil {
			return "", err
		}
		for _, m := range cl.Members {
			if m.Name == name {
				return m.Status, nil
			}
		}
		return "", nil
	}
	// The agent with the right key joins: the join path works in this window.
	for _, a := range c.agents {
		testutil.Eventually(t, formTimeout, "friend (same key) to appear on "+a.name, func() error {
			st, err := memberStatus(a, "friend")
			if err == nil && st != "alive" {
				err = fmt.Errorf("friend is %q", st)
			}
			return err
		})
	}
	// The one with another key never does.
	testutil.HoldsFor(t, 3*time.Second, testutil.PollInterval, "stranger (other key) absent from the members", func() error {
		for _, a := range c.agents {
			st, err := memberStatus(a, "stranger")
			if err != nil {
				return err
			}
			if st != "" {
				return fmt.Errorf("%s lists stranger as %q", a.name, st)
			}
		}
		h, err := stranger.client("").Health(context.Background())
		if err != nil {
			return fmt.Errorf("stranger /healthz: %w", err)
		}
		if h.Leader != "" {
			return fmt.Errorf("stranger knows leader %q", h.Leader)
		}
		return nil
	})
}

// gossipKey returns a new base64 key of 32 random bytes.
func gossipKey(t *testing.T) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}
