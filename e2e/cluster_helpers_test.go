package e2e

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// formTimeout bounds how long a fresh cluster may take to elect a leader and
// bootstrap its root token.
const formTimeout = 30 * time.Second

// testCluster is n agents started with --bootstrap-expect n, each joining all
// the others (as a deployment lists every server), sharing a root token.
type testCluster struct {
	t      *testing.T
	token  string
	agents []*agent
}

// startCluster starts n agents named n1..nN and waits until every one of them
// sees the same leader, n alive voters (or non-voters past 3) and accepts the
// root token. mod, when non-nil, adjusts each agent's config before it starts.
func startCluster(t *testing.T, n int, mod func(i int, c *agentConfig)) *testCluster {
	t.Helper()
	requireBinary(t)
	c := &testCluster{t: t, token: randomToken(t)}
	for i := range n {
		cfg := agentConfig{name: fmt.Sprintf("n%d", i+1), bootstrapExpect: n, token: c.token}
		if mod != nil {
			mod(i, &cfg)
		}
		c.agents = append(c.agents, newAgent(t, cfg))
	}
	for _, a := range c.agents {
		for _, b := range c.agents {
			if a != b {
				a.cfg.join = append(a.cfg.join, b.gossipAddr())
			}
		}
	}
	for _, a := range c.agents {
		a.start()
	}
	c.waitFormed(n)
	return c
}

// waitFormed waits until every running agent reports the same leader and n alive
// members that are all in the Raft configuration.
func (c *testCluster) waitFormed(n int) {
	c.t.Helper()
	testutil.Eventually(c.t, formTimeout, fmt.Sprintf("a %d-node cluster with a leader", n), func() error {
		leader := ""
		for _, a := range c.running() {
			cl, err := a.client(c.token).Cluster(context.Background())
			if err != nil {
				return fmt.Errorf("%s: %w", a.name, err)
			}
			if cl.Leader == "" || (leader != "" && cl.Leader != leader) {
				return fmt.Errorf("%s sees leader %q, others %q", a.name, cl.Leader, leader)
			}
			leader = cl.Leader
			if err := membersReady(cl, n); err != nil {
				return fmt.Errorf("%s: %w", a.name, err)
			}
		}
		return nil
	})
}

// membersReady checks that cl lists n alive members, each in the Raft configuration.
func membersReady(cl *client.Cluster, n int) error {
	alive := 0
	for _, m := range cl.Members {
		if m.Status == "alive" && (m.RaftRole == "voter" || m.RaftRole == "nonvoter") {
			alive++
		}
	}
	if alive != n {
		return fmt.Errorf("%d of %d members alive and in raft: %s", alive, n, describeMembers(cl.Members))
	}
	return nil
}

func describeMembers(ms []client.Member) string {
	var parts []string
	for _, m := range ms {
		parts = append(parts, fmt.Sprintf("%s=%s/%s", m.Name, m.Status, m.RaftRole))
	}
	return strings.Join(parts, " ")
}

// running is the agents whose process runs.
func (c *testCluster) running() []*agent {
	var out []*agent
	for _, a := range c.agents {
		if a.running() {
			out = append(out, a)
		}
	}
	return out
}

// byName finds an agent by node name.
func (c *testCluster) byName(name string) *agent {
	for _, a := range c.agents {
		if a.name == name {
			return a
		}
	}
	c.t.Fatalf("no agent named %q", name)
	return nil
}

// leader waits until every running agent agrees on a leader that is one of the
// running agents, and returns it.
func (c *testCluster) leader() *agent {
	c.t.Helper()
	var leader string
	testutil.Eventually(c.t, formTimeout, "the running agents to agree on a leader", func() error {
		leader = ""
		for _, a := range c.running() {
			cl, err := a.client(c.token).Cluster(context.Background())
			if err != nil {
				return fmt.Errorf("%s: %w", a.name, err)
			}
			if cl.Leader == "" || (leader != "" && cl.Leader != leader) {
				return fmt.Errorf("%s sees leader %q, others %q", a.name, cl.Leader, leader)
			}
			leader = cl.Leader
		}
		if !c.byName(leader).running() {
			return fmt.Errorf("leader %s is not running", leader)
		}
		return nil
	})
	return c.byName(leader)
}

// followers is every running agent but the leader.
func (c *testCluster) followers(leader *agent) []*agent {
	var out []*agent
	for _, a := range c.running() {
		if a != leader {
			out = append(out, a)
		}
	}
	return out
}

// vmKey is what must agree about a VM across nodes.
type vmKey struct {
	ID, Name, Node string
}

// vmKeys is the sorted identity of a VM list.
func vmKeys(vms []client.VM) []vmKey {
	out := make([]vmKey, 0, len(vms))
	for _, vm := range vms {
		out = append(out, vmKey{vm.ID, vm.Name, vm.Node})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// cliVMList runs `vm list -o json` against a.
func cliVMList(t *testing.T, a *agent, token string) ([]client.VM, error) {
	var vms []client.VM
	err := cliJSON(t, a.addr(), token, &vms, "vm", "list")
	return vms, err
}

// sameVMsEverywhere checks that every agent in agents lists the same VMs (IDs,
// names, nodes) through the CLI, and that the list holds every ID in want.
func sameVMsEverywhere(t *testing.T, agents []*agent, token string, want []string) error {
	var first []vmKey
	for i, a := range agents {
		vms, err := cliVMList(t, a, token)
		if err != nil {
			return err
		}
		keys := vmKeys(vms)
		if i == 0 {
			first = keys
			ids := map[string]bool{}
			for _, k := range keys {
				ids[k.ID] = true
			}
			for _, id := range want {
				if !ids[id] {
					return fmt.Errorf("%s does not list acknowledged vm %s (%d vms listed)", a.name, id, len(keys))
				}
			}
			continue
		}
		if !slices.Equal(first, keys) {
			return fmt.Errorf("%s lists %v, %s lists %v", agents[0].name, first, a.name, keys)
		}
	}
	return nil
}
