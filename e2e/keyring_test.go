package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/testutil"
)

// keygen makes a gossip key with the CLI, as an operator would.
func keygen(t *testing.T) string {
	t.Helper()
	requireBinary(t)
	res := testutil.RunCLI(t, novacronBin, testutil.CleanEnv(), "operator", "gossip", "keygen")
	key := strings.TrimSpace(res.Stdout)
	if res.Code != 0 || len(key) != 44 {
		t.Fatalf("keygen: %s", res)
	}
	return key
}

// membersAlive checks that a sees every agent of names alive.
func membersAlive(a *agent, token string, names []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cl, err := a.client(token).Cluster(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", a.name, err)
	}
	status := map[string]string{}
	for _, m := range cl.Members {
		status[m.Name] = m.Status
	}
	for _, n := range names {
		if status[n] != "alive" {
			return fmt.Errorf("%s sees %s as %q", a.name, n, status[n])
		}
	}
	return nil
}

// The gossip key rotated through the CLI on a cluster of real agents: no
// member drops out of any member's view meanwhile; then gossip takes only the
// new key (an agent with the old one cannot join), and an agent restarted
// afterwards (still given the old key) rejoins with the keyring it saved.
func TestGossipKeyring_RotationFromTheCLI(t *testing.T) {
	t.Parallel()
	oldKey, newKey := keygen(t), keygen(t)
	c := startCluster(t, 3, func(_ int, cfg *agentConfig) { cfg.gossipKey = oldKey })
	names := []string{"n1", "n2", "n3"}
	addr := c.agents[1].addr()
	cli := func(args ...string) testutil.CLIResult {
		t.Helper()
		res := runCLI(t, addr, c.token, append([]string{"operator", "gossip", "keyring"}, args...)...)
		if res.Code != 0 {
			t.Fatalf("%s", res)
		}
		return res
	}
	oldFP, newFP := fsm.KeyFingerprintOf(oldKey), fsm.KeyFingerprintOf(newKey)
	testutil.Eventually(t, formTimeout, "every member holding the old key", func() error {
		var kr client.GossipKeyring
		if err := cliJSON(t, addr, c.token, &kr, "operator", "gossip", "keyring", "list"); err != nil {
			return err
		}
		if kr.Primary != oldFP || len(kr.Keys) != 1 || kr.Keys[0].Nodes != 3 || kr.Keys[0].Of != 3 {
			return fmt.Errorf("keyring %+v", kr)
		}
		return nil
	})

	// Watch every member's view while rotating.
	var mu sync.Mutex
	var dropped error
	checks := 0
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			for _, a := range c.agents {
				err := membersAlive(a, c.token, names)
				mu.Lock()
				checks++
				if err != nil && dropped == nil {
					dropped = err
				}
				mu.Unlock()
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()

	if res := cli("install", newKey, "--wait"); !strings.Contains(res.Stdout, "Installed gossip key "+newFP) || !strings.Contains(res.Stdout, "3/3") {
		t.Fatalf("install: %s", res)
	}
	cli("use", newFP, "--wait")
	if res := cli("remove", oldFP, "--wait"); !strings.Contains(res.Stdout, "Removed gossip key "+oldFP) {
		t.Fatalf("remove: %s", res)
	}
	testutil.HoldsFor(t, 3*time.Second, testutil.PollInterval, "every member alive in every view", func() error {
		for _, a := range c.agents {
			if err := membersAlive(a, c.token, names); err != nil {
				return err
			}
		}
		return nil
	})
	close(stop)
	<-done
	mu.Lock()
	if dropped != nil {
		t.Fatalf("a member dropped out during the rotation (%d checks): %v", checks, dropped)
	}
	mu.Unlock()

	var kr client.GossipKeyring
	if err := cliJSON(t, addr, c.token, &kr, "operator", "gossip", "keyring", "list"); err != nil {
		t.Fatal(err)
	}
	if kr.Primary != newFP || len(kr.Keys) != 1 || kr.Keys[0].Key != newKey || kr.Keys[0].Nodes != 3 {
		t.Fatalf("keyring after the rotation: %+v", kr)
	}
	for _, a := range c.agents {
		b, err := os.ReadFile(filepath.Join(a.dataDir, "gossip-keyring.json"))
		if err != nil || !strings.Contains(string(b), newKey) || strings.Contains(string(b), oldKey) {
			t.Fatalf("%s saved keyring: %s %v", a.name, b, err)
		}
		if st, _ := os.Stat(filepath.Join(a.dataDir, "gossip-keyring.json")); st.Mode().Perm() != 0o600 {
			t.Fatalf("%s saved its keyring with mode %v", a.name, st.Mode().Perm())
		}
	}

	// An agent with only the old key cannot join any more.
	stranger := newAgent(t, agentConfig{name: "stranger", gossipKey: oldKey, join: []string{c.agents[0].gossipAddr()}})
	stranger.start()
	testutil.HoldsFor(t, 3*time.Second, testutil.PollInterval, "the agent with the old key absent", func() error {
		cl, err := c.agents[0].client(c.token).Cluster(context.Background())
		if err != nil {
			return err
		}
		for _, m := range cl.Members {
			if m.Name == "stranger" {
				return fmt.Errorf("stranger is a member (%s)", m.Status)
			}
		}
		return nil
	})
	stranger.kill()

	// A restarted agent (its environment still gives the old key) rejoins
	// with the keyring it saved.
	n3 := c.byName("n3")
	n3.kill()
	n3.start()
	testutil.Eventually(t, formTimeout, "n3 back, alive in every view", func() error {
		for _, a := range c.agents {
			if err := membersAlive(a, c.token, names); err != nil {
				return err
			}
		}
		return nil
	})
	if !strings.Contains(n3.stderr(), "gossip is encrypted with the keyring saved in the data dir") {
		t.Errorf("n3 did not say it used its saved keyring:\n%s", n3.logTail(30))
	}
}

// With TLS, a server that would meet others without a gossip key refuses to
// start and says what to do.
func TestGossipKeyring_TLSWithoutKeyRefused(t *testing.T) {
	t.Parallel()
	requireBinary(t)
	dir := t.TempDir()
	for _, args := range [][]string{{"tls", "ca", "create", "--out", dir}, {"tls", "cert", "create", "--ca", dir, "--node", "n1", "--ip", "127.0.0.1", "--out", dir}} {
		runTool(t, args...)
	}
	a := newAgent(t, agentConfig{name: "n1", bootstrapExpect: 3, token: randomToken(t), tlsDir: dir, noGossipKey: true})
	a.start()
	if code := a.waitExit(exitTimeout); code == 0 {
		t.Fatal("a TLS server without a gossip key started")
	}
	for _, want := range []string{"gossip must be encrypted", "--gossip-key-file", "novacron operator gossip keygen"} {
		if !strings.Contains(a.stderr(), want) {
			t.Errorf("stderr does not say %q:\n%s", want, a.logTail(10))
		}
	}
}
