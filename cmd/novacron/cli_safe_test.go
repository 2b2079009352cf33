package main

import (
	"strings"
	"testing"

	"github.com/novacron/novacron/api/client"
)

func TestSafe_EscapesControlRunesOnly(t *testing.T) {
	for in, want := range map[string]string{
		"plain":            "plain",
		`a"b\c`:            `a"b\c`,
		"café ☕":           "café ☕",
		"a\x1b[31mb":       `a\x1b[31mb`,
		"line\nbreak\tx":   `line\nbreak\tx`,
		"del\x7f":          `del\x7f`,
		"c1\u009b2J":       `c1\u009b2J`,
		"rlo\u202eevil":    `rlo\u202eevil`,
		"bad\x9butf8":      `bad\x9butf8`,
		"iso\u2066x\u2069": `iso\u2066x\u2069`,
	} {
		if got := safe(in); got != want {
			t.Errorf("safe(%q) = %q, want %q", in, got, want)
		}
	}
	if got := safeLines("one\x1b\ntwo"); got != "one\\x1b\ntwo" {
		t.Errorf("safeLines = %q", got)
	}
}

// Data the server holds from before the API refused control characters (or
// that a misbehaving server sends) must not reach the terminal raw.
func TestVMShow_EscapesControlCharacters(t *testing.T) {
	f := newFakeAPI(t)
	seedVMs(f)
	f.vms[0].Labels["note"] = "\x1b[2J\x1b]0;pwned\x07"
	f.vms[0].Error = "boom\x1b[31m"
	f.vms[0].PlacementReason = "fits\u202eevil"
	code, stdout, stderr := runCLI(t, f.env(), "vm", "show", "web")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	if strings.ContainsAny(stdout, "\x1b\x07\u202e") {
		t.Fatalf("vm show printed raw control characters: %q", stdout)
	}
	for _, want := range []string{`  note=\x1b[2J\x1b]0;pwned\a` + "\n", `Error:          boom\x1b[31m` + "\n", `Placement:      fits\u202eevil` + "\n", "  tier=web\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("vm show lacks %q:\n%s", want, stdout)
		}
	}
}

func TestCLI_TablesAndMessagesEscapeControlCharacters(t *testing.T) {
	f := newFakeAPI(t)
	seedVMs(f)
	f.vms[1].Name = "db\x1b[8m"
	_, stdout, _ := runCLI(t, f.env(), "vm", "list")
	if strings.Contains(stdout, "\x1b") || !strings.Contains(stdout, `db\x1b[8m`) {
		t.Errorf("vm list: %q", stdout)
	}
	_, stdout, _ = runCLI(t, f.env(), "vm", "delete", "vm-1", "--force")
	if stdout != "Deleted VM db\\x1b[8m (vm-1).\n" {
		t.Errorf("vm delete: %q", stdout)
	}
	f.tokens = []client.Token{{ID: "tok-9", Name: "ci\r\x1b[Aroot", Role: "reader"}}
	_, stdout, _ = runCLI(t, f.env(), "token", "list")
	if strings.ContainsAny(stdout, "\r\x1b") || !strings.Contains(stdout, `ci\r\x1b[Aroot`) {
		t.Errorf("token list: %q", stdout)
	}
	// An error message from the server is escaped too.
	_, _, stderr := runCLI(t, f.env(), "vm", "show", "ghost\x1b[1m")
	if strings.Contains(stderr, "\x1b") || !strings.HasPrefix(stderr, "Error: vm \"ghost\\x1b[1m\" not found") {
		t.Errorf("error: %q", stderr)
	}
}
