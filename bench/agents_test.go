//go:build linux

package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/pki"
	"github.com/novacron/novacron/internal/testutil"
)

// The NovaCron side: the real binary as three agent processes on loopback.

// benchToken is the root API token every benchmark cluster bootstraps with.
const benchToken = "nvc_bench_root_token_0123456789"

// benchGossipKey encrypts the benchmark clusters' gossip (base64 of 32
// bytes), --insecure ones too: gossip is not on the write path.
const benchGossipKey = "YmVuY2gtZ29zc2lwLWtleS0wMTIzNDU2Nzg5YWJjZGU="

// agent is one agent process and what it needs to be restarted.
type agent struct {
	name                       string
	dataDir, logPath           string
	gossipPort, raftPort, http int
	args                       []string
	cmd                        *exec.Cmd
	exited                     chan struct{}
	api                        *client.Client
}

// agentCluster is three (or n) agents on loopback with the sim hypervisor.
type agentCluster struct {
	dir    string
	agents []*agent
	hc     *http.Client
	// scheme is https, or http for --insecure agents.
	scheme string
	once   sync.Once
}

// newAgentCluster starts n agents with TLS (the production path) that
// bootstrap one cluster, and waits until it is ready for writes on every
// node. The caller must close it.
func newAgentCluster(n int) (*agentCluster, error) { return newAgentClusterWith(n, false, nil) }

// newAgentClusterWith is newAgentCluster with --insecure agents (plain HTTP,
// no TLS anywhere) when insecure, and with extra flags for some agents (by
// index).
func newAgentClusterWith(n int, insecure bool, extra map[int][]string) (_ *agentCluster, err error) {
	bin, err := testutil.Binary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "novacron-bench-agents-")
	if err != nil {
		return nil, err
	}
	c := &agentCluster{dir: dir}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	var ca *pki.CA
	c.scheme = "http"
	if !insecure {
		if ca, err = pki.CreateCA(filepath.Join(dir, "tls"), "NovaCron bench CA"); err != nil {
			return nil, err
		}
		c.scheme = "https"
	}
	if c.hc, err = newHTTPClient(ca); err != nil {
		return nil, err
	}
	for i := range n {
		a := &agent{name: fmt.Sprintf("bench%d", i), dataDir: filepath.Join(dir, fmt.Sprintf("node%d", i))}
		a.logPath = a.dataDir + ".log"
		ports, err := testutil.PickFreePorts(3)
		if err != nil {
			return nil, err
		}
		a.gossipPort, a.raftPort, a.http = ports[0], ports[1], ports[2]
		c.agents = append(c.agents, a)
	}
	for i, a := range c.agents {
		a.args = []string{"agent", "--name", a.name, "--data-dir", a.dataDir, "--bind", "127.0.0.1",
			"--gossip-port", strconv.Itoa(a.gossipPort), "--raft-port", strconv.Itoa(a.raftPort),
			"--http-port", strconv.Itoa(a.http), "--bootstrap-expect", strconv.Itoa(n),
			"--hypervisor", "sim",
			"--sim-memory-mib", "10000000", "--sim-vcpus", "100000", "--sim-disk-gib", "10000000", "--log-level", "warn"}
		if insecure {
			a.args = append(a.args, "--insecure")
		} else {
			tls := filepath.Join(dir, "tls")
			if _, _, err := ca.Issue(tls, pki.Request{Name: a.name, Unit: pki.NodeUnit, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}); err != nil {
				return nil, err
			}
			a.args = append(a.args, "--tls-ca", filepath.Join(tls, pki.CAFile),
				"--tls-cert", filepath.Join(tls, a.name+".pem"), "--tls-key", filepath.Join(tls, a.name+"-key.pem"))
		}
		a.args = append(a.args, extra[i]...)
		for _, o := range c.agents {
			if o != a {
				a.args = append(a.args, "--join", net.JoinHostPort("127.0.0.1", strconv.Itoa(o.gossipPort)))
			}
		}
		if a.api, err = client.New(fmt.Sprintf("%s://127.0.0.1:%d", c.scheme, a.http), benchToken, client.WithHTTPClient(c.hc)); err != nil {
			return nil, err
		}
		if err := c.start(bin, a); err != nil {
			return nil, err
		}
	}
	if _, err := c.waitReady(60 * time.Second); err != nil {
		return nil, err
	}
	return c, nil
}

// newHTTPClient keeps enough idle connections (and so TLS sessions) for 256
// concurrent clients; it trusts ca when given (nil: plain HTTP).
func newHTTPClient(ca *pki.CA) (*http.Client, error) {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConns:        2048,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
	}
	if ca != nil {
		pool := x509.NewCertPool()
		pool.AddCert(ca.Cert)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr}, nil
}

// start runs a's process with its output in its log file. The agent dies with
// the test process (Pdeathsig), so a crashed run leaves no agent behind.
func (c *agentCluster) start(bin string, a *agent) error {
	logFile, err := os.OpenFile(a.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(bin, a.args...)
	// The root token by environment: an agent outside --dev refuses secrets on
	// its command line.
	// With TLS, servers that bootstrap together share a gossip key.
	cmd.Env = append(os.Environ(), "NOVACRON_BOOTSTRAP_TOKEN="+benchToken, "NOVACRON_GOSSIP_KEY="+benchGossipKey)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", a.name, err)
	}
	a.cmd, a.exited = cmd, make(chan struct{})
	go func(done chan struct{}) { cmd.Wait(); close(done) }(a.exited)
	return nil
}

// kill sends SIGKILL to a and waits until the process is gone.
func (c *agentCluster) kill(a *agent) error {
	if a.cmd == nil {
		return nil
	}
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill %s: %w", a.name, err)
	}
	<-a.exited
	a.cmd = nil
	return nil
}

// stopGracefully sends SIGTERM to a and waits up to 10 s for it to exit, so
// an agent recording a CPU profile (NOVACRON_CPU_PROFILE_DIR) writes it out.
func (c *agentCluster) stopGracefully(a *agent) {
	if a.cmd == nil || a.cmd.Process.Signal(syscall.SIGTERM) != nil {
		return
	}
	select {
	case <-a.exited:
		a.cmd = nil
	case <-time.After(10 * time.Second):
	}
}

// signal sends sig to every running agent.
func (c *agentCluster) signal(sig os.Signal) {
	for _, a := range c.agents {
		if a.cmd != nil {
			a.cmd.Process.Signal(sig)
		}
	}
}

// restart starts a killed agent again from its data dir with the same flags.
func (c *agentCluster) restart(a *agent) error {
	bin, err := testutil.Binary()
	if err != nil {
		return err
	}
	return c.start(bin, a)
}

// pids returns the process IDs of the running agents.
func (c *agentCluster) pids() []int {
	var out []int
	for _, a := range c.agents {
		if a.cmd != nil {
			out = append(out, a.cmd.Process.Pid)
		}
	}
	return out
}

// byName returns the agent with this node name.
func (c *agentCluster) byName(name string) *agent {
	for _, a := range c.agents {
		if a.name == name {
			return a
		}
	}
	return nil
}

// readyAgents starts a 3-agent TLS cluster, closed when b ends, and
// returns it with its leader.
func readyAgents(b *testing.B) (*agentCluster, *agent) {
	b.Helper()
	c, err := newAgentCluster(3)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.close)
	leader, err := c.waitReady(60 * time.Second)
	if err != nil {
		b.Fatal(err)
	}
	return c, leader
}

// followerOf is the first of the agents that is not leader.
func (c *agentCluster) followerOf(leader *agent) *agent {
	for _, a := range c.agents {
		if a != leader {
			return a
		}
	}
	return nil
}

// waitReady waits until every running agent answers, all name the same leader,
// the leader's FSM holds every agent as an alive node, every running agent has
// applied what the leader had committed, and a write through every running
// agent succeeds (which needs forwarding to work). It returns the leader.
func (c *agentCluster) waitReady(timeout time.Duration) (*agent, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		leader, err := c.checkReady(ctx)
		if err == nil {
			return leader, nil
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("agents not ready after %v: %v%s", timeout, last, c.logTails(10))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *agentCluster) checkReady(ctx context.Context) (*agent, error) {
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var leaderName string
	for _, a := range c.agents {
		if a.cmd == nil {
			continue
		}
		h, err := a.api.Health(rctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a.name, err)
		}
		if h.Leader == "" || (leaderName != "" && h.Leader != leaderName) {
			return nil, fmt.Errorf("%s sees leader %q, others %q", a.name, h.Leader, leaderName)
		}
		leaderName = h.Leader
	}
	leader := c.byName(leaderName)
	if leader == nil || leader.cmd == nil {
		return nil, fmt.Errorf("leader %q is not a running agent", leaderName)
	}
	nodes, err := leader.api.Nodes(rctx)
	if err != nil {
		return nil, err
	}
	alive := 0
	for _, n := range nodes {
		if n.Status == "alive" {
			alive++
		}
	}
	if alive < len(c.agents) { // fleet hosts (--sim-fleet) count too
		return nil, fmt.Errorf("%d of %d nodes alive in the FSM", alive, len(c.agents))
	}
	cl, err := leader.api.Cluster(rctx)
	if err != nil {
		return nil, err
	}
	for _, a := range c.agents {
		if a.cmd == nil {
			continue
		}
		h, err := a.api.Health(rctx)
		if err != nil {
			return nil, err
		}
		if h.AppliedIndex < cl.CommitIndex {
			return nil, fmt.Errorf("%s applied %d of %d", a.name, h.AppliedIndex, cl.CommitIndex)
		}
		if err := createVM(rctx, a.api, writeSeq.Add(1)); err != nil {
			return nil, fmt.Errorf("write through %s: %w", a.name, err)
		}
	}
	return leader, nil
}

// createVM asks for one small VM with a name unique in the process.
func createVM(ctx context.Context, api *client.Client, seq uint64) error {
	_, err := api.CreateVM(ctx, client.VMRequest{Name: fmt.Sprintf("bench-%d", seq), VCPUs: 1, MemoryMiB: 1, DiskGiB: 1})
	return err
}

// logTails returns the last n lines of every agent's log, for failure messages.
func (c *agentCluster) logTails(n int) string {
	var sb strings.Builder
	for _, a := range c.agents {
		fmt.Fprintf(&sb, "\n--- %s log (last %d lines):\n%s", a.name, n, testutil.LogTail(a.logPath, n))
	}
	return sb.String()
}

// close kills every agent and removes the cluster's folder. It may be called
// more than once.
func (c *agentCluster) close() {
	c.once.Do(func() {
		for _, a := range c.agents {
			if os.Getenv("NOVACRON_CPU_PROFILE_DIR") != "" {
				c.stopGracefully(a)
			}
			c.kill(a)
		}
		c.hc.CloseIdleConnections()
		os.RemoveAll(c.dir)
	})
}
