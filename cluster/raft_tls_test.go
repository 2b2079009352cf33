package cluster

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/novacron/novacron/internal/pki"
	"github.com/novacron/novacron/internal/testutil"
)

// testPKI makes a CA, n node certificates (core-1..) and a client one.
func testPKI(t *testing.T, n int) (dir string, node func(i int) *tls.Config, cli *tls.Config) {
	t.Helper()
	dir = t.TempDir()
	ca, err := pki.CreateCA(dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, pki.CAFile)
	var cfgs []*tls.Config
	for i := 1; i <= n; i++ {
		c, k, err := ca.Issue(dir, pki.Request{Name: fmt.Sprintf("core-%d", i), Unit: pki.NodeUnit, IPs: []net.IP{net.ParseIP("127.0.0.1")}})
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := pki.ClientConfig(pki.Files{CA: caFile, Cert: c, Key: k})
		if err != nil {
			t.Fatal(err)
		}
		cfgs = append(cfgs, cfg)
	}
	c, k, err := ca.Issue(dir, pki.Request{Name: "cli", Unit: pki.ClientUnit})
	if err != nil {
		t.Fatal(err)
	}
	cli, err = pki.ClientConfig(pki.Files{CA: caFile, Cert: c, Key: k})
	if err != nil {
		t.Fatal(err)
	}
	return dir, func(i int) *tls.Config { return cfgs[i] }, cli
}

// Raft between nodes with certificates works, and nothing else reaches it: a
// plain hashicorp/raft transport's InstallSnapshot with a higher term (the
// attack that replaced a node's state on main), and a TLS client whose
// certificate is not a node's, are cut off in the handshake; the cluster's
// term and leader stay as they were.
func TestRaftTLS_OnlyNodesOfTheClusterReachRaft(t *testing.T) {
	_, nodeTLS, cliTLS := testPKI(t, 3)
	agents := startCore(t, 3, func(i int, cfg *Config) { cfg.TLS = nodeTLS(i) }, nil)
	var leader *Agent
	testutil.WaitFor(t, 30*time.Second, "a leader over mutual TLS that initialised the cluster", func() bool {
		for _, a := range agents {
			if a.IsLeader() && a.FSM().Cluster().ID != "" {
				leader = a
				return true
			}
		}
		return false
	})
	term := leader.Raft().CurrentTerm()
	target := raft.ServerAddress(agents[0].cfg.RaftAddr())

	plain, err := raft.NewTCPTransport("127.0.0.1:0", nil, 1, time.Second, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	var resp raft.InstallSnapshotResponse
	err = plain.InstallSnapshot("attacker", target, &raft.InstallSnapshotRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("attacker"), Addr: []byte("127.0.0.1:1")},
		Term:      term + 100, Leader: []byte("127.0.0.1:1"), LastLogIndex: 1 << 40, LastLogTerm: term + 100, Size: 4,
	}, &resp, &zeroReader{n: 4})
	if err == nil {
		t.Fatalf("a plain raft transport's InstallSnapshot was answered: %+v", resp)
	}
	// Even a harmless RPC, which a plain-TCP node answers, gets no answer.
	var ae raft.AppendEntriesResponse
	if err := plain.AppendEntries("attacker", target, &raft.AppendEntriesRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("attacker"), Addr: []byte("127.0.0.1:1")}, Term: 0,
	}, &ae); err == nil {
		t.Fatalf("a plain raft transport's AppendEntries was answered: %+v", ae)
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", string(target), cliTLS)
	if err == nil {
		// TLS 1.3 finishes the client's side before the server's verdict:
		// the refusal shows on the first read.
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err = c.Read(make([]byte, 1))
		c.Close()
	}
	if err == nil {
		t.Fatal("a client certificate that is not a node's reached raft")
	}
	if now := leader.Raft().CurrentTerm(); now != term || !leader.IsLeader() {
		t.Fatalf("term %d -> %d, leader still: %v", term, now, leader.IsLeader())
	}
}

type zeroReader struct{ n int }

func (z *zeroReader) Read(p []byte) (int, error) {
	if z.n == 0 {
		return 0, io.EOF
	}
	k := min(len(p), z.n)
	z.n -= k
	return k, nil
}
