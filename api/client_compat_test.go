package api

import (
	"context"
	"testing"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
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

// The migration, drain, settings and rebalance routes, through the real client.
func TestClientCompat_MigrationsDrainSettings(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	c, err := client.New(e.http.URL, e.root)
	if err != nil {
		t.Fatal(err)
	}
	vm := e.runningVM("web-1", e.nodes[0])
	m, err := c.MigrateVM(ctx, "web-1", client.MigrateRequest{Target: "node-2", MaxDowntimeMs: 200})
	if err != nil || m.VMID != vm.ID || m.TargetName != "node-2" || m.Options.MaxDowntimeMs != 200 {
		t.Fatalf("migrate = %+v, %v", m, err)
	}
	if _, err := c.MigrateVM(ctx, "web-1", client.MigrateRequest{}); client.ErrorCode(err) != client.CodeConflict {
		t.Fatalf("second migrate: %v, want conflict", err)
	}
	if got, err := c.Migration(ctx, m.ID); err != nil || got.ID != m.ID {
		t.Fatalf("get migration = %+v, %v", got, err)
	}
	if list, err := c.Migrations(ctx, client.ListMigrationsOptions{VM: "web-1", State: "pending", Node: "node-2"}); err != nil || len(list) != 1 {
		t.Fatalf("list migrations = %+v, %v", list, err)
	}
	if got, err := c.CancelMigration(ctx, m.ID); err != nil || got.State != client.MigrationCancelled {
		t.Fatalf("cancel = %+v, %v", got, err)
	}
	if _, err := c.CancelMigration(ctx, m.ID); client.ErrorCode(err) != client.CodeInvalidState {
		t.Fatalf("second cancel: %v, want invalid_state", err)
	}

	st, err := c.DrainNode(ctx, "node-1", "upgrade")
	if err != nil || !st.Maintenance || st.MaintenanceReason != "upgrade" || len(st.VMs) != 1 || st.Done {
		t.Fatalf("drain = %+v, %v", st, err)
	}
	if st, err = c.DrainStatus(ctx, "node-1"); err != nil || !st.Maintenance {
		t.Fatalf("drain status = %+v, %v", st, err)
	}
	if n, err := c.UndrainNode(ctx, "node-1"); err != nil || n.Maintenance {
		t.Fatalf("undrain = %+v, %v", n, err)
	}
	if plan, err := c.FailoverPlan(ctx, "node-1"); err != nil || len(plan.Moves) != 1 {
		t.Fatalf("failover plan = %+v, %v", plan, err)
	}

	mode := client.RebalanceAutomatic
	set, err := c.UpdateSettings(ctx, client.SettingsUpdate{Rebalance: &client.RebalanceSettingsUpdate{Mode: &mode}})
	if err != nil || set.Rebalance.Mode != mode || set.Strategy != client.StrategySpread {
		t.Fatalf("update settings = %+v, %v", set, err)
	}
	if set, err = c.Settings(ctx); err != nil || set.Rebalance.Mode != mode {
		t.Fatalf("settings = %+v, %v", set, err)
	}
	e.cluster.mu.Lock()
	e.cluster.rebalance.Mode, e.cluster.rebalance.LeaderName = mode, "node-1"
	e.cluster.mu.Unlock()
	if rb, err := c.Rebalance(ctx); err != nil || rb.Mode != mode || rb.Leader != "node-1" || rb.RecentMoves == nil {
		t.Fatalf("rebalance = %+v, %v", rb, err)
	}
}

// The volume routes, through the real client: create, grow, attach to a
// running VM (pending until its host reports), detach and delete.
func TestClientCompat_Volumes(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	c, err := client.New(e.http.URL, e.root)
	if err != nil {
		t.Fatal(err)
	}
	vm := e.runningVM("web", e.nodes[0])
	v, err := c.CreateVolume(ctx, client.VolumeRequest{Name: "data", SizeGiB: 2})
	if err != nil || v.Pool != "default" || v.SizeGiB != 2 {
		t.Fatalf("create volume = %+v, %v", v, err)
	}
	if _, err := c.CreateVolume(ctx, client.VolumeRequest{Name: "data", SizeGiB: 2}); client.ErrorCode(err) != client.CodeConflict {
		t.Fatalf("second create: %v, want conflict", err)
	}
	if v, err = c.ResizeVolume(ctx, "data", 3); err != nil || v.SizeGiB != 3 {
		t.Fatalf("resize = %+v, %v", v, err)
	}
	if _, err := c.ResizeVolume(ctx, "data", 1); client.ErrorCode(err) != client.CodeInvalid {
		t.Fatalf("shrink: %v, want invalid", err)
	}
	if v, err = c.AttachVolume(ctx, "web", "data"); err != nil || v.Attachment != client.VolumeAttaching || v.VMName != "web" {
		t.Fatalf("attach = %+v, %v", v, err)
	}
	e.hostReports(fsm.ReportVolume{ID: v.ID, Node: e.nodes[0].ID, FileGiB: 3, Attached: true})
	if got, err := c.WithReadOptions(client.ReadOptions{WaitIndex: e.fsm.AppliedIndex()}).Volume(ctx, v.ID[:8]); err != nil || got.Attachment != client.VolumeAttached {
		t.Fatalf("volume = %+v, %v", got, err)
	}
	if vols, err := c.VMVolumes(ctx, vm.ID); err != nil || len(vols) != 1 || vols[0].Target != "vdc" {
		t.Fatalf("vm volumes = %+v, %v", vols, err)
	}
	if got, err := c.VM(ctx, "web"); err != nil || len(got.Volumes) != 1 || got.Volumes[0].Name != "data" {
		t.Fatalf("vm = %+v, %v", got, err)
	}
	if v, err = c.DetachVolume(ctx, "web", "data"); err != nil || v.Attachment != client.VolumeDetaching {
		t.Fatalf("detach = %+v, %v", v, err)
	}
	e.hostReports(fsm.ReportVolume{ID: v.ID, Node: e.nodes[0].ID, Detached: true})
	if v, err = c.DeleteVolume(ctx, "data"); err != nil || !v.Deleting {
		t.Fatalf("delete = %+v, %v", v, err)
	}
	if list, err := c.Volumes(ctx, true); err != nil || len(list) != 1 || !list[0].Deleting {
		t.Fatalf("volumes = %+v, %v", list, err)
	}
}

// The snapshot routes, through the real client: take one of a running VM
// (creating until its host reports), revert to it, delete it.
func TestClientCompat_Snapshots(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	c, err := client.New(e.http.URL, e.root)
	if err != nil {
		t.Fatal(err)
	}
	vm := e.runningVM("web", e.nodes[0])
	report := func(name string) {
		e.hostSnapshots(fsm.ReportVMSnapshot{VM: vm.ID, Name: name, Node: e.nodes[0].ID})
	}
	sn, err := c.CreateVMSnapshot(ctx, "web", client.SnapshotRequest{Name: "s1", Memory: true})
	if err != nil || sn.State != client.SnapshotCreating || !sn.Memory {
		t.Fatalf("create = %+v, %v", sn, err)
	}
	if _, err := c.CreateVMSnapshot(ctx, "web", client.SnapshotRequest{Name: "s1"}); client.ErrorCode(err) != client.CodeConflict {
		t.Fatalf("second create: %v, want conflict", err)
	}
	report("s1")
	rc := c.WithReadOptions(client.ReadOptions{WaitIndex: e.fsm.AppliedIndex()})
	if got, err := rc.VMSnapshot(ctx, vm.ID[:8], "s1"); err != nil || got.State != client.SnapshotReady {
		t.Fatalf("snapshot = %+v, %v", got, err)
	}
	if sn, err = c.RevertVMSnapshot(ctx, "web", "s1"); err != nil || sn.State != client.SnapshotReverting {
		t.Fatalf("revert = %+v, %v", sn, err)
	}
	report("s1")
	if list, err := c.VMSnapshots(ctx, "web"); err != nil || len(list) != 1 || list[0].State != client.SnapshotReady {
		t.Fatalf("snapshots = %+v, %v", list, err)
	}
	if got, err := c.VM(ctx, "web"); err != nil || len(got.Snapshots) != 1 || got.Snapshots[0].Name != "s1" {
		t.Fatalf("vm = %+v, %v", got, err)
	}
	if sn, err = c.DeleteVMSnapshot(ctx, "web", "s1"); err != nil || sn.State != client.SnapshotDeleting {
		t.Fatalf("delete = %+v, %v", sn, err)
	}
	report("s1")
	if _, err := c.VMSnapshot(ctx, "web", "s1"); !client.IsNotFound(err) {
		t.Fatalf("deleted snapshot: %v, want not found", err)
	}
}
