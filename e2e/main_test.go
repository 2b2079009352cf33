package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// novacronBin is the binary TestMain built, "" under -short.
var novacronBin string

// TestMain builds the real binary once for the whole package, with the same
// build tags as `make build`.
func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "novacron-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	bin := filepath.Join(dir, "novacron")
	build := exec.Command("go", "build", "-tags", "libvirt_dlopen", "-o", bin, "./cmd/novacron")
	build.Dir = ".." // the module root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: building the novacron binary failed: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	novacronBin = bin
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireBinary skips the test under -short and otherwise makes sure the binary
// exists.
func requireBinary(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e: starts real agent processes and clusters; skipped with -short")
	}
	if novacronBin == "" {
		t.Fatal("e2e: the novacron binary was not built")
	}
}

// pollInterval is how often waitFor looks at its condition again.
const pollInterval = 100 * time.Millisecond

// waitFor polls cond until it returns nil, failing the test with cond's last
// error once timeout has passed.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(pollInterval)
	}
}

// holdsFor checks that cond stays nil for the whole of d, polling it, and fails
// the test the first time it does not.
func holdsFor(t *testing.T, d time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if err := cond(); err != nil {
			t.Fatalf("%s stopped holding: %v", what, err)
		}
		time.Sleep(pollInterval)
	}
}

var (
	portMu    sync.Mutex
	usedPorts = map[int]bool{}
)

// freePort returns a loopback port that is free for TCP and UDP right now and
// that this package has not handed out before (so two agents started in the
// same test never get the same one).
func freePort(t *testing.T) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		u, uerr := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		l.Close()
		if uerr != nil {
			continue // gossip needs the UDP port too
		}
		u.Close()
		if usedPorts[p] {
			continue
		}
		usedPorts[p] = true
		return p
	}
	t.Fatal("free port: no port free for both TCP and UDP after 100 tries")
	return 0
}

// cleanEnv is the test process's environment without any NOVACRON_ variable,
// so that nothing from the developer's shell reaches the CLI or the agents.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NOVACRON_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// cliResult is one run of the CLI binary.
type cliResult struct {
	args           []string
	code           int
	stdout, stderr string
}

func (r cliResult) String() string {
	return fmt.Sprintf("novacron %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// cliTimeout bounds one CLI run; a write during an election may take a while.
const cliTimeout = 30 * time.Second

// runCLI runs `novacron args...` against addr (http://host:port) with token,
// given through NOVACRON_ADDR and NOVACRON_TOKEN as a user's shell would.
func runCLI(t *testing.T, addr, token string, args ...string) cliResult {
	t.Helper()
	return runBinary(t, cleanEnv("NOVACRON_ADDR="+addr, "NOVACRON_TOKEN="+token), args...)
}

// runBinary runs `novacron args...` with env until it exits (at most cliTimeout).
func runBinary(t *testing.T, env []string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, novacronBin, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := cliResult{args: args, stdout: out.String(), stderr: errb.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.code = exit.ExitCode()
	default:
		t.Fatalf("running novacron %s: %v", strings.Join(args, " "), err)
	}
	return res
}

// cliJSON runs the CLI with -o json, requires exit 0 and decodes stdout into out.
func cliJSON(t *testing.T, addr, token string, out any, args ...string) error {
	t.Helper()
	res := runCLI(t, addr, token, append([]string{"-o", "json"}, args...)...)
	if res.code != 0 {
		return errors.New(res.String())
	}
	if err := json.Unmarshal([]byte(res.stdout), out); err != nil {
		return fmt.Errorf("stdout of %v is not the expected JSON: %v\n%s", args, err, res.stdout)
	}
	return nil
}
