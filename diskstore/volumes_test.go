package diskstore

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
	"go.yaml.in/yaml/v3"

	"github.com/novacron/novacron/cloudinit"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/internal/ids"
)

// newVM is a VM of one GiB cloned from image with a cloud-init seed.
func newVM(image string) *fsm.VM {
	return &fsm.VM{ID: ids.New(), Spec: fsm.VMSpec{Name: "web-1", VCPUs: 1, MemoryMiB: 512, DiskGiB: 1, Image: image,
		CloudInit: &fsm.CloudInit{Hostname: "web-1", UserData: "#cloud-config\n{}\n"}}}
}

// seedMetaData reads meta-data back from the seed ISO at path with an ISO
// 9660 reader of its own, and checks its label.
func seedMetaData(t *testing.T, path string) (instanceID, hostname string) {
	t.Helper()
	if _, err := exec.LookPath("blkid"); err == nil {
		if label := strings.TrimSpace(tool(t, "blkid", "-o", "value", "-s", "LABEL", path)); label != cloudinit.VolumeLabel {
			t.Errorf("blkid says the seed's label is %q, want %s", label, cloudinit.VolumeLabel)
		}
	} else {
		t.Log("no blkid here: the label is checked by the ISO reader only")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	fs, err := iso9660.Read(file.New(f, true), st.Size(), 0, 2048)
	if err != nil {
		t.Fatalf("the seed is no ISO 9660 volume: %v", err)
	}
	if label := strings.TrimRight(fs.Label(), "\x00 "); label != cloudinit.VolumeLabel {
		t.Errorf("the seed's label is %q", label)
	}
	r, err := fs.OpenFile("/meta-data", os.O_RDONLY)
	if err != nil {
		t.Fatalf("meta-data: %v", err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		InstanceID string `yaml:"instance-id"`
		Hostname   string `yaml:"local-hostname"`
	}
	if err := yaml.Unmarshal(b, &meta); err != nil {
		t.Fatalf("meta-data %q: %v", b, err)
	}
	return meta.InstanceID, meta.Hostname
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// A VM from an image gets a qcow2 overlay of its DiskGiB backed by the
// image, and a read-only cidata seed; a second start keeps the root (and
// what the guest wrote), grows it when the spec grew, and rewrites the seed.
func TestStore_PrepareVM_OverlayAndSeed(t *testing.T) {
	requireQemuImg(t)
	s := newStore(t)
	img := importFile(t, s, "debian-12", qcow2File(t, t.TempDir(), "debian.qcow2", 64*mib))
	img = fsm.Image{ID: img.ID, Name: img.Name, Format: img.Format, SizeBytes: img.SizeBytes, SHA256: img.SHA256}
	vm := newVM(img.ID)
	ctx := context.Background()

	disks, err := s.PrepareVM(ctx, vm, defaultPool, img)
	if err != nil {
		t.Fatal(err)
	}
	root, seed := s.RootVolume(defaultPool, vm.ID), s.Seed(defaultPool, vm.ID)
	want := []hypervisor.Disk{{Path: root, Format: fsm.ImageQCOW2}, {Path: seed, Format: fsm.ImageRaw, ReadOnly: true}}
	if len(disks) != 2 || disks[0] != want[0] || disks[1] != want[1] {
		t.Fatalf("disks = %+v, want %+v", disks, want)
	}
	if filepath.Dir(root) != filepath.Join(s.PoolDir(defaultPool), "volumes") {
		t.Errorf("root volume %s is not in the pool's volumes folder", root)
	}
	qi := info(t, root)
	if qi.Format != fsm.ImageQCOW2 || qi.VirtualSize != gib || qi.BackingFormat != img.Format {
		t.Errorf("qemu-img says the root is %+v, want a qcow2 of 1 GiB over a %s", qi, img.Format)
	}
	if backing := cmpOr(qi.FullBackingFilename, qi.BackingFilename); backing != s.ImagePath(defaultPool, img.ID) {
		t.Errorf("the root's backing file is %q, want the image %s", backing, s.ImagePath(defaultPool, img.ID))
	}
	if id, host := seedMetaData(t, seed); id != vm.ID || host != "web-1" {
		t.Errorf("meta-data: instance-id %q local-hostname %q", id, host)
	}

	// What the guest wrote must survive the next start.
	marker := haveQemuIO()
	if marker {
		tool(t, "qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 4k", root)
	}
	ino := inode(t, root)
	vm.Spec.DiskGiB = 2
	vm.Spec.CloudInit.Hostname = "web-2"
	if _, err := s.PrepareVM(ctx, vm, defaultPool, img); err != nil {
		t.Fatal(err)
	}
	if inode(t, root) != ino {
		t.Error("the root volume was recreated at the second start")
	}
	if marker {
		if out := tool(t, "qemu-io", "-f", "qcow2", "-c", "read -P 0x5a 0 4k", root); strings.Contains(out, "Pattern verification failed") {
			t.Errorf("the guest's write was lost: %s", out)
		}
	}
	if qi := info(t, root); qi.VirtualSize != 2*gib {
		t.Errorf("after DiskGiB grew to 2 the root is %d bytes", qi.VirtualSize)
	}
	if _, host := seedMetaData(t, seed); host != "web-2" {
		t.Errorf("the seed was not rewritten: local-hostname %q", host)
	}

	// A smaller spec does not shrink the disk.
	vm.Spec.DiskGiB = 1
	if _, err := s.PrepareVM(ctx, vm, defaultPool, img); err != nil {
		t.Fatal(err)
	}
	if qi := info(t, root); qi.VirtualSize != 2*gib {
		t.Errorf("a smaller spec changed the root to %d bytes", qi.VirtualSize)
	}
	if names := entries(t, filepath.Dir(root)); len(names) != 2 {
		t.Errorf("volumes/ holds %q, want the root and the seed only", names)
	}
}

func haveQemuIO() bool {
	_, err := exec.LookPath("qemu-io")
	return err == nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Without its image in the pool a VM gets no volume.
func TestStore_PrepareVM_ImageMissing(t *testing.T) {
	s := newStore(t)
	vm := newVM("debian-12")
	cases := map[string]fsm.Image{
		"not in the pool": {ID: "debian-12", Name: "debian", Format: fsm.ImageQCOW2, SizeBytes: 1 << 20, SHA256: strings.Repeat("a", 64)},
		"no record":       {},
	}
	for name, img := range cases {
		if _, err := s.PrepareVM(context.Background(), vm, defaultPool, img); !errors.Is(err, ErrImageMissing) {
			t.Errorf("%s: %v, want ErrImageMissing", name, err)
		}
	}
	// A partial copy of the image is not the image.
	content := pattern(64 * kib)
	img := placeImage(t, s, defaultPool, "debian-12", content)
	img.SizeBytes++
	if _, err := s.PrepareVM(context.Background(), vm, defaultPool, img); !errors.Is(err, ErrImageMissing) {
		t.Errorf("image of another size: %v, want ErrImageMissing", err)
	}
	if _, err := os.Stat(s.RootVolume(defaultPool, vm.ID)); !os.IsNotExist(err) {
		t.Errorf("a root volume was made without its image: %v", err)
	}
}

func TestStore_PrepareVM_SeedOnlyAndNothing(t *testing.T) {
	s := newStore(t)
	vm := newVM("")
	disks, err := s.PrepareVM(context.Background(), vm, defaultPool, fsm.Image{})
	if err != nil {
		t.Fatal(err)
	}
	if len(disks) != 1 || disks[0].Path != s.Seed(defaultPool, vm.ID) || !disks[0].ReadOnly {
		t.Fatalf("disks = %+v, want the seed only", disks)
	}
	vm.Spec.CloudInit = nil
	if disks, err := s.PrepareVM(context.Background(), vm, defaultPool, fsm.Image{}); err != nil || len(disks) != 0 {
		t.Fatalf("a VM without image or cloud-init: %+v, %v", disks, err)
	}
	vm.Spec.CloudInit = &fsm.CloudInit{Hostname: "bad_name"}
	if _, err := s.PrepareVM(context.Background(), vm, defaultPool, fsm.Image{}); !errors.Is(err, hypervisor.ErrInvalidSpec) {
		t.Errorf("a bad hostname: %v, want ErrInvalidSpec", err)
	}
	if names := entries(t, filepath.Join(s.PoolDir(defaultPool), "volumes")); len(names) != 1 {
		t.Errorf("volumes/ holds %q, want the first seed only (no .new left)", names)
	}
}

func TestStore_PrepareVM_RefusesVMIDsThatAreNoFileName(t *testing.T) {
	s := newStore(t)
	for _, id := range []string{"a/b", "../../etc", "", ".x"} {
		vm := newVM("")
		vm.ID = id
		if _, err := s.PrepareVM(context.Background(), vm, defaultPool, fsm.Image{}); !errors.Is(err, errBadID) {
			t.Errorf("vm id %q: %v, want errBadID", id, err)
		}
		if err := s.RemoveVM(defaultPool, id, false); !errors.Is(err, errBadID) {
			t.Errorf("RemoveVM(%q): %v, want errBadID", id, err)
		}
	}
	if names := entries(t, s.dataDir); len(names) != 0 {
		t.Errorf("the data dir holds %q after refused VMs", names)
	}
}

func TestStore_RemoveVM_RootKeptOnlyWhenAsked(t *testing.T) {
	s := newStore(t)
	vm := newVM("")
	if _, err := s.PrepareVM(context.Background(), vm, defaultPool, fsm.Image{}); err != nil {
		t.Fatal(err)
	}
	root, seed := s.RootVolume(defaultPool, vm.ID), s.Seed(defaultPool, vm.ID)
	// A root volume made by qemu-img in the real path; its content does not
	// matter to RemoveVM.
	writeFile(t, filepath.Dir(root), filepath.Base(root), []byte("root"))
	other := newVM("")
	if _, err := s.PrepareVM(context.Background(), other, defaultPool, fsm.Image{}); err != nil {
		t.Fatal(err)
	}

	if err := s.RemoveVM(defaultPool, vm.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(seed); !os.IsNotExist(err) {
		t.Errorf("the seed survived RemoveVM: %v", err)
	}
	if _, err := os.Stat(root); err != nil {
		t.Errorf("keepRoot removed the root: %v", err)
	}
	if err := s.RemoveVM(defaultPool, vm.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("the root survived RemoveVM: %v", err)
	}
	if err := s.RemoveVM(defaultPool, vm.ID, false); err != nil {
		t.Errorf("removing a removed VM: %v", err)
	}
	if err := s.RemoveVM(defaultPool, ids.New(), false); err != nil {
		t.Errorf("removing a VM that never had volumes: %v", err)
	}
	if _, err := os.Stat(s.Seed(defaultPool, other.ID)); err != nil {
		t.Errorf("another VM's seed went too: %v", err)
	}
}
