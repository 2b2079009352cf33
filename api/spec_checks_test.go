package api

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/ids"
)

func TestCreateVM_RefusesSpecsNoNodeCanRun(t *testing.T) {
	e := newTestEnvWith(t, Config{NodeName: "node-1", CheckBootFiles: true}, nil)
	// One node offers the "lab" network.
	e.cluster.mustApply(t, fsm.RegisterNode{Node: fsm.Node{ID: ids.New(), Name: "node-3", Networks: []string{"lab"},
		Capacity: fsm.Capacity{VCPUs: 4, MemoryMiB: 4096, DiskGiB: 10}, Status: fsm.NodeAlive}, At: time.Now()})
	kernel := filepath.Join(t.TempDir(), "vmlinuz")
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
		{"missing kernel", func(r *client.VMRequest) { r.Boot = &client.BootSource{Kernel: "/no/such/vmlinuz"} }, `boot.kernel "/no/such/vmlinuz" does not exist`},
		{"missing initrd", func(r *client.VMRequest) {
			r.Boot = &client.BootSource{Kernel: kernel, Initrd: "/no/such/initrd"}
		}, `boot.initrd "/no/such/initrd" does not exist`},
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
