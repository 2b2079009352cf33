package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/novacron/novacron/cluster"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/host"
	"github.com/novacron/novacron/hypervisor/sim"
	"github.com/novacron/novacron/internal/ids"
	"github.com/novacron/novacron/internal/testutil"
	"github.com/novacron/novacron/storage"
)

// testNetwork is a switchboard for the Raft connections of an in-process
// cluster: it can cut any pair of nodes apart, like raft's own testing.go.
type testNetwork struct {
	mu      sync.Mutex
	blocked map[[2]string]bool
	conns   map[[2]string][]net.Conn
}

func newTestNetwork() *testNetwork {
	return &testNetwork{blocked: map[[2]string]bool{}, conns: map[[2]string][]net.Conn{}}
}

// partition cuts a from b in both directions and drops their open connections.
func (n *testNetwork) partition(a, b string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, k := range [][2]string{{a, b}, {b, a}} {
		n.blocked[k] = true
		for _, c := range n.conns[k] {
			c.Close()
		}
		delete(n.conns, k)
	}
}

func (n *testNetwork) heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.blocked = map[[2]string]bool{}
}

// layer is one node's raft.StreamLayer on the switchboard.
type layer struct {
	net  *testNetwork
	self string
	ln   net.Listener
}

func (l *layer) Accept() (net.Conn, error) { return l.ln.Accept() }
func (l *layer) Close() error              { return l.ln.Close() }
func (l *layer) Addr() net.Addr            { return l.ln.Addr() }

func (l *layer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	key := [2]string{l.self, string(addr)}
	l.net.mu.Lock()
	blocked := l.net.blocked[key]
	l.net.mu.Unlock()
	if blocked {
		return nil, errors.New("test network: partitioned")
	}
	c, err := net.DialTimeout("tcp", string(addr), timeout)
	if err != nil {
		return nil, err
	}
	l.net.mu.Lock()
	l.net.conns[key] = append(l.net.conns[key], c)
	l.net.mu.Unlock()
	return c, nil
}

// testNode is one agent of an in-process cluster with its sim host and the HTTP
// listener that serves its internal endpoints.
type testNode struct {
	agent  *cluster.Agent
	host   *host.Host
	node   *Node
	driver *sim.Driver
	cfg    Config
	srv    *http.Server
	stores *storage.RaftStores
	dir    string
	raftLn net.Listener
	down   bool
}

type testCluster struct {
	t     *testing.T
	net   *testNetwork
	nodes []*testNode
}

// newTestCluster starts n agents that bootstrap one cluster with the given
// number of voters, and waits for a leader.
func newTestCluster(t *testing.T, n, voters int) *testCluster {
	t.Helper()
	return newTestClusterWith(t, n, voters, nil)
}

// newTestClusterWith is newTestCluster with a function that may change each
// node's config (i counts from 0) before it starts.
func newTestClusterWith(t *testing.T, n, voters int, change func(i int, cfg *Config)) *testCluster {
	t.Helper()
	c := &testCluster{t: t, net: newTestNetwork()}
	var join string
	for i := 0; i < n; i++ {
		cfg := TestConfig()
		cfg.Cluster.NodeName = fmt.Sprintf("node-%d", i+1)
		cfg.Cluster.BootstrapExpect = n
		cfg.Cluster.Voters = voters
		cfg.Cluster.BootstrapToken = rootToken
		if join != "" {
			cfg.Cluster.Join = []string{join}
		}
		if change != nil {
			change(i, &cfg)
		}
		node := c.add(cfg)
		if join == "" {
			join = fmt.Sprintf("127.0.0.1:%d", node.cfg.Cluster.GossipPort)
		}
	}
	t.Cleanup(c.shutdown)
	c.waitLeader()
	return c
}

// add starts one more agent with cfg (identity and ports filled in here).
func (c *testCluster) add(cfg Config) *testNode {
	t := c.t
	t.Helper()
	node := &testNode{dir: t.TempDir()}
	dd, err := storage.OpenDataDir(node.dir)
	if err != nil {
		t.Fatal(err)
	}
	dd.Close()
	cfg.Cluster.NodeID = ids.New()
	cfg.Cluster.GossipPort = testutil.FreePort(t)
	cfg.Cluster.RaftPort = testutil.FreePort(t)
	cfg.Cluster.Logger = testutil.Logger(t).With("test_node", cfg.Cluster.NodeName)
	// As in the agent: the gossip keyring is kept in the data dir.
	cfg.Cluster.GossipKeyringFile = filepath.Join(node.dir, "gossip-keyring.json")
	node.cfg = cfg
	c.nodes = append(c.nodes, node)
	c.start(node)
	return node
}

// start (re)starts a node's agent from its data dir.
func (c *testCluster) start(node *testNode) {
	t := c.t
	t.Helper()
	var err error
	node.stores, err = storage.OpenRaftStores(node.dir, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if node.cfg.Cluster.RaftPort == 0 {
		node.cfg.Cluster.RaftPort = testutil.FreePort(t)
	}
	node.raftLn, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", node.cfg.Cluster.RaftPort))
	if err != nil {
		t.Fatal(err)
	}
	httpLn, err := net.Listen("tcp", node.addrOr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	node.cfg.Cluster.APIAddr = httpLn.Addr().String()
	node.cfg.Cluster.StreamLayer = &layer{net: c.net, self: node.raftAddr(), ln: node.raftLn}
	if node.driver == nil {
		node.driver = newSimDriver(node.cfg.Cluster.NodeName)
	}
	node.node, err = Start(node.cfg, cluster.Stores{Log: node.stores.Log, Stable: node.stores.Stable, Snapshots: node.stores.Snapshots}, node.driver)
	if err != nil {
		t.Fatal(err)
	}
	node.agent, node.host = node.node.Agent, node.node.Host
	node.srv = &http.Server{Handler: node.node.InternalHandler()}
	go node.srv.Serve(httpLn)
	node.down = false
}

// rebalanceStatus is the rebalancer status as the node's controller answers it.
func (n *testNode) rebalanceStatus(t *testing.T) fsm.RebalanceStatus {
	t.Helper()
	st, err := n.node.Control.Rebalance(context.Background())
	if err != nil {
		t.Fatalf("rebalance status from %s: %v", n.cfg.Cluster.NodeName, err)
	}
	return st
}

// raftAddr is the node's Raft address on the switchboard.
func (n *testNode) raftAddr() string { return fmt.Sprintf("127.0.0.1:%d", n.cfg.Cluster.RaftPort) }

func (n *testNode) addrOr(def string) string {
	if n.cfg.Cluster.APIAddr != "" {
		return n.cfg.Cluster.APIAddr
	}
	return def
}

// stop kills a node's agent as a crash would: no leave.
func (c *testCluster) stop(node *testNode) {
	if node.down {
		return
	}
	node.srv.Close()
	node.node.Shutdown()
	node.stores.Close()
	node.down = true
}

func (c *testCluster) shutdown() {
	for _, n := range c.nodes {
		c.stop(n)
	}
}

func (c *testCluster) up() []*testNode {
	var out []*testNode
	for _, n := range c.nodes {
		if !n.down {
			out = append(out, n)
		}
	}
	return out
}

// waitFor polls cond every 20 ms (some tests time what they wait for) until
// it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testutil.EventuallyEvery(t, timeout, 20*time.Millisecond, what, func() error {
		if cond() {
			return nil
		}
		return errors.New("not yet")
	})
}

// waitLeader waits until exactly one running node leads and every running node
// agrees, and returns it.
func (c *testCluster) waitLeader() *testNode {
	c.t.Helper()
	var leader *testNode
	waitFor(c.t, 15*time.Second, "one agreed leader", func() bool {
		leader = nil
		for _, n := range c.up() {
			if n.agent.IsLeader() {
				if leader != nil {
					return false
				}
				leader = n
			}
		}
		if leader == nil {
			return false
		}
		for _, n := range c.up() {
			if _, id := n.agent.Raft().LeaderWithID(); string(id) != leader.cfg.Cluster.NodeID {
				return false
			}
		}
		return true
	})
	return leader
}

func (c *testCluster) followers() []*testNode {
	var out []*testNode
	for _, n := range c.up() {
		if !n.agent.IsLeader() {
			out = append(out, n)
		}
	}
	return out
}

// rootToken is the secret of every test cluster's root token (an admin's).
const rootToken = "test-root-token-0123456789"

// rootID returns the ID of the cluster's root token, once a has applied its
// creation (the cluster bootstraps it once it has a leader).
func rootID(t *testing.T, a *cluster.Agent) string {
	t.Helper()
	var id string
	waitFor(t, 15*time.Second, "the root token", func() bool {
		tok, err := a.FSM().TokenByHash(fsm.HashSecret(rootToken))
		id = tok.ID
		return err == nil
	})
	return id
}

// asRoot returns ctx naming the root token as the caller, as the API names
// the caller of every write: the leader authorises the users' writes a test
// makes through Agent.Apply as an admin's. It waits as rootID does.
func asRoot(ctx context.Context, t *testing.T, a *cluster.Agent) context.Context {
	t.Helper()
	return cluster.WithCaller(ctx, rootID(t, a))
}

// createVM writes a VM through node's Apply (forwarded if node follows), as
// the root token.
func createVM(t *testing.T, node *testNode, name string) (string, uint64) {
	t.Helper()
	id := ids.New()
	ctx, cancel := context.WithTimeout(asRoot(context.Background(), t, node.agent), 10*time.Second)
	defer cancel()
	idx, err := node.agent.Apply(ctx, &fsm.CreateVM{ID: id, Spec: fsm.VMSpec{Name: name, VCPUs: 1, MemoryMiB: 128, DiskGiB: 1}, At: time.Now().UTC()})
	if err != nil {
		t.Fatalf("create vm %s on %s: %v", name, node.cfg.Cluster.NodeName, err)
	}
	return id, idx
}

// waitConverged waits until every node that is up shows the same state
// digest at one applied index. A digest is taken at its own index, so two
// nodes at one index with different digests diverged, whatever the cluster's
// own background writes (host reports, failovers) do meanwhile: the test
// fails at once, with the difference.
func (c *testCluster) waitConverged() {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		nodes := c.up()
		ds := make([]fsm.Digest, len(nodes))
		same := true
		for i, n := range nodes {
			d, err := n.agent.FSM().Digest()
			if err != nil {
				c.t.Fatal(err)
			}
			ds[i] = d
			same = same && d.AppliedIndex == ds[0].AppliedIndex
		}
		if same && ds[0].AppliedIndex > 0 {
			for i, d := range ds[1:] {
				if d.SHA256 != ds[0].SHA256 {
					c.t.Fatalf("%s and %s hold different state at index %d: %s", nodes[0].cfg.Cluster.NodeName, nodes[i+1].cfg.Cluster.NodeName,
						d.AppliedIndex, stateDiff(nodes[0].agent.FSM(), nodes[i+1].agent.FSM()))
				}
			}
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("nodes never reached one applied index: %+v", ds)
		}
		<-tick.C
	}
}

// newSimDriver is the sim host every test node runs: 8 vCPUs, 4 GiB.
func newSimDriver(name string) *sim.Driver {
	return sim.New(sim.Config{Name: name, VCPUs: 8, MemoryMiB: 4096, DiskGiB: 100})
}

// nodeByID finds the test node whose agent has the given node ID.
func (c *testCluster) nodeByID(id string) *testNode {
	for _, n := range c.nodes {
		if n.cfg.Cluster.NodeID == id {
			return n
		}
	}
	c.t.Fatalf("no test node with id %s", id)
	return nil
}

// waitRunning waits until a VM is placed and reported running.
func waitRunning(t *testing.T, n *testNode, id string) fsm.VM {
	t.Helper()
	var vm fsm.VM
	waitFor(t, 15*time.Second, "vm running", func() bool {
		vm, _ = n.agent.FSM().VM(id)
		return vm.State == fsm.VMRunning
	})
	return vm
}
