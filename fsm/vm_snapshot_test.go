package fsm

import (
	"strings"
	"testing"
)

func TestVMSnapshot_Lifecycle(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 4096, 4)
	f.addNode("n2", "node-2", 4096, 4)
	f.must(CreateVM{ID: "vm-0", Spec: testSpec("unplaced", 99999, 1), At: t0})
	f.refuse(CreateVMSnapshot{VM: "vm-0", Name: "s1", At: t0}, ErrState) // no host, no disks
	f.runningVM("vm-1", "web")
	f.refuse(CreateVMSnapshot{VM: "vm-1", Name: "../x", At: t0}, ErrInvalid)
	f.must(CreateVMSnapshot{VM: "vm-1", Name: "s1", Memory: true, At: t0})
	// One action at a time; the host's report ends it.
	f.refuse(CreateVMSnapshot{VM: "vm-1", Name: "s2", At: t0}, ErrConflict)
	f.refuse(RevertVMSnapshot{VM: "vm-1", Name: "s1", At: t0}, ErrConflict)
	f.refuse(ReportVMSnapshot{VM: "vm-1", Name: "s1", Node: "n2", At: t0}, ErrState)
	f.must(ReportVMSnapshot{VM: "vm-1", Name: "s1", Node: "n1", At: t0})
	if sn := f.vm("vm-1").Snapshots; len(sn) != 1 || sn[0].State != SnapshotReady || !sn[0].Memory {
		t.Fatalf("snapshots %+v", sn)
	}
	f.refuse(ReportVMSnapshot{VM: "vm-1", Name: "s1", Node: "n1", At: t0}, ErrState) // nothing under way
	f.refuse(CreateVMSnapshot{VM: "vm-1", Name: "s1", At: t0}, ErrConflict)

	// A failed creation is kept with its error, and deleted at once.
	f.must(CreateVMSnapshot{VM: "vm-1", Name: "s2", At: t0})
	f.must(ReportVMSnapshot{VM: "vm-1", Name: "s2", Node: "n1", Error: "disk vdb does not support snapshots", At: t0})
	if sn := f.vm("vm-1").Snapshots[1]; sn.State != SnapshotFailed || !strings.Contains(sn.Error, "vdb") {
		t.Fatalf("failed snapshot %+v", sn)
	}
	f.must(DeleteVMSnapshot{VM: "vm-1", Name: "s2", At: t0})

	// A vm with snapshots does not move, and its volumes stay as they are.
	err := f.refuse(CreateMigration{ID: "m1", VMID: "vm-1", Mode: MigrateLive, Target: "n2", At: t0}, ErrState)
	if !strings.Contains(err.Error(), "snapshots") {
		t.Fatalf("migration refusal %q does not say why", err)
	}
	f.must(CreateVolume{Volume: Volume{ID: "v1", Name: "data", SizeGiB: 1, CreatedAt: t0}})
	f.refuse(AttachVolume{ID: "v1", VM: "vm-1", At: t0}, ErrState)

	// A revert that fails leaves the snapshot ready, with the error.
	f.must(RevertVMSnapshot{VM: "vm-1", Name: "s1", At: t0})
	f.must(ReportVMSnapshot{VM: "vm-1", Name: "s1", Node: "n1", Error: "libvirt said no", At: t0})
	if sn := f.vm("vm-1").Snapshots[0]; sn.State != SnapshotReady || sn.Error == "" {
		t.Fatalf("after a failed revert: %+v", sn)
	}
	f.must(DeleteVMSnapshot{VM: "vm-1", Name: "s1", At: t0})
	f.must(ReportVMSnapshot{VM: "vm-1", Name: "s1", Node: "n1", At: t0})
	if sn := f.vm("vm-1").Snapshots; len(sn) != 0 {
		t.Fatalf("after the delete: %+v", sn)
	}
	f.must(CreateMigration{ID: "m1", VMID: "vm-1", Mode: MigrateLive, Target: "n2", At: t0})
}

func TestVMSnapshot_MemoryNeedsARunningGuest(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 4096, 4)
	f.must(CreateVM{ID: "vm-1", Spec: testSpec("web", 256, 1), Node: "n1", At: t0})
	f.refuse(CreateVMSnapshot{VM: "vm-1", Name: "s1", Memory: true, At: t0}, ErrState)
	for i := range MaxVMSnapshots {
		f.must(CreateVMSnapshot{VM: "vm-1", Name: numbered("s", i), At: t0})
		f.must(ReportVMSnapshot{VM: "vm-1", Name: numbered("s", i), Node: "n1", At: t0})
	}
	f.refuse(CreateVMSnapshot{VM: "vm-1", Name: "one-more", At: t0}, ErrConflict)
}
