package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// Labels from the agent's --label and from `node label set` are both
// matched by a VM's --node-selector, through the real binary on a real
// 3-agent cluster; a VM that waits for a label is placed once it is set.
func TestE2E_NodeLabelsPlaceVMs(t *testing.T) {
	requireBinary(t)
	t.Parallel()
	c := startCluster(t, 3, func(i int, cfg *agentConfig) {
		if i == 2 {
			cfg.extra = append(cfg.extra, "--label", "region=eu")
		}
	})
	leader, token := c.leader(), c.token
	eu := c.agents[2].name
	cli := func(args ...string) testutil.CLIResult {
		t.Helper()
		res := runCLI(t, leader.addr(), token, args...)
		if res.Code != 0 {
			t.Fatalf("novacron %s", res)
		}
		return res
	}
	placedOn := func(vm string) string {
		t.Helper()
		var got client.VM
		if err := cliJSON(t, leader.addr(), token, &got, "vm", "show", vm); err != nil {
			t.Fatal(err)
		}
		return got.NodeName
	}

	// The agent's own label.
	cli("vm", "create", "eu-1", "--vcpus", "1", "--memory", "64", "--disk", "1", "--node-selector", "region=eu", "--wait")
	if got := placedOn("eu-1"); got != eu {
		t.Fatalf("region=eu is on %s (--label), the VM went to %q", eu, got)
	}

	// A VM that selects a label nobody has waits, and says why (the CLI
	// would fail at once saying so: --no-wait returns with it pending).
	cli("vm", "create", "gpu-1", "--vcpus", "1", "--memory", "64", "--disk", "1", "--node-selector", "gpu=true", "--no-wait")
	if got := placedOn("gpu-1"); got != "" {
		t.Fatalf("gpu=true is on no node, yet the VM went to %s", got)
	}

	// An operator labels a node: the waiting VM goes there.
	gpuNode := c.agents[0].name
	out := cli("node", "label", "set", gpuNode, "gpu=true", "rack=r7").Stdout
	if !strings.Contains(out, "gpu=true  (set)") || !strings.Contains(out, "rack=r7  (set)") {
		t.Fatalf("node label set printed:\n%s", out)
	}
	testutil.Eventually(t, formTimeout, "the waiting VM to be placed on the labelled node", func() error {
		if got := placedOn("gpu-1"); got != gpuNode {
			return fmt.Errorf("gpu-1 on %q", got)
		}
		return nil
	})
	show := cli("node", "show", gpuNode).Stdout
	if !strings.Contains(show, "gpu=true  (set)") {
		t.Fatalf("node show does not list the label:\n%s", show)
	}

	// Overriding the agent's label and removing the override.
	cli("node", "label", "set", eu, "region=us")
	var n client.Node
	if err := cliJSON(t, leader.addr(), token, &n, "node", "show", eu); err != nil || n.Labels["region"] != "us" || n.HostLabels["region"] != "eu" {
		t.Fatalf("override: err %v, labels %v, host %v", err, n.Labels, n.HostLabels)
	}
	cli("node", "label", "unset", eu, "region")
	if err := cliJSON(t, leader.addr(), token, &n, "node", "show", eu); err != nil || n.Labels["region"] != "eu" {
		t.Fatalf("after unset: err %v, labels %v", err, n.Labels)
	}
	res := runCLI(t, leader.addr(), token, "node", "label", "unset", eu, "region")
	if res.Code != 1 || !strings.Contains(res.Stderr, "comes from its agent") {
		t.Fatalf("removing the agent's own label: %s", res)
	}
	res = runCLI(t, leader.addr(), token, "node", "label", "set", eu)
	if res.Code != 2 || !strings.Contains(res.Stderr, "at least one label") {
		t.Fatalf("set without a label: %s", res)
	}

	// Every node sees the same labels.
	for _, a := range c.agents {
		testutil.Eventually(t, formTimeout, a.name+" to show the label", func() error {
			got, err := a.client(token).Node(context.Background(), gpuNode)
			if err != nil {
				return err
			}
			if got.Labels["gpu"] != "true" {
				return fmt.Errorf("node %s labels %v", gpuNode, got.Labels)
			}
			return nil
		})
	}
}
