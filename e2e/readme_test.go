package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/novacron/novacron/internal/testutil"
)

// readmeSkips are the README's CLI lines the test cannot run as written, and
// why. Everything else runs, in order, and must succeed.
var readmeSkips = map[string]string{
	"source <(novacron completion bash)":                          "a shell builtin; completion is TestAliasesAndCompletion's",
	"novacron vm create db-2 ... --ha-priority 100":               "an elided example (...)",
	"novacron token revoke <token-id>":                            "a placeholder ID",
	"novacron operator gossip keyring install - --wait < new-key": "needs a key file; the rotation is TestE2E's keyring tests'",
}

// readmeNoTerminal are README lines that ask a password on the terminal,
// which the test has not: it gives the password on standard input instead.
var readmeNoTerminal = map[string]struct{ cmd, stdin string }{
	"novacron user create alice":  {"novacron user create alice --password-stdin", "alices long password\n"},
	"novacron login --user alice": {"novacron login --user alice --password-stdin", "alices long password\n"},
}

// readmeOnSim are README lines the test changes, and why: the test's
// agents run the sim hypervisor, each in its own process.
var readmeOnSim = map[string]string{
	// A sim host migrates live only to a host of its own process; the lab's
	// tests migrate live between real libvirt hosts.
	"novacron vm migrate web-1 --to node-2": "novacron vm migrate web-1 --to node-2 --mode cold",
}

// readmeCommands returns the commands of the README's sh block that follows
// heading: continuation lines joined, comments cut, && chains split.
func readmeCommands(t *testing.T, heading string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	at := strings.Index(text, "\n"+heading+"\n")
	if at < 0 {
		t.Fatalf("README has no %q section", heading)
	}
	block := text[at:]
	start := strings.Index(block, "```sh\n")
	end := strings.Index(block[start+6:], "```")
	if start < 0 || end < 0 {
		t.Fatalf("README's %q section has no sh block", heading)
	}
	var cmds []string
	var cur string
	for _, line := range strings.Split(block[start+6:start+6+end], "\n") {
		if i := strings.Index(line, " #"); i >= 0 {
			line = line[:i]
		}
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		line = strings.TrimSpace(line)
		if strings.HasSuffix(line, "\\") {
			cur += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		line = strings.TrimSpace(cur + line)
		cur = ""
		if line == "" {
			continue
		}
		if _, skip := readmeSkips[line]; skip {
			continue
		}
		for _, part := range strings.Split(line, " && ") {
			cmds = append(cmds, strings.TrimSpace(part))
		}
	}
	return cmds
}

// The README is followed literally by newcomers: every command of its "Using
// the CLI" section runs, as written and in order, against a real 3-node
// cluster named as the README names it, through the real binary.
func TestREADME_UsingTheCLIWorksAsWritten(t *testing.T) {
	cmds := readmeCommands(t, "## Using the CLI")
	if len(cmds) < 30 {
		t.Fatalf("only %d commands found in the README's CLI section: the parser or the README changed", len(cmds))
	}
	c := startCluster(t, 3, func(i int, cfg *agentConfig) { cfg.name = fmt.Sprintf("node-%d", i+1) })
	// The login keeps its session in a folder of the test's, not the
	// runner's home; the commands after it still use NOVACRON_TOKEN.
	env := testutil.CleanEnv("NOVACRON_ADDR="+c.leader().addr(), "NOVACRON_TOKEN="+c.token, "NOVACRON_CACERT="+testCAFile(t),
		"NOVACRON_CONFIG_DIR="+t.TempDir())
	for _, cmd := range cmds {
		args := strings.Fields(cmd)
		if args[0] != "novacron" {
			t.Fatalf("README line %q is not a novacron command: run it here or list it in readmeSkips", cmd)
		}
		if sim, ok := readmeOnSim[cmd]; ok {
			args = strings.Fields(sim)
		}
		stdin := ""
		if nt, ok := readmeNoTerminal[cmd]; ok {
			args, stdin = strings.Fields(nt.cmd), nt.stdin
		}
		res := testutil.RunCLIWithStdin(t, novacronBin, env, stdin, args[1:]...)
		if res.Code != 0 {
			t.Fatalf("the README's %q does not work as written:\n%s", cmd, res)
		}
	}
}

// The README's "3-node cluster by hand" block on one machine runs as a user
// pastes it into bash: its agents form a cluster and its last command,
// `cluster status`, shows the three nodes. Only the binary's path and the
// /tmp folders are changed; the ports are the README's own.
func TestREADME_ByHandClusterOnOneMachine(t *testing.T) {
	requireBinary(t)
	raw, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	at := strings.Index(text, "To try the by-hand way on one machine")
	if at < 0 {
		t.Fatal("README has no by-hand block on one machine")
	}
	start := strings.Index(text[at:], "```sh\n")
	end := strings.Index(text[at+start+6:], "```")
	if start < 0 || end < 0 {
		t.Fatal("the by-hand paragraph has no sh block")
	}
	script := text[at+start+6 : at+start+6+end]
	dir := t.TempDir()
	script = strings.ReplaceAll(script, "/tmp/nc-", filepath.Join(dir, "nc-"))
	script = strings.ReplaceAll(script, "bin/novacron", novacronBin)

	cmd := exec.Command("bash", "-e", "-c", script)
	cmd.Env = testutil.CleanEnv()
	// The agents run in the background of the script: in a process group of
	// their own, killed whole when the test ends, whatever happened.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A file, not a pipe: the agents left running in the background keep
	// their stdout open, and Wait would wait for them to close a pipe.
	logPath := filepath.Join(dir, "by-hand.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	output := func() string { b, _ := os.ReadFile(logPath); return string(b) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the README's by-hand block did not finish in 2 minutes:\n%s", output())
	}
	if err != nil {
		t.Fatalf("the README's by-hand block failed (%v):\n%s", err, output())
	}
	got := output()
	if !strings.Contains(got, "Hypervisors:    sim 3") {
		// The block's status may come a moment before the leader has
		// recorded the last node: a user would ask again, and so does this.
		env := testutil.CleanEnv("NOVACRON_ADDR=https://127.0.0.1:8092", "NOVACRON_TOKEN=dev-root-token-0123456789",
			"NOVACRON_CACERT="+filepath.Join(dir, "nc-ca", "ca.pem"), "NOVACRON_CONFIG_DIR="+t.TempDir())
		testutil.Eventually(t, 30*time.Second, "cluster status to show the three sim hosts", func() error {
			res := testutil.RunCLI(t, novacronBin, env, "cluster", "status")
			if !strings.Contains(res.Stdout, "Hypervisors:    sim 3") {
				return fmt.Errorf("%s", res.Stdout)
			}
			got += res.Stdout
			return nil
		})
	}
	for _, want := range []string{"Leader:", "node-1", "node-2", "node-3", "Hypervisors:    sim 3"} {
		if !strings.Contains(got, want) {
			t.Errorf("the by-hand block's cluster status lacks %q:\n%s", want, got)
		}
	}
}
