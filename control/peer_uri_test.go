package control

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/testutil"
)

// peerFixture is three libvirt hosts: src runs vm "web"; good publishes
// URIs the default policy accepts; bad, the bigger (spread prefers it),
// publishes qemu+ext.
func peerFixture(t *testing.T) (*Controller, *fsmCluster) {
	t.Helper()
	c := &fsmCluster{fsm: fsm.New()}
	now := time.Now().UTC()
	for _, n := range []struct {
		id, uri string
		mem     int64
	}{
		{"src", "qemu+tls://10.0.0.1/system", 8192},
		{"good", "qemu+tls://10.0.0.2/system", 8192},
		{"bad", "qemu+ext:///system?command=/bin/sh", 65536},
	} {
		addr := map[string]string{"src": "10.0.0.1", "good": "10.0.0.2", "bad": "10.0.0.3"}[n.id]
		c.must(t, fsm.RegisterNode{Node: fsm.Node{ID: n.id, Name: n.id, APIAddr: addr + ":8090", Status: fsm.NodeAlive,
			Capacity:   fsm.Capacity{VCPUs: 64, MemoryMiB: n.mem, DiskGiB: 1000},
			Hypervisor: fsm.HypervisorInfo{Driver: "libvirt", URI: n.uri}}, At: now})
	}
	c.must(t, fsm.CreateVM{ID: "web", Spec: fsm.VMSpec{Name: "web", VCPUs: 1, MemoryMiB: 512, DiskGiB: 1}, Node: "src", At: now})
	c.must(t, fsm.ReportVM{ID: "web", Node: "src", Generation: 1, State: fsm.VMRunning, At: now})
	cfg := DefaultConfig()
	cfg.NodeID, cfg.NodeName, cfg.Logger = "src", "src", testutil.Logger(t)
	ctl, err := New(cfg, c, c.fsm)
	if err != nil {
		t.Fatal(err)
	}
	return ctl, c
}

// The leader never chooses a live migration's target whose URIs it refuses,
// and tells a user who names one why; a cold migration opens no URI and may
// go there.
func TestMigrationTarget_SkipsNodesWithRefusedURIs(t *testing.T) {
	ctl, _ := peerFixture(t)
	ctx := context.Background()
	if got, err := ctl.MigrationTarget(ctx, "web", fsm.MigrateLive, ""); err != nil || got != "good" {
		t.Fatalf("live, no target named: %q, %v; want good", got, err)
	}
	if got, err := ctl.MigrationTarget(ctx, "web", fsm.MigrateCold, ""); err != nil || got != "bad" {
		t.Fatalf("cold, no target named: %q, %v; want bad (the emptiest)", got, err)
	}
	_, err := ctl.MigrationTarget(ctx, "web", fsm.MigrateLive, "bad")
	if !errors.Is(err, fsm.ErrState) || !strings.Contains(err.Error(), `vm "web" cannot go to node "bad": peer URI refused: node "bad" publishes libvirt URI "qemu+ext:///system?command=/bin/sh"`) {
		t.Fatalf("live to bad: %v", err)
	}
	if got, err := ctl.MigrationTarget(ctx, "web", fsm.MigrateCold, "bad"); err != nil || got != "bad" {
		t.Fatalf("cold to bad: %q, %v", got, err)
	}
}

// A drain moves a running VM live to a node whose URIs pass, not to the
// one that scores best but publishes refused URIs; with no such node left the
// drain preview names the reason.
func TestDrain_SkipsNodesWithRefusedURIs(t *testing.T) {
	ctl, c := peerFixture(t)
	ctx := context.Background()
	now := time.Now().UTC()
	c.must(t, fsm.SetMaintenance{ID: "src", Maintenance: true, Reason: "test", At: now})
	ctl.drainNodes(ctx, map[string]time.Time{})
	migs := c.fsm.ActiveMigrations()
	if len(migs) != 1 || migs[0].Target != "good" || migs[0].Mode != fsm.MigrateLive {
		t.Fatalf("drain started %+v, want one live migration to good", migs)
	}
	c.must(t, fsm.CancelMigration{ID: migs[0].ID, At: now})
	c.must(t, fsm.SetMaintenance{ID: "good", Maintenance: true, Reason: "test", At: now})
	moves, err := ctl.DrainPreview(ctx, "src")
	if err != nil || len(moves) != 1 {
		t.Fatalf("drain preview: %+v, %v; want web unmovable", moves, err)
	}
	if r := moves[0].Decision.Rejected; !strings.Contains(moves[0].Decision.Reason, "bad: peer URI refused") {
		t.Fatalf("drain preview says %q (rejections %+v), want the refused URI", moves[0].Decision.Reason, r)
	}
}
