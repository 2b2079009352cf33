package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
)

// fakeImporter accepts sources under /images/ and records the imports it
// was asked to run; the test plays the importer's end.
type fakeImporter struct {
	mu      sync.Mutex
	started []fsm.Image
}

func (f *fakeImporter) CheckSource(source, sha string) error {
	if !strings.HasPrefix(source, "/images/") {
		return fmt.Errorf("%w: source %q is not in an image folder of this node", fsm.ErrInvalid, source)
	}
	return nil
}

func (f *fakeImporter) Import(img fsm.Image, sha string) {
	f.mu.Lock()
	f.started = append(f.started, img)
	f.mu.Unlock()
}

func newImageEnv(t *testing.T) (*testEnv, *fakeImporter) {
	imp := &fakeImporter{}
	return newTestEnvWith(t, Config{Images: imp}, nil), imp
}

// ready records the end of an import as the importing node would.
func (e *testEnv) ready(id string, virtual int64) {
	e.cluster.mustApply(e.t, fsm.UpdateImage{ID: id, State: fsm.ImageReady, Format: fsm.ImageQCOW2, SizeBytes: 1 << 20,
		VirtualSizeBytes: virtual, SHA256: strings.Repeat("ab", 32), Host: e.nodes[0].ID, At: time.Now().UTC()})
}

func TestImages_ImportAnswers202AndRecordsTheImporter(t *testing.T) {
	e, imp := newImageEnv(t)
	var img client.Image
	e.do("POST", "/api/v1/images", e.root, client.ImageRequest{Name: "debian", Source: "/images/debian.qcow2"}).expect(t, http.StatusAccepted, &img)
	if img.State != "importing" || img.Pool != "default" || img.Project != "default" {
		t.Fatalf("image %+v: want importing in pool default, project default", img)
	}
	if len(imp.started) != 1 || imp.started[0].ID != img.ID || imp.started[0].Importer != e.nodes[0].ID {
		t.Fatalf("imports started %+v, want this one by node-1", imp.started)
	}
	// The same name again is a conflict; a source the node refuses is 400
	// and records nothing.
	e.do("POST", "/api/v1/images", e.root, client.ImageRequest{Name: "debian", Source: "/images/other.qcow2"}).expectError(t, http.StatusConflict, client.CodeConflict, "already has an image named debian")
	e.do("POST", "/api/v1/images", e.root, client.ImageRequest{Name: "etc", Source: "/etc/shadow"}).expectError(t, http.StatusBadRequest, client.CodeInvalid, "not in an image folder")
	e.do("POST", "/api/v1/images", e.root, client.ImageRequest{Name: "nopool", Source: "/images/x", Pool: "nfs"}).expectError(t, http.StatusNotFound, client.CodeNotFound, `pool "nfs" not found`)
	e.do("POST", "/api/v1/images", e.root, client.ImageRequest{Name: "../x", Source: "/images/x"}).expectError(t, http.StatusBadRequest, client.CodeInvalid, "name")
	if n := len(e.fsm.Images()); n != 1 {
		t.Fatalf("%d images recorded, want the one accepted", n)
	}

	// A VM from an image that is still importing is refused; once ready,
	// its disk defaults to the image's size, rounded up to GiB.
	req := client.VMRequest{Name: "web", VCPUs: 1, MemoryMiB: 256, Image: "debian"}
	e.do("POST", "/api/v1/vms", e.root, req).expectError(t, http.StatusConflict, client.CodeInvalidState, "importing, not ready")
	e.ready(img.ID, 3<<30+1)
	var vm client.VM
	e.do("POST", "/api/v1/vms", e.root, req).expect(t, http.StatusCreated, &vm)
	if vm.Image != img.ID || vm.ImageName != "debian" || vm.DiskGiB != 4 || vm.Pool != "default" {
		t.Fatalf("vm %+v: want image %s (debian), 4 GiB, pool default", vm, img.ID)
	}
	// An image in use stays; the VM's image cannot change.
	e.do("DELETE", "/api/v1/images/debian", e.root, nil).expectError(t, http.StatusConflict, client.CodeInvalidState, "base of vm web")
	up := req
	up.DiskGiB = 2
	e.do("PUT", "/api/v1/vms/web", e.root, up).expectError(t, http.StatusBadRequest, client.CodeInvalid, "volumes only grow")
	up.DiskGiB = 8
	e.do("PUT", "/api/v1/vms/web", e.root, up).expect(t, http.StatusOK, &vm)
	if vm.DiskGiB != 8 || vm.Image != img.ID {
		t.Fatalf("grown vm %+v", vm)
	}
}

func TestImages_CloudInitCheckedWithTheRequest(t *testing.T) {
	e, _ := newImageEnv(t)
	for _, c := range []struct {
		ci   client.CloudInit
		want string
	}{
		{client.CloudInit{Hostname: "bad_host!"}, "hostname"},
		{client.CloudInit{SSHKeys: []string{"not a key"}}, "ssh_keys"},
		{client.CloudInit{NetworkConfig: "version: 9"}, "network_config"},
		{client.CloudInit{UserData: strings.Repeat("x", 64<<10+1)}, "user_data"},
	} {
		req := validVM("ci")
		req.CloudInit = &c.ci
		e.do("POST", "/api/v1/vms", e.root, req).expectError(t, http.StatusBadRequest, client.CodeInvalid, c.want)
	}
	req := validVM("ci")
	req.CloudInit = &client.CloudInit{Hostname: "web-1", UserData: "#!/bin/sh\necho hi\n"}
	var vm client.VM
	e.do("POST", "/api/v1/vms", e.root, req).expect(t, http.StatusCreated, &vm)
	var got client.VM
	e.do("GET", "/api/v1/vms/ci", e.root, nil).expect(t, http.StatusOK, &got)
	if got.CloudInit == nil || got.CloudInit.Hostname != "web-1" || got.CloudInit.UserData == "" {
		t.Fatalf("vm cloud-init %+v", got.CloudInit)
	}
	var list []client.VM
	e.do("GET", "/api/v1/vms", e.root, nil).expect(t, http.StatusOK, &list)
	if len(list) != 1 || list[0].CloudInit == nil || list[0].CloudInit.UserData != "" || list[0].CloudInit.Hostname != "web-1" {
		t.Fatalf("listed cloud-init %+v: want the hostname without the user data", list[0].CloudInit)
	}
}

func TestImages_PoolTooSmallIs409(t *testing.T) {
	e, _ := newImageEnv(t)
	var img client.Image
	e.do("POST", "/api/v1/images", e.root, client.ImageRequest{Name: "debian", Source: "/images/debian.qcow2"}).expect(t, http.StatusAccepted, &img)
	e.ready(img.ID, 1<<30)
	for i, n := range e.nodes {
		e.cluster.mustApply(t, fsm.ReportHost{ID: n.ID, Pools: []fsm.PoolUsage{{Pool: fsm.DefaultPool, CapacityBytes: 20 << 30, AvailableBytes: int64(i+2) << 30}}})
	}
	req := client.VMRequest{Name: "big", VCPUs: 1, MemoryMiB: 256, Image: "debian", DiskGiB: 10}
	a := e.do("POST", "/api/v1/vms", e.root, req)
	d := a.expectError(t, http.StatusConflict, client.CodeConflict, "pool default")
	if !strings.Contains(d.Message, "10 GiB") || !strings.Contains(d.Message, "3.0 GiB (node-2)") {
		t.Fatalf("message %q: want the volume's size and the most free (3.0 GiB on node-2)", d.Message)
	}
	if len(e.fsm.VMs()) != 0 {
		t.Fatal("a refused vm was created")
	}
	req.DiskGiB = 3
	e.do("POST", "/api/v1/vms", e.root, req).expect(t, http.StatusCreated, nil)

	var pools []client.Pool
	e.do("GET", "/api/v1/storage/pools", e.root, nil).expect(t, http.StatusOK, &pools)
	if len(pools) != 1 || pools[0].Name != "default" || len(pools[0].Hosts) != 2 || pools[0].AvailableBytes != 5<<30 || pools[0].CapacityBytes != 40<<30 {
		t.Fatalf("pools %+v: want default with both hosts, 5 of 40 GiB free", pools)
	}
}

func TestPools_DeclareAndDelete(t *testing.T) {
	e, _ := newImageEnv(t)
	var p client.Pool
	e.do("POST", "/api/v1/storage/pools", e.root, client.PoolRequest{Name: "nfs", Type: "shared", Path: "/mnt/nfs"}).expect(t, http.StatusCreated, &p)
	if p.Name != "nfs" || p.Type != "shared" || p.Path != "/mnt/nfs" {
		t.Fatalf("pool %+v", p)
	}
	e.do("POST", "/api/v1/storage/pools", e.root, client.PoolRequest{Name: "x", Type: "shared"}).expectError(t, http.StatusBadRequest, client.CodeInvalid, "needs a path")
	e.do("POST", "/api/v1/storage/pools", e.root, client.PoolRequest{Name: "y", Type: "dir", Path: "/var/../etc"}).expectError(t, http.StatusBadRequest, client.CodeInvalid, "clean absolute")
	e.do("POST", "/api/v1/storage/pools", e.tokenFor("operator"), client.PoolRequest{Name: "z", Type: "dir"}).expectError(t, http.StatusForbidden, client.CodeForbidden, "pool:write")
	e.do("DELETE", "/api/v1/storage/pools/default", e.root, nil).expectError(t, http.StatusConflict, client.CodeInvalidState, "cannot be deleted")
	e.do("DELETE", "/api/v1/storage/pools/nfs", e.root, nil).expect(t, http.StatusOK, nil)
	if _, err := e.fsm.Pool("nfs"); !errors.Is(err, fsm.ErrNotFound) {
		t.Fatalf("pool nfs after delete: %v", err)
	}
}
