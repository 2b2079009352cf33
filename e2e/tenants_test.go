package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// Two users in two projects (issue 14), each through the CLI with its own
// login on a real 3-agent cluster: each sees and changes only its own
// project's VMs, the other's are refused by ID and by name, and the audit
// log shows both users' changes and the refusals.
func TestE2E_TwoUsersInTwoProjectsSeeOnlyTheirOwn(t *testing.T) {
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
	// user runs the CLI as one user: its own config folder, logged in
	// through a follower.
	follower := c.followers(leader)[0]
	user := func(name string) func(args ...string) testutil.CLIResult {
		dir := t.TempDir()
		return func(args ...string) testutil.CLIResult {
			t.Helper()
			env := testutil.CleanEnv("NOVACRON_CACERT="+testCAFile(t), "NOVACRON_CONFIG_DIR="+dir, "NOVACRON_ADDR="+follower.addr())
			return testutil.RunCLIWithStdin(t, novacronBin, env, name+" password\n", args...)
		}
	}
	for _, p := range []struct{ project, user string }{{"red", "alice"}, {"blue", "bob"}} {
		admin("", "project", "create", p.project)
		admin(p.user+" password\n", "user", "create", p.user, "--password-stdin")
		admin("", "project", "member", "add", p.project, p.user, "--role", "operator")
	}
	alice, bob := user("alice"), user("bob")
	for name, run := range map[string]func(...string) testutil.CLIResult{"alice": alice, "bob": bob} {
		if res := run("login", "--user", name, "--password-stdin"); res.Code != 0 {
			t.Fatalf("%s's login: %s", name, res)
		}
	}
	if res := alice("whoami"); res.Code != 0 || !strings.Contains(res.Stdout, "Project red: role operator") {
		t.Errorf("alice's whoami: %s", res)
	}
	must := func(res testutil.CLIResult) testutil.CLIResult {
		t.Helper()
		if res.Code != 0 {
			t.Fatalf("novacron %s", res)
		}
		return res
	}
	must(alice("--project", "red", "vm", "create", "web", "--memory", "64", "--disk", "1", "--wait"))
	must(bob("--project", "blue", "vm", "create", "web", "--memory", "64", "--disk", "1", "--wait"))
	var bobsVM client.VM
	if err := json.Unmarshal([]byte(must(bob("--project", "blue", "-o", "json", "vm", "show", "web")).Stdout), &bobsVM); err != nil {
		t.Fatal(err)
	}

	// Alice sees her own, and nothing of blue.
	if out := must(alice("--project", "red", "vm", "list")).Stdout; !strings.Contains(out, "web") {
		t.Errorf("alice's red VMs:\n%s", out)
	}
	if out := must(alice("vm", "list", "--all-projects")).Stdout; strings.Contains(out, "blue") || strings.Count(out, "web") != 1 {
		t.Errorf("alice lists every project's VMs:\n%s", out)
	}
	refusals := []struct {
		what string
		args []string
		msg  string
	}{
		{"listing blue", []string{"--project", "blue", "vm", "list"}, "has no role in project blue"},
		{"showing bob's VM by ID", []string{"vm", "show", bobsVM.ID}, "not found"},
		{"stopping bob's VM by ID from red", []string{"--project", "red", "vm", "stop", bobsVM.ID}, "not found"},
		{"deleting bob's VM by name", []string{"--project", "blue", "vm", "delete", "web"}, "not found"},
		{"creating in blue", []string{"--project", "blue", "vm", "create", "sneaky", "--memory", "64", "--disk", "1"}, "has no role in project blue"},
		{"making herself a member of blue", []string{"project", "member", "add", "blue", "alice", "--role", "operator"}, "not found"},
	}
	for _, r := range refusals {
		if res := alice(r.args...); res.Code != 1 || !strings.Contains(res.Stderr, r.msg) {
			t.Errorf("alice %s: %s; want exit 1 naming %q", r.what, res, r.msg)
		}
	}
	var after client.VM
	if err := json.Unmarshal([]byte(must(bob("--project", "blue", "-o", "json", "vm", "show", "web")).Stdout), &after); err != nil {
		t.Fatal(err)
	}
	if after.ID != bobsVM.ID || after.DesiredState != bobsVM.DesiredState {
		t.Errorf("bob's VM changed: %+v, was %+v", after, bobsVM)
	}
	// Bob stops his own by name in his project.
	must(bob("--project", "blue", "vm", "stop", "web", "--wait"))

	// The audit log, read by the cluster admin, has both users' creates and
	// alice's refusals; it is written in the background, so wait for it.
	var entries []client.AuditEntry
	found := func(actor, project, action string, status int) bool {
		for _, e := range entries {
			if e.Actor == actor && e.Project == project && strings.Contains(e.Action, action) && e.Status == status {
				return true
			}
		}
		return false
	}
	_, err := testutil.Poll(20*time.Second, testutil.PollInterval, func() error {
		entries = nil
		if err := json.Unmarshal([]byte(admin("", "audit", "-o", "json", "--limit", "1000").Stdout), &entries); err != nil {
			return err
		}
		switch {
		case !found("alice", "red", "POST /api/v1/vms", 201):
			return errMissing("alice's create in red")
		case !found("bob", "blue", "POST /api/v1/vms", 201):
			return errMissing("bob's create in blue")
		case !found("bob", "blue", "POST /api/v1/vms/:id/stop", 200):
			return errMissing("bob's stop")
		case !found("alice", "blue", "GET /api/v1/vms", 403):
			return errMissing("alice's refused list of blue")
		case !found("alice", "blue", "POST /api/v1/vms", 403):
			return errMissing("alice's refused create in blue")
		case !found("alice", "", "POST /api/v1/vms/:id/stop", 404):
			return errMissing("alice's refused stop of bob's VM")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the audit log: %v; it holds %+v", err, entries)
	}
	// Alice, an operator, may not read the audit log.
	if res := alice("audit"); res.Code != 1 || !strings.Contains(res.Stderr, "lacks audit:read") {
		t.Errorf("alice reading the audit log: %s", res)
	}
}

type errMissing string

func (e errMissing) Error() string { return "missing " + string(e) }
