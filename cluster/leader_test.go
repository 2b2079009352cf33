package cluster

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/novacron/novacron/internal/ids"
	"github.com/novacron/novacron/internal/testutil"
	"github.com/novacron/novacron/storage"
)

// startCore starts n bare consensus cores (no leader work, no host) that
// bootstrap one cluster; configure may adjust each config before New, change
// each agent before Start.
func startCore(t *testing.T, n int, configure func(i int, cfg *Config), change func(a *Agent)) []*Agent {
	t.Helper()
	var agents []*Agent
	var join string
	for i := range n {
		cfg := coreConfig(t, fmt.Sprintf("core-%d", i+1), join)
		cfg.BootstrapExpect, cfg.Voters = n, n
		join = fmt.Sprintf("127.0.0.1:%d", cfg.GossipPort)
		if configure != nil {
			configure(i, &cfg)
		}
		agents = append(agents, startOneCore(t, cfg, change))
	}
	return agents
}

// coreConfig is a test core's config: free ports, joining join if set.
func coreConfig(t *testing.T, name, join string) Config {
	cfg := TestConfig()
	cfg.NodeID, cfg.NodeName = ids.New(), name
	ports := testutil.FreePorts(t, 2)
	cfg.GossipPort, cfg.RaftPort = ports[0], ports[1]
	cfg.Logger = testutil.Logger(t).With("test_node", cfg.NodeName)
	if join != "" {
		cfg.Join = []string{join}
	}
	return cfg
}

// startOneCore starts one core with cfg, serving its internal API (over TLS
// with the node certificate when cfg.TLS is set, as the agent does).
func startOneCore(t *testing.T, cfg Config, change func(a *Agent)) *Agent {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.APIAddr = ln.Addr().String()
	if cfg.TLS != nil {
		ln = tls.NewListener(ln, &tls.Config{Certificates: cfg.TLS.Certificates, ClientCAs: cfg.TLS.RootCAs,
			ClientAuth: tls.VerifyClientCertIfGiven, MinVersion: tls.VersionTLS12})
	}
	stores, err := storage.OpenRaftStores(t.TempDir(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, Stores{Log: stores.Log, Stable: stores.Stable, Snapshots: stores.Snapshots})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: a.InternalHandler()}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		a.Shutdown()
		stores.Close()
	})
	if change != nil {
		change(a)
	}
	a.Start(nil)
	return a
}

// A leader that cannot establish its leadership hands it over after a few
// tries, and another node leads and initialises the cluster.
func TestLeader_EstablishKeepsFailing_HandsLeadershipOver(t *testing.T) {
	var mu sync.Mutex
	var broken *Agent // the first node that tries to establish leadership
	agents := startCore(t, 3, nil, func(a *Agent) {
		a.failBarrier = func() error {
			mu.Lock()
			defer mu.Unlock()
			if broken == nil {
				broken = a
			}
			if broken == a {
				return fmt.Errorf("test: %s cannot establish leadership", a.Name())
			}
			return nil
		}
	})
	testutil.WaitFor(t, 30*time.Second, "another node leads and initialises the cluster", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range agents {
			if a != broken && a.IsLeader() && a.readyTerm.Load() == a.raft.CurrentTerm() && a.FSM().Cluster().ID != "" {
				return true
			}
		}
		return false
	})
	mu.Lock()
	defer mu.Unlock()
	if broken == nil {
		t.Fatal("no node tried to establish leadership")
	}
}
