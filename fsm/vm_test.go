package fsm

import (
	"errors"
	"testing"
	"time"
)

func TestCreateVM_Pending(t *testing.T) {
	f := newTestFSM(t)
	spec := testSpec("web-1", 1024, 2)
	spec.Boot = &BootSource{Disk: "/var/lib/images/web.qcow2"}
	f.must(CreateVM{ID: "vm-1", Spec: spec, At: t0})
	vm := f.vm("vm-1")
	if vm.State != VMPending || vm.DesiredState != VMRunning || vm.Node != "" || vm.Generation != 0 {
		t.Fatalf("vm %+v: want pending, desired running, unplaced", vm)
	}
	if vm.Index != 1 || !vm.CreatedAt.Equal(t0) || !vm.UpdatedAt.Equal(t0) || vm.Spec.Boot.Disk != spec.Boot.Disk {
		t.Fatalf("vm %+v", vm)
	}
	if byName, err := f.VMByName("", "web-1"); err != nil || byName.ID != "vm-1" {
		t.Fatalf("VMByName: %+v %v", byName, err)
	}
	if c := f.VMCountsByState(); c[VMPending] != 1 || len(c) != 1 {
		t.Fatalf("counts %v", c)
	}
	// The record is a copy: changing it does not change the FSM.
	vm.Spec.Labels["app"] = "changed"
	vm.Spec.Boot.Disk = "/elsewhere"
	if got := f.vm("vm-1"); got.Spec.Labels["app"] != "web" || got.Spec.Boot.Disk != spec.Boot.Disk {
		t.Fatalf("VM returned the FSM's own maps or pointers: %+v", got.Spec)
	}
}

func TestCreateVM_WithNode(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 4096, 4)
	f.must(CreateVM{ID: "vm-1", Spec: testSpec("web-1", 1024, 2), Node: "n1", Reason: "most free memory", At: t0})
	vm := f.vm("vm-1")
	if vm.Node != "n1" || vm.Generation != 1 || vm.State != VMScheduled || vm.Placement != "most free memory" {
		t.Fatalf("vm %+v: want scheduled on n1 at generation 1", vm)
	}
	if a := f.Allocated("n1"); a != (Capacity{VCPUs: 2, MemoryMiB: 1024, DiskGiB: 10}) {
		t.Fatalf("allocated %+v", a)
	}
	if on := f.VMsOnNode("n1"); len(on) != 1 || on[0].ID != "vm-1" {
		t.Fatalf("VMsOnNode %+v", on)
	}
}

func TestCreateVM_NodeWithoutRoomLeavesPending(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 1024, 4)
	f.addNode("n2", "node-2", 8192, 1)
	f.addNode("n3", "node-3", 8192, 8)
	f.must(SetNodeStatus{ID: "n3", Status: NodeFailed, At: t0})
	cases := map[string]string{"memory": "n1", "vcpus": "n2", "failed node": "n3", "unknown node": "n-nope"}
	i := 0
	for why, node := range cases {
		i++
		id := numbered("vm", i)
		f.must(CreateVM{ID: id, Spec: testSpec(numbered("web", i), 2048, 2), Node: node, At: t0})
		if vm := f.vm(id); vm.State != VMPending || vm.Node != "" || vm.Generation != 0 {
			t.Fatalf("%s: vm %+v, want pending", why, vm)
		}
	}
	for _, n := range []string{"n1", "n2", "n3", "n-nope"} {
		if a := f.Allocated(n); a != (Capacity{}) {
			t.Fatalf("node %s has %+v allocated for pending VMs", n, a)
		}
	}
}

func TestCreateVM_Refusals(t *testing.T) {
	f := newTestFSM(t)
	f.must(CreateVM{ID: "vm-1", Spec: testSpec("web-1", 1024, 2), At: t0})
	f.refuse(CreateVM{ID: "", Spec: testSpec("web-2", 1024, 2), At: t0}, ErrInvalid)
	f.refuse(CreateVM{ID: "vm-1", Spec: testSpec("web-2", 1024, 2), At: t0}, ErrConflict)
	err := f.refuse(CreateVM{ID: "vm-2", Spec: testSpec("web-1", 1024, 2), At: t0}, ErrConflict)
	if ErrorCode(err) != "conflict" {
		t.Fatalf("code %q", ErrorCode(err))
	}
	bad := []VMSpec{
		testSpec("", 1024, 1),
		testSpec("web-3", 0, 1),
		testSpec("web-3", 1024, 0),
		testSpec("web-3", MaxMemoryMiB+1, 1),
		{Name: "web-3", VCPUs: 1, MemoryMiB: 1, DiskGiB: 0},
		{Name: "web-3", VCPUs: 1, MemoryMiB: 1, DiskGiB: 1, Boot: &BootSource{Disk: "/a", Kernel: "/b"}},
		{Name: "web-3", VCPUs: 1, MemoryMiB: 1, DiskGiB: 1, Boot: &BootSource{}},
		{Name: "web-3", VCPUs: 1, MemoryMiB: 1, DiskGiB: 1, Boot: &BootSource{Disk: "/a", Cmdline: "x"}},
		{Name: "web-3", VCPUs: 1, MemoryMiB: 1, DiskGiB: 1, Boot: &BootSource{Disk: "a.img"}},
		{Name: "web-3", VCPUs: 1, MemoryMiB: 1, DiskGiB: 1, Boot: &BootSource{Kernel: "/k", Initrd: "i"}},
		{Name: "web-3", VCPUs: 1, MemoryMiB: 1, DiskGiB: 1, Boot: &BootSource{Disk: "/a", DiskFormat: "vmdk"}},
		{Name: "web-3", VCPUs: 1, MemoryMiB: 1, DiskGiB: 1, Boot: &BootSource{Kernel: "/k", DiskFormat: "raw"}},
		{Name: "web-3", VCPUs: 1, MemoryMiB: 1, DiskGiB: 1, Labels: map[string]string{"bad key": "v"}},
	}
	for _, s := range bad {
		f.refuse(CreateVM{ID: "vm-3", Spec: s, At: t0}, ErrInvalid)
	}
	if len(f.VMs()) != 1 {
		t.Fatalf("refused VMs were added: %+v", f.VMs())
	}
}

func TestVMNames_FreedByRenameAndDelete(t *testing.T) {
	f := newTestFSM(t)
	f.must(CreateVM{ID: "vm-1", Spec: testSpec("web-1", 1024, 2), At: t0})
	f.must(CreateVM{ID: "vm-2", Spec: testSpec("web-2", 1024, 2), At: t0})
	// Renaming onto a taken name is refused, and changes nothing.
	f.refuse(UpdateVM{ID: "vm-2", Spec: testSpec("web-1", 512, 1), At: t0}, ErrConflict)
	if vm := f.vm("vm-2"); vm.Spec.Name != "web-2" || vm.Spec.MemoryMiB != 1024 {
		t.Fatalf("refused update was applied: %+v", vm)
	}
	// Keeping one's own name is fine.
	f.must(UpdateVM{ID: "vm-1", Spec: testSpec("web-1", 2048, 2), At: t0})
	// After a rename the old name is free, the new one is taken.
	f.must(UpdateVM{ID: "vm-1", Spec: testSpec("web-1b", 2048, 2), At: t0})
	if _, err := f.VMByName("", "web-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old name still resolves: %v", err)
	}
	f.must(CreateVM{ID: "vm-3", Spec: testSpec("web-1", 1024, 2), At: t0})
	f.refuse(CreateVM{ID: "vm-4", Spec: testSpec("web-1b", 1024, 2), At: t0}, ErrConflict)
	// After a delete the name is free.
	f.must(DeleteVM{ID: "vm-1"})
	f.must(CreateVM{ID: "vm-4", Spec: testSpec("web-1b", 1024, 2), At: t0})
	if vm, err := f.VMByName("", "web-1b"); err != nil || vm.ID != "vm-4" {
		t.Fatalf("VMByName after reuse: %+v %v", vm, err)
	}
}

func TestUpdateVM(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 8192, 8)
	f.must(CreateVM{ID: "vm-1", Spec: testSpec("web-1", 1024, 2), Node: "n1", At: t0})
	t1 := t0.Add(time.Hour)
	newSpec := testSpec("web-1", 4096, 4)
	newSpec.Labels = map[string]string{"tier": "db"}
	f.must(UpdateVM{ID: "vm-1", Spec: newSpec, At: t1})
	vm := f.vm("vm-1")
	if vm.Spec.MemoryMiB != 4096 || vm.Spec.Labels["tier"] != "db" || !vm.UpdatedAt.Equal(t1) || vm.Index != f.index {
		t.Fatalf("vm %+v", vm)
	}
	if vm.Node != "n1" || vm.Generation != 1 || !vm.CreatedAt.Equal(t0) {
		t.Fatalf("update changed placement or creation: %+v", vm)
	}
	if a := f.Allocated("n1"); a != (Capacity{VCPUs: 4, MemoryMiB: 4096, DiskGiB: 10}) {
		t.Fatalf("allocated %+v after resize", a)
	}
	f.refuse(UpdateVM{ID: "nope", Spec: newSpec, At: t1}, ErrNotFound)
	f.refuse(UpdateVM{ID: "vm-1", Spec: testSpec("web-1", 0, 1), At: t1}, ErrInvalid)
	if got := f.vm("vm-1"); got.Spec.MemoryMiB != 4096 {
		t.Fatalf("refused update was applied: %+v", got)
	}
}

func TestDeleteVM(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 8192, 8)
	f.must(CreateVM{ID: "vm-1", Spec: testSpec("web-1", 1024, 2), Node: "n1", At: t0})
	f.must(CreateVM{ID: "vm-2", Spec: testSpec("web-2", 512, 1), Node: "n1", At: t0})
	f.must(DeleteVM{ID: "vm-1"})
	if _, err := f.VM("vm-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted vm: %v", err)
	}
	if a := f.Allocated("n1"); a != (Capacity{VCPUs: 1, MemoryMiB: 512, DiskGiB: 10}) {
		t.Fatalf("allocated %+v after delete", a)
	}
	f.must(DeleteVM{ID: "vm-2"})
	if a := f.Allocated("n1"); a != (Capacity{}) {
		t.Fatalf("allocated %+v with no VMs", a)
	}
	f.refuse(DeleteVM{ID: "vm-1"}, ErrNotFound)
	if len(f.VMs()) != 0 {
		t.Fatalf("vms %+v", f.VMs())
	}
}

func TestVMs_SortedByName(t *testing.T) {
	f := newTestFSM(t)
	for i, n := range []string{"c", "a", "b"} {
		f.must(CreateVM{ID: numbered("vm", i), Spec: testSpec(n, 64, 1), At: t0})
	}
	vms := f.VMs()
	if vms[0].Spec.Name != "a" || vms[1].Spec.Name != "b" || vms[2].Spec.Name != "c" {
		t.Fatalf("vms %+v", vms)
	}
}
