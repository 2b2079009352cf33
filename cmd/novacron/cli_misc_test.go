package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
)

// seedCluster gives the fake a three-member cluster and two nodes.
func seedCluster(f *fakeAPI) {
	since := time.Date(2025, 2, 3, 4, 5, 6, 0, time.UTC)
	f.cluster = client.Cluster{ID: "c-1", Leader: "node-b", LeaderID: "n-b", Node: "node-a",
		AppliedIndex: 120, CommitIndex: 121, Term: 4, Hypervisors: map[string]int{"sim": 1, "libvirt": 1},
		Members: []client.Member{
			{ID: "n-c", Name: "node-c", Status: "failed", RaftRole: "nonvoter", APIAddr: "10.0.0.3:8090"},
			{ID: "n-b", Name: "node-b", Status: "alive", RaftRole: "voter", Leader: true, APIAddr: "10.0.0.2:8090"},
			{ID: "n-a", Name: "node-a", Status: "alive", RaftRole: "voter", APIAddr: "10.0.0.1:8090"},
		}}
	f.nodes = []client.Node{
		{ID: "n-b", Name: "node-b", Status: "alive", APIAddr: "10.0.0.2:8090",
			Capacity: client.Capacity{VCPUs: 8, MemoryMiB: 16384, DiskGiB: 200}, Hypervisor: client.Hypervisor{Driver: "sim"},
			Maintenance: true, MaintenanceReason: "disk swap", MaintenanceSince: &since},
		{ID: "n-a", Name: "node-a", Status: "suspect", StatusCause: "gossip: member suspect", APIAddr: "10.0.0.1:8090",
			Capacity:  client.Capacity{VCPUs: 16, MemoryMiB: 32768, DiskGiB: 500},
			Allocated: client.Capacity{VCPUs: 6, MemoryMiB: 1536, DiskGiB: 25}, VMs: 2,
			Hypervisor: client.Hypervisor{Driver: "libvirt", URI: "qemu:///system"},
			Labels:     map[string]string{"rack": "r1"}, Version: "0.1.0",
			JoinedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)},
	}
}

func TestClusterStatus_Table(t *testing.T) {
	f := newFakeAPI(t)
	seedCluster(f)
	code, stdout, stderr := runCLI(t, f.env(), "cluster", "status")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	want := "" +
		"Cluster:        c-1\n" +
		"Leader:         node-b (n-b)\n" +
		"Answered by:    node-a\n" +
		"Applied index:  120\n" +
		"Commit index:   121\n" +
		"Term:           4\n" +
		"Hypervisors:    libvirt 1, sim 1\n" +
		"Note: 1 host runs the sim hypervisor (agent --dev or --hypervisor sim): it is simulated, and its VMs run nowhere.\n" +
		"\n" +
		"NAME     ID    STATUS                    RAFT-ROLE   LEADER   API-ADDR\n" +
		"node-a   n-a   suspect (gossip: alive)   voter       no       10.0.0.1:8090\n" +
		"node-b   n-b   alive                     voter       yes      10.0.0.2:8090\n" +
		"node-c   n-c   failed (gossip)           nonvoter    no       10.0.0.3:8090\n"
	if stdout != want {
		t.Errorf("stdout =\n%s\nwant\n%s", stdout, want)
	}
}

func TestClusterStatus_NoLeaderAndJSON(t *testing.T) {
	f := newFakeAPI(t)
	f.cluster = client.Cluster{ID: "c-1", Node: "node-a"}
	_, stdout, _ := runCLI(t, f.env(), "cluster", "status")
	if !strings.Contains(stdout, "Leader:         none (no leader elected)\n") {
		t.Errorf("no-leader output:\n%s", stdout)
	}
	_, stdout, _ = runCLI(t, f.env(), "cluster", "status", "-o", "json")
	var got map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout)
	}
	if m, ok := got["members"].([]any); !ok || len(m) != 0 {
		t.Errorf("members = %v, want an empty list", got["members"])
	}
}

func TestNodeList_Table(t *testing.T) {
	f := newFakeAPI(t)
	seedCluster(f)
	code, stdout, stderr := runCLI(t, f.env(), "node", "list")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	want := "" +
		"NAME     ID    STATUS    MAINT   VCPUS   MEMORY         VMS   HYPERVISOR   ADDRESS\n" +
		"node-a   n-a   suspect   no      6/16    1.5GiB/32GiB   2     libvirt      10.0.0.1:8090\n" +
		"node-b   n-b   alive     yes     0/8     0MiB/16GiB     0     sim          10.0.0.2:8090\n" +
		"Note: 1 host runs the sim hypervisor (agent --dev or --hypervisor sim): it is simulated, and its VMs run nowhere.\n"
	if stdout != want {
		t.Errorf("stdout =\n%s\nwant\n%s", stdout, want)
	}
}

func TestNodeShow_FieldsAndJSON(t *testing.T) {
	f := newFakeAPI(t)
	seedCluster(f)
	code, stdout, stderr := runCLI(t, f.env(), "node", "show", "node-a")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	for _, want := range []string{
		"ID:              n-a\n", "Status:          suspect (gossip: member suspect)\n",
		"Hypervisor:      libvirt (qemu:///system)\n", "Memory:          1.5GiB/32GiB allocated\n",
		"Joined:          2025-01-02T03:04:05Z\n", "Labels:\n  rack=r1\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("node show lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stdout, "Maintenance:     no\n") {
		t.Errorf("node show lacks the maintenance line:\n%s", stdout)
	}
	_, stdout, _ = runCLI(t, f.env(), "node", "show", "node-b")
	if !strings.Contains(stdout, "Maintenance:     yes, since 2025-02-03T04:05:06Z (disk swap)\n") {
		t.Errorf("node show of a drained node:\n%s", stdout)
	}
	_, stdout, _ = runCLI(t, f.env(), "-o", "json", "node", "show", "n-b")
	var n client.Node
	if err := json.Unmarshal([]byte(stdout), &n); err != nil || n.Name != "node-b" {
		t.Errorf("json node = %+v, %v", n, err)
	}
	code, _, stderr = runCLI(t, f.env(), "node", "show", "ghost")
	if code != exitError || stderr != "Error: node \"ghost\" not found (HTTP 404 not_found)\n" {
		t.Errorf("missing node: code %d, stderr %q", code, stderr)
	}
}

func TestTokenCreate_PrintsSecretOnce(t *testing.T) {
	f := newFakeAPI(t)
	code, stdout, stderr := runCLI(t, f.env(), "token", "create", "ci", "--role", "reader", "--ttl", "24h")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	want := "Created key ci of user root (id tok-1, role reader in the whole cluster, expires 2025-01-03T03:04:05Z).\n\n" +
		"Secret: nct_secret_tok-1\n\n" +
		"Store this secret now: it will not be shown again.\n"
	if stdout != want {
		t.Errorf("stdout =\n%s\nwant\n%s", stdout, want)
	}
	var req client.TokenRequest
	if err := json.Unmarshal([]byte(f.requests()[0].Body), &req); err != nil {
		t.Fatal(err)
	}
	if req != (client.TokenRequest{Name: "ci", Role: "reader", TTL: "24h0m0s"}) {
		t.Errorf("request = %+v", req)
	}

	// No --role, no --ttl: the server's default role, a key that never
	// expires; `key` is the same group, --project scopes the key.
	_, stdout, _ = runCLI(t, f.env(), "key", "create", "ops", "--project", "prod")
	if !strings.HasPrefix(stdout, "Created key ops of user root (id tok-2, role viewer in project prod, never expires).") {
		t.Errorf("stdout = %q", stdout)
	}
	if body := f.requests()[1].Body; strings.Contains(body, "role") || strings.Contains(body, "ttl") || !strings.Contains(body, `"project":"prod"`) {
		t.Errorf("defaults sent explicitly: %s", body)
	}
}

func TestTokenCreate_JSONHasSecret(t *testing.T) {
	f := newFakeAPI(t)
	_, stdout, _ := runCLI(t, f.env(), "-o", "json", "token", "create", "ci")
	var tok client.Token
	if err := json.Unmarshal([]byte(stdout), &tok); err != nil || tok.Secret != "nct_secret_tok-1" {
		t.Errorf("token = %+v, %v", tok, err)
	}
}

func TestToken_ListAndRevoke(t *testing.T) {
	f := newFakeAPI(t)
	runCLI(t, f.env(), "token", "create", "zeta", "--ttl", "1h")
	runCLI(t, f.env(), "token", "create", "alpha", "--role", "operator")
	_, stdout, _ := runCLI(t, f.env(), "token", "list")
	want := "" +
		"NAME    ID      USER   ROLE       PROJECT     CREATED                EXPIRES                LAST USED\n" +
		"alpha   tok-2   root   operator   (cluster)   2025-01-02T03:04:05Z   never                  -\n" +
		"zeta    tok-1   root   viewer     (cluster)   2025-01-02T03:04:05Z   2025-01-02T04:04:05Z   -\n"
	if stdout != want {
		t.Errorf("token list =\n%s\nwant\n%s", stdout, want)
	}
	if strings.Contains(stdout, "nct_secret") {
		t.Errorf("token list shows secrets")
	}

	code, stdout, stderr := runCLI(t, f.env(), "token", "revoke", "tok-1")
	if code != exitOK || stdout != "Revoked token zeta (tok-1).\n" {
		t.Errorf("revoke: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	_, stdout, _ = runCLI(t, f.env(), "token", "list", "-o", "json")
	var toks []client.Token
	if err := json.Unmarshal([]byte(stdout), &toks); err != nil || len(toks) != 1 || toks[0].ID != "tok-2" {
		t.Errorf("tokens after revoke = %+v, %v", toks, err)
	}
}
