package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCLI_MissingTokenFails(t *testing.T) {
	f := newFakeAPI(t)
	code, stdout, stderr := runCLI(t, map[string]string{envAddress: f.srv.URL}, "vm", "list")
	if code != exitError {
		t.Errorf("exit code = %d, want %d", code, exitError)
	}
	if stderr != "Error: no API token: set NOVACRON_TOKEN, pass --token, or log in (novacron login --user NAME)\n" {
		t.Errorf("stderr = %q", stderr)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing", stdout)
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests sent without a token", n)
	}
}

func TestCLI_TokenFlagBeatsEnv(t *testing.T) {
	f := newFakeAPI(t)
	env := map[string]string{envAddress: f.srv.URL, envToken: "wrong"}

	code, _, stderr := runCLI(t, env, "vm", "list")
	if code != exitError || !strings.Contains(stderr, "(HTTP 401 unauthenticated)") {
		t.Fatalf("with the env token: code %d, stderr %q; want a 401 failure", code, stderr)
	}
	code, _, stderr = runCLI(t, env, "vm", "list", "--token", f.token)
	if code != exitOK {
		t.Fatalf("with --token: code %d, stderr %q", code, stderr)
	}
	reqs := f.requests()
	if got := reqs[0].Auth; got != "Bearer wrong" {
		t.Errorf("first request Authorization = %q, want the env token", got)
	}
	if got := reqs[1].Auth; got != "Bearer "+f.token {
		t.Errorf("second request Authorization = %q, want the flag token", got)
	}
}

func TestCLI_AddressFlagBeatsEnvBeatsDefault(t *testing.T) {
	f := newFakeAPI(t)
	dead := httptest.NewServer(nil)
	dead.Close() // nothing listens there any more

	// env alone
	code, _, stderr := runCLI(t, map[string]string{envAddress: f.srv.URL + "/", envToken: f.token}, "node", "list")
	if code != exitOK {
		t.Fatalf("env address: code %d, stderr %q", code, stderr)
	}
	// flag beats env
	env := map[string]string{envAddress: dead.URL, envToken: f.token}
	code, _, stderr = runCLI(t, env, "--address", f.srv.URL, "node", "list")
	if code != exitOK {
		t.Fatalf("--address over a dead env address: code %d, stderr %q", code, stderr)
	}
	// and the env address is really used when no flag is given
	code, _, stderr = runCLI(t, env, "node", "list")
	if code != exitError || !strings.Contains(stderr, strings.TrimPrefix(dead.URL, "http://")) {
		t.Errorf("dead env address: code %d, stderr %q; want a connection error naming it", code, stderr)
	}
	if n := len(f.requests()); n != 2 {
		t.Errorf("fake saw %d requests, want 2", n)
	}

	// default when neither is set: resolved before any request is built
	var out, errb bytes.Buffer
	a := newApp(func(string) string { return "" }, &out, &errb)
	if code := execute(context.Background(), a, []string{"vm", "create", "x", "--label", "bad"}); code != exitUsage {
		t.Fatalf("code = %d, want %d; stderr %q", code, exitUsage, errb.String())
	}
	if a.address != defaultAddress {
		t.Errorf("address = %q, want the default %q", a.address, defaultAddress)
	}
}

func TestCLI_BadAddressFails(t *testing.T) {
	code, _, stderr := runCLI(t, map[string]string{envToken: "t"}, "--address", "ftp://127.0.0.1:8090", "vm", "list")
	if code != exitError || !strings.HasPrefix(stderr, "Error: --address: ") {
		t.Errorf("code %d, stderr %q; want an address error", code, stderr)
	}
}

func TestCLI_UsageErrorsExit2(t *testing.T) {
	cases := [][]string{
		{"frobnicate"},
		{"vm", "frobnicate"},
		{"vm", "list", "--bogus"},
		{"vm", "list", "extra"},
		{"vm", "show"},
		{"vm", "show", "a", "b"},
		{"vm", "start"},
		{"-o", "xml", "vm", "list"},
		{"vm", "create"},
		{"vm", "create", "web", "--vcpus", "many"},
		{"vm", "create", "web", "--label", "novalue"},
		{"vm", "create", "web", "--label", "=v"},
		{"vm", "create", "web", "--label", "a=1", "--label", "a=2"},
		{"vm", "create", "web", "--boot-disk", "/d.img", "--kernel", "/k"},
		{"vm", "create", "web", "--initrd", "/i"},
		{"vm", "create", "web", "--wait", "--timeout", "0s"},
		{"token", "create", "ci", "--ttl", "-1h"},
		{"token", "create", "ci", "--ttl", "soon"},
		{"token", "revoke"},
		{"cluster", "status", "now"},
		{"failover", "bogus"},
		{"cluster", "verify", "--wait", "-1s"},
	}
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			f := newFakeAPI(t)
			code, stdout, stderr := runCLI(t, f.env(), args...)
			if code != exitUsage {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, exitUsage, stderr)
			}
			if !strings.HasPrefix(stderr, "Error: ") || !strings.Contains(stderr, "--help' for usage.") {
				t.Errorf("stderr = %q, want an error and a usage hint", stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if n := len(f.requests()); n != 0 {
				t.Errorf("%d requests sent for a usage error", n)
			}
		})
	}
}

func TestCLI_UnknownCommandSuggests(t *testing.T) {
	_, _, stderr := runCLI(t, nil, "vm", "lst")
	if !strings.Contains(stderr, `unknown command "lst" for "novacron vm" (did you mean "list"?)`) {
		t.Errorf("stderr = %q", stderr)
	}
}

func TestCLI_GroupWithoutSubcommandShowsHelp(t *testing.T) {
	code, stdout, stderr := runCLI(t, nil, "vm")
	if code != exitOK || stderr != "" {
		t.Errorf("code %d, stderr %q", code, stderr)
	}
	for _, want := range []string{"Available Commands:", "create", "restart", "delete"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("help lacks %q:\n%s", want, stdout)
		}
	}
}

func TestCLI_APIErrorExit1(t *testing.T) {
	f := newFakeAPI(t)
	code, stdout, stderr := runCLI(t, f.env(), "vm", "show", "nope")
	if code != exitError {
		t.Errorf("exit code = %d, want %d", code, exitError)
	}
	if want := "Error: vm \"nope\" not found (HTTP 404 not_found)\n"; stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	if stdout != "" {
		t.Errorf("stdout = %q", stdout)
	}
}

func TestCLI_HelpMentionsUnitsAndEnv(t *testing.T) {
	_, stdout, _ := runCLI(t, nil, "vm", "create", "--help")
	for _, want := range []string{"memory: MiB, or with a unit", "disk size: GiB, or with a unit", "--memory 2G", "NOVACRON_ADDR", "NOVACRON_TOKEN"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("vm create --help lacks %q", want)
		}
	}
}

func TestCLI_AgentCommandRegistered(t *testing.T) {
	cmd, _, err := newRootCommand(newApp(func(string) string { return "" }, &bytes.Buffer{}, &bytes.Buffer{})).Find([]string{"agent"})
	if err != nil || cmd.Name() != "agent" {
		t.Errorf("agent command not found: %v", err)
	}
}
