package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/novacron/novacron/internal/testutil"
)

// The baseline: the least a 3-node hashicorp/raft service can do per write on
// this machine, with the same stores, transport and timings NovaCron uses.

// baselineEntrySize is the size of one baseline log entry, about that of a
// NovaCron CreateVM command.
const baselineEntrySize = 200

// nopFSM applies nothing and snapshots nothing.
type nopFSM struct{}

func (nopFSM) Apply(*raft.Log) any                 { return nil }
func (nopFSM) Snapshot() (raft.FSMSnapshot, error) { return nopSnapshot{}, nil }
func (nopFSM) Restore(rc io.ReadCloser) error {
	_, err := io.Copy(io.Discard, rc)
	rc.Close()
	return err
}

type nopSnapshot struct{}

func (nopSnapshot) Persist(sink raft.SnapshotSink) error { return sink.Close() }
func (nopSnapshot) Release()                             {}

// raftNode is one baseline node. Its stores outlive its raft.Raft so that it
// can be restarted after a Shutdown, as an agent restarts from its data dir.
type raftNode struct {
	id    raft.ServerID
	addr  raft.ServerAddress
	bolt  *raftboltdb.BoltStore
	snaps raft.SnapshotStore
	trans *raft.NetworkTransport
	raft  *raft.Raft
}

// raftCluster is a baseline cluster in the test process.
type raftCluster struct {
	dir    string
	nodes  []*raftNode
	log    *os.File
	logger hclog.Logger
	once   sync.Once
}

// newRaftCluster starts n bootstrapped nodes on loopback in a new temporary
// folder and waits for a leader. The caller must close it; it does not hang on
// a testing.TB because it outlives the calls of one benchmark function.
func newRaftCluster(n int) (_ *raftCluster, err error) {
	dir, err := os.MkdirTemp("", "novacron-bench-raft-")
	if err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "raft.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c := &raftCluster{dir: dir, log: logFile}
	c.logger = hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: logFile})
	defer func() {
		if err != nil {
			c.close()
		}
	}()

	var servers []raft.Server
	for i := range n {
		nd := &raftNode{id: raft.ServerID(fmt.Sprintf("node%d", i))}
		c.nodes = append(c.nodes, nd)
		nodeDir := filepath.Join(dir, string(nd.id))
		if err := os.MkdirAll(nodeDir, 0o700); err != nil {
			return nil, err
		}
		if nd.bolt, err = raftboltdb.NewBoltStore(filepath.Join(nodeDir, "raft.db")); err != nil {
			return nil, err
		}
		if nd.snaps, err = raft.NewFileSnapshotStore(nodeDir, 2, logFile); err != nil {
			return nil, err
		}
		if nd.trans, err = raft.NewTCPTransport("127.0.0.1:0", nil, 3, 10*time.Second, logFile); err != nil {
			return nil, err
		}
		nd.addr = nd.trans.LocalAddr()
		servers = append(servers, raft.Server{ID: nd.id, Address: nd.addr, Suffrage: raft.Voter})
	}
	for _, nd := range c.nodes {
		if err := c.startRaft(nd); err != nil {
			return nil, err
		}
	}
	if err := c.nodes[0].raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		return nil, fmt.Errorf("bootstrap: %w", err)
	}
	if _, err := c.waitStable(30 * time.Second); err != nil {
		return nil, err
	}
	return c, nil
}

// startRaft starts nd's raft.Raft on its stores and current transport with
// hashicorp/raft's default timings.
func (c *raftCluster) startRaft(nd *raftNode) error {
	cfg := raft.DefaultConfig()
	cfg.LocalID = nd.id
	cfg.Logger = c.logger.Named(string(nd.id))
	r, err := raft.NewRaft(cfg, nopFSM{}, nd.bolt, nd.bolt, nd.snaps, nd.trans)
	if err != nil {
		return fmt.Errorf("start %s: %w", nd.id, err)
	}
	nd.raft = r
	return nil
}

// leader returns the node that is leader now, or nil.
func (c *raftCluster) leader() *raftNode {
	for _, nd := range c.nodes {
		if nd.raft != nil && nd.raft.State() == raft.Leader {
			return nd
		}
	}
	return nil
}

// waitStable waits until one node leads, every running node follows it, and
// every running node has applied what the leader had applied after a barrier.
func (c *raftCluster) waitStable(timeout time.Duration) (*raftNode, error) {
	var (
		leader *raftNode
		want   uint64
	)
	_, err := testutil.Poll(timeout, 20*time.Millisecond, func() error {
		if l := c.leader(); l != leader || leader == nil {
			// A new (or first) leader: take its applied index after a barrier.
			leader, want = l, 0
			if l != nil && l.raft.Barrier(time.Second).Error() == nil {
				want = l.raft.AppliedIndex()
			} else {
				leader = nil
			}
		}
		if leader == nil || !c.follow(leader, want) {
			return errors.New("no leader that every running node follows")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("baseline cluster not stable after %v", timeout)
	}
	return leader, nil
}

// follow reports whether every running node follows l and has applied index.
func (c *raftCluster) follow(l *raftNode, index uint64) bool {
	for _, nd := range c.nodes {
		if nd.raft == nil {
			continue
		}
		if addr, _ := nd.raft.LeaderWithID(); addr != l.addr || nd.raft.AppliedIndex() < index {
			return false
		}
	}
	return true
}

// stop shuts nd down as a crash would look to its peers: no leadership
// transfer, connections closed.
func (c *raftCluster) stop(nd *raftNode) error {
	err := nd.raft.Shutdown().Error()
	nd.trans.Close()
	nd.raft = nil
	if err != nil {
		return fmt.Errorf("shutdown %s: %w", nd.id, err)
	}
	return nil
}

// restart brings a stopped node back on its old address and stores.
func (c *raftCluster) restart(nd *raftNode) error {
	trans, err := raft.NewTCPTransport(string(nd.addr), nil, 3, 10*time.Second, c.log)
	if err != nil {
		return fmt.Errorf("restart %s transport: %w", nd.id, err)
	}
	nd.trans = trans
	return c.startRaft(nd)
}

// write applies one baseline entry on nd and waits until it is committed and
// applied there.
func (nd *raftNode) write(ctx context.Context, entry []byte) error {
	timeout := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(d))
	}
	return nd.raft.Apply(entry, timeout).Error()
}

// close shuts every node down and removes the cluster's folder. It may be
// called more than once.
func (c *raftCluster) close() {
	c.once.Do(func() {
		for _, nd := range c.nodes {
			if nd.raft != nil {
				nd.raft.Shutdown().Error()
			}
			if nd.trans != nil {
				nd.trans.Close()
			}
			if nd.bolt != nil {
				nd.bolt.Close()
			}
		}
		c.log.Close()
		os.RemoveAll(c.dir)
	})
}

// baselineEntry returns a 200-byte entry that differs per write.
func baselineEntry(seq uint64) []byte {
	e := make([]byte, baselineEntrySize)
	for i := range e {
		e[i] = 'a' + byte(i%26)
	}
	copy(e, fmt.Sprintf("write-%d ", seq))
	return e
}
