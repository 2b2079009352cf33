package main

import (
	"net"
	"strings"
	"testing"
)

// `version` shows the CLI's version and every node's; without a cluster it
// still answers.
func TestVersion_ClientAndNodes(t *testing.T) {
	f := newFakeAPI(t)
	seedCluster(f)
	f.nodes[0].Version, f.nodes[1].Version = "0.1.0", "0.1.1"
	code, stdout, stderr := runCLI(t, f.env(), "version")
	if code != exitOK || !strings.HasPrefix(stdout, "Client: ") || !strings.Contains(stdout, "node-a   0.1.1") || !strings.Contains(stdout, "node-b   0.1.0") {
		t.Errorf("code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, map[string]string{envAddress: closedAddr(t), envToken: "t"}, "version")
	if code != exitOK || !strings.Contains(stdout, "Nodes:  not reached") {
		t.Errorf("no cluster: code %d, stdout %q", code, stdout)
	}
}

// The usual aliases work, and shell completion offers the cluster's names.
func TestAliasesAndCompletion(t *testing.T) {
	f := newFakeAPI(t)
	seedVMs(f)
	seedCluster(f)
	_, ls, _ := runCLI(t, f.env(), "vm", "ls")
	_, list, _ := runCLI(t, f.env(), "vm", "list")
	if ls != list || !strings.Contains(ls, "web") {
		t.Errorf("vm ls %q, vm list %q", ls, list)
	}
	_, stdout, _ := runCLI(t, f.env(), "__complete", "vm", "show", "")
	if !strings.Contains(stdout, "web\n") || !strings.Contains(stdout, "db\n") {
		t.Errorf("vm show completion: %q", stdout)
	}
	_, stdout, _ = runCLI(t, f.env(), "__complete", "node", "drain", "")
	if !strings.Contains(stdout, "node-a\n") || !strings.Contains(stdout, "node-b\n") {
		t.Errorf("node drain completion: %q", stdout)
	}
}

// closedAddr is an address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + ln.Addr().String()
	ln.Close()
	return addr
}
