package host

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/hypervisor/sim"
	"github.com/novacron/novacron/internal/hostpath"
)

// startRecorder records the specs the host starts domains with.
type startRecorder struct {
	*sim.Driver
	mu    sync.Mutex
	specs []hypervisor.DomainSpec
}

func (d *startRecorder) Start(ctx context.Context, spec hypervisor.DomainSpec) error {
	d.mu.Lock()
	d.specs = append(d.specs, spec)
	d.mu.Unlock()
	return d.Driver.Start(ctx, spec)
}

func (d *startRecorder) started() []hypervisor.DomainSpec {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]hypervisor.DomainSpec(nil), d.specs...)
}

// TestReconcile_BootFilesOutsideTheImageFoldersAreRefused: a host does not
// start a domain whose boot files fail the check; the VM records one error
// that does not say whether the file exists. An allowed file is started by
// its resolved path.
func TestReconcile_BootFilesOutsideTheImageFoldersAreRefused(t *testing.T) {
	images := t.TempDir()
	kernel := filepath.Join(images, "vmlinuz")
	if err := os.WriteFile(kernel, []byte("kernel"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(images, "current")
	if err := os.Symlink("vmlinuz", link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(images, "passwd")); err != nil {
		t.Fatal(err)
	}
	qcow2 := filepath.Join(images, "backed.qcow2")
	header := append([]byte("QFI\xfb\x00\x00\x00\x03"), 0, 0, 0, 0, 0, 0, 2, 0) // backing file at 0x200
	if err := os.WriteFile(qcow2, header, 0o600); err != nil {
		t.Fatal(err)
	}
	var rec *startRecorder
	e := newTestEnv(t, envOptions{
		bootFiles: hostpath.New([]string{images}),
		wrap:      func(d *sim.Driver) hypervisor.Driver { rec = &startRecorder{Driver: d}; return rec },
	})
	e.grantLease()
	r := e.reconciler()
	ctx := context.Background()

	for i, tc := range []struct {
		name, field, path string
		boot              fsm.BootSource
	}{
		{"shadow", "boot.disk", "/etc/shadow", fsm.BootSource{Disk: "/etc/shadow"}},
		{"dotdot", "boot.disk", images + "/../../../etc/passwd", fsm.BootSource{Disk: images + "/../../../etc/passwd"}},
		{"symlink-out", "boot.kernel", filepath.Join(images, "passwd"), fsm.BootSource{Kernel: filepath.Join(images, "passwd")}},
		{"proc", "boot.initrd", "/proc/self/environ", fsm.BootSource{Kernel: kernel, Initrd: "/proc/self/environ"}},
		{"device", "boot.disk", "/dev/null", fsm.BootSource{Disk: "/dev/null"}},
		{"missing", "boot.disk", filepath.Join(images, "missing.img"), fsm.BootSource{Disk: filepath.Join(images, "missing.img")}},
		{"folder", "boot.kernel", images, fsm.BootSource{Kernel: images}},
	} {
		s := spec("bad-" + tc.name)
		s.Boot = &tc.boot
		vm := e.createVM("vm-bad-"+string(rune('a'+i)), s, me)
		rep := r.reconcileOne(ctx, vm.ID)
		if rep == nil {
			t.Fatalf("%s: a refused start was not reported", tc.name)
		}
		r.report(ctx, []*fsm.ReportVM{rep})
		got := e.vm(vm.ID)
		want := "invalid domain spec: " + tc.field + ` "` + tc.path + `": not an image in the allowed folders (--image-dir)`
		if got.State != fsm.VMError || got.Error != want {
			t.Fatalf("%s: record is %s (%q), want error %q", tc.name, got.State, got.Error, want)
		}
		if st := domainState(e.driver, vm.ID); st != absent {
			t.Fatalf("%s: domain is %s after a refused start", tc.name, st)
		}
	}
	if n := len(rec.started()); n != 0 {
		t.Fatalf("the driver was asked to start %d refused domains", n)
	}

	s := spec("backed")
	s.Boot = &fsm.BootSource{Disk: qcow2, DiskFormat: fsm.DiskQCOW2}
	vm := e.createVM("vm-backed", s, me)
	r.report(ctx, []*fsm.ReportVM{r.reconcileOne(ctx, vm.ID)})
	if got := e.vm(vm.ID); got.State != fsm.VMError || got.Error == "" {
		t.Fatalf("a qcow2 image with a backing file was started: %s %q", got.State, got.Error)
	}

	s = spec("good")
	s.Boot = &fsm.BootSource{Kernel: link, Cmdline: "console=ttyS0"}
	vm = e.createVM("vm-good", s, me)
	if rep := r.reconcileOne(ctx, vm.ID); rep != nil {
		r.report(ctx, []*fsm.ReportVM{rep})
	}
	if st := domainState(e.driver, vm.ID); st != hypervisor.StateRunning {
		t.Fatalf("allowed boot files: domain is %s, want running", st)
	}
	started := rec.started()
	wantKernel, _ := filepath.EvalSymlinks(kernel)
	if len(started) != 1 || started[0].Boot.Kernel != wantKernel {
		t.Fatalf("started %+v, want one domain booting the resolved %s", started, wantKernel)
	}
}
