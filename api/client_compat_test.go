package api

import (
	"context"
	"testing"

	"github.com/novacron/novacron/api/client"
)

// The Go client and the server share the wire types; this drives the real client
// against the server to prove the routes and headers agree too.
func TestClientCompat_RoundTrip(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	c, err := client.New(e.http.URL, e.root)
	if err != nil {
		t.Fatal(err)
	}
	if h, err := c.Health(ctx); err != nil || h.Status != "ok" {
		t.Fatalf("health = %+v, %v", h, err)
	}
	vm, err := c.CreateVM(ctx, validVM("web-1"))
	if err != nil || vm.State != "pending" {
		t.Fatalf("create = %+v, %v", vm, err)
	}
	if c.LastIndex() != e.fsm.AppliedIndex() {
		t.Fatalf("client last index %d, server applied %d", c.LastIndex(), e.fsm.AppliedIndex())
	}
	if vm, err = c.StopVM(ctx, "web-1"); err != nil || vm.DesiredState != "stopped" {
		t.Fatalf("stop = %+v, %v", vm, err)
	}
	got, err := c.WithReadOptions(client.ReadOptions{WaitIndex: c.LastIndex(), Consistent: true}).VM(ctx, vm.ID)
	if err != nil || got.DesiredState != "stopped" {
		t.Fatalf("read-your-write = %+v, %v", got, err)
	}
	if _, err := c.VM(ctx, "nope"); !client.IsNotFound(err) {
		t.Fatalf("missing vm: %v, want not found", err)
	}
	if _, err := c.ResumeVM(ctx, "web-1"); client.ErrorCode(err) != client.CodeInvalidState {
		t.Fatalf("resume stopped vm: %v, want invalid_state", err)
	}
	if vms, err := c.VMs(ctx, client.ListVMsOptions{State: "pending"}); err != nil || len(vms) != 1 {
		t.Fatalf("list = %+v, %v", vms, err)
	}
	if nodes, err := c.Nodes(ctx); err != nil || len(nodes) != 2 {
		t.Fatalf("nodes = %+v, %v", nodes, err)
	}
	if cl, err := c.Cluster(ctx); err != nil || cl.Leader != "node-1" {
		t.Fatalf("cluster = %+v, %v", cl, err)
	}
	tok, err := c.CreateToken(ctx, client.TokenRequest{Name: "ci", Role: "reader"})
	if err != nil || tok.Secret == "" {
		t.Fatalf("create token = %+v, %v", tok, err)
	}
	if _, err := c.RevokeToken(ctx, tok.ID); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if _, err := c.DeleteVM(ctx, "web-1"); err != nil {
		t.Fatalf("delete: %v", err)
	}
}
