package cluster

import (
	"crypto/tls"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/novacron/novacron/internal/pki"
	"github.com/novacron/novacron/internal/testutil"
)

// With TLS the leader records a gossip member, and adds it to Raft, only once
// the member's API has proven a node certificate of the cluster's CA that
// names it; and no member may take over a live node's ID. The refused ones
// never appear in the state or the Raft configuration.
func TestIdentity_GossipMembersMustProveTheirName(t *testing.T) {
	dir, nodeTLS, _ := testPKI(t, 3)
	agents := startCore(t, 3, func(i int, cfg *Config) { cfg.TLS = nodeTLS(i) }, nil)
	var leader *Agent
	testutil.WaitFor(t, 30*time.Second, "three nodes recorded over TLS", func() bool {
		for _, a := range agents {
			if a.IsLeader() && len(a.FSM().Nodes()) == 3 {
				leader = a
				return true
			}
		}
		return false
	})
	join := fmt.Sprintf("127.0.0.1:%d", agents[0].cfg.GossipPort)
	ca, err := pki.LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(name string) *tls.Config {
		c, k, err := ca.Issue(dir, pki.Request{Name: name, Unit: pki.NodeUnit, IPs: []net.IP{net.ParseIP("127.0.0.1")}})
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := pki.ClientConfig(pki.Files{CA: filepath.Join(dir, pki.CAFile), Cert: c, Key: k})
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}

	// A certificate for another name than the one it gossips under.
	liar := coreConfig(t, "core-4", join)
	liar.TLS = issue("core-9")
	// No certificate at all (its API is plain HTTP).
	plain := coreConfig(t, "core-5", join)
	// A valid certificate for its own name, but the ID of a live node.
	thief := coreConfig(t, "core-6", join)
	thief.TLS = issue("core-6")
	thief.NodeID = agents[1].cfg.NodeID
	// And an honest newcomer, which must get in.
	honest := coreConfig(t, "core-7", join)
	honest.TLS = issue("core-7")
	for _, cfg := range []Config{liar, plain, thief, honest} {
		startOneCore(t, cfg, nil)
	}

	testutil.WaitFor(t, 30*time.Second, "the honest newcomer recorded and in raft", func() bool {
		_, err := leader.FSM().Node(honest.NodeID)
		return err == nil && inRaft(leader, honest.NodeID)
	})
	// Several reconcile rounds later the others are still out.
	testutil.HoldsFor(t, 3*leader.cfg.ReconcileInterval, 100*time.Millisecond, "the refused members kept out", func() error {
		for _, cfg := range []Config{liar, plain} {
			if _, err := leader.FSM().Node(cfg.NodeID); err == nil || inRaft(leader, cfg.NodeID) {
				return fmt.Errorf("%s was recorded or added to raft", cfg.NodeName)
			}
		}
		if n, err := leader.FSM().Node(thief.NodeID); err != nil || n.Name != agents[1].cfg.NodeName {
			return fmt.Errorf("the node of ID %s is %+v (%v), want still %s", thief.NodeID, n, err, agents[1].cfg.NodeName)
		}
		return nil
	})
}

func inRaft(a *Agent, id string) bool {
	f := a.Raft().GetConfiguration()
	if f.Error() != nil {
		return false
	}
	for _, s := range f.Configuration().Servers {
		if s.ID == raft.ServerID(id) {
			return true
		}
	}
	return false
}
