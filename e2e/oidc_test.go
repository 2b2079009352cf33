package e2e

import (
	"strings"
	"testing"

	"github.com/novacron/novacron/internal/oidctest"
	"github.com/novacron/novacron/internal/testutil"
)

// `novacron login --oidc` against a real OIDC provider in the test process:
// the CLI runs the device flow, the agents verify the ID token, and the
// session acts with the role the user's group is bound to in a project.
func TestE2E_OIDCLoginThroughTheDeviceFlow(t *testing.T) {
	requireBinary(t)
	t.Parallel()
	idp := oidctest.Start(t)
	c := startCluster(t, 1, func(_ int, cfg *agentConfig) {
		cfg.extra = append(cfg.extra, "--oidc-issuer", idp.Issuer(), "--oidc-client-id", idp.Config().ClientID)
	})
	addr := c.leader().addr()
	admin := func(args ...string) testutil.CLIResult {
		t.Helper()
		res := runCLI(t, addr, c.token, args...)
		if res.Code != 0 {
			t.Fatalf("novacron %s", res)
		}
		return res
	}
	admin("project", "create", "lab")
	admin("project", "member", "add", "lab", "group:researchers", "--role", "operator")

	dir := t.TempDir()
	jane := func(args ...string) testutil.CLIResult {
		t.Helper()
		env := testutil.CleanEnv("NOVACRON_ADDR="+addr, "NOVACRON_CACERT="+testCAFile(t), "NOVACRON_CONFIG_DIR="+dir)
		return testutil.RunCLI(t, novacronBin, env, args...)
	}
	idp.ApproveNext(oidctest.User("jane", "researchers"))
	res := jane("login", "--oidc")
	if res.Code != 0 || !strings.Contains(res.Stderr, "WDJB-MJHT") || !strings.Contains(res.Stdout, "Logged in as oidc:jane") {
		t.Fatalf("login --oidc: %s", res)
	}
	if res := jane("--project", "lab", "vm", "create", "probe", "--memory", "64", "--disk", "1", "--wait"); res.Code != 0 {
		t.Errorf("a researcher creating in lab: %s", res)
	}
	if res := jane("vm", "list"); res.Code != 1 || !strings.Contains(res.Stderr, "oidc:jane has no role in project default") {
		t.Errorf("a researcher listing the default project: %s", res)
	}
	if res := jane("whoami"); res.Code != 0 || !strings.Contains(res.Stdout, "Project lab: role operator") {
		t.Errorf("whoami: %s", res)
	}
	// Without the provider's approval (an unknown device code), no session.
	other := t.TempDir()
	env := testutil.CleanEnv("NOVACRON_ADDR="+addr, "NOVACRON_CACERT="+testCAFile(t), "NOVACRON_CONFIG_DIR="+other)
	if res := testutil.RunCLI(t, novacronBin, env, "login", "--oidc"); res.Code != 1 {
		t.Errorf("a login nobody approved: %s", res)
	}
}
