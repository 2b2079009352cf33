package fsm

import (
	"strings"
	"testing"
)

// runningVM creates vm-N on node n1 and records it running there.
func (f *testFSM) runningVM(id, name string) {
	f.must(CreateVM{ID: id, Spec: testSpec(name, 256, 1), Node: "n1", At: t0})
	f.must(ReportVM{ID: id, Node: "n1", Generation: 1, State: VMRunning, At: t0})
}

func TestVolume_AttachToRunningVMWaitsForItsHost(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 4096, 4)
	f.addNode("n2", "node-2", 4096, 4)
	f.runningVM("vm-1", "web")
	f.must(CreateVolume{Volume: Volume{ID: "v1", Name: "data", SizeGiB: 10, CreatedAt: t0}})
	f.refuse(CreateVolume{Volume: Volume{ID: "v2", Name: "data", SizeGiB: 1}}, ErrConflict)
	f.refuse(CreateVolume{Volume: Volume{ID: "v2", Name: "big", SizeGiB: MaxVolumeGiB + 1}}, ErrInvalid)
	f.refuse(CreateVolume{Volume: Volume{ID: "v2", Name: "zero"}}, ErrInvalid)
	f.refuse(CreateVolume{Volume: Volume{ID: "v2", Name: "x", Pool: "nfs", SizeGiB: 1}}, ErrNotFound)

	f.must(AttachVolume{ID: "v1", VM: "vm-1", At: t0})
	v, _ := f.Volume("v1")
	if v.Attachment != Attaching || v.Target != "vdc" || v.Host != "n1" || v.Format != DiskQCOW2 {
		t.Fatalf("attached to a running vm: %+v; want attaching as vdc on n1", v)
	}
	if !f.vm("vm-1").LocalDisks {
		t.Fatal("a vm with a dir-pool volume must not fail over onto a blank disk")
	}
	// While it attaches, the vm does not move and the volume is not detached.
	f.refuse(CreateMigration{ID: "m1", VMID: "vm-1", Mode: MigrateLive, Target: "n2", At: t0}, ErrConflict)
	f.refuse(DetachVolume{ID: "v1", VM: "vm-1", At: t0}, ErrConflict)
	// Only the vm's own host reports it.
	f.refuse(ReportVolume{ID: "v1", Node: "n2", Attached: true, FileGiB: 10, At: t0}, ErrState)
	f.must(ReportVolume{ID: "v1", Node: "n1", Attached: true, FileGiB: 10, At: t0})
	if v, _ := f.Volume("v1"); v.Attachment != Attached || v.FileGiB != 10 {
		t.Fatalf("after the host's report: %+v", v)
	}
	f.refuse(DeleteVolume{ID: "v1", At: t0}, ErrState) // attached
	f.refuse(ResizeVolume{ID: "v1", SizeGiB: 5, At: t0}, ErrInvalid)
	f.must(ResizeVolume{ID: "v1", SizeGiB: 20, At: t0})

	// Detaching from a running vm also waits for the host; the volume then
	// stays on the host that holds its file.
	f.refuse(DetachVolume{ID: "v1", VM: "vm-2", At: t0}, ErrState)
	f.must(DetachVolume{ID: "v1", VM: "vm-1", At: t0})
	if v, _ := f.Volume("v1"); v.Attachment != Detaching {
		t.Fatalf("detaching: %+v", v)
	}
	f.must(ReportVolume{ID: "v1", Node: "n1", Detached: true, FileGiB: 20, At: t0})
	v, _ = f.Volume("v1")
	if v.VM != "" || v.Target != "" || v.Host != "n1" || f.vm("vm-1").LocalDisks {
		t.Fatalf("detached: %+v, local disks %v", v, f.vm("vm-1").LocalDisks)
	}
	// Its file is on n1: a vm on n2 cannot have it.
	f.must(CreateVM{ID: "vm-2", Spec: testSpec("db", 256, 1), Node: "n2", At: t0})
	err := f.refuse(AttachVolume{ID: "v1", VM: "vm-2", At: t0}, ErrState)
	if !strings.Contains(err.Error(), "node-1") {
		t.Fatalf("refusal %q does not name the host holding the volume", err)
	}
	// Deleting waits for its host to remove the file.
	f.must(DeleteVolume{ID: "v1", At: t0})
	f.refuse(AttachVolume{ID: "v1", VM: "vm-1", At: t0}, ErrState)
	f.must(ReportVolume{ID: "v1", Node: "n1", Deleted: true, At: t0})
	if _, err := f.Volume("v1"); err == nil {
		t.Fatal("the volume outlived its host's report of the removal")
	}
}

func TestVolume_StoppedVMAndDeletedVM(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 4096, 4)
	f.must(CreateVM{ID: "vm-1", Spec: testSpec("web", 256, 1), Node: "n1", At: t0})
	f.must(VMAction{ID: "vm-1", Action: ActionStop, At: t0})
	for i, id := range []string{"a", "b", "c"} {
		f.must(CreateVolume{Volume: Volume{ID: id, Name: "vol-" + id, SizeGiB: int64(i + 1), CreatedAt: t0}})
		f.must(AttachVolume{ID: id, VM: "vm-1", At: t0})
	}
	// With no domain to change, an attach takes effect at once, and the
	// targets follow each other; a freed one is given again.
	got := f.VolumesOf("vm-1")
	if len(got) != 3 || got[0].Target != "vdc" || got[2].Target != "vde" || got[1].Attachment != Attached {
		t.Fatalf("volumes of a stopped vm: %+v", got)
	}
	f.must(DetachVolume{ID: "b", VM: "vm-1", At: t0})
	f.must(CreateVolume{Volume: Volume{ID: "d", Name: "vol-d", SizeGiB: 1, CreatedAt: t0}})
	f.must(AttachVolume{ID: "d", VM: "vm-1", At: t0})
	if v, _ := f.Volume("d"); v.Target != "vdd" {
		t.Fatalf("the freed target vdd was not reused: %+v", v)
	}
	// Deleting the vm detaches its volumes; they stay, counted in the quota.
	f.must(DeleteVM{ID: "vm-1", At: t0})
	if len(f.VolumesOf("vm-1")) != 0 {
		t.Fatal("a deleted vm still has volumes")
	}
	for _, v := range f.Volumes() {
		if v.VM != "" || v.Attachment != "" {
			t.Fatalf("volume %s still attached to a deleted vm: %+v", v.Name, v)
		}
	}
	_, usage, _ := f.Project(DefaultProject)
	if usage.DiskGiB != 1+2+3+1 {
		t.Fatalf("disk use %d GiB, want the volumes' 7", usage.DiskGiB)
	}
	// A volume never made is deleted at once.
	f.must(DeleteVolume{ID: "d", At: t0})
	if _, err := f.Volume("d"); err == nil {
		t.Fatal("a volume never made waits for a host to delete it")
	}
}

func TestVolume_ProjectsQuotaAndPools(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 4096, 4)
	limit := int64(5)
	f.must(CreateProject{Project: Project{Name: "prod", Quota: Quota{DiskGiB: &limit}}})
	f.must(CreateVM{ID: "vm-1", Spec: testSpec("web", 256, 1), Node: "n1", At: t0})
	f.must(CreateVolume{Volume: Volume{ID: "p1", Project: "prod", Name: "data", SizeGiB: 5, CreatedAt: t0}})
	f.refuse(CreateVolume{Volume: Volume{ID: "p2", Project: "prod", Name: "more", SizeGiB: 1}}, ErrQuota)
	f.refuse(ResizeVolume{ID: "p1", SizeGiB: 6, At: t0}, ErrQuota)
	// A volume attaches only to a vm of its own project.
	f.refuse(AttachVolume{ID: "p1", VM: "vm-1", At: t0}, ErrNotFound)
	f.refuse(DeleteProject{Name: "prod"}, ErrState)
	// ... and of its own pool.
	f.must(CreatePool{Pool: StoragePool{Name: "nfs", Type: PoolShared, Path: "/mnt/nfs"}})
	f.must(CreateVolume{Volume: Volume{ID: "s1", Name: "shared", Pool: "nfs", SizeGiB: 1, CreatedAt: t0}})
	f.refuse(AttachVolume{ID: "s1", VM: "vm-1", At: t0}, ErrInvalid)
	spec := testSpec("nfs-vm", 256, 1)
	spec.Pool = "nfs"
	f.must(CreateVM{ID: "vm-2", Spec: spec, Node: "n1", At: t0})
	f.must(AttachVolume{ID: "s1", VM: "vm-2", At: t0})
	f.refuse(DeletePool{Name: "nfs"}, ErrState) // it holds a volume
	if f.vm("vm-2").LocalDisks {
		t.Fatal("a vm whose volumes are all in a shared pool fails over")
	}
}
