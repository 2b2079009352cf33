package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novacron/novacron/internal/testutil"
)

// A user made by an admin logs in through the CLI (its password on standard
// input), and later commands use the saved session with the user's role,
// from any node; a logout ends it on every node. Real binary, real agents.
func TestE2E_UserLogsInThroughTheCLI(t *testing.T) {
	requireBinary(t)
	t.Parallel()
	c := startCluster(t, 3, nil)
	leader := c.leader()
	admin := func(stdin string, args ...string) testutil.CLIResult {
		t.Helper()
		env := testutil.CleanEnv("NOVACRON_ADDR="+leader.addr(), "NOVACRON_TOKEN="+c.token, "NOVACRON_CACERT="+testCAFile(t))
		res := testutil.RunCLIWithStdin(t, novacronBin, env, stdin, args...)
		if res.Code != 0 {
			t.Fatalf("novacron %s", res)
		}
		return res
	}
	admin("correct horse battery\n", "user", "create", "alice", "--role", "operator", "--password-stdin")
	if out := admin("", "user", "list").Stdout; !strings.Contains(out, "alice") || !strings.Contains(out, "operator") {
		t.Errorf("user list:\n%s", out)
	}

	// Alice's shell: no token, her own config folder.
	dir := t.TempDir()
	alice := func(addr, stdin string, args ...string) testutil.CLIResult {
		t.Helper()
		env := testutil.CleanEnv("NOVACRON_CACERT="+testCAFile(t), "NOVACRON_CONFIG_DIR="+dir)
		if addr != "" {
			env = append(env, "NOVACRON_ADDR="+addr)
		}
		return testutil.RunCLIWithStdin(t, novacronBin, env, stdin, args...)
	}
	if res := alice(leader.addr(), "wrong horse\n", "login", "--user", "alice", "--password-stdin"); res.Code != 1 || !strings.Contains(res.Stderr, "wrong user name or password") {
		t.Errorf("a wrong password: %s", res)
	}
	if res := alice(leader.addr(), "correct horse battery\n", "login", "--user", "alice", "--password-stdin"); res.Code != 0 || !strings.Contains(res.Stdout, "Logged in as alice (role operator)") {
		t.Fatalf("login: %s", res)
	}
	st, err := os.Stat(filepath.Join(dir, "session.json"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the session file: %v, %v; want mode 0600", st, err)
	}
	// The session's own address, then another node's.
	if res := alice("", "", "whoami"); res.Code != 0 || !strings.Contains(res.Stdout, "user alice (login session), role operator") {
		t.Errorf("whoami: %s", res)
	}
	if res := alice("", "", "auth", "can-i", "vm:write"); res.Code != 0 || !strings.Contains(res.Stdout, `yes: role operator in the cluster grants vm:write`) {
		t.Errorf("auth can-i vm:write: %s", res)
	}
	if res := alice("", "", "auth", "can-i", "token:write"); res.Code != 1 || !strings.HasPrefix(res.Stdout, "no: ") || res.Stderr != "" {
		t.Errorf("auth can-i token:write: %s", res)
	}
	follower := c.followers(leader)[0]
	if res := alice(follower.addr(), "", "vm", "create", "alices-vm", "--memory", "64", "--disk", "1", "--wait"); res.Code != 0 {
		t.Errorf("an operator's create through a follower: %s", res)
	}
	if res := alice("", "", "token", "create", "sneaky", "--role", "admin"); res.Code != 1 || !strings.Contains(res.Stderr, `role operator in the cluster lacks`) {
		t.Errorf("an operator making an admin token: %s", res)
	}
	if res := alice("", "", "logout"); res.Code != 0 || !strings.Contains(res.Stdout, "Logged out alice") {
		t.Errorf("logout: %s", res)
	}
	if _, err := os.Stat(filepath.Join(dir, "session.json")); !os.IsNotExist(err) {
		t.Errorf("the session file stayed after the logout: %v", err)
	}
	if res := alice(follower.addr(), "", "vm", "list"); res.Code != 1 || !strings.Contains(res.Stderr, "log in") {
		t.Errorf("after the logout: %s", res)
	}
}
