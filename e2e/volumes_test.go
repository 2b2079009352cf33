package e2e

import (
	"strings"
	"testing"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// Data volumes through the CLI against a follower of a real cluster of sim
// hosts: each command that waits for the host (attach, grow, detach,
// delete) returns once the VM's host reported it done (a sim host has no
// files: it acknowledges each change at once), and every read after a write
// sees it.
func TestE2E_VolumesThroughTheCLI(t *testing.T) {
	requireBinary(t)
	t.Parallel()
	c := startCluster(t, 3, nil)
	addr := c.followers(c.leader())[0].addr()
	cli := func(args ...string) testutil.CLIResult {
		t.Helper()
		res := runCLI(t, addr, c.token, args...)
		if res.Code != 0 {
			t.Fatalf("novacron %s", res)
		}
		return res
	}
	show := func(name string) client.Volume {
		t.Helper()
		var v client.Volume
		if err := cliJSON(t, addr, c.token, &v, "volume", "show", name); err != nil {
			t.Fatal(err)
		}
		return v
	}
	cli("vm", "create", "web", "--vcpus", "1", "--memory", "64", "--disk", "1", "--wait")
	if out := cli("volume", "create", "data", "--size", "2G").Stdout; !strings.Contains(out, "Created volume data") {
		t.Fatalf("volume create: %s", out)
	}
	if out := cli("volume", "attach", "data", "web").Stdout; !strings.HasSuffix(out, "Attached volume data to vm web as vdc.\n") {
		t.Fatalf("volume attach: %q", out)
	}
	if v := show("data"); v.Attachment != client.VolumeAttached || v.FileGiB != 2 || v.VMName != "web" || v.Host == "" {
		t.Fatalf("attached volume %+v", v)
	}
	var vm client.VM
	if err := cliJSON(t, addr, c.token, &vm, "vm", "show", "web"); err != nil {
		t.Fatal(err)
	}
	if len(vm.Volumes) != 1 || vm.Volumes[0].Name != "data" || vm.Volumes[0].Target != "vdc" {
		t.Fatalf("vm web's volumes %+v", vm.Volumes)
	}
	if out := cli("volume", "grow", "data", "--size", "4").Stdout; !strings.HasSuffix(out, "Volume data is 4GiB.\n") {
		t.Fatalf("volume grow: %q", out)
	}
	if res := runCLI(t, addr, c.token, "volume", "delete", "data"); res.Code != 1 || !strings.Contains(res.Stderr, "attached to vm web") {
		t.Errorf("deleting an attached volume: %s", res)
	}
	if out := cli("volume", "list").Stdout; !strings.Contains(out, "attached") || !strings.Contains(out, "4GiB") {
		t.Errorf("volume list:\n%s", out)
	}
	if out := cli("volume", "detach", "data", "web").Stdout; !strings.HasSuffix(out, "Detached volume data from vm web.\n") {
		t.Fatalf("volume detach: %q", out)
	}
	id := show("data").ID
	if out := cli("volume", "delete", "data").Stdout; !strings.HasSuffix(out, "Deleted volume data ("+id+").\n") {
		t.Fatalf("volume delete: %q", out)
	}
	if res := runCLI(t, addr, c.token, "volume", "show", "data"); res.Code != 1 || !strings.Contains(res.Stderr, "not found") {
		t.Errorf("a deleted volume: %s", res)
	}

	// A stopped VM takes and gives up a volume without its domain.
	cli("vm", "stop", "web", "--wait")
	cli("volume", "create", "cold", "--size", "1")
	if out := cli("volume", "attach", "cold", "web").Stdout; out != "Attached volume cold to vm web as vdc.\n" {
		t.Errorf("attach to a stopped vm: %q", out)
	}
	cli("volume", "detach", "cold", "web")
	cli("volume", "delete", "cold")
	if out := cli("volume", "list", "--all-projects").Stdout; strings.Contains(out, "cold") {
		t.Errorf("volume list after the deletes:\n%s", out)
	}
}
