package api

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/hostpath"
	"github.com/novacron/novacron/internal/ids"
)

func TestCreateVM_RefusesSpecsNoNodeCanRun(t *testing.T) {
	images := t.TempDir()
	e := newTestEnvWith(t, Config{NodeName: "node-1", BootFiles: hostpath.New([]string{images})}, nil)
	// One node offers the "lab" network.
	e.cluster.mustApply(t, fsm.RegisterNode{Node: fsm.Node{ID: ids.New(), Name: "node-3", Networks: []string{"lab"},
		Capacity: fsm.Capacity{VCPUs: 4, MemoryMiB: 4096, DiskGiB: 10}, Status: fsm.NodeAlive}, At: time.Now()})
	kernel := filepath.Join(images, "vmlinuz")
	if err := os.WriteFile(kernel, []byte("kernel"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := e.cluster.applies()
	for _, tc := range []struct {
		name string
		edit func(*client.VMRequest)
		msg  string
	}{
		{"more vcpus than any node", func(r *client.VMRequest) { r.VCPUs = 64 }, "vcpus 64 is more than any node has (the largest has 8)"},
		{"more memory than any node", func(r *client.VMRequest) { r.MemoryMiB = 1 << 20 }, "more than any node has"},
		{"unknown network", func(r *client.VMRequest) { r.NICs = []client.NIC{{Network: "nope"}} }, `nics[0].network "nope" does not exist on any node (known networks: lab)`},
		{"missing kernel", func(r *client.VMRequest) { r.Boot = &client.BootSource{Kernel: "/no/such/vmlinuz"} }, `boot.kernel "/no/such/vmlinuz": not an image in the allowed folders (--image-dir)`},
		{"missing initrd", func(r *client.VMRequest) {
			r.Boot = &client.BootSource{Kernel: kernel, Initrd: "/no/such/initrd"}
		}, `boot.initrd "/no/such/initrd": not an image in the allowed folders (--image-dir)`},
		{"relative disk", func(r *client.VMRequest) { r.Boot = &client.BootSource{Disk: "disk.qcow2"} }, "must be an absolute path"},
		{"bad restart policy", func(r *client.VMRequest) { r.RestartPolicy = "sometimes" }, `restart_policy "sometimes"`},
		{"nic with both", func(r *client.VMRequest) { r.NICs = []client.NIC{{Network: "lab", Bridge: "br0"}} }, "give either network or bridge"},
		{"bad mac", func(r *client.VMRequest) { r.NICs = []client.NIC{{Network: "lab", MAC: "zz"}} }, "is not a MAC address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := validVM("bad-" + ids.New()[:8])
			tc.edit(&req)
			e.do("POST", "/api/v1/vms", e.root, req).expectError(t, 400, "invalid", tc.msg)
		})
	}
	if n := e.cluster.applies(); n != before {
		t.Fatalf("%d refused specs reached the cluster", n-before)
	}

	// The same checks pass for a spec that fits.
	ok := validVM("good")
	ok.NICs = []client.NIC{{Network: "lab"}}
	ok.Boot = &client.BootSource{Kernel: kernel}
	ok.RestartPolicy = fsm.RestartOnFailure
	var vm client.VM
	e.do("POST", "/api/v1/vms", e.root, ok).expect(t, 201, &vm)
	if vm.RestartPolicy != "on-failure" || len(vm.NICs) != 1 || vm.NICs[0].Network != "lab" {
		t.Fatalf("created vm %+v lost its restart policy or nics", vm)
	}
}

// TestCreateVM_BootFilesOutsideTheImageFolders: every path an attacker might
// try is refused with the same message, whether the file exists or not, and
// nothing reaches the cluster.
func TestCreateVM_BootFilesOutsideTheImageFolders(t *testing.T) {
	root := t.TempDir()
	images := filepath.Join(root, "images")
	evil := filepath.Join(root, "images-evil")
	for _, d := range []string{images, evil, filepath.Join(images, "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(evil, "x"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"shadow": "/etc/shadow", "passwd": "/etc/passwd", "environ": "/proc/self/environ"} {
		if err := os.Symlink(target, filepath.Join(images, link)); err != nil {
			t.Fatal(err)
		}
	}
	e := newTestEnvWith(t, Config{NodeName: "node-1", BootFiles: hostpath.New([]string{images})}, nil)
	before := e.cluster.applies()
	for _, path := range []string{
		"/etc/shadow", "/etc/../etc/passwd", "/etc/passwd", "/proc/self/environ", "/dev/vda", "/dev/null",
		filepath.Join(images, "shadow"), filepath.Join(images, "passwd"), filepath.Join(images, "environ"),
		images + "/../../../../etc/passwd", filepath.Join(images, "missing.img"), images, images + "/",
		filepath.Join(images, "sub"), filepath.Join(evil, "x"),
	} {
		for _, field := range []string{"boot.disk", "boot.kernel", "boot.initrd"} {
			req := validVM("attack")
			switch field {
			case "boot.disk":
				req.Boot = &client.BootSource{Disk: path}
			case "boot.kernel":
				req.Boot = &client.BootSource{Kernel: path}
			case "boot.initrd":
				kernel := filepath.Join(images, "vmlinuz")
				if err := os.WriteFile(kernel, []byte("kernel"), 0o600); err != nil {
					t.Fatal(err)
				}
				req.Boot = &client.BootSource{Kernel: kernel, Initrd: path}
			}
			want := fmt.Sprintf("%s %q: not an image in the allowed folders (--image-dir)", field, path)
			got := e.do("POST", "/api/v1/vms", e.root, req).expectError(t, 400, "invalid", want)
			if got.Message != want {
				t.Fatalf("%s %s: message %q, want exactly %q", field, path, got.Message, want)
			}
		}
	}
	if n := e.cluster.applies(); n != before {
		t.Fatalf("%d refused specs reached the cluster", n-before)
	}
}

// TestCreateVM_DiskFormatRecordedOnce: the API reads a disk image's format
// once, at creation, and records it; an explicit format is kept; a qcow2 image
// with a backing file is refused. Without boot-file checks (sim) an empty
// format is raw.
func TestCreateVM_DiskFormatRecordedOnce(t *testing.T) {
	images := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(images, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	qcow2Header := func(backing byte) []byte {
		h := make([]byte, 64)
		copy(h, "QFI\xfb\x00\x00\x00\x03")
		h[14] = backing
		return h
	}
	raw := write("raw.img", make([]byte, 512))
	qcow2 := write("disk.qcow2", qcow2Header(0))
	backed := write("backed.qcow2", qcow2Header(2))
	e := newTestEnvWith(t, Config{NodeName: "node-1", BootFiles: hostpath.New([]string{images})}, nil)
	for i, tc := range []struct{ disk, format, want string }{
		{raw, "", "raw"}, {qcow2, "", "qcow2"}, {qcow2, "raw", "raw"}, {raw, "qcow2", "qcow2"},
	} {
		req := validVM(fmt.Sprintf("disk-%d", i))
		req.Boot = &client.BootSource{Disk: tc.disk, DiskFormat: tc.format}
		var vm client.VM
		e.do("POST", "/api/v1/vms", e.root, req).expect(t, 201, &vm)
		if vm.Boot == nil || vm.Boot.DiskFormat != tc.want || vm.Boot.Disk != tc.disk {
			t.Fatalf("disk %s format %q: recorded %+v, want format %s", filepath.Base(tc.disk), tc.format, vm.Boot, tc.want)
		}
	}
	req := validVM("backed")
	req.Boot = &client.BootSource{Disk: backed}
	e.do("POST", "/api/v1/vms", e.root, req).expectError(t, 400, "invalid", "backing file")
	req.Boot.DiskFormat = "vmdk"
	e.do("POST", "/api/v1/vms", e.root, req).expectError(t, 400, "invalid", `boot.disk_format "vmdk"`)

	sim := newTestEnv(t)
	req = validVM("sim")
	req.Boot = &client.BootSource{Disk: "/anywhere/disk.img"}
	var vm client.VM
	sim.do("POST", "/api/v1/vms", sim.root, req).expect(t, 201, &vm)
	if vm.Boot.DiskFormat != "raw" {
		t.Fatalf("sim: disk format %q, want raw", vm.Boot.DiskFormat)
	}
}
