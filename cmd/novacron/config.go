package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/novacron/novacron/alerting"
	"github.com/novacron/novacron/eventlog"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/hypervisor/libvirt"
	"github.com/novacron/novacron/hypervisor/sim"
	"github.com/novacron/novacron/internal/hostpath"
	"github.com/novacron/novacron/internal/oidcauth"
	"github.com/novacron/novacron/internal/peeruri"
	"github.com/novacron/novacron/internal/pki"
	"github.com/novacron/novacron/internal/version"
	"github.com/novacron/novacron/lease"
	"github.com/novacron/novacron/node"
	"github.com/novacron/novacron/sampler"
)

// The agent's configuration has two tiers. agentFlags is what the user writes
// (flags, environment, config file); nodeConfig converts it into the parts'
// own configurations, starting from node.DefaultConfig(). So the flags'
// defaults are the parts' defaults, and each rule about a value is checked
// once, by the part that owns it (the lease's timing by lease.Timing, the
// voters and addresses by cluster.Config, ...): validate checks only what is
// the command line's own (required flags, values it parses, choices only it
// knows), then asks the parts to validate the configuration it converts to.
// Both run before anything starts, so a bad value is a usage error (exit 2).

// Defaults that belong to no part's configuration.
const (
	// defaultHTTPPort is the API's port; main.go's defaultAddress points at it.
	defaultHTTPPort = 8090
	defaultLogLevel = "info"
	hypervisorSim   = "sim"
	// devNodeName is the dev agent's name unless --name says otherwise; the
	// README's examples use it.
	devNodeName    = "node-1"
	hypervisorVirt = "libvirt"
)

// agentFlags is the user-facing configuration of `novacron agent`. Every flag can
// also come from the environment (NOVACRON_<FLAG>, dashes as underscores) or from
// a JSON config file (--config) whose keys are the flag names. A flag given on the
// command line wins over the environment, which wins over the file.
type agentFlags struct {
	Config          string
	Dev             bool
	Name            string
	DataDir         string
	Bind            string
	Advertise       string
	GossipPort      int
	RaftPort        int
	HTTPPort        int
	Join            []string
	BootstrapExpect int
	Voters          int
	Hypervisor      string
	// Labels are this host's labels (--label k=v), which placement matches.
	Labels         []string
	LibvirtURI     string
	ConsoleLogDir  string
	VirtType       string
	StopTimeout    time.Duration
	EventHistory   time.Duration
	MetricsEvery   time.Duration
	VCPUs          int
	MemoryMiB      int64
	CPUOvercommit  float64
	MigrateURI     string
	ImageDirs      []string
	SimFleet       int
	FenceTimeout   time.Duration
	Heartbeat      time.Duration
	Watchdog       string
	BootstrapToken string
	BootstrapFile  string
	GossipKey      string
	GossipKeyFile  string
	MetricsToken   string
	MetricsFile    string
	PostgresDSN    string
	PostgresFile   string
	SMTPAddr       string
	SMTPFrom       string
	// OIDC is the identity provider users may log in through
	// (--oidc-issuer, --oidc-client-id, the claims read).
	OIDC         oidcauth.Config
	LogLevel     string
	SimVCPUs     int
	SimMemoryMiB int64
	SimDiskGiB   int64
	// TLS is the node's CA, certificate and key (--tls-ca, --tls-cert,
	// --tls-key): the API serves HTTPS and nodes call each other with
	// mutual TLS.
	TLS pki.Files
	// Insecure runs the node without TLS, on purpose (--insecure).
	Insecure bool
	// CAKey is the cluster CA's key (--tls-ca-key): with it the cluster can
	// enroll hosts that bring a join token.
	CAKey string
	// JoinToken enrolls a new host (--join-token): its certificate and the
	// gossip keyring come from the cluster (agent_tls.go).
	JoinToken string
	// devTLS: -dev without --tls-* or --insecure makes its own CA and
	// certificates in its data dir at start (agent_tls.go).
	devTLS bool
	// LibvirtPeerURI and LibvirtPeerSchemes are the libvirt URI this host
	// publishes for migrations to it, and the schemes it accepts from the
	// others (see peerURIs).
	LibvirtPeerURI     string
	LibvirtPeerSchemes []string

	// cliSecrets are the secret flags given on the command line itself,
	// where every user of the host can read them (config_secrets.go).
	cliSecrets []string
	// warnings are what validation found unsafe but not fatal; the agent
	// logs them once its logger exists.
	warnings []string
}

// register declares the agent's flags. Names, environment variables and
// default values are a contract with users (the README lists them); the
// defaults come from the parts' DefaultConfig.
func (f *agentFlags) register(fs *pflag.FlagSet) {
	def := node.DefaultConfig()
	lt, lv, sd := def.Cluster.Lease, libvirt.DefaultConfig(), sim.DefaultConfig()
	fs.StringVar(&f.Config, "config", "", "JSON config file whose keys are these flag names")
	fs.BoolVar(&f.Dev, "dev", false, "run a single-node dev cluster in a temporary data dir with the sim hypervisor")
	fs.StringVar(&f.Name, "name", "", "node name, unique in the cluster (default: node-1 with --dev, else the host name)")
	fs.StringVar(&f.DataDir, "data-dir", "", "folder for the node's identity and Raft data (required unless --dev)")
	fs.StringVar(&f.Bind, "bind", "", "IP to listen on (default 127.0.0.1 in dev mode; required otherwise)")
	fs.StringVar(&f.Advertise, "advertise", "", "IP other nodes use to reach this one (default: --bind)")
	fs.IntVar(&f.GossipPort, "gossip-port", def.Cluster.GossipPort, "gossip (memberlist) port, TCP and UDP")
	fs.IntVar(&f.RaftPort, "raft-port", def.Cluster.RaftPort, "Raft port")
	fs.IntVar(&f.HTTPPort, "http-port", defaultHTTPPort, "HTTP API port")
	fs.StringArrayVar(&f.Join, "join", nil, "HOST:GOSSIPPORT of a member to join (repeatable; retried until it answers)")
	fs.IntVar(&f.BootstrapExpect, "bootstrap-expect", 0, "bootstrap a new cluster once this many nodes with the same value have met")
	fs.IntVar(&f.Voters, "voters", def.Cluster.Voters, "number of Raft voters the cluster keeps (3 or 5); other nodes are non-voters")
	fs.StringArrayVar(&f.Labels, "label", nil, "label KEY=VALUE of this host, which VMs select with --node-selector (repeatable)")
	fs.StringVar(&f.Hypervisor, "hypervisor", "", "hypervisor driver: libvirt, or sim for a simulated host whose VMs run nowhere (default: sim with --dev; otherwise libvirt if --libvirt-uri answers, and the agent refuses to start if it does not)")
	fs.StringVar(&f.LibvirtURI, "libvirt-uri", lv.URI, "how this agent connects to its own libvirtd (libvirt hypervisor; other hosts use --libvirt-peer-uri)")
	fs.StringVar(&f.LibvirtPeerURI, "libvirt-peer-uri", "", "libvirt URI other hosts open to migrate to this one, published in gossip; its host must be this node's address (default qemu+tls://ADVERTISE/system; libvirt hypervisor)")
	fs.StringSliceVar(&f.LibvirtPeerSchemes, "libvirt-peer-schemes", slices.Clone(peeruri.DefaultSchemes), "libvirt URI schemes this host accepts from the nodes it migrates to: qemu+tls, qemu+tcp, qemu+ssh, qemu+libssh, qemu+libssh2, qemu+unix (the lab); never qemu+ext")
	fs.StringVar(&f.VirtType, "virt-type", lv.VirtType, "domain type: kvm, qemu (TCG emulation) or auto (kvm when it really works)")
	fs.IntVar(&f.VCPUs, "vcpus", 0, "vCPUs this host offers to VMs (default: the host's CPUs as the hypervisor reports them; more over-commits)")
	fs.Int64Var(&f.MemoryMiB, "memory-mib", 0, "memory this host offers to VMs in MiB (default: all the hypervisor reports)")
	fs.Float64Var(&f.CPUOvercommit, "cpu-overcommit", 0, "vCPUs offered per host vCPU on this node, 1 to 64 (default: the cluster setting)")
	fs.StringArrayVar(&f.ImageDirs, "image-dir", []string{hostpath.DefaultDir}, "folder whose files VMs may boot from: kernels, initrds, disk images (repeatable; libvirt hypervisor; any other host path is refused)")
	fs.StringVar(&f.ConsoleLogDir, "console-log-dir", lv.ConsoleLogDir, "where this agent reads the serial logs libvirt writes of its guests (libvirt hypervisor; the same folder as libvirt's unless libvirtd runs in another mount namespace)")
	fs.StringVar(&f.MigrateURI, "migrate-uri", "", "where this host accepts live migrations, e.g. tcp://10.0.0.2 (default: libvirt picks the host name)")
	fs.IntVar(&f.SimFleet, "sim-fleet", 0, "also simulate this many extra hosts in this process (sim driver), for scale tests")
	fs.DurationVar(&f.FenceTimeout, "fence-timeout", lt.Timeout, "a host's VMs are restarted elsewhere this long after its last lease renewal; it fences itself 35% of that earlier")
	fs.DurationVar(&f.Heartbeat, "heartbeat-interval", lt.Heartbeat, "how often a host renews its lease with the leader")
	fs.StringVar(&f.OIDC.Issuer, "oidc-issuer", "", "OpenID Connect issuer URL users may log in through (novacron login --oidc); https, or http on loopback")
	fs.StringVar(&f.OIDC.ClientID, "oidc-client-id", "", "NovaCron's client ID at the OIDC provider; ID tokens must name it in their audience")
	fs.StringVar(&f.OIDC.UsernameClaim, "oidc-username-claim", "preferred_username", "ID token claim holding the user's name (the user is then oidc:NAME)")
	fs.StringVar(&f.OIDC.GroupsClaim, "oidc-groups-claim", "groups", "ID token claim holding the user's groups, which project members bind to roles (group:NAME)")
	fs.StringVar(&f.TLS.CA, "tls-ca", "", "the cluster's CA certificate (ca.pem from novacron tls ca create)")
	fs.StringVar(&f.TLS.Cert, "tls-cert", "", "this node's certificate (NAME.pem from novacron tls cert create --node NAME)")
	fs.StringVar(&f.TLS.Key, "tls-key", "", "this node's key (NAME-key.pem)")
	fs.StringVar(&f.CAKey, "tls-ca-key", "", "the cluster CA's key (ca-key.pem): lets the cluster enroll hosts with join tokens; give it to the first node (it is then kept in the replicated state)")
	fs.StringVar(&f.JoinToken, "join-token", "", "join token from novacron node join-token create: enrolls this host (certificate and gossip key from the cluster) on its first start")
	fs.BoolVar(&f.Insecure, "insecure", false, "run without TLS: the API, Raft, gossip and node-to-node calls travel in clear and nodes do not authenticate each other (see docs/SECURITY.md)")
	fs.StringVar(&f.Watchdog, "watchdog", "", "watchdog device (e.g. /dev/watchdog from softdog) petted while the host is safe: lease held, bootstrapping, or fence finished")
	fs.DurationVar(&f.StopTimeout, "stop-timeout", def.Host.StopTimeout, "how long a guest gets to power off after a stop before it is destroyed")
	fs.StringVar(&f.SMTPAddr, "smtp-addr", "", "SMTP server (host:port) that alert mail goes through (alert targets of kind email)")
	fs.StringVar(&f.SMTPFrom, "smtp-from", "", "sender address of alert mail")
	fs.DurationVar(&f.MetricsEvery, "metrics-interval", sampler.DefaultInterval, "how often this host samples itself and its VMs into its metrics history (GET /api/v1/vms/{id}/metrics); 1s to 5m")
	fs.DurationVar(&f.EventHistory, "event-history", eventlog.DefaultKeep, "how long this node keeps the event stream's changes for clients that resume (GET /api/v1/events?after=N); at most 24h")
	fs.StringVar(&f.BootstrapToken, "bootstrap-token", "", "root API token of a new cluster")
	fs.StringVar(&f.BootstrapFile, "bootstrap-token-file", "", "file holding the root API token of a new cluster")
	fs.StringVar(&f.GossipKey, "gossip-key", "", "base64 key (16, 24 or 32 bytes) that encrypts gossip")
	f.registerSecretFiles(fs)
	fs.StringVar(&f.LogLevel, "log-level", defaultLogLevel, "debug, info, warn or error")
	fs.IntVar(&f.SimVCPUs, "sim-vcpus", sd.VCPUs, "vCPUs of the simulated host (sim hypervisor)")
	fs.Int64Var(&f.SimMemoryMiB, "sim-memory-mib", sd.MemoryMiB, "memory of the simulated host in MiB (sim hypervisor)")
	fs.Int64Var(&f.SimDiskGiB, "sim-disk-gib", sd.DiskGiB, "disk of the simulated host in GiB (sim hypervisor)")
}

// envName is the environment variable of a flag.
func envName(flag string) string {
	return "NOVACRON_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// fillFromEnvAndFile sets every flag not given on the command line from the
// environment, then from the config file.
func fillFromEnvAndFile(fs *pflag.FlagSet, f *agentFlags) error {
	f.noteCommandLineSecrets(fs)
	var errs []error
	fs.VisitAll(func(fl *pflag.Flag) {
		if fl.Changed {
			return
		}
		if v, ok := os.LookupEnv(envName(fl.Name)); ok {
			if err := setFlag(fs, fl.Name, strings.Split(v, ",")); err != nil {
				errs = append(errs, fmt.Errorf("environment %s: %w", envName(fl.Name), err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if f.Config == "" {
		return nil
	}
	b, err := os.ReadFile(f.Config)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	f.warnIfOthersCanRead("config file", f.Config)
	var values map[string]any
	if err := json.Unmarshal(b, &values); err != nil {
		return fmt.Errorf("config file %s is not a JSON object: %w", f.Config, err)
	}
	for key, v := range values {
		fl := fs.Lookup(key)
		if fl == nil || key == "config" {
			return fmt.Errorf("config file %s: unknown key %q (keys are the agent's flag names, e.g. \"data-dir\")", f.Config, key)
		}
		if fl.Changed {
			continue
		}
		var list []string
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				list = append(list, fmt.Sprint(e))
			}
		default:
			list = []string{fmt.Sprint(v)}
		}
		if err := setFlag(fs, key, list); err != nil {
			return fmt.Errorf("config file %s, key %q: %w", f.Config, key, err)
		}
	}
	return nil
}

func setFlag(fs *pflag.FlagSet, name string, values []string) error {
	fl := fs.Lookup(name)
	if fl.Value.Type() != "stringArray" {
		values = []string{strings.Join(values, ",")}
	}
	for _, v := range values {
		if err := fs.Set(name, strings.TrimSpace(v)); err != nil {
			return err
		}
	}
	fl.Changed = true
	return nil
}

// validate applies dev-mode defaults and checks the flags: first what only
// the command line knows, then, once that holds, what the parts judge of the
// configuration the flags convert to (see checkParts).
func (f *agentFlags) validate() error {
	var errs []error
	if err := f.TLS.Check(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, f.checkTransportSecurity()...)
	if f.Dev {
		if f.Bind == "" {
			f.Bind = "127.0.0.1"
		}
		if f.BootstrapExpect == 0 {
			f.BootstrapExpect = 1
		}
		if f.Voters == node.DefaultConfig().Cluster.Voters {
			f.Voters = 1
		}
		if f.Hypervisor == "" {
			f.Hypervisor = hypervisorSim
		}
		if f.Name == "" {
			f.Name = devNodeName
		}
	}
	if f.Name == "" {
		host, err := os.Hostname()
		if err != nil {
			errs = append(errs, errors.New("--name is required (the host name is unknown)"))
		}
		f.Name = host
	}
	if !f.Dev && f.DataDir == "" {
		errs = append(errs, errors.New("--data-dir is required (or run with --dev)"))
	}
	if f.Bind == "" {
		errs = append(errs, errors.New("--bind is required: the IP this node listens on"))
	}
	for name, p := range map[string]int{"--gossip-port": f.GossipPort, "--raft-port": f.RaftPort, "--http-port": f.HTTPPort} {
		if p < 0 || p > 65535 {
			errs = append(errs, fmt.Errorf("%s %d is not a port", name, p))
		}
	}
	for _, j := range f.Join {
		if _, _, err := net.SplitHostPort(j); err != nil {
			errs = append(errs, fmt.Errorf("--join %q must be HOST:GOSSIPPORT", j))
		}
	}
	// The cluster takes 1, 3 or 5 voters (checkParts); one voter, which no
	// failure can survive, only for a dev cluster.
	if f.Voters == 1 && !f.Dev {
		errs = append(errs, errors.New("--voters 1 is for a single-node dev cluster (--dev); use 3 or 5"))
	}
	if _, err := f.labels(); err != nil {
		errs = append(errs, err)
	}
	if f.Hypervisor == "" {
		if err := f.chooseHypervisor(); err != nil {
			errs = append(errs, err)
		}
	}
	if f.Hypervisor != "" && f.Hypervisor != hypervisorSim && f.Hypervisor != hypervisorVirt {
		errs = append(errs, fmt.Errorf("--hypervisor must be sim or libvirt, got %q", f.Hypervisor))
	}
	if f.VirtType != libvirt.VirtKVM && f.VirtType != libvirt.VirtQEMU && f.VirtType != libvirt.VirtAuto {
		errs = append(errs, fmt.Errorf("--virt-type must be kvm, qemu or auto, got %q", f.VirtType))
	}
	if f.MemoryMiB < 0 {
		errs = append(errs, fmt.Errorf("--memory-mib must not be negative, got %d", f.MemoryMiB))
	}
	if f.CPUOvercommit != 0 && (f.CPUOvercommit < 1 || f.CPUOvercommit > 64) {
		errs = append(errs, fmt.Errorf("--cpu-overcommit must be between 1 and 64, got %v", f.CPUOvercommit))
	}
	// The fleet refuses a negative size (checkParts); the upper bound is the
	// command line's guard against a typo that would eat the host's memory.
	if f.SimFleet > 100000 {
		errs = append(errs, fmt.Errorf("--sim-fleet must be between 0 and 100000, got %d", f.SimFleet))
	}
	if len(f.ImageDirs) == 0 {
		errs = append(errs, errors.New("--image-dir: give at least one folder"))
	}
	if f.OIDC.Issuer != "" || f.OIDC.ClientID != "" {
		if err := f.OIDC.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, d := range f.ImageDirs {
		if !filepath.IsAbs(d) || filepath.Clean(d) == "/" {
			errs = append(errs, fmt.Errorf("--image-dir %q must be an absolute folder other than /", d))
		}
	}
	if f.MigrateURI != "" && !strings.Contains(f.MigrateURI, "://") {
		errs = append(errs, fmt.Errorf("--migrate-uri %q must be a URI such as tcp://10.0.0.2", f.MigrateURI))
	}
	if f.VCPUs < 0 {
		errs = append(errs, fmt.Errorf("--vcpus must not be negative, got %d", f.VCPUs))
	}
	// host.Config.Validate does not check it (yet), so the command line does.
	if f.MetricsEvery < time.Second || f.MetricsEvery > 5*time.Minute {
		errs = append(errs, fmt.Errorf("--metrics-interval must be from 1s to 5m, got %s", f.MetricsEvery))
	}
	if f.EventHistory <= 0 || f.EventHistory > 24*time.Hour {
		errs = append(errs, fmt.Errorf("--event-history must be from 1s to 24h, got %s", f.EventHistory))
	}
	if f.StopTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--stop-timeout must be positive, got %s", f.StopTimeout))
	}
	if f.LibvirtURI == "" {
		errs = append(errs, errors.New("--libvirt-uri must not be empty"))
	}
	if err := f.checkOwnPeerURIs(); err != nil {
		errs = append(errs, err)
	}
	if f.Name != "" {
		// Node names reach every node's state and every operator's terminal.
		if err := fsm.ValidateName("--name", f.Name); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, f.checkSecrets()...)
	if f.BootstrapToken != "" && len(f.BootstrapToken) < 16 {
		errs = append(errs, errors.New("the bootstrap token must be at least 16 characters"))
	}
	if _, err := f.gossipKey(); err != nil {
		errs = append(errs, err)
	}
	if f.SimVCPUs <= 0 || f.SimMemoryMiB <= 0 || f.SimDiskGiB <= 0 {
		errs = append(errs, errors.New("--sim-vcpus, --sim-memory-mib and --sim-disk-gib must be positive"))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return f.checkParts()
}

// checkParts asks every part to validate the configuration the flags convert
// to (node.Config.Validate), before anything starts. The node's ID comes
// from its data dir, which is opened later: a stand-in takes its place.
func (f *agentFlags) checkParts() error {
	var out []error
	seen := map[string]bool{}
	// The lease's rule, which several parts check alike, is reported once and
	// with the flags it is about.
	if err := f.leaseTiming().Validate(); err != nil {
		seen[err.Error()] = true
		out = append(out, fmt.Errorf("--fence-timeout %v, --heartbeat-interval %v: %w", f.FenceTimeout, f.Heartbeat, err))
	}
	apiAddr := net.JoinHostPort(f.Bind, strconv.Itoa(f.HTTPPort))
	cfg := f.nodeConfig("id-from-data-dir", apiAddr, nil)
	for _, e := range unjoin(cfg.Validate()) {
		if !seen[e.Error()] {
			seen[e.Error()] = true
			out = append(out, e)
		}
	}
	return errors.Join(out...)
}

// unjoin flattens errors.Join's tree into its leaves; nil has none.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, unjoin(e)...)
	}
	return out
}

// leaseTiming is the fencing lease the flags ask for.
func (f *agentFlags) leaseTiming() lease.Timing {
	return lease.Timing{Heartbeat: f.Heartbeat, Timeout: f.FenceTimeout, Grace: lease.GraceFor(f.FenceTimeout)}
}

// nodeConfig converts the flags into the node's configuration, from
// node.DefaultConfig(): nodeID comes from the data dir, apiAddr is where the
// API listens as other nodes reach it; a nil logger is slog's default. The
// host's capacity is filled in by node.Start from the driver.
func (f *agentFlags) nodeConfig(nodeID, apiAddr string, logger *slog.Logger) node.Config {
	key, _ := f.gossipKey()
	cfg := node.DefaultConfig()
	cc := &cfg.Cluster
	cc.NodeID, cc.NodeName = nodeID, f.Name
	cc.BindAddr, cc.AdvertiseAddr = f.Bind, f.Advertise
	cc.GossipPort, cc.RaftPort, cc.APIAddr = f.GossipPort, f.RaftPort, apiAddr
	cc.Join, cc.BootstrapExpect, cc.Voters = f.Join, f.BootstrapExpect, f.Voters
	cc.BootstrapToken, cc.GossipKey, cc.Version = f.BootstrapToken, key, version.Version
	cc.Node.CPUOvercommit, cc.Node.MigrateURI = f.CPUOvercommit, f.MigrateURI
	cc.Node.Labels, _ = f.labels()
	cc.Node.URI, cc.PeerURIs = f.peerURIs()
	cc.LocalGossip = f.Dev || isLoopback(f.Bind)
	if logger != nil {
		cc.Logger = logger
	}
	cfg.SetLease(f.leaseTiming())
	cfg.VCPUs, cfg.MemoryMiB = f.VCPUs, f.MemoryMiB
	cfg.Host.StopTimeout, cfg.Host.Watchdog = f.StopTimeout, f.Watchdog
	cc.Events.Keep = f.EventHistory
	cfg.MetricsInterval = f.MetricsEvery
	cfg.PostgresDSN = f.PostgresDSN
	cfg.AlertMail = alerting.Mail{Addr: f.SMTPAddr, From: f.SMTPFrom}
	if files := f.bootFiles(); files != nil {
		cfg.Host.BootFiles = files
	}
	cfg.Fleet.Size = f.SimFleet
	cfg.Fleet.Driver = func(name string) hypervisor.Driver {
		return sim.New(sim.Config{Name: name, VCPUs: f.SimVCPUs, MemoryMiB: f.SimMemoryMiB, DiskGiB: f.SimDiskGiB, Networks: []string{"default"}})
	}
	return cfg
}

// peerURIs returns the libvirt URI this node publishes for other hosts to
// migrate to it, and the policy by which it judges the URIs others publish
// (package peeruri). --libvirt-uri is how this agent reaches its own
// libvirtd, often qemu:///system, which names whichever host opens it, so
// other hosts are told --libvirt-peer-uri instead, by default
// qemu+tls://ADVERTISE/system. The sim hypervisor publishes its own URI ("").
func (f *agentFlags) peerURIs() (string, peeruri.Policy) {
	policy := peeruri.Policy{LibvirtSchemes: f.LibvirtPeerSchemes}
	if f.Hypervisor != hypervisorVirt {
		return "", policy
	}
	if f.LibvirtPeerURI != "" {
		return f.LibvirtPeerURI, policy
	}
	host := f.advertised()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return "qemu+tls://" + host + "/system", policy
}

// advertised is the IP other nodes reach this one at.
func (f *agentFlags) advertised() string {
	if f.Advertise != "" {
		return f.Advertise
	}
	return f.Bind
}

// checkOwnPeerURIs refuses URIs that this node's own policy would refuse
// from a peer: every node judges the others' by the same rules, so they would
// refuse this node as a migration target.
func (f *agentFlags) checkOwnPeerURIs() error {
	uri, policy := f.peerURIs()
	if f.Hypervisor != hypervisorVirt || f.advertised() == "" || policy.Validate() != nil {
		return nil // the policy's own errors come from the host part (checkParts)
	}
	self := fsm.Node{Name: f.Name, APIAddr: net.JoinHostPort(f.advertised(), strconv.Itoa(f.HTTPPort)),
		Hypervisor: fsm.HypervisorInfo{Driver: hypervisorVirt, URI: uri, MigrateURI: f.MigrateURI}}
	if err := policy.Check(self); err != nil {
		return fmt.Errorf("--libvirt-peer-uri, --migrate-uri: other hosts would refuse to migrate here (--libvirt-peer-schemes %s): %w",
			strings.Join(policy.Schemes(), ","), err)
	}
	return nil
}

// bootFiles confines VMs' boot files to --image-dir on hosts that open them
// (libvirt); nil for the sim hypervisor, which opens no file.
func (f *agentFlags) bootFiles() *hostpath.Confiner {
	if f.Hypervisor != hypervisorVirt {
		return nil
	}
	return hostpath.New(f.ImageDirs)
}

// gossipKey decodes --gossip-key; nil when none is given. Its length is the
// cluster's rule (cluster.Config.Validate).
func (f *agentFlags) gossipKey() ([]byte, error) {
	if f.GossipKey == "" {
		return nil, nil
	}
	key, err := base64.StdEncoding.DecodeString(f.GossipKey)
	if err != nil {
		return nil, fmt.Errorf("--gossip-key is not base64: %w", err)
	}
	return key, nil
}

// probeLibvirt connects to the libvirt at uri and hangs up: whether an agent
// given no --hypervisor can run real VMs. A variable so that tests choose.
var probeLibvirt = func(uri string) error {
	d, err := libvirt.New(libvirt.Config{URI: uri})
	if err != nil {
		return err
	}
	return d.Close()
}

// chooseHypervisor picks the driver of an agent started without --hypervisor
// (outside --dev): libvirt when its libvirtd answers, else none, so that an
// agent on a KVM host never runs simulated VMs that look real, and an agent
// elsewhere says what to choose instead of pretending.
func (f *agentFlags) chooseHypervisor() error {
	if err := probeLibvirt(f.LibvirtURI); err != nil {
		return fmt.Errorf("no --hypervisor given, and libvirt at %s does not answer (%v): on a KVM host start libvirtd and pass --hypervisor libvirt; "+
			"--hypervisor sim runs a simulated host whose VMs run nowhere (demos and tests)", f.LibvirtURI, err)
	}
	f.Hypervisor = hypervisorVirt
	f.warnings = append(f.warnings, fmt.Sprintf("no --hypervisor given: libvirt at %s answers, so this host runs real VMs through it (pass --hypervisor libvirt to say so)", f.LibvirtURI))
	return nil
}

// labels parses --label KEY=VALUE into a map, checked as the cluster checks
// every label.
func (f *agentFlags) labels() (map[string]string, error) {
	if len(f.Labels) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(f.Labels))
	for _, l := range f.Labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return nil, fmt.Errorf("--label %q must be KEY=VALUE", l)
		}
		if old, dup := out[k]; dup && old != v {
			return nil, fmt.Errorf("--label %s is given twice, as %q and %q", k, old, v)
		}
		out[k] = v
	}
	if err := fsm.ValidateLabels("--label", out); err != nil {
		return nil, err
	}
	if err := fsm.ValidateLabelsText("--label", out); err != nil {
		return nil, err
	}
	// Gossip carries them in the node's metadata, 512 bytes in all.
	if b, _ := json.Marshal(out); len(b) > maxLabelBytes {
		return nil, fmt.Errorf("--label: the labels take %d bytes as JSON, at most %d fit in the node's gossip metadata; set long ones with novacron node label set", len(b), maxLabelBytes)
	}
	return out, nil
}

// maxLabelBytes bounds the JSON of a host's --label flags, which travel in
// its gossip metadata beside its addresses and capacity.
const maxLabelBytes = 256
