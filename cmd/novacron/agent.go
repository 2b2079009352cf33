package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api"
	"github.com/novacron/novacron/cluster"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/host"
	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/hypervisor/libvirt"
	"github.com/novacron/novacron/hypervisor/sim"
	"github.com/novacron/novacron/internal/hostpath"
	"github.com/novacron/novacron/internal/ids"
	"github.com/novacron/novacron/internal/logadapt"
	"github.com/novacron/novacron/internal/oidcauth"
	"github.com/novacron/novacron/internal/pki"
	"github.com/novacron/novacron/node"
	"github.com/novacron/novacron/storage"
	"github.com/novacron/novacron/ui"
)

// newAgentCommand is `novacron agent`: the composition root that builds every
// part of a node from its configuration and wires them together.
func newAgentCommand() *cobra.Command {
	var f agentFlags
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a NovaCron node (every KVM host runs one)",
		Long: `Run a NovaCron node. Every host of the cluster runs the same agent; the agents
gossip membership, elect a Raft leader and serve the HTTP API on every node.

Every flag can also be set as NOVACRON_<FLAG> in the environment (dashes as
underscores, lists comma-separated) or in a JSON --config file whose keys are the
flag names. Command line beats environment beats file.

  novacron agent --dev     single-node dev cluster, temporary data dir, sim hypervisor`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := fillFromEnvAndFile(cmd.LocalNonPersistentFlags(), &f); err != nil {
				return &usageError{err: err}
			}
			if err := f.validate(); err != nil {
				return &usageError{err: err}
			}
			return runAgent(cmd.Context(), &f)
		},
	}
	f.register(cmd.Flags())
	cmd.SetUsageFunc(agentUsage)
	return cmd
}

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

func runAgent(ctx context.Context, f *agentFlags) error {
	logger, err := newLogger(f.LogLevel)
	if err != nil {
		return &usageError{err: err}
	}
	for _, w := range f.warnings {
		logger.Warn(w, "component", "config")
	}
	defer startCPUProfile(f.Name, logger)()
	if f.Dev {
		if f.DataDir == "" {
			dir, err := os.MkdirTemp("", "novacron-dev-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			f.DataDir = dir
		}
		if f.BootstrapToken == "" {
			f.BootstrapToken = ids.Secret("nvc_", 24)
		}
	}
	dataDir, err := storage.OpenDataDir(f.DataDir)
	if err != nil {
		return err
	}
	defer dataDir.Close()
	if m := dataDir.Loosened(); m != 0 {
		logger.Warn("the data dir was readable by others; made it private", "component", "storage", "data_dir", f.DataDir, "was", fmt.Sprintf("%#o", m), "now", "0700")
	}
	devCA := ""
	if f.devTLS {
		if devCA, err = f.devCertificates(f.DataDir); err != nil {
			return err
		}
	}
	if f.JoinToken != "" {
		keys, err := f.enrollHost(ctx, logger)
		if err != nil {
			return err
		}
		// The keyring the cluster handed over is this node's first one
		// (setGossipKeyring finds it in the data dir).
		if len(keys) > 0 {
			if err := storage.WriteGossipKeyring(dataDir.GossipKeyringPath(), fsm.Keyring{Primary: keys[0], Keys: keys}); err != nil {
				return err
			}
		}
	}
	caCert, caKey, err := f.clusterCA()
	if err != nil {
		return err
	}

	driver, err := newDriver(f, logger)
	if err != nil {
		return err
	}
	defer driver.Close()

	stores, err := storage.OpenRaftStores(dataDir.RaftDir(), logadapt.Writer{Logger: logger.With("component", "raft")})
	if err != nil {
		return err
	}
	defer stores.Close()

	// Listen before anything else starts, so a taken port fails fast.
	httpAddr := net.JoinHostPort(f.Bind, strconv.Itoa(f.HTTPPort))
	ln, err := net.Listen("tcp", httpAddr)
	if err != nil {
		return fmt.Errorf("HTTP API cannot listen on %s: %w", httpAddr, err)
	}
	// The connection limit wraps the plain listener, under TLS if any: a
	// handler sees its request's TLS state (r.TLS) only on a *tls.Conn.
	apiCfg := api.DefaultConfig()
	ln = apiCfg.Listener(ln)
	advertise := f.Advertise
	if advertise == "" {
		advertise = f.Bind
	}
	apiAddr := net.JoinHostPort(advertise, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	scheme := "http"

	cfg := f.nodeConfig(dataDir.NodeID(), apiAddr, logger)
	cfg.Cluster.CACertPEM, cfg.Cluster.CAKeyPEM = caCert, caKey
	if err := f.setGossipKeyring(&cfg.Cluster, dataDir.GossipKeyringPath(), logger); err != nil {
		ln.Close()
		return err
	}
	if f.TLS.Set() {
		// HTTPS for the API; mutual TLS between nodes (forwarding, heartbeats,
		// load reports, dry runs).
		srvTLS, err := pki.ServerConfig(f.TLS)
		if err == nil {
			cfg.Cluster.TLS, err = pki.ClientConfig(f.TLS)
		}
		if err != nil {
			ln.Close()
			return err
		}
		ln, scheme = tls.NewListener(ln, srvTLS), "https"
	}
	if f.Hypervisor == "libvirt" {
		// The fencing guard fences this host's HA guests even while the
		// agent hangs (QEMU runs on without it).
		exe, err := os.Executable()
		if err != nil {
			ln.Close()
			return fmt.Errorf("finding the novacron binary for the fencing guard: %w", err)
		}
		cfg.Host.Guard = host.GuardConfig{Exe: exe, LeasePath: dataDir.GuardLeasePath(), LibvirtURI: f.LibvirtURI}
	}
	// Images are imported from --image-dir whatever the hypervisor.
	cfg.DataDir, cfg.ImageFiles = f.DataDir, hostpath.New(f.ImageDirs)
	n, err := node.Start(cfg, cluster.Stores{Log: stores.Log, Stable: stores.Stable, Snapshots: stores.Snapshots}, driver)
	if err != nil {
		ln.Close()
		return err
	}
	agent := n.Agent

	apiCfg.NodeName, apiCfg.BootFiles, apiCfg.MetricsToken = f.Name, f.bootFiles(), f.MetricsToken
	if n.Images != nil {
		apiCfg.Images = n.Images
	}
	apiCfg.Consoles, apiCfg.Events, apiCfg.Metrics = n.Consoles, agent.Events(), n.Metrics
	if old := n.OldMetrics(); old != nil {
		apiCfg.OldMetrics = old
	}
	if f.OIDC.Issuer != "" {
		apiCfg.OIDC = oidcauth.New(f.OIDC)
	}
	apiServer := api.New(apiCfg, agent, n.Control, agent.FSM(), logger)
	mux := http.NewServeMux()
	mux.Handle("/internal/", agent.InternalHandler())
	mux.Handle(ui.Prefix, ui.Handler(ui.Options{IdentityProvider: f.OIDC.Issuer}))
	mux.Handle("GET /{$}", http.RedirectHandler(ui.Prefix, http.StatusFound)) // a browser pointed at the node finds the dashboard
	mux.Handle("/", apiServer.Handler())
	// The API's bounds cover the internal routes too: they share the listener.
	srv := apiCfg.HTTPServer(mux)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	logger.Info("novacron agent running", "node", f.Name, "id", cfg.Cluster.NodeID, "api", scheme+"://"+apiAddr, "data_dir", f.DataDir)
	if f.Dev {
		// Print the token only once it works: the root token is created through
		// Raft after the first election.
		if err := waitForToken(ctx, agent.FSM(), f.BootstrapToken, 30*time.Second); err != nil {
			logger.Warn("root token not bootstrapped yet", "error", err)
		}
		printDevBanner(f.Name, f.SimFleet, scheme+"://"+apiAddr, f.BootstrapToken, f.DataDir, devCA)
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	select {
	case sig := <-sigs:
		logger.Info("stopping", "signal", sig.String())
	case err = <-serveErr:
		logger.Error("HTTP server failed", "error", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	if serr := n.Shutdown(); serr != nil && !errors.Is(serr, context.Canceled) {
		logger.Warn("agent shutdown", "error", serr)
	}
	return err
}

func newDriver(f *agentFlags, logger *slog.Logger) (hypervisor.Driver, error) {
	if f.Hypervisor == "libvirt" {
		d, err := libvirt.New(libvirt.Config{URI: f.LibvirtURI, VirtType: f.VirtType, HostName: f.Name, ConsoleLogReadDir: f.ConsoleLogDir, Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("libvirt hypervisor at %s: %w", f.LibvirtURI, err)
		}
		logger.Info("libvirt hypervisor connected", "uri", f.LibvirtURI, "virt_type", d.VirtType())
		return d, nil
	}
	return sim.New(sim.Config{Name: f.Name, VCPUs: f.SimVCPUs, MemoryMiB: f.SimMemoryMiB, DiskGiB: f.SimDiskGiB,
		Networks: []string{"default"}}), nil
}

func isLoopback(ip string) bool {
	p := net.ParseIP(ip)
	return p != nil && p.IsLoopback()
}

// printDevBanner tells the user how to reach the dev agent; caCert is the
// CA its certificate chains to ("" with --insecure). It says that the hosts
// are simulated: their VMs run nowhere.
func printDevBanner(name string, fleet int, apiAddr, token, dataDir, caCert string) {
	caLine := ""
	if caCert != "" {
		caLine = "\n    export NOVACRON_CACERT=" + caCert
	}
	hosts := "1 simulated host"
	if fleet > 0 {
		hosts = fmt.Sprintf("%d simulated hosts (itself and a fleet of %d)", fleet+1, fleet)
	}
	fmt.Printf(`==> NovaCron dev agent %[5]q is running: a single-node cluster of %[6]s
    (sim hypervisor: VMs are simulated and run nowhere)
    API:       %[1]s
    Dashboard: %[1]s/ui/ (sign in with the token)
    Token:     %[2]s
    Data dir:  %[3]s (removed on exit)

    export NOVACRON_ADDR=%[1]s
    export NOVACRON_TOKEN=%[2]s%[4]s
    novacron cluster status
`, apiAddr, token, dataDir, caLine, name, hosts)
}

// waitForToken waits until the token with this secret is in the local state.
func waitForToken(ctx context.Context, st *fsm.FSM, secret string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	events, stop := st.Subscribe(16)
	defer stop()
	hash := fsm.HashSecret(secret)
	for {
		if _, err := st.TokenByHash(hash); err == nil {
			return nil
		}
		select {
		case <-events:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
