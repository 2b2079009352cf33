package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/novacron/novacron/internal/testutil"
)

// exitTimeout bounds how long an agent that must refuse to start may take.
const exitTimeout = 20 * time.Second

func TestDataDir_CorruptOrForeignRefused(t *testing.T) {
	t.Parallel()
	requireBinary(t)

	t.Run("foreign folder", func(t *testing.T) {
		dir := t.TempDir()
		notes := filepath.Join(dir, "notes.txt")
		content := []byte("my own files, not NovaCron's\n")
		if err := os.WriteFile(notes, content, 0o600); err != nil {
			t.Fatal(err)
		}
		a := newAgent(t, agentConfig{name: "n1", dataDir: dir, bootstrapExpect: 1, token: randomToken(t)})
		a.start()
		if code := a.waitExit(exitTimeout); code == 0 {
			t.Errorf("agent on a foreign folder exited 0, want non-zero")
		}
		if !strings.Contains(a.stderr(), "not a NovaCron data dir") {
			t.Errorf("stderr does not say %q:\n%s", "not a NovaCron data dir", a.logTail(10))
		}
		if got, err := os.ReadFile(notes); err != nil || !bytes.Equal(got, content) {
			t.Errorf("notes.txt changed: %q, %v", got, err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("the refused folder now holds %d entries, want only notes.txt: %v", len(entries), entries)
		}
	})

	t.Run("garbage raft log", func(t *testing.T) {
		a := newAgent(t, agentConfig{name: "n1", bootstrapExpect: 1, token: randomToken(t)})
		a.start()
		testutil.Eventually(t, formTimeout, "the first run to elect itself", func() error {
			h, err := a.client("").Health(context.Background())
			if err == nil && h.Leader != "n1" {
				err = fmt.Errorf("leader %q", h.Leader)
			}
			return err
		})
		if code := a.signal(syscall.SIGTERM, exitTimeout); code != 0 {
			t.Fatalf("first run: SIGTERM exit code %d, want 0\n%s", code, a.logTail(10))
		}
		db := filepath.Join(a.dataDir, "raft", "raft.db")
		if _, err := os.Stat(db); err != nil {
			t.Fatalf("the first run left no raft log: %v", err)
		}
		garbage := make([]byte, 64<<10)
		if _, err := rand.Read(garbage); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(db, garbage, 0o600); err != nil {
			t.Fatal(err)
		}

		a.start()
		if code := a.waitExit(exitTimeout); code == 0 {
			t.Errorf("agent on a garbage raft.db exited 0, want non-zero")
		}
		second := a.stderr()[strings.LastIndex(a.stderr(), "==== e2e: start #2"):]
		if !strings.Contains(second, "corrupt") {
			t.Errorf("second run's stderr does not mention %q:\n%s", "corrupt", second)
		}
		if got, err := os.ReadFile(db); err != nil || !bytes.Equal(got, garbage) {
			t.Errorf("the garbage raft.db was changed (%d bytes, %v)", len(got), err)
		}
	})
}

func TestDevMode_PrintsAddressAndToken(t *testing.T) {
	t.Parallel()
	requireBinary(t)
	tmp := t.TempDir()
	a := newAgent(t, agentConfig{name: "dev", env: []string{"TMPDIR=" + tmp}})
	a.cfg.args = []string{"-dev", "--http-port", strconv.Itoa(a.httpPort),
		"--gossip-port", strconv.Itoa(a.gossipPort), "--raft-port", strconv.Itoa(a.raftPort)}
	a.start()

	var addr, token, caCert, dataDir string
	testutil.Eventually(t, formTimeout, "the dev banner", func() error {
		out := a.stdout()
		addr = banner(out, `export NOVACRON_ADDR=(\S+)`)
		token = banner(out, `export NOVACRON_TOKEN=(\S+)`)
		caCert = banner(out, `export NOVACRON_CACERT=(\S+)`)
		dataDir = banner(out, `Data dir:\s+(\S+)`)
		if addr == "" || token == "" || caCert == "" || dataDir == "" {
			return fmt.Errorf("stdout so far:\n%s", out)
		}
		return nil
	})
	// -dev walks the secure path too: HTTPS with a CA of its own.
	if want := a.addr(); addr != want || !strings.HasPrefix(addr, "https://") {
		t.Errorf("banner address %q, want %q", addr, want)
	}
	if !strings.HasPrefix(caCert, dataDir) {
		t.Errorf("dev CA %q is not in the dev data dir %q", caCert, dataDir)
	}
	if !strings.HasPrefix(dataDir, tmp) {
		t.Errorf("dev data dir %q is not in TMPDIR %q", dataDir, tmp)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "novacron.json")); err != nil {
		t.Errorf("dev data dir: %v", err)
	}

	testutil.Eventually(t, formTimeout, "`novacron cluster status` with the printed address and token", func() error {
		res := testutil.RunCLI(t, novacronBin, testutil.CleanEnv("NOVACRON_ADDR="+addr, "NOVACRON_TOKEN="+token, "NOVACRON_CACERT="+caCert), "cluster", "status")
		if res.Code != 0 || !regexp.MustCompile(`(?m)^Leader:\s+\S+ \(`).MatchString(res.Stdout) {
			return errors.New(res.String())
		}
		return nil
	})

	// The README's examples name the dev node node-1, and its VMs are
	// said to be simulated wherever hosts are shown.
	if !strings.Contains(a.stdout(), `dev agent "node-1" is running`) || !strings.Contains(a.stdout(), "VMs are simulated and run nowhere") {
		t.Errorf("the banner does not name node-1 or say the host is simulated:\n%s", a.stdout())
	}
	devEnv := testutil.CleanEnv("NOVACRON_ADDR="+addr, "NOVACRON_TOKEN="+token, "NOVACRON_CACERT="+caCert)
	for _, args := range [][]string{{"cluster", "status"}, {"node", "list"}} {
		res := testutil.RunCLI(t, novacronBin, devEnv, args...)
		if res.Code != 0 || !strings.Contains(res.Stdout, "1 host runs the sim hypervisor") {
			t.Errorf("%v does not say the host is simulated: %s", args, res)
		}
	}
	if res := testutil.RunCLI(t, novacronBin, devEnv, "node", "show", "node-1"); res.Code != 0 {
		t.Errorf("the README's `node show node-1`: %s", res)
	}

	if code := a.signal(syscall.SIGTERM, exitTimeout); code != 0 {
		t.Errorf("SIGTERM: exit code %d, want 0\n%s", code, a.logTail(10))
	}
	if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dev data dir %s still there after exit: %v", dataDir, err)
	}
}

// banner returns the first submatch of re in out, "" when it does not match.
func banner(out, re string) string {
	m := regexp.MustCompile(re).FindStringSubmatch(out)
	if m == nil {
		return ""
	}
	return m[1]
}

func TestConfigFileAndEnv(t *testing.T) {
	t.Parallel()
	requireBinary(t)
	token := randomToken(t)
	seed := newAgent(t, agentConfig{name: "seed", bootstrapExpect: 1, token: token})
	seed.start()

	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	fromFile := newAgent(t, agentConfig{name: "from-env", env: []string{"NOVACRON_NAME=from-env"}})
	conf := map[string]any{
		"data-dir": dataDir, "bind": "127.0.0.1", "http-port": fromFile.httpPort,
		"gossip-port": fromFile.gossipPort, "raft-port": fromFile.raftPort,
		"join": []string{seed.gossipAddr()}, "log-level": "debug", "hypervisor": "sim",
	}
	for i, fl := range fromFile.tlsFlags() {
		if i%2 == 0 {
			conf[strings.TrimPrefix(fl, "--")] = fromFile.tlsFlags()[i+1]
		}
	}
	path := writeJSON(t, filepath.Join(dir, "agent.json"), conf)
	fromFile.cfg.args = []string{"--config", path}
	fromFile.start()

	testutil.Eventually(t, formTimeout, "the configured agent to serve /healthz and follow seed", func() error {
		h, err := fromFile.client("").Health(context.Background())
		if err != nil {
			return err
		}
		if h.Node != "from-env" || h.Leader != "seed" {
			return fmt.Errorf("healthz on port %d: node %q leader %q, want from-env following seed", fromFile.httpPort, h.Node, h.Leader)
		}
		return nil
	})
	if _, err := os.Stat(filepath.Join(dataDir, "novacron.json")); err != nil {
		t.Errorf("data-dir from the config file was not used: %v", err)
	}
	if !strings.Contains(fromFile.stderr(), "level=DEBUG") {
		t.Errorf("log-level debug from the config file was not used")
	}
	testutil.Eventually(t, formTimeout, "seed to list from-env as a member", func() error {
		cl, err := seed.client(token).Cluster(context.Background())
		if err != nil {
			return err
		}
		for _, m := range cl.Members {
			if m.Name == "from-env" && m.Status == "alive" && m.APIAddr == "127.0.0.1:"+strconv.Itoa(fromFile.httpPort) {
				return nil
			}
		}
		return fmt.Errorf("members: %s", describeMembers(cl.Members))
	})

	t.Run("unknown key", func(t *testing.T) {
		bad := writeJSON(t, filepath.Join(t.TempDir(), "bad.json"), map[string]any{
			"data-dir": filepath.Join(t.TempDir(), "data"), "bind": "127.0.0.1", "colour": "blue",
		})
		res := testutil.RunCLI(t, novacronBin, testutil.CleanEnv("NOVACRON_NAME=bad"), "agent", "--config", bad)
		if res.Code != 2 || !strings.Contains(res.Stderr, `"colour"`) {
			t.Errorf("%s\nwant exit 2 and a message naming \"colour\"", res)
		}
	})
}

// writeJSON writes v as JSON to path and returns path.
func writeJSON(t *testing.T, path string, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
