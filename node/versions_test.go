package node

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/ids"
)

// A command that uses a field newer than some node is refused by the leader,
// whichever node it is sent to, until that node runs a version that knows it.
func TestCluster_VersionGate_RefusedUntilEveryNodeIsUpgraded(t *testing.T) {
	// Registered before the cluster, so it is removed after the cluster stops.
	t.Cleanup(fsm.AddFieldGate(fsm.CmdCreateVM, "spec.labels.gated", "0.2.0", func(cmd fsm.Command) bool {
		cv, ok := cmd.(*fsm.CreateVM)
		return ok && cv.Spec.Labels["gated"] != ""
	}))
	c := newTestClusterWith(t, 3, 3, func(i int, cfg *Config) {
		cfg.Cluster.Version = "0.2.0"
		if i == 2 {
			cfg.Cluster.Version = "0.1.0" // not upgraded yet
		}
	})
	old := c.nodes[2]
	versionIs := func(n *testNode, want string) func() bool {
		return func() bool {
			rec, err := c.waitLeader().agent.FSM().Node(n.cfg.Cluster.NodeID)
			return err == nil && rec.Version == want
		}
	}
	waitFor(t, 15*time.Second, "node-3's version recorded", versionIs(old, "0.1.0"))

	gated := func() fsm.Command {
		return &fsm.CreateVM{ID: ids.New(), Spec: fsm.VMSpec{Name: "gated-" + ids.New()[:8], VCPUs: 1, MemoryMiB: 128, DiskGiB: 1,
			Labels: map[string]string{"gated": "yes"}}, At: time.Now().UTC()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, n := range c.up() {
		_, err := n.agent.Apply(asRoot(ctx, t, n.agent), gated())
		if !errors.Is(err, fsm.ErrUpgrade) || !strings.Contains(err.Error(), "node-3 runs 0.1.0") || !strings.Contains(err.Error(), ">= 0.2.0") {
			t.Fatalf("gated write through %s: %v, want ErrUpgrade naming node-3 at 0.1.0", n.cfg.Cluster.NodeName, err)
		}
	}
	// What the old node knows still goes through.
	createVM(t, c.nodes[1], "plain")

	c.stop(old)
	old.cfg.Cluster.Version = "0.2.0"
	c.start(old)
	waitFor(t, 15*time.Second, "node-3's upgrade recorded", versionIs(old, "0.2.0"))
	if _, err := old.agent.Apply(asRoot(ctx, t, old.agent), gated()); err != nil {
		t.Fatalf("gated write once every node is upgraded: %v", err)
	}
}
