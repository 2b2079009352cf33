package fsm

import (
	"strings"
	"testing"
	"time"
)

func readyImage(id, project, name string, virtual int64) []Command {
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	return []Command{
		&CreateImage{Image: Image{ID: id, Project: project, Name: name, Source: "/var/lib/novacron/images/" + name + ".qcow2", Importer: "n1", CreatedAt: t0}},
		&UpdateImage{ID: id, State: ImageReady, Format: ImageQCOW2, SizeBytes: 1 << 20, VirtualSizeBytes: virtual, SHA256: strings.Repeat("ab", 32), Host: "n1", At: t0},
	}
}

func TestImage_LifecycleAndVMDisk(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 4096, 4)
	for _, c := range readyImage("i1", "", "debian", 2<<30) {
		f.must(c)
	}
	img, err := f.ImageByName(DefaultProject, "debian")
	if err != nil || img.State != ImageReady || img.Pool != DefaultPool || len(img.Hosts) != 1 {
		t.Fatalf("image %+v, %v", img, err)
	}
	// A second copy on another host is recorded once.
	f.must(&UpdateImage{ID: "i1", Host: "n2"})
	f.must(&UpdateImage{ID: "i1", Host: "n2"})
	if img, _ := f.Image("i1"); len(img.Hosts) != 2 {
		t.Fatalf("hosts %v, want n1 and n2", img.Hosts)
	}
	// An import that ended cannot end again; a name is unique in its project.
	f.refuse(&UpdateImage{ID: "i1", State: ImageFailed, Error: "late"}, ErrState)
	f.refuse(&CreateImage{Image: Image{ID: "i2", Name: "debian", Source: "/x", Importer: "n1"}}, ErrConflict)

	spec := testSpec("web", 256, 1)
	spec.Image, spec.DiskGiB = "i1", 1
	f.refuse(&CreateVM{ID: "vm-1", Spec: spec}, ErrInvalid) // smaller than the image
	spec.DiskGiB = 4
	spec.Pool = "nfs"
	f.refuse(&CreateVM{ID: "vm-1", Spec: spec}, ErrNotFound) // no such pool
	spec.Pool = ""
	f.must(&CreateVM{ID: "vm-1", Spec: spec})
	if vm := f.vm("vm-1"); !vm.LocalDisks || vm.FailsOver() || !strings.Contains(vm.NoFailoverReason(), "dir pool default") {
		t.Fatalf("a vm on a dir pool: local disks %v, fails over %v (%q); want it to wait for its host", vm.LocalDisks, vm.FailsOver(), vm.NoFailoverReason())
	}
	// The image of a project is not another project's.
	f.must(&CreateProject{Project: Project{Name: "prod"}})
	f.refuse(&CreateVM{ID: "vm-2", Project: "prod", Spec: spec}, ErrNotFound)
	// In use, the image stays.
	f.refuse(&DeleteImage{ID: "i1"}, ErrState)
	up := f.vm("vm-1").Spec
	up.DiskGiB = 2
	f.refuse(&UpdateVM{ID: "vm-1", Spec: up}, ErrInvalid) // volumes only grow
	f.must(&DeleteVM{ID: "vm-1"})
	f.must(&DeleteImage{ID: "i1"})
}

func TestImage_NotReadyIsNoBase(t *testing.T) {
	f := newTestFSM(t)
	f.must(readyImage("i1", "", "debian", 1<<30)[0])
	spec := testSpec("web", 256, 1)
	spec.Image = "i1"
	f.refuse(&CreateVM{ID: "vm-1", Spec: spec}, ErrState)
	f.must(&UpdateImage{ID: "i1", State: ImageFailed, Error: "checksum mismatch"})
	if img, _ := f.Image("i1"); img.State != ImageFailed || img.Error != "checksum mismatch" {
		t.Fatalf("image %+v", img)
	}
	f.refuse(&UpdateImage{ID: "i1", Host: "n2"}, ErrState)
}

// A user cancels an import under way; one that ended cannot be.
func TestImage_CancelImport(t *testing.T) {
	f := newTestFSM(t)
	cmds := readyImage("i1", "", "debian", 1<<30)
	f.must(cmds[0])
	f.refuse(&CancelImageImport{ID: "nope"}, ErrNotFound)
	at := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	f.must(&CancelImageImport{ID: "i1", At: at})
	if img, _ := f.Image("i1"); img.State != ImageCancelled || img.Error != "import cancelled" || !img.UpdatedAt.Equal(at) {
		t.Fatalf("image %+v, want cancelled at %s", img, at)
	}
	// The importer's late report changes nothing; the image is no base.
	f.refuse(cmds[1], ErrState)
	f.refuse(&CancelImageImport{ID: "i1"}, ErrState)
	spec := testSpec("web", 256, 1)
	spec.Image = "i1"
	f.refuse(&CreateVM{ID: "vm-1", Spec: spec}, ErrState)
	f.must(&DeleteImage{ID: "i1"})

	for _, c := range readyImage("i2", "", "ubuntu", 1<<30) {
		f.must(c)
	}
	f.refuse(&CancelImageImport{ID: "i2"}, ErrState)
}

func TestPool_DeclareAndDelete(t *testing.T) {
	f := newTestFSM(t)
	f.refuse(&CreatePool{Pool: StoragePool{Name: "nfs", Type: PoolShared}}, ErrInvalid) // shared needs a path
	f.refuse(&CreatePool{Pool: StoragePool{Name: "nfs", Type: PoolShared, Path: "relative"}}, ErrInvalid)
	f.refuse(&CreatePool{Pool: StoragePool{Name: "nfs", Type: "ceph", Path: "/mnt/x"}}, ErrInvalid)
	f.refuse(&CreatePool{Pool: StoragePool{Name: DefaultPool, Type: PoolDir}}, ErrConflict)
	f.must(&CreatePool{Pool: StoragePool{Name: "nfs", Type: PoolShared, Path: "/mnt/nfs"}})
	f.refuse(&CreatePool{Pool: StoragePool{Name: "nfs2", Type: PoolShared, Path: "/mnt/nfs"}}, ErrConflict)
	if ps := f.Pools(); len(ps) != 2 || ps[0].Name != DefaultPool || ps[1].Name != "nfs" {
		t.Fatalf("pools %+v", ps)
	}
	cmds := readyImage("i1", "", "debian", 1<<30)
	cmds[0].(*CreateImage).Image.Pool = "nfs"
	for _, c := range cmds {
		f.must(c)
	}
	f.refuse(&DeletePool{Name: "nfs"}, ErrState)
	f.refuse(&DeletePool{Name: DefaultPool}, ErrState)
	f.must(&DeleteImage{ID: "i1"})
	f.must(&DeletePool{Name: "nfs"})
}

func TestImage_SnapshotRoundTrip(t *testing.T) {
	f := newTestFSM(t)
	f.must(&CreatePool{Pool: StoragePool{Name: "nfs", Type: PoolShared, Path: "/mnt/nfs"}})
	for _, c := range readyImage("i1", "", "debian", 1<<30) {
		f.must(c)
	}
	f.addNode("n1", "node-1", 4096, 4)
	f.must(&ReportHost{ID: "n1", Pools: []PoolUsage{{Pool: DefaultPool, CapacityBytes: 10 << 30, AvailableBytes: 4 << 30}}})
	b := snapshotBytes(t, f.FSM)
	g := New()
	if err := restoreBytes(g, b); err != nil {
		t.Fatal(err)
	}
	assertSameState(t, dump(f.FSM), dump(g))
	if n, _ := g.Node("n1"); len(n.Pools) != 1 || n.Pools[0].AvailableBytes != 4<<30 {
		t.Fatalf("restored node pools %+v", n.Pools)
	}
}
