package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// The agent's flags, their environment variables and their defaults are a
// contract with users (README, "Agent configuration"); the defaults now come
// from the parts' DefaultConfig, and this pins them.
func TestAgentFlags_DefaultsAreTheDocumentedOnes(t *testing.T) {
	want := map[string]string{
		"config": "", "dev": "false", "name": "", "data-dir": "", "bind": "", "advertise": "",
		"gossip-port": "7946", "raft-port": "7947", "http-port": "8090", "join": "[]",
		"bootstrap-expect": "0", "voters": "3", "hypervisor": "sim", "libvirt-uri": "qemu:///system",
		"virt-type": "auto", "vcpus": "0", "memory-mib": "0", "cpu-overcommit": "0", "migrate-uri": "",
		"image-dir": "[/var/lib/novacron/images]",
		"sim-fleet": "0", "fence-timeout": "10s", "heartbeat-interval": "1s", "watchdog": "",
		"stop-timeout": "30s", "bootstrap-token": "", "bootstrap-token-file": "", "gossip-key": "",
		"gossip-key-file": "", "metrics-token-file": "",
		"log-level": "info", "sim-vcpus": "8", "sim-memory-mib": "16384", "sim-disk-gib": "200",
		"tls-ca": "", "tls-cert": "", "tls-key": "", "insecure": "false", "tls-ca-key": "", "join-token": "",
	}
	fs := pflag.NewFlagSet("agent", pflag.ContinueOnError)
	var f agentFlags
	f.register(fs)
	seen := 0
	fs.VisitAll(func(fl *pflag.Flag) {
		seen++
		def, ok := want[fl.Name]
		if !ok {
			t.Errorf("flag --%s is not in the documented list (add it to the README and here)", fl.Name)
			return
		}
		if fl.DefValue != def {
			t.Errorf("--%s defaults to %q, documented %q", fl.Name, fl.DefValue, def)
		}
	})
	if seen != len(want) {
		t.Errorf("%d flags, %d documented: a flag was removed or renamed", seen, len(want))
	}
	if got := envName("heartbeat-interval"); got != "NOVACRON_HEARTBEAT_INTERVAL" {
		t.Errorf("env of --heartbeat-interval is %s", got)
	}
}

// devFlags are valid flags of a dev agent, parsed as the command does.
func devFlags(t *testing.T, args ...string) *agentFlags {
	t.Helper()
	fs := pflag.NewFlagSet("agent", pflag.ContinueOnError)
	var f agentFlags
	f.register(fs)
	if err := fs.Parse(append([]string{"--dev", "--name", "n1"}, args...)); err != nil {
		t.Fatal(err)
	}
	return &f
}

func TestAgentFlags_ValidateNamesTheFault(t *testing.T) {
	if err := devFlags(t).validate(); err != nil {
		t.Fatalf("dev defaults refused: %v", err)
	}
	if err := devFlags(t, "--voters", "5", "--gossip-key", base64.StdEncoding.EncodeToString(make([]byte, 32))).validate(); err != nil {
		t.Fatalf("valid flags refused: %v", err)
	}
	cases := []struct {
		args []string
		want string
	}{
		// The rules of the parts, checked by the parts.
		{[]string{"--fence-timeout", "3s"}, "--fence-timeout 3s, --heartbeat-interval 1s: fencing: need"},
		{[]string{"--heartbeat-interval", "0s"}, "heartbeat interval > 0"},
		{[]string{"--image-dir", "images"}, `--image-dir "images" must be an absolute folder other than /`},
		{[]string{"--image-dir", "/"}, `--image-dir "/" must be an absolute folder other than /`},
		{[]string{"--voters", "4"}, "voters must be 3 or 5"},
		{[]string{"--gossip-key", base64.StdEncoding.EncodeToString([]byte("short"))}, "gossip key must be 16, 24 or 32 bytes, got 5"},
		{[]string{"--bind", "localhost"}, `bind address "localhost" is not an IP address`},
		{[]string{"--advertise", "nowhere"}, `advertise address "nowhere"`},
		{[]string{"--bind", "0.0.0.0"}, "set --advertise when binding 0.0.0.0"},
		{[]string{"--bootstrap-expect", "-1"}, "bootstrap-expect must not be negative"},
		{[]string{"--sim-fleet", "-1"}, "sim fleet size must not be negative"},
		// The command line's own.
		{[]string{"--sim-fleet", "100001"}, "--sim-fleet must be between 0 and 100000"},
		{[]string{"--gossip-key", "%%%"}, "--gossip-key is not base64"},
		{[]string{"--stop-timeout", "0s"}, "--stop-timeout must be positive"},
		{[]string{"--hypervisor", "xen"}, "--hypervisor must be sim or libvirt"},
		{[]string{"--virt-type", "hvf"}, "--virt-type must be kvm, qemu or auto"},
		{[]string{"--http-port", "70000"}, "--http-port 70000 is not a port"},
	}
	for _, c := range cases {
		err := devFlags(t, c.args...).validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one containing %q", c.args, err, c.want)
			continue
		}
		if n := strings.Count(err.Error(), "\n") + 1; n != 1 && c.args[0] != "--bind" && c.args[0] != "--advertise" {
			t.Errorf("%v: %d errors for one fault:\n%v", c.args, n, err)
		}
	}
	// One voter is for a dev cluster only.
	f := devFlags(t, "--voters", "1")
	f.Dev = false
	f.DataDir = t.TempDir()
	if err := f.validate(); err == nil || !strings.Contains(err.Error(), "--voters 1 is for a single-node dev cluster") {
		t.Errorf("--voters 1 without --dev: %v", err)
	}
}

func TestAgentCommand_BadValueIsUsageError(t *testing.T) {
	var out, errb bytes.Buffer
	a := newApp(func(string) string { return "" }, &out, &errb)
	code := execute(context.Background(), a, []string{"agent", "--dev", "--fence-timeout", "2s"})
	if code != exitUsage || !strings.Contains(errb.String(), "--fence-timeout 2s") || !strings.Contains(errb.String(), "--help' for usage.") {
		t.Errorf("code %d, stderr %q; want a usage error naming --fence-timeout", code, errb.String())
	}
}

// --image-dir is a list: given on the command line it replaces the default,
// repeated it adds folders; only the libvirt hypervisor confines boot files.
func TestAgentFlags_ImageDirs(t *testing.T) {
	f := devFlags(t, "--image-dir", "/srv/images", "--image-dir", "/srv/kernels")
	if err := f.validate(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.ImageDirs, ","); got != "/srv/images,/srv/kernels" {
		t.Fatalf("image dirs %q", got)
	}
	if f.bootFiles() != nil || f.nodeConfig("id", "127.0.0.1:1", nil).Host.BootFiles != nil {
		t.Fatal("the sim hypervisor confines boot files")
	}
	f.Hypervisor = hypervisorVirt
	files := f.bootFiles()
	if files == nil || strings.Join(files.Dirs(), ",") != "/srv/images,/srv/kernels" {
		t.Fatalf("libvirt: boot files %+v", files)
	}
	if f.nodeConfig("id", "127.0.0.1:1", nil).Host.BootFiles == nil {
		t.Fatal("libvirt: the host does not check boot files")
	}
}
