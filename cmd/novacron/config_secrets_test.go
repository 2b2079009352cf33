package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// parseAgent parses args as `novacron agent` does, environment and config file
// included.
func parseAgent(t *testing.T, args ...string) (*agentFlags, error) {
	t.Helper()
	if !slices.Contains(args, "--hypervisor") {
		args = append(args, "--hypervisor", "sim") // these tests are about other flags
	}
	return parseAgentWith(t, args...)
}

// parseAgentWith is parseAgent with the arguments exactly as given.
func parseAgentWith(t *testing.T, args ...string) (*agentFlags, error) {
	t.Helper()
	fs := pflag.NewFlagSet("agent", pflag.ContinueOnError)
	var f agentFlags
	f.register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := fillFromEnvAndFile(fs, &f); err != nil {
		return &f, err
	}
	return &f, f.validate()
}

// prodArgs are the flags of a valid non-dev agent.
// prodArgs are a production agent's flags: TLS files named (validation does
// not read them), no --dev.
func prodArgs(t *testing.T, more ...string) []string {
	tls := t.TempDir()
	return append([]string{"--name", "n1", "--data-dir", t.TempDir(), "--bind", "127.0.0.1", "--bootstrap-expect", "3",
		"--tls-ca", filepath.Join(tls, "ca.pem"), "--tls-cert", filepath.Join(tls, "n1.pem"), "--tls-key", filepath.Join(tls, "n1-key.pem")}, more...)
}

func writeSecret(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

const testRoot = "root-token-0123456789"

var testGossipKey = base64.StdEncoding.EncodeToString(make([]byte, 32))

func TestAgentSecrets_CommandLineRefusedOutsideDev(t *testing.T) {
	for _, c := range []struct{ flag, value, hint string }{
		{"--bootstrap-token", testRoot, "--bootstrap-token-file FILE, as NOVACRON_BOOTSTRAP_TOKEN in the environment, or in the --config file"},
		{"--gossip-key", testGossipKey, "--gossip-key-file FILE, as NOVACRON_GOSSIP_KEY in the environment"},
	} {
		_, err := parseAgent(t, prodArgs(t, c.flag, c.value)...)
		if err == nil || !strings.Contains(err.Error(), c.flag+" on the command line is visible") || !strings.Contains(err.Error(), c.hint) {
			t.Errorf("%s on the command line: %v", c.flag, err)
		}
	}
}

func TestAgentSecrets_CommandLineWarnsInDev(t *testing.T) {
	f, err := parseAgent(t, "--dev", "--name", "n1", "--bootstrap-token", testRoot, "--gossip-key", testGossipKey)
	if err != nil {
		t.Fatalf("dev agent with secrets on the command line refused: %v", err)
	}
	if f.BootstrapToken != testRoot {
		t.Errorf("token %q", f.BootstrapToken)
	}
	all := strings.Join(f.warnings, "\n")
	for _, flag := range []string{"--bootstrap-token", "--gossip-key"} {
		if !strings.Contains(all, flag+" on the command line is visible to every user") {
			t.Errorf("no warning about %s; warnings:\n%s", flag, all)
		}
	}
}

func TestAgentSecrets_FromEnvironment(t *testing.T) {
	t.Setenv("NOVACRON_BOOTSTRAP_TOKEN", testRoot)
	t.Setenv("NOVACRON_GOSSIP_KEY", testGossipKey)
	f, err := parseAgent(t, prodArgs(t)...)
	if err != nil {
		t.Fatalf("secrets from the environment refused: %v", err)
	}
	if f.BootstrapToken != testRoot || f.GossipKey != testGossipKey || len(f.warnings) != 0 {
		t.Errorf("token %q, key %q, warnings %q", f.BootstrapToken, f.GossipKey, f.warnings)
	}
}

func TestAgentSecrets_FromFiles(t *testing.T) {
	tok, key, met := writeSecret(t, testRoot+"\n", 0o600), writeSecret(t, testGossipKey+"\n", 0o600), writeSecret(t, "scrape-0123456789abcdef\n", 0o600)
	f, err := parseAgent(t, prodArgs(t, "--bootstrap-token-file", tok, "--gossip-key-file", key, "--metrics-token-file", met)...)
	if err != nil {
		t.Fatalf("secret files refused: %v", err)
	}
	if f.BootstrapToken != testRoot || f.GossipKey != testGossipKey || f.MetricsToken != "scrape-0123456789abcdef" {
		t.Errorf("token %q, key %q, metrics token %q", f.BootstrapToken, f.GossipKey, f.MetricsToken)
	}
	if len(f.warnings) != 0 {
		t.Errorf("warnings for private files: %q", f.warnings)
	}
	if cfg := f.nodeConfig("id", "127.0.0.1:1", nil); len(cfg.Cluster.GossipKey) != 32 {
		t.Errorf("gossip key from the file not passed on: %d bytes", len(cfg.Cluster.GossipKey))
	}

	// A file others can read works, with a warning.
	open := writeSecret(t, testGossipKey, 0o644)
	f, err = parseAgent(t, prodArgs(t, "--gossip-key-file", open)...)
	if err != nil || len(f.warnings) != 1 || !strings.Contains(f.warnings[0], "--gossip-key-file "+open+" has mode 0644") {
		t.Errorf("world-readable key file: %v, warnings %q", err, f.warnings)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--gossip-key-file", filepath.Join(t.TempDir(), "none")}, "--gossip-key-file: open"},
		{[]string{"--gossip-key-file", writeSecret(t, "%%%", 0o600)}, "--gossip-key is not base64"},
		{[]string{"--metrics-token-file", writeSecret(t, "short", 0o600)}, "the token must be at least 16 characters"},
		{[]string{"--metrics-token-file", writeSecret(t, "\n", 0o600)}, "is empty"},
	} {
		if _, err := parseAgent(t, prodArgs(t, c.args...)...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error containing %q", c.args, err, c.want)
		}
	}
	t.Setenv("NOVACRON_GOSSIP_KEY", testGossipKey)
	if _, err := parseAgent(t, prodArgs(t, "--gossip-key-file", key)...); err == nil || !strings.Contains(err.Error(), "give --gossip-key or --gossip-key-file, not both") {
		t.Errorf("key in both the environment and a file: %v", err)
	}
}

func TestAgentConfig_WarnsWhenOthersCanReadIt(t *testing.T) {
	for _, c := range []struct {
		mode os.FileMode
		warn bool
	}{{0o600, false}, {0o640, true}, {0o604, true}} {
		p := writeSecret(t, `{"bootstrap-token":"`+testRoot+`"}`, c.mode)
		f, err := parseAgent(t, prodArgs(t, "--config", p)...)
		if err != nil {
			t.Fatalf("mode %#o: %v", c.mode, err)
		}
		if f.BootstrapToken != testRoot {
			t.Errorf("mode %#o: token from the config file %q", c.mode, f.BootstrapToken)
		}
		warned := len(f.warnings) == 1 && strings.Contains(f.warnings[0], "config file "+p+" has mode") && strings.Contains(f.warnings[0], "chmod 600")
		if warned != c.warn {
			t.Errorf("mode %#o: warnings %q, want a warning: %v", c.mode, f.warnings, c.warn)
		}
	}
}

func TestAgentFlags_NameRefusesControlCharacters(t *testing.T) {
	_, err := parseAgent(t, "--dev", "--name", "node\x1b[31m")
	if err == nil || !strings.Contains(err.Error(), "--name") {
		t.Fatalf("name with ESC: %v", err)
	}
}
