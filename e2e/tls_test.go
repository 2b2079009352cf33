package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/pki"
	"github.com/novacron/novacron/internal/testutil"
)

// A cluster made with `novacron tls`: the agents serve HTTPS, forward writes
// to the leader over mutual TLS, and refuse internal calls from anything but a
// node certificate of their CA; the CLI reaches them with NOVACRON_CACERT.
func TestTLS_ClusterFromTheCLI(t *testing.T) {
	requireBinary(t)
	t.Parallel()
	dir := t.TempDir()
	runTool(t, "tls", "ca", "create", "--out", dir)
	for i := 1; i <= 3; i++ {
		runTool(t, "tls", "cert", "create", "--ca", dir, "--node", fmt.Sprintf("n%d", i), "--ip", "127.0.0.1", "--out", dir)
	}
	runTool(t, "tls", "cert", "create", "--ca", dir, "--cli", "--out", dir)
	// With TLS, gossip must be encrypted: every server gets the same key.
	key := keygen(t)
	c := startCluster(t, 3, func(_ int, cfg *agentConfig) { cfg.tlsDir, cfg.gossipKey = dir, key })
	leader := c.leader()
	follower := c.followers(leader)[0]
	caEnv := "NOVACRON_CACERT=" + filepath.Join(dir, pki.CAFile)
	cli := func(addr string, env []string, args ...string) testutil.CLIResult {
		t.Helper()
		return testutil.RunCLI(t, novacronBin, testutil.CleanEnv(append([]string{"NOVACRON_ADDR=" + addr, "NOVACRON_TOKEN=" + c.token}, env...)...), args...)
	}

	// A write through a follower is forwarded to the leader over mutual TLS.
	if res := cli(follower.addr(), []string{caEnv}, "vm", "create", "tls-web", "--wait", "--timeout", "30s"); res.Code != 0 {
		t.Fatalf("vm create through a follower over TLS: %s", res)
	}
	// Every member answers over TLS (cluster verify asks each one).
	if res := cli(leader.addr(), []string{caEnv}, "cluster", "verify"); res.Code != 0 || !strings.Contains(res.Stdout, "All 3 alive members") {
		t.Fatalf("cluster verify over TLS: %s", res)
	}
	// Without the CA the CLI does not trust the agent.
	if res := cli(leader.addr(), nil, "cluster", "status"); res.Code == 0 || !strings.Contains(res.Stderr, "certificate") {
		t.Fatalf("the CLI without the CA: %s", res)
	}
	// Plain HTTP to the HTTPS port gets nothing it can use.
	if resp, err := http.Get(strings.Replace(leader.addr(), "https://", "http://", 1) + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Fatalf("plain HTTP to the TLS port: %s", resp.Status)
		}
	}
	// The internal API refuses a caller with the operator's client
	// certificate: it is not a node.
	cfg, err := pki.ClientConfig(pki.Files{CA: filepath.Join(dir, pki.CAFile), Cert: filepath.Join(dir, "cli.pem"), Key: filepath.Join(dir, "cli-key.pem")})
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(context.Background(), "POST", leader.addr()+"/internal/v1/apply", bytes.NewReader([]byte("x")))
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("internal apply with a client (not node) certificate: %s, want 403", resp.Status)
	}
}

// Secure unless told otherwise: an agent with neither certificates nor
// --insecure refuses to start, saying how to fix it; with --insecure it
// serves plain HTTP, warns in its log, and `cluster status` warns too.
func TestInsecure_RefusedUnlessAskedForAndThenSaidOutLoud(t *testing.T) {
	requireBinary(t)
	t.Parallel()
	bare := newAgent(t, agentConfig{name: "bare", insecure: true})
	bare.cfg.args = []string{"--name", "bare", "--data-dir", bare.dataDir, "--bind", "127.0.0.1",
		"--http-port", strconv.Itoa(bare.httpPort), "--gossip-port", strconv.Itoa(bare.gossipPort), "--raft-port", strconv.Itoa(bare.raftPort), "--hypervisor", "sim"}
	bare.start()
	if code := bare.waitExit(exitTimeout); code != 2 || !strings.Contains(bare.stderr(), "TLS is required") || !strings.Contains(bare.stderr(), "--insecure") {
		t.Fatalf("agent without TLS or --insecure: exit %d, want 2 and a message naming both ways out\n%s", code, bare.logTail(5))
	}

	c := startCluster(t, 3, func(_ int, cfg *agentConfig) { cfg.insecure = true })
	leader := c.leader()
	if !strings.HasPrefix(leader.addr(), "http://") {
		t.Fatalf("insecure agent address %s", leader.addr())
	}
	if !strings.Contains(leader.stderr(), "running without TLS (--insecure)") {
		t.Errorf("the insecure agent did not warn in its log:\n%s", leader.logTail(20))
	}
	follower := c.followers(leader)[0]
	if res := runCLI(t, follower.addr(), c.token, "vm", "create", "plain-web", "--wait", "--timeout", "30s"); res.Code != 0 {
		t.Fatalf("vm create through a follower of an insecure cluster: %s", res)
	}
	res := runCLI(t, follower.addr(), c.token, "cluster", "status")
	if res.Code != 0 || !strings.Contains(res.Stderr, "WARNING: "+follower.name+" runs without TLS (--insecure)") {
		t.Fatalf("cluster status of an insecure node does not warn: %s", res)
	}
	var cl client.Cluster
	if err := cliJSON(t, leader.addr(), c.token, &cl, "cluster", "status"); err != nil || !cl.Insecure {
		t.Fatalf("cluster status -o json: insecure %v, %v", cl.Insecure, err)
	}
}
