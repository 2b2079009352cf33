package testutil

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// CLITimeout bounds one RunCLI: a write during an election may take a while.
const CLITimeout = 30 * time.Second

// CLIResult is one run of the novacron binary.
type CLIResult struct {
	Args   []string
	Code   int // the exit code
	Stdout string
	Stderr string
}

// String shows the whole run, for a failure message.
func (r CLIResult) String() string {
	return fmt.Sprintf("novacron %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(r.Args, " "), r.Code, r.Stdout, r.Stderr)
}

// RunCLI runs `bin args...` with exactly env as its environment until it exits
// and returns what it printed and its exit code. A non-zero exit is the caller's
// to judge (a run killed at CLITimeout exits -1); RunCLI fails tb only when the
// binary could not run at all.
func RunCLI(tb testing.TB, bin string, env []string, args ...string) CLIResult {
	tb.Helper()
	return RunCLIWithStdin(tb, bin, env, "", args...)
}

// RunCLIWithStdin is RunCLI with stdin as the command's standard input (a
// password given with --password-stdin).
func RunCLIWithStdin(tb testing.TB, bin string, env []string, stdin string, args ...string) CLIResult {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), CLITimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := CLIResult{Args: args, Stdout: stdout.String(), Stderr: stderr.String()}
	if ctx.Err() != nil {
		res.Stderr += fmt.Sprintf("\n(testutil: killed after %s)", CLITimeout)
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.Code = exit.ExitCode()
	default:
		tb.Fatalf("running novacron %s: %v", strings.Join(args, " "), err)
	}
	return res
}

// CleanEnv is the test process's environment without any NOVACRON_ variable,
// plus extra: nothing from the developer's shell reaches the CLI or an agent.
func CleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NOVACRON_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}
