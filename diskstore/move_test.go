package diskstore

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/novacron/novacron/fsm"
)

// TestManager_PullDisks_ColdMigration: the destination of a cold migration
// copies the VM's root overlay and data volume from the source, points the
// overlay at its own copy of the image (copied too), and reads back what
// the guest wrote. The source serves only while the migration says its
// guest is down, and only that VM's files.
func TestManager_PullDisks_ColdMigration(t *testing.T) {
	requireQemuImg(t)
	ctx := context.Background()
	p := fsm.StoragePool{Name: fsm.DefaultPool, Type: fsm.PoolDir}
	st := newFakeState(p)
	peers := &fakePeers{nodes: map[string]http.Handler{}}
	srcStore, dstStore := newStore(t), newStore(t)
	src, _ := newTestManager(t, "src", srcStore, st, peers, nil)
	dst, _ := newTestManager(t, "dst", dstStore, st, peers, nil)
	mux := http.NewServeMux()
	mux.Handle("GET "+ImagePathPrefix+"{id}", src)
	mux.Handle("GET "+MigrationPathPrefix+"{id}/{file}", http.HandlerFunc(src.ServeMigrationDisk))
	peers.nodes["src"] = mux

	img := placeImage(t, srcStore, p, "img1", pattern(1<<20))
	img.Hosts = []string{"src"}
	st.putImage(img)
	vm := newVM(img.ID)
	vm.Spec.CloudInit = nil
	if _, err := srcStore.PrepareVM(ctx, vm, p, img); err != nil {
		t.Fatal(err)
	}
	vol := fsm.Volume{ID: "vol1", Name: "data", Format: fsm.DiskQCOW2, SizeGiB: 1, Target: "vdc"}
	if _, err := srcStore.PrepareVolume(ctx, p, vol); err != nil {
		t.Fatal(err)
	}
	tool(t, "qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 64k", srcStore.RootVolume(p, vm.ID))
	tool(t, "qemu-io", "-f", "qcow2", "-c", "write -P 0x22 4096 8k", srcStore.DataVolume(p, vol.ID))
	mig := fsm.Migration{ID: "mig1", VMID: vm.ID, Mode: fsm.MigrateCold, Source: "src", Target: "dst", State: fsm.MigrationRunning}
	st.mu.Lock()
	st.vms[vm.ID], st.volumes[vm.ID], st.migrations[mig.ID] = *vm, []fsm.Volume{vol}, mig
	st.mu.Unlock()

	// Not before the source has shut the guest down.
	if err := dst.PullDisks(ctx, mig, vm, []fsm.Volume{vol}, p, img); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("a pull before the guest stopped: %v, want the source's refusal", err)
	}
	mig.SourceStopped = true
	st.mu.Lock()
	st.migrations[mig.ID] = mig
	st.mu.Unlock()
	if err := dst.PullDisks(ctx, mig, vm, []fsm.Volume{vol}, p, img); err != nil {
		t.Fatal(err)
	}
	root := dstStore.RootVolume(p, vm.ID)
	if qi := info(t, root); qi.FullBackingFilename != dstStore.ImagePath(p, img.ID) {
		t.Fatalf("the destination's root volume is backed by %q, want its own image copy %s", qi.FullBackingFilename, dstStore.ImagePath(p, img.ID))
	}
	if out := tool(t, "qemu-io", "-f", "qcow2", "-c", "read -P 0x11 0 64k", root); strings.Contains(out, "verification failed") {
		t.Fatalf("the guest's writes to its root volume did not move: %s", out)
	}
	if out := tool(t, "qemu-io", "-f", "qcow2", "-c", "read -P 0x22 4096 8k", dstStore.DataVolume(p, vol.ID)); strings.Contains(out, "verification failed") {
		t.Fatalf("the data volume's contents did not move: %s", out)
	}
	requireNoPartials(t, dstStore, p)

	// Only the VM's own files are served.
	for _, name := range []string{"other-volume", "..%2Froot", "%2Fetc%2Fpasswd"} {
		resp, err := peers.PeerGet(ctx, "src", MigrationPathPrefix+mig.ID+"/"+name, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("disk file %q: HTTP %d, want 404", name, resp.StatusCode)
		}
	}
}

// requireNoPartials fails if a copy left a partial file in pool p.
func requireNoPartials(t *testing.T, s *Store, p fsm.StoragePool) {
	t.Helper()
	for _, dir := range []string{"images", "volumes"} {
		for _, name := range entries(t, s.PoolDir(p)+"/"+dir) {
			if strings.HasSuffix(name, ".copy") {
				t.Errorf("partial copy %s/%s left behind", dir, name)
			}
		}
	}
}
