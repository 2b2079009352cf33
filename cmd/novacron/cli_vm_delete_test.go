package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// runCLIAsked runs the CLI as on a terminal whose user types answer.
func runCLIAsked(t *testing.T, env map[string]string, answer string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	a := newApp(testEnv(t, env), &out, &errb)
	a.pollInterval = 5 * time.Millisecond
	a.interactive = true
	a.stdin = strings.NewReader(answer)
	code := execute(context.Background(), a, args)
	return code, out.String(), errb.String()
}

// Deleting a running VM needs --force in a script and a yes on a terminal;
// a VM that runs nowhere is deleted at once.
func TestVMDelete_RunningVMNeedsConfirmation(t *testing.T) {
	f := newFakeAPI(t)
	seedVMs(f) // web runs, db is pending
	code, _, stderr := runCLI(t, f.env(), "vm", "delete", "web")
	if code != exitError || !strings.Contains(stderr, "vm web is running: pass --force") {
		t.Fatalf("script without --force: code %d, stderr %q", code, stderr)
	}
	code, stdout, _ := runCLIAsked(t, f.env(), "n\n", "vm", "delete", "web")
	if code != exitError || !strings.Contains(stdout, "VM web is running on node-a (n-a). Delete it? [y/N]") {
		t.Fatalf("terminal, answered no: code %d, stdout %q", code, stdout)
	}
	if _, err := f.findVM("web"); err != nil {
		t.Fatal("a declined delete deleted the VM")
	}
	if code, stdout, _ = runCLIAsked(t, f.env(), "y\n", "vm", "delete", "web"); code != exitOK || !strings.Contains(stdout, "Deleted VM web") {
		t.Fatalf("terminal, answered yes: code %d, stdout %q", code, stdout)
	}
	if code, _, stderr = runCLI(t, f.env(), "vm", "delete", "db"); code != exitOK {
		t.Fatalf("a pending VM: code %d, stderr %q", code, stderr)
	}
	seedVMs(f)
	if code, _, stderr = runCLI(t, f.env(), "vm", "delete", "web", "--force"); code != exitOK {
		t.Fatalf("--force: code %d, stderr %q", code, stderr)
	}
}
