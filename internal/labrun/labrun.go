// Package labrun drives deploy/lab/lab.sh for the Go tests that need a lab of
// real libvirt hosts (labtest, hypervisor/libvirt): the environment it runs
// with, its commands, its env lines, a watchdog that takes the lab down when
// the test process dies without doing so, and copies of the logs of a failed
// run. Each lab lives in a folder of its own.
package labrun

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Lab is one lab.sh lab.
type Lab struct {
	// Root is the module root (lab.sh runs there), Dir the lab's folder
	// (NOVACRON_LAB_DIR), Bin the agent binary (NOVACRON_BIN; "" for
	// lab.sh's own choice).
	Root, Dir, Bin string
	// Lock, when set, is the machine-wide lab lock (MachineLock): the
	// watchdog inherits it, so the lab stays locked until it is down.
	Lock     *Lock
	watchdog *exec.Cmd
}

// LabSh is the path of lab.sh.
func (l *Lab) LabSh() string { return filepath.Join(l.Root, "deploy", "lab", "lab.sh") }

// Env is the environment lab.sh runs with: no NOVACRON_ variable from the
// caller's shell except the image cache, plus this lab's folder and binary,
// and the sbin folders where libvirtd lives.
func (l *Lab) Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NOVACRON_") || strings.HasPrefix(kv, "NOVACRON_LAB_CACHE=") {
			env = append(env, kv)
		}
	}
	env = append(env, "NOVACRON_LAB_DIR="+l.Dir, "PATH="+os.Getenv("PATH")+":/usr/sbin:/sbin")
	if l.Bin != "" {
		env = append(env, "NOVACRON_BIN="+l.Bin)
	}
	return env
}

// Command runs `lab.sh args...` for at most timeout and returns its stdout and
// stderr.
func (l *Lab) Command(timeout time.Duration, args ...string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, l.LabSh(), args...)
	cmd.Env, cmd.Dir = l.Env(), l.Root
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (after %s)", ctx.Err(), timeout)
	}
	return out.String(), errb.String(), err
}

// watchdogScript waits for the test process ($1) to be gone, keeps the agents'
// logs and runs `lab.sh down` ($2). It covers what a test cannot: a panic in a
// test goroutine or -timeout end the process without running deferred calls.
// The lock file it may inherit stays out of its sleeps: a sleep outliving a
// killed watchdog would hold the lock a second longer.
const watchdogScript = `while kill -0 "$1" 2>/dev/null; do sleep 1 3>&-; done
mkdir -p "$NOVACRON_LAB_DIR/logs"
for f in "$NOVACRON_LAB_DIR"/hosts/host*/agent.log; do
	[ -f "$f" ] && cp "$f" "$NOVACRON_LAB_DIR/logs/$(basename "$(dirname "$f")")-agent.log"
done
echo "lab watchdog: the test process $1 ended without stopping the lab; running lab.sh down"
exec "$2" down`

// StartWatchdog starts the watchdog, in a session of its own (a Ctrl-C to the
// test's process group must not take it), logging to the lab's watchdog.log.
// It holds l.Lock (if set) until it ends.
func (l *Lab) StartWatchdog() error {
	logf, err := os.Create(filepath.Join(l.Dir, "watchdog.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command("bash", "-c", watchdogScript, "lab-watchdog", strconv.Itoa(os.Getpid()), l.LabSh())
	cmd.Env, cmd.Dir = l.Env(), l.Root
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if l.Lock != nil && l.Lock.File() != nil {
		cmd.ExtraFiles = []*os.File{l.Lock.File()} // fd 3
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the lab watchdog: %w", err)
	}
	l.watchdog = cmd
	go cmd.Wait() //nolint:errcheck // reaped when StopWatchdog kills it
	return nil
}

// StopWatchdog ends the watchdog once the lab is down.
func (l *Lab) StopWatchdog() {
	if l.watchdog != nil && l.watchdog.Process != nil {
		_ = l.watchdog.Process.Kill()
	}
}

// envLineRE matches `export NAME='value'`, `export NAME=value` and `NAME=value`.
var envLineRE = regexp.MustCompile(`^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)

// ParseEnv reads the env lines `lab.sh up` prints on stdout.
func ParseEnv(out string) (map[string]string, error) {
	env := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := envLineRE.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("not an env line: %q", line)
		}
		v := m[2]
		if len(v) >= 2 && (v[0] == '\'' && v[len(v)-1] == '\'' || v[0] == '"' && v[len(v)-1] == '"') {
			v = v[1 : len(v)-1]
		}
		env[m[1]] = v
	}
	return env, nil
}

// KeepLogs copies every host's agent, libvirtd, start and QEMU logs to a new
// folder (named after prefix) that `lab.sh down` does not remove, and returns it.
func (l *Lab) KeepLogs(prefix string) (string, error) {
	kept, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", err
	}
	hosts, _ := filepath.Glob(filepath.Join(l.Dir, "hosts", "host*"))
	for _, hd := range hosts {
		files, _ := filepath.Glob(filepath.Join(hd, "log", "qemu", "*.log"))
		files = append(files, filepath.Join(hd, "agent.log"), filepath.Join(hd, "log", "libvirtd.log"), filepath.Join(hd, "start.log"))
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil {
				_ = os.WriteFile(filepath.Join(kept, filepath.Base(hd)+"-"+filepath.Base(f)), b, 0o600)
			}
		}
	}
	return kept, nil
}
