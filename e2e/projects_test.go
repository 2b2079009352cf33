package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// 64 creates at once into a project whose quota allows 10 VMs, spread over
// every node of a real 3-agent cluster, leave exactly 10: the quota is
// checked as Raft applies each create, not by the node that took it.
func TestE2E_QuotaHoldsUnderConcurrentCreatesOnEveryNode(t *testing.T) {
	requireBinary(t)
	t.Parallel()
	c := startCluster(t, 3, nil)
	ctx := context.Background()
	ten := int64(10)
	if _, err := c.leader().client(c.token).CreateProject(ctx, client.ProjectRequest{Name: "race", Quota: client.Quota{VMs: &ten}}); err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		made     int
		refusals int
		others   []error
		wg       sync.WaitGroup
	)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := c.agents[i%len(c.agents)].client(c.token).WithProject("race")
			_, err := cl.CreateVM(ctx, client.VMRequest{Name: fmt.Sprintf("r-%02d", i), VCPUs: 1, MemoryMiB: 64, DiskGiB: 1})
			mu.Lock()
			defer mu.Unlock()
			var apiErr *client.APIError
			switch {
			case err == nil:
				made++
			case errors.As(err, &apiErr) && apiErr.Code == client.CodeQuotaExceeded:
				refusals++
			default:
				others = append(others, err)
			}
		}()
	}
	wg.Wait()
	if len(others) > 0 {
		t.Errorf("creates failed otherwise than on the quota: %v", others)
	}
	if made != 10 || refusals != 54 {
		t.Errorf("%d creates made, %d refused by the quota; want 10 and 54", made, refusals)
	}
	for _, a := range c.agents {
		p, err := a.client(c.token).WithReadOptions(client.ReadOptions{Consistent: true}).Project(ctx, "race")
		if err != nil {
			t.Fatal(err)
		}
		if p.Usage.VMs != 10 {
			t.Errorf("%s: project race uses %d VMs, want 10", a.name, p.Usage.VMs)
		}
	}
}

// Two projects, each through the CLI: the same VM name in both, each seen
// and changed only in its own project; the quota's refusal says what is
// left; a project with VMs cannot be deleted.
func TestE2E_ProjectsThroughTheCLI(t *testing.T) {
	requireBinary(t)
	t.Parallel()
	c := startCluster(t, 3, nil)
	addr := c.leader().addr()
	cli := func(args ...string) testutil.CLIResult {
		t.Helper()
		res := runCLI(t, addr, c.token, args...)
		if res.Code != 0 {
			t.Fatalf("novacron %s", res)
		}
		return res
	}
	cli("project", "create", "prod", "--vcpus", "2", "--memory", "1G", "--vms", "5", "--description", "production")
	cli("project", "create", "dev")
	cli("--project", "prod", "vm", "create", "web", "--vcpus", "2", "--memory", "128", "--disk", "1", "--wait")
	cli("--project", "dev", "vm", "create", "web", "--vcpus", "1", "--memory", "64", "--disk", "1", "--wait")

	var prodWeb, devWeb client.VM
	if err := cliJSON(t, addr, c.token, &prodWeb, "--project", "prod", "vm", "show", "web"); err != nil {
		t.Fatal(err)
	}
	if err := cliJSON(t, addr, c.token, &devWeb, "--project", "dev", "vm", "show", "web"); err != nil {
		t.Fatal(err)
	}
	if prodWeb.ID == devWeb.ID || prodWeb.Project != "prod" || devWeb.Project != "dev" || prodWeb.VCPUs != 2 {
		t.Fatalf("web in prod %+v, in dev %+v", prodWeb, devWeb)
	}
	if res := runCLI(t, addr, c.token, "vm", "show", "web"); res.Code != 1 || !strings.Contains(res.Stderr, "not found") {
		t.Errorf("web in the default project: %s", res)
	}
	out := cli("vm", "list", "--all-projects").Stdout
	if !strings.Contains(out, "PROJECT") || strings.Count(out, "web") != 2 {
		t.Errorf("vm list --all-projects:\n%s", out)
	}
	if out := cli("--project", "dev", "vm", "list").Stdout; strings.Count(out, "web") != 1 {
		t.Errorf("dev's VMs:\n%s", out)
	}

	res := runCLI(t, addr, c.token, "--project", "prod", "vm", "create", "db", "--vcpus", "1", "--memory", "64", "--disk", "1")
	if res.Code != 1 || !strings.Contains(res.Stderr, "vcpus: the request asks 1, 0 of 2 is left") {
		t.Errorf("a create past prod's quota: %s", res)
	}
	env := testutil.CleanEnv("NOVACRON_ADDR="+addr, "NOVACRON_TOKEN="+c.token, "NOVACRON_CACERT="+testCAFile(t), "NOVACRON_PROJECT=prod")
	if res := testutil.RunCLI(t, novacronBin, env, "vm", "stop", "web", "--wait"); res.Code != 0 || !strings.Contains(res.Stdout, "is stopped") {
		t.Errorf("NOVACRON_PROJECT=prod vm stop web: %s", res)
	}
	if out := cli("project", "show", "prod").Stdout; !strings.Contains(out, "2 of 2") || !strings.Contains(out, "1 of 5") {
		t.Errorf("project show prod:\n%s", out)
	}
	if res := runCLI(t, addr, c.token, "project", "delete", "prod"); res.Code != 1 || !strings.Contains(res.Stderr, "holds 1 vms") {
		t.Errorf("deleting a project with a VM: %s", res)
	}
	cli("--project", "prod", "vm", "delete", "web", "--wait")
	cli("project", "delete", "prod")
	if out := cli("project", "list").Stdout; strings.Contains(out, "prod") || !strings.Contains(out, "dev") {
		t.Errorf("project list after the delete:\n%s", out)
	}
}
