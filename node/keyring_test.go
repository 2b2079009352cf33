package node

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/testutil"
	"github.com/novacron/novacron/storage"
)

// newGossipKey returns a new random 32-byte gossip key, in base64.
func newGossipKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func rawKey(t *testing.T, key string) []byte {
	t.Helper()
	b, err := fsm.ParseGossipKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newEncryptedCluster starts n nodes (n voters up to 3) that share key and
// waits until the first leader has recorded it in the state.
func newEncryptedCluster(t *testing.T, n int, key string) *testCluster {
	t.Helper()
	c := newTestClusterWith(t, n, min(n, 3), func(_ int, cfg *Config) { cfg.Cluster.GossipKey = rawKey(t, key) })
	waitFor(t, 15*time.Second, "the state's keyring on every node", func() bool {
		for _, n := range c.up() {
			if kr := n.agent.FSM().GossipKeyring(); kr.Primary != key || len(kr.Keys) != 1 {
				return false
			}
		}
		return true
	})
	return c
}

// keyringOp writes one keyring operation through node (forwarded if it follows).
func keyringOp(t *testing.T, node *testNode, op, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := node.agent.Apply(asRoot(ctx, t, node.agent), &fsm.GossipKeyring{Op: op, Key: key, At: time.Now().UTC()}); err != nil {
		t.Fatalf("keyring %s through %s: %v", op, node.cfg.Cluster.NodeName, err)
	}
}

// waitPublished waits until, in the gossip view of every node that is up,
// every node in nodes publishes key fingerprints for which ok holds (what
// the API checks before use and remove).
func waitPublished(t *testing.T, c *testCluster, nodes []*testNode, what string, ok func(fps []string) bool) {
	t.Helper()
	testutil.EventuallyEvery(t, 20*time.Second, 20*time.Millisecond, what, func() error {
		for _, viewer := range c.up() {
			published := map[string][]string{}
			for _, m := range viewer.agent.Status().Members {
				if m.Status == "alive" {
					published[m.Name] = m.GossipKeys
				}
			}
			for _, n := range nodes {
				name := n.cfg.Cluster.NodeName
				fps, alive := published[name]
				if !alive || !ok(fps) {
					return fmt.Errorf("%s sees %s (alive %v) publish %v", viewer.cfg.Cluster.NodeName, name, alive, fps)
				}
			}
		}
		return nil
	})
}

// waitLocalKeyring waits until node's memberlist holds exactly keys, primary
// first.
func waitLocalKeyring(t *testing.T, node *testNode, primary string, keys ...string) {
	t.Helper()
	testutil.EventuallyEvery(t, 30*time.Second, 20*time.Millisecond, node.cfg.Cluster.NodeName+"'s memberlist keyring", func() error {
		kr := node.agent.LocalGossipKeyring()
		if kr.Primary != primary || !kr.SameKeys(fsm.Keyring{Primary: primary, Keys: keys}) {
			return fmt.Errorf("primary %s keys %v, want %s %v", fsm.KeyFingerprintOf(kr.Primary), fingerprints(kr.Keys), fsm.KeyFingerprintOf(primary), fingerprints(keys))
		}
		return nil
	})
}

func fingerprints(keys []string) []string {
	var out []string
	for _, k := range keys {
		out = append(out, fsm.KeyFingerprintOf(k))
	}
	return out
}

// aliveWatch checks, every 20 ms until stopped, that each node in watched
// sees every node in watched alive; it keeps the first violation.
type aliveWatch struct {
	stopCh chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	first  error
	checks int
}

func watchAlive(c *testCluster, watched []*testNode) *aliveWatch {
	w := &aliveWatch{stopCh: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			err := allAlive(watched)
			w.mu.Lock()
			w.checks++
			if err != nil && w.first == nil {
				w.first = fmt.Errorf("at %s: %w", time.Now().Format("15:04:05.000"), err)
			}
			w.mu.Unlock()
			select {
			case <-w.stopCh:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

// stop ends the watch and fails the test if a node ever saw another not alive.
func (w *aliveWatch) stop(t *testing.T) {
	t.Helper()
	close(w.stopCh)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.first != nil {
		t.Fatalf("a node dropped out during the rotation (%d checks): %v", w.checks, w.first)
	}
	t.Logf("every node saw every other alive in each of %d checks", w.checks)
}

// allAlive says which node does not see which other alive, or nil.
func allAlive(nodes []*testNode) error {
	for _, viewer := range nodes {
		status := map[string]string{}
		for _, m := range viewer.agent.Status().Members {
			status[m.Name] = m.Status
		}
		for _, n := range nodes {
			if st := status[n.cfg.Cluster.NodeName]; st != "alive" {
				return fmt.Errorf("%s sees %s as %q", viewer.cfg.Cluster.NodeName, n.cfg.Cluster.NodeName, st)
			}
		}
	}
	return nil
}

// probeJoin starts a bare memberlist holding only key and tries to join
// addr with it; it leaves again at once.
func probeJoin(t *testing.T, key string, addr string) error {
	t.Helper()
	mc := memberlist.DefaultLocalConfig()
	mc.Name = "probe-" + fsm.KeyFingerprintOf(key)
	mc.BindAddr, mc.BindPort, mc.AdvertisePort = "127.0.0.1", 0, 0
	mc.SecretKey = rawKey(t, key)
	mc.LogOutput = io.Discard
	ml, err := memberlist.Create(mc)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ml.Leave(time.Second)
		ml.Shutdown()
	}()
	_, err = ml.Join([]string{addr})
	return err
}

func gossipAddr(n *testNode) string { return fmt.Sprintf("127.0.0.1:%d", n.cfg.Cluster.GossipPort) }

// The test: the gossip key is rotated under a running cluster
// (install, use, remove) and no node drops out of any node's view meanwhile;
// at the end gossip takes only the new key, every node saved it, and a node
// restarted afterwards gossips with the saved keyring from its first moment.
func TestGossipKeyring_RotationUnderRunningCluster_NoNodeDropsOut(t *testing.T) {
	oldKey, newKey := newGossipKey(t), newGossipKey(t)
	c := newEncryptedCluster(t, 3, oldKey)
	waitPublished(t, c, c.nodes, "every node publishing the old key", func(fps []string) bool {
		return slices.Equal(fps, []string{fsm.KeyFingerprintOf(oldKey)})
	})
	oldFP, newFP := fsm.KeyFingerprintOf(oldKey), fsm.KeyFingerprintOf(newKey)

	watch := watchAlive(c, c.nodes)
	follower := c.followers()[0]
	// 1. install the new key (through a follower: the write is forwarded).
	keyringOp(t, follower, fsm.KeyringInstall, newKey)
	waitPublished(t, c, c.nodes, "every node holding the new key", func(fps []string) bool {
		return len(fps) == 2 && fps[0] == oldFP && slices.Contains(fps, newFP)
	})
	// 2. use it, once every alive member holds it (the API's rule).
	keyringOp(t, follower, fsm.KeyringUse, newKey)
	waitPublished(t, c, c.nodes, "every node encrypting with the new key", func(fps []string) bool {
		return len(fps) == 2 && fps[0] == newFP
	})
	// 3. remove the old one, once no alive member encrypts with it.
	keyringOp(t, c.waitLeader(), fsm.KeyringRemove, oldKey)
	for _, n := range c.nodes {
		waitLocalKeyring(t, n, newKey, newKey)
	}
	waitPublished(t, c, c.nodes, "every node publishing only the new key", func(fps []string) bool {
		return slices.Equal(fps, []string{newFP})
	})
	// Failure detection takes a few probe rounds: keep watching a while.
	testutil.HoldsFor(t, 2*time.Second, 50*time.Millisecond, "every node alive in every view", func() error { return allAlive(c.nodes) })
	watch.stop(t)

	// Gossip now takes the new key only.
	for _, n := range c.nodes {
		if err := probeJoin(t, oldKey, gossipAddr(n)); err == nil {
			t.Errorf("a memberlist with only the old key joined %s", n.cfg.Cluster.NodeName)
		}
		kr, err := storage.ReadGossipKeyring(n.cfg.Cluster.GossipKeyringFile)
		if err != nil || kr.Primary != newKey || len(kr.Keys) != 1 {
			t.Errorf("%s saved keyring %v primary %s (%v), want only the new key", n.cfg.Cluster.NodeName, fingerprints(kr.Keys), fsm.KeyFingerprintOf(kr.Primary), err)
		}
	}
	if err := probeJoin(t, newKey, gossipAddr(c.nodes[0])); err != nil {
		t.Errorf("a memberlist with the new key could not join: %v", err)
	}

	// A node restarted after the rotation (its config still names the old
	// key) gossips with its saved keyring at once, and rejoins.
	restarted := c.followers()[0]
	c.stop(restarted)
	c.start(restarted)
	if kr := restarted.agent.LocalGossipKeyring(); kr.Primary != newKey || len(kr.Keys) != 1 {
		t.Fatalf("the restarted node starts with keys %v primary %s, want the saved new key", fingerprints(kr.Keys), fsm.KeyFingerprintOf(kr.Primary))
	}
	testutil.EventuallyEvery(t, 20*time.Second, 50*time.Millisecond, "the restarted node alive in every view", func() error { return allAlive(c.nodes) })
	c.waitConverged()
}

// A node that was down during the whole rotation comes back with its old
// keyring, which the others no longer accept: Raft, which needs no gossip to
// reach a node already in its configuration, brings it the new keyring, and it
// rejoins gossip.
func TestGossipKeyring_NodeDownDuringRotation_CatchesUpAndRejoins(t *testing.T) {
	oldKey, newKey := newGossipKey(t), newGossipKey(t)
	c := newEncryptedCluster(t, 3, oldKey)
	down := c.followers()[0]
	c.stop(down)
	var up []*testNode
	for _, n := range c.nodes {
		if n != down {
			up = append(up, n)
		}
	}
	waitFor(t, 20*time.Second, "the others to see the stopped node fail", func() bool {
		for _, n := range up {
			for _, m := range n.agent.Status().Members {
				if m.Name == down.cfg.Cluster.NodeName && m.Status == "alive" {
					return false
				}
			}
		}
		return true
	})
	newFP := fsm.KeyFingerprintOf(newKey)
	keyringOp(t, up[0], fsm.KeyringInstall, newKey)
	waitPublished(t, c, up, "the alive nodes holding the new key", func(fps []string) bool { return slices.Contains(fps, newFP) })
	keyringOp(t, up[0], fsm.KeyringUse, newKey)
	waitPublished(t, c, up, "the alive nodes encrypting with the new key", func(fps []string) bool { return len(fps) > 0 && fps[0] == newFP })
	keyringOp(t, up[1], fsm.KeyringRemove, oldKey)
	for _, n := range up {
		waitLocalKeyring(t, n, newKey, newKey)
	}
	if kr, err := storage.ReadGossipKeyring(down.cfg.Cluster.GossipKeyringFile); err != nil || kr.Primary != oldKey {
		t.Fatalf("the stopped node's saved keyring: %v primary %s (%v), want the old key", fingerprints(kr.Keys), fsm.KeyFingerprintOf(kr.Primary), err)
	}

	c.start(down)
	if kr := down.agent.LocalGossipKeyring(); kr.Primary != oldKey {
		t.Fatalf("the node came back with primary %s, want its saved old key", fsm.KeyFingerprintOf(kr.Primary))
	}
	waitLocalKeyring(t, down, newKey, newKey)
	testutil.EventuallyEvery(t, 30*time.Second, 50*time.Millisecond, "the node that was down alive in every view", func() error { return allAlive(c.nodes) })
	c.waitConverged()
	if kr, err := storage.ReadGossipKeyring(down.cfg.Cluster.GossipKeyringFile); err != nil || kr.Primary != newKey || len(kr.Keys) != 1 {
		t.Fatalf("the node that was down saved %v primary %s (%v), want the new key only", fingerprints(kr.Keys), fsm.KeyFingerprintOf(kr.Primary), err)
	}
}

// Nodes started without a key gossip in clear text: the state records no
// keyring and refuses to change one.
func TestGossipKeyring_ClearTextClusterHasNoKeyring(t *testing.T) {
	c := newTestCluster(t, 3, 3)
	c.waitConverged()
	for _, n := range c.nodes {
		if kr := n.agent.FSM().GossipKeyring(); kr.Encrypted() {
			t.Fatalf("%s: clear-text cluster has keyring %v", n.cfg.Cluster.NodeName, fingerprints(kr.Keys))
		}
		for _, m := range n.agent.Status().Members {
			if len(m.GossipKeys) != 0 {
				t.Fatalf("%s publishes keys %v", m.Name, m.GossipKeys)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.nodes[0].agent.Apply(asRoot(ctx, t, c.nodes[0].agent), &fsm.GossipKeyring{Op: fsm.KeyringInstall, Key: newGossipKey(t), At: time.Now().UTC()})
	if err == nil || !strings.Contains(err.Error(), "not encrypted") {
		t.Fatalf("install on a clear-text cluster: %v", err)
	}
}
