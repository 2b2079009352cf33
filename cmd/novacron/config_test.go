package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
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
		"bootstrap-expect": "0", "voters": "3", "hypervisor": "", "label": "[]", "libvirt-uri": "qemu:///system", "console-log-dir": "/var/log/libvirt/qemu",
		"virt-type": "auto", "vcpus": "0", "memory-mib": "0", "cpu-overcommit": "0", "migrate-uri": "",
		"image-dir": "[/var/lib/novacron/images]",
		"sim-fleet": "0", "fence-timeout": "10s", "heartbeat-interval": "1s", "watchdog": "",
		"stop-timeout": "30s", "event-history": "1h0m0s", "metrics-interval": "10s",
		"postgres-dsn": "", "postgres-dsn-file": "", "smtp-addr": "", "smtp-from": "", "bootstrap-token": "", "bootstrap-token-file": "", "gossip-key": "",
		"gossip-key-file": "", "metrics-token-file": "",
		"log-level": "info", "sim-vcpus": "8", "sim-memory-mib": "16384", "sim-disk-gib": "200",
		"tls-ca": "", "tls-cert": "", "tls-key": "", "insecure": "false", "tls-ca-key": "", "join-token": "",
		"libvirt-peer-uri": "", "libvirt-peer-schemes": "[qemu+tls]",
		"oidc-issuer": "", "oidc-client-id": "", "oidc-username-claim": "preferred_username", "oidc-groups-claim": "groups",
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

// A libvirt host publishes --libvirt-peer-uri, by default
// qemu+tls://ADVERTISE/system, not the URI it reaches its own libvirtd by;
// URIs its own policy (--libvirt-peer-schemes) would refuse from a peer stop
// the agent, as do schemes no policy may allow.
func TestAgentFlags_LibvirtPeerURIs(t *testing.T) {
	f := devFlags(t, "--hypervisor", "libvirt", "--bind", "10.0.0.2", "--migrate-uri", "tcp://10.0.0.2:49152")
	if err := f.validate(); err != nil {
		t.Fatal(err)
	}
	cfg := f.nodeConfig("id", "10.0.0.2:8090", nil)
	if cfg.Cluster.Node.URI != "qemu+tls://10.0.0.2/system" || strings.Join(cfg.Cluster.PeerURIs.Schemes(), ",") != "qemu+tls" {
		t.Fatalf("published %q, accepting %v", cfg.Cluster.Node.URI, cfg.Cluster.PeerURIs.Schemes())
	}
	f = devFlags(t, "--hypervisor", "libvirt", "--bind", "0.0.0.0", "--advertise", "fd00::2")
	if err := f.validate(); err != nil {
		t.Fatal(err)
	}
	if got := f.nodeConfig("id", "[fd00::2]:8090", nil).Cluster.Node.URI; got != "qemu+tls://[fd00::2]/system" {
		t.Fatalf("published %q behind --advertise", got)
	}
	// The lab: a unix socket per host, allowed explicitly, from the
	// environment as any flag.
	t.Setenv("NOVACRON_LIBVIRT_PEER_SCHEMES", "qemu+tls,qemu+unix")
	fs := pflag.NewFlagSet("agent", pflag.ContinueOnError)
	var lab agentFlags
	lab.register(fs)
	sock := "qemu+unix:///system?socket=/var/lib/novacron-lab/hosts/host2/run/libvirt-sock"
	if err := fs.Parse([]string{"--dev", "--name", "host2", "--hypervisor", "libvirt", "--bind", "127.0.1.2", "--libvirt-uri", sock,
		"--libvirt-peer-uri", sock, "--migrate-uri", "tcp://127.0.1.2"}); err != nil {
		t.Fatal(err)
	}
	if err := fillFromEnvAndFile(fs, &lab); err != nil {
		t.Fatal(err)
	}
	if err := lab.validate(); err != nil {
		t.Fatalf("the lab's flags refused: %v", err)
	}
	if cfg := lab.nodeConfig("id", "127.0.1.2:8092", nil); cfg.Cluster.Node.URI != sock || strings.Join(cfg.Cluster.PeerURIs.Schemes(), ",") != "qemu+tls,qemu+unix" {
		t.Fatalf("lab: published %q, accepting %v", cfg.Cluster.Node.URI, cfg.Cluster.PeerURIs.Schemes())
	}
	// The sim hypervisor publishes its own URI.
	if got := devFlags(t).nodeConfig("id", "127.0.0.1:8090", nil).Cluster.Node.URI; got != "" {
		t.Fatalf("sim: published %q, want the driver's", got)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--libvirt-peer-uri", "qemu:///system"}, "--libvirt-peer-uri, --migrate-uri: other hosts would refuse to migrate here (--libvirt-peer-schemes qemu+tls)"},
		{[]string{"--libvirt-peer-uri", "qemu+ext:///system?command=/bin/sh"}, "qemu+ext runs a local program"},
		{[]string{"--libvirt-peer-uri", "qemu+tcp://10.0.0.2/system"}, "scheme qemu+tcp is not allowed here"},
		{[]string{"--libvirt-peer-uri", "qemu+tls://10.0.0.9/system"}, "its host 10.0.0.9 is not the node's certified address 10.0.0.2"},
		{[]string{"--migrate-uri", "tcp://10.0.0.9"}, `migration URI "tcp://10.0.0.9": its host 10.0.0.9`},
		{[]string{"--libvirt-peer-schemes", "qemu+tls,qemu+ext"}, `libvirt peer scheme "qemu+ext" cannot be allowed`},
	} {
		err := devFlags(t, append([]string{"--hypervisor", "libvirt", "--bind", "10.0.0.2"}, c.args...)...).validate()
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Count(err.Error(), "\n") != 0 {
			t.Errorf("%v: error %v, want one saying %q", c.args, err, c.want)
		}
	}
}

// An agent given no --hypervisor runs simulated VMs only in dev mode; on a
// host whose libvirt answers it uses libvirt, and elsewhere it refuses to
// start and says how to choose.
func TestAgentFlags_HypervisorWhenNotGiven(t *testing.T) {
	probed := 0
	answer := error(nil)
	probeLibvirt = func(uri string) error {
		probed++
		if uri != "qemu:///system" {
			t.Errorf("probed %s, want the default --libvirt-uri", uri)
		}
		return answer
	}
	t.Cleanup(func() { probeLibvirt = refuseProbe })

	f := devFlags(t)
	if err := f.validate(); err != nil || f.Hypervisor != hypervisorSim || probed != 0 {
		t.Fatalf("--dev: err %v, hypervisor %q, probed %d times; want sim without probing", err, f.Hypervisor, probed)
	}

	f, err := parseAgentWith(t, prodArgs(t)...)
	if err != nil || f.Hypervisor != hypervisorVirt || probed != 1 {
		t.Fatalf("libvirt answers: err %v, hypervisor %q, probed %d; want libvirt", err, f.Hypervisor, probed)
	}
	if w := strings.Join(f.warnings, "\n"); !strings.Contains(w, "no --hypervisor given: libvirt at qemu:///system answers") {
		t.Errorf("the choice was not logged: %q", w)
	}

	answer = errors.New("Failed to connect socket to '/var/run/libvirt/libvirt-sock'")
	_, err = parseAgentWith(t, prodArgs(t)...)
	for _, want := range []string{"no --hypervisor given", "libvirt-sock", "--hypervisor libvirt", "--hypervisor sim"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("libvirt does not answer: err %v, want it to name %q", err, want)
		}
	}

	probed = 0
	if f, err := parseAgentWith(t, prodArgs(t, "--hypervisor", "sim")...); err != nil || f.Hypervisor != hypervisorSim || probed != 0 {
		t.Errorf("--hypervisor sim: err %v, hypervisor %q, probed %d; want sim as given", err, f.Hypervisor, probed)
	}
}

// --label KEY=VALUE, from the command line, the environment or the config
// file, becomes the host's labels; a malformed one is a usage error naming it.
func TestAgentFlags_Labels(t *testing.T) {
	f := devFlags(t, "--label", "region=eu", "--label", "rack=r1")
	if err := f.validate(); err != nil {
		t.Fatal(err)
	}
	if got := f.nodeConfig("id", "127.0.0.1:8090", nil).Cluster.Node.Labels; !maps.Equal(got, map[string]string{"region": "eu", "rack": "r1"}) {
		t.Fatalf("node labels %v", got)
	}
	t.Setenv("NOVACRON_LABEL", "zone=a,gpu=true")
	f, err := parseAgent(t, prodArgs(t)...)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := f.labels(); !maps.Equal(got, map[string]string{"zone": "a", "gpu": "true"}) {
		t.Fatalf("labels from NOVACRON_LABEL: %v", got)
	}
	for _, c := range []struct{ arg, says string }{
		{"region", `--label "region" must be KEY=VALUE`},
		{"bad key=x", "--label key"},
		{"k=" + strings.Repeat("v", 300), "longer than"},
	} {
		if err := devFlags(t, "--label", c.arg).validate(); err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("--label %.20q: %v, want it to say %q", c.arg, err, c.says)
		}
	}
	if err := devFlags(t, "--label", "a=1", "--label", "a=2").validate(); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("a label given twice: %v", err)
	}
	var many []string
	for i := range 20 {
		many = append(many, "--label", fmt.Sprintf("key-%02d=value-%02d", i, i))
	}
	if err := devFlags(t, many...).validate(); err == nil || !strings.Contains(err.Error(), "gossip metadata") {
		t.Errorf("labels too long for gossip: %v", err)
	}
}

// Every agent flag is in exactly one --help group, and --help shows the groups.
func TestAgentHelp_EveryFlagInOneGroup(t *testing.T) {
	fs := pflag.NewFlagSet("agent", pflag.ContinueOnError)
	var f agentFlags
	f.register(fs)
	seen := map[string]string{}
	for _, g := range agentFlagGroups {
		for _, name := range g.flags {
			if fs.Lookup(name) == nil {
				t.Errorf("group %s names --%s, which does not exist", g.title, name)
			}
			if other, dup := seen[name]; dup {
				t.Errorf("--%s is in %s and %s", name, other, g.title)
			}
			seen[name] = g.title
		}
	}
	fs.VisitAll(func(fl *pflag.Flag) {
		if _, ok := seen[fl.Name]; !ok {
			t.Errorf("--%s is in no --help group (agent_help.go)", fl.Name)
		}
	})
	_, stdout, _ := runCLI(t, nil, "agent", "--help")
	for _, want := range []string{"Cluster flags:", "Hypervisor flags:", "High availability flags:", "Security flags:", "Dev mode and simulation flags:", "--label"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("agent --help lacks %q", want)
		}
	}
}
