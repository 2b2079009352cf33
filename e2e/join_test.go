package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/pki"
	"github.com/novacron/novacron/internal/testutil"
)

// A 3-node cluster formed from nothing, through the CLI, as docs/SECURITY.md
// says: a CA, one certificate for the first node, a join token, and two
// `agent --join --join-token`. The joiners get their certificates from the
// cluster; a used-up token, a token whose CA fingerprint was changed, and a
// live node's name are refused; an enrolled node restarts without its token.
func TestJoinToken_ThreeNodesFromNothing(t *testing.T) {
	requireBinary(t)
	t.Parallel()
	dir := t.TempDir()
	runTool(t, "tls", "ca", "create", "--out", dir)
	runTool(t, "tls", "cert", "create", "--ca", dir, "--node", "n1", "--ip", "127.0.0.1", "--out", dir)
	token := randomToken(t)
	first := newAgent(t, agentConfig{name: "n1", bootstrapExpect: 1, token: token, tlsDir: dir,
		extra: []string{"--tls-ca-key", filepath.Join(dir, pki.CAKeyFile)}})
	first.start()
	cli := func(a *agent, args ...string) testutil.CLIResult {
		t.Helper()
		return testutil.RunCLI(t, novacronBin, testutil.CleanEnv("NOVACRON_ADDR="+a.addr(), "NOVACRON_TOKEN="+token,
			"NOVACRON_CACERT="+filepath.Join(dir, pki.CAFile)), args...)
	}
	var jt client.JoinToken
	testutil.Eventually(t, formTimeout, "a join token from the first node", func() error {
		res := cli(first, "-o", "json", "node", "join-token", "create", "--uses", "2", "--ttl", "10m")
		if res.Code != 0 {
			return errors.New(res.String())
		}
		return json.Unmarshal([]byte(res.Stdout), &jt)
	})
	if !strings.HasPrefix(jt.Token, "nvj1_") || jt.UsesLeft != 2 {
		t.Fatalf("join token %+v", jt)
	}

	joiner := func(name, tok string) *agent {
		return newAgent(t, agentConfig{name: name, tlsDir: dir, enrolls: true, join: []string{first.gossipAddr()},
			extra: []string{"--join-token", tok}})
	}
	c := &testCluster{t: t, token: token, agents: []*agent{first, joiner("n2", jt.Token), joiner("n3", jt.Token)}}
	for _, a := range c.agents[1:] {
		a.start()
	}
	c.waitFormed(3)
	if res := cli(c.agents[2], "vm", "create", "joined-web", "--wait", "--timeout", "30s"); res.Code != 0 {
		t.Fatalf("vm create through an enrolled node: %s", res)
	}
	if res := cli(first, "cluster", "verify"); res.Code != 0 || !strings.Contains(res.Stdout, "All 3 alive members") {
		t.Fatalf("cluster verify: %s", res)
	}

	// The token is used up: a fourth host is refused and never starts.
	late := joiner("n4", jt.Token)
	late.start()
	if code := late.waitExit(exitTimeout); code == 0 || !strings.Contains(late.stderr(), "the join token is invalid, expired, revoked or used up") {
		t.Fatalf("a host with a used-up token: exit %d\n%s", code, late.logTail(5))
	}
	// A token whose CA fingerprint was changed (a token of another cluster,
	// or someone in the middle): the host refuses the cluster's CA.
	res := cli(first, "-o", "json", "node", "join-token", "create")
	var fresh client.JoinToken
	if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &fresh) != nil {
		t.Fatalf("second join token: %s", res)
	}
	forged := joiner("n5", tamperCAHash(t, fresh.Token))
	forged.start()
	if code := forged.waitExit(exitTimeout); code == 0 || !strings.Contains(forged.stderr(), "is not the join token's") {
		t.Fatalf("a token with another CA fingerprint: exit %d\n%s", code, forged.logTail(5))
	}
	// A live node's name is not handed to a second host.
	twin := joiner("n2", fresh.Token)
	twin.start()
	if code := twin.waitExit(exitTimeout); code == 0 || !strings.Contains(twin.stderr(), `node name "n2" belongs to a node of this cluster`) {
		t.Fatalf("enrolling a live node's name: exit %d\n%s", code, twin.logTail(5))
	}
	// An enrolled node restarts from its data dir; the spent token plays no part.
	n2 := c.agents[1]
	n2.kill()
	n2.start()
	c.waitFormed(3)
	if !strings.Contains(n2.stderr(), "enrolled with the cluster") {
		t.Fatalf("n2 did not log its enrollment:\n%s", n2.logTail(20))
	}

	// Enrollment does not need the first node: with it down, a token made
	// through another node enrolls a fourth host through the two left.
	first.kill()
	var third client.JoinToken
	testutil.Eventually(t, formTimeout, "a join token from n2 with n1 down", func() error {
		res := cli(n2, "-o", "json", "node", "join-token", "create")
		if res.Code != 0 {
			return errors.New(res.String())
		}
		return json.Unmarshal([]byte(res.Stdout), &third)
	})
	n6 := newAgent(t, agentConfig{name: "n6", tlsDir: dir, enrolls: true, join: []string{n2.gossipAddr()},
		extra: []string{"--join-token", third.Token}})
	n6.start()
	testutil.Eventually(t, formTimeout, "n6 enrolled and following the leader", func() error {
		cl, err := n6.client(token).Cluster(context.Background())
		if err != nil {
			return err
		}
		if cl.Leader == "" || cl.Leader == "n1" {
			return fmt.Errorf("n6 sees leader %q", cl.Leader)
		}
		return nil
	})
}

// tamperCAHash returns tok with another CA fingerprint.
func tamperCAHash(t *testing.T, tok string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, "nvj1_"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["h"] = strings.Repeat("ab", 32)
	b, _ = json.Marshal(m)
	return "nvj1_" + base64.RawURLEncoding.EncodeToString(b)
}
