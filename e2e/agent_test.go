package e2e

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/pki"
	"github.com/novacron/novacron/internal/testutil"
)

// agentConfig is how a test wants one agent started.
type agentConfig struct {
	name string
	// dataDir is the agent's data dir; a fresh temp dir when empty.
	dataDir         string
	bootstrapExpect int
	join            []string
	// token is the root token, passed as NOVACRON_BOOTSTRAP_TOKEN; none when empty.
	token     string
	gossipKey string
	// args, when set, is the whole command line after `agent` (config-file
	// and dev-mode tests); the test puts the allocated ports in it itself.
	args []string
	// env is added to the agent's (NOVACRON_-free) environment.
	env []string
	// extra flags after the ones flags builds (say, --voters 5).
	extra []string
	// tlsDir holds ca.pem and NAME.pem/NAME-key.pem (novacron tls): the
	// agent serves HTTPS with them and the test's clients trust the CA.
	// When empty (and not insecure), newAgent uses the e2e CA's folder.
	tlsDir string
	// insecure runs the agent with --insecure: plain HTTP, no TLS anywhere.
	insecure bool
	// noGossipKey starts a TLS agent without the shared e2e gossip key.
	noGossipKey bool
	// enrolls: the agent gets no --tls-* flags; it enrolls with a join token
	// (in extra) and finds its certificate in its data dir after. Its
	// clients trust the CA in tlsDir.
	enrolls bool
}

// agent is one `novacron agent` OS process, which a test can kill and start
// again with the same flags and data dir.
type agent struct {
	t    *testing.T
	name string
	cfg  agentConfig

	dataDir                        string
	gossipPort, raftPort, httpPort int

	args    []string // fixed at the first start, so a restart is identical
	logPath string   // stderr, appended to across restarts
	outPath string   // stdout, appended to across restarts
	starts  int

	proc    *exec.Cmd
	done    chan struct{}
	waitErr error

	clients map[string]*client.Client
}

// newAgent allocates an agent's ports and data dir; start runs it. On cleanup the
// agent is killed and, when the test failed, the tail of its log is printed.
func newAgent(t *testing.T, cfg agentConfig) *agent {
	t.Helper()
	dir := t.TempDir() // removed after the agent is killed (cleanups run last-in first-out)
	ports := testutil.FreePorts(t, 3)
	a := &agent{
		t: t, name: cfg.name, cfg: cfg, dataDir: cfg.dataDir,
		gossipPort: ports[0], raftPort: ports[1], httpPort: ports[2],
		logPath: filepath.Join(dir, "stderr.log"), outPath: filepath.Join(dir, "stdout.log"),
		clients: map[string]*client.Client{},
	}
	if a.dataDir == "" {
		a.dataDir = filepath.Join(dir, "data")
	}
	if !cfg.insecure && cfg.tlsDir == "" {
		a.cfg.tlsDir = nodeTLSDir(t, cfg.name)
	}
	// With TLS gossip must be encrypted: servers that bootstrap together
	// share a key, as production ones do (a host that enrolls receives it).
	if !cfg.insecure && !cfg.enrolls && !cfg.noGossipKey && cfg.gossipKey == "" {
		a.cfg.gossipKey = sharedGossipKey(t)
	}
	t.Cleanup(func() {
		a.kill()
		if t.Failed() {
			t.Logf("---- tail of agent %s stderr (%s) ----\n%s", a.name, a.logPath, a.logTail(40))
		}
	})
	return a
}

// flags is the agent's command line.
func (a *agent) flags() []string {
	if a.cfg.args != nil {
		return append([]string{"agent"}, a.cfg.args...)
	}
	args := []string{"agent",
		"--gossip-port", strconv.Itoa(a.gossipPort), "--raft-port", strconv.Itoa(a.raftPort),
		"--http-port", strconv.Itoa(a.httpPort)}
	args = append(args, "--name", a.name, "--data-dir", a.dataDir, "--bind", "127.0.0.1")
	if a.cfg.bootstrapExpect > 0 {
		args = append(args, "--bootstrap-expect", strconv.Itoa(a.cfg.bootstrapExpect))
	}
	for _, j := range a.cfg.join {
		args = append(args, "--join", j)
	}
	switch {
	case a.cfg.insecure:
		args = append(args, "--insecure")
	case !a.cfg.enrolls:
		args = append(args, a.tlsFlags()...)
	}
	if !slices.Contains(a.cfg.extra, "--hypervisor") {
		// Never the machine's own libvirt, which an agent given no
		// --hypervisor would use.
		args = append(args, "--hypervisor", "sim")
	}
	return append(args, a.cfg.extra...)
}

// tlsFlags are --tls-ca, --tls-cert and --tls-key for the agent's files.
func (a *agent) tlsFlags() []string {
	d := a.cfg.tlsDir
	return []string{"--tls-ca", filepath.Join(d, pki.CAFile),
		"--tls-cert", filepath.Join(d, a.name+".pem"), "--tls-key", filepath.Join(d, a.name+"-key.pem")}
}

// env is the agent's environment beyond a clean one: the secrets, which an
// agent outside --dev refuses on its command line, then the test's own.
func (a *agent) env() []string {
	var env []string
	if a.cfg.args == nil && a.cfg.token != "" {
		env = append(env, "NOVACRON_BOOTSTRAP_TOKEN="+a.cfg.token)
	}
	if a.cfg.gossipKey != "" {
		env = append(env, "NOVACRON_GOSSIP_KEY="+a.cfg.gossipKey)
	}
	return append(env, a.cfg.env...)
}

// start runs the agent process; after a kill it runs it again with the same
// flags and data dir.
func (a *agent) start() {
	a.t.Helper()
	if a.running() {
		a.t.Fatalf("agent %s is already running", a.name)
	}
	if a.args == nil {
		a.args = a.flags()
	}
	a.starts++
	stderr := a.openLog(a.logPath)
	stdout := a.openLog(a.outPath)
	defer stderr.Close()
	defer stdout.Close()
	fmt.Fprintf(stderr, "==== e2e: start #%d: novacron %s\n", a.starts, strings.Join(a.args, " "))
	cmd := exec.Command(novacronBin, a.args...)
	cmd.Env = testutil.CleanEnv(a.env()...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		a.t.Fatalf("start agent %s: %v", a.name, err)
	}
	a.proc, a.done, a.waitErr = cmd, make(chan struct{}), nil
	go func(done chan struct{}) {
		a.waitErr = cmd.Wait()
		close(done)
	}(a.done)
}

func (a *agent) openLog(path string) *os.File {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		a.t.Fatalf("agent %s log: %v", a.name, err)
	}
	return f
}

// running reports whether the process was started and has not exited.
func (a *agent) running() bool {
	if a.done == nil {
		return false
	}
	select {
	case <-a.done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL (kill -9) and waits for the process to be gone.
func (a *agent) kill() {
	if !a.running() {
		return
	}
	_ = a.proc.Process.Kill()
	<-a.done
}

// signal sends sig and waits up to timeout for the process to exit, returning
// its exit code.
func (a *agent) signal(sig syscall.Signal, timeout time.Duration) int {
	a.t.Helper()
	if err := a.proc.Process.Signal(sig); err != nil {
		a.t.Fatalf("signal agent %s: %v", a.name, err)
	}
	return a.waitExit(timeout)
}

// waitExit waits up to timeout for the process to exit on its own and returns
// its exit code; it fails the test (and kills the process) when it does not.
func (a *agent) waitExit(timeout time.Duration) int {
	a.t.Helper()
	select {
	case <-a.done:
	case <-time.After(timeout):
		a.kill()
		a.t.Fatalf("agent %s did not exit within %s\n%s", a.name, timeout, a.logTail(20))
	}
	var exit *exec.ExitError
	if errors.As(a.waitErr, &exit) {
		return exit.ExitCode()
	}
	if a.waitErr != nil {
		a.t.Fatalf("agent %s: %v", a.name, a.waitErr)
	}
	return 0
}

// addr is the agent's API address as the CLI takes it.
func (a *agent) addr() string {
	if !a.cfg.insecure {
		return "https://127.0.0.1:" + strconv.Itoa(a.httpPort)
	}
	return "http://127.0.0.1:" + strconv.Itoa(a.httpPort)
}

// gossipAddr is what other agents pass to --join.
func (a *agent) gossipAddr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(a.gossipPort)) }

// client returns a Go API client for this agent with token (cached per token).
func (a *agent) client(token string) *client.Client {
	if c, ok := a.clients[token]; ok {
		return c
	}
	opts := []client.Option{client.WithTimeout(15 * time.Second)}
	var tlsCfg *tls.Config
	if !a.cfg.insecure {
		cfg, err := pki.ClientConfig(pki.Files{CA: filepath.Join(a.cfg.tlsDir, pki.CAFile)})
		if err != nil {
			a.t.Fatal(err)
		}
		opts, tlsCfg = append(opts, client.WithTLS(cfg)), cfg
	}
	// Every request and answer is checked against the API described.
	opts = append(opts, client.WithHTTPClient(openAPIChecked(a.t, tlsCfg)))
	c, err := client.New(a.addr(), token, opts...)
	if err != nil {
		a.t.Fatalf("client for %s: %v", a.name, err)
	}
	a.clients[token] = c
	return c
}

// logTail is the last n lines of the agent's stderr.
func (a *agent) logTail(n int) string { return testutil.LogTail(a.logPath, n) }

// stdout is everything the agent wrote to stdout so far.
func (a *agent) stdout() string {
	b, _ := os.ReadFile(a.outPath)
	return string(b)
}

// stderr is everything the agent wrote to stderr so far.
func (a *agent) stderr() string {
	b, _ := os.ReadFile(a.logPath)
	return string(b)
}

// randomToken returns a bootstrap token (at least 16 characters).
func randomToken(t *testing.T) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "e2e-" + hex.EncodeToString(b)
}
