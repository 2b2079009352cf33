package diskstore

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/novacron/novacron/fsm"
)

// TestStore_CollectImages: the files of images no longer recorded go,
// partial copies and imports included; recorded images stay, and so does
// a deleted image that a kept root volume is still backed by.
func TestStore_CollectImages(t *testing.T) {
	requireQemuImg(t)
	s := newStore(t)
	ctx := context.Background()
	p := fsm.StoragePool{Name: fsm.DefaultPool, Type: fsm.PoolDir}
	content := pattern(1 << 20)
	for _, id := range []string{"live", "gone", "kept"} {
		placeImage(t, s, p, id, content)
	}
	images := filepath.Join(s.PoolDir(p), "images")
	for _, partial := range []string{"gone2.copy", "gone3.import", "live.copy"} {
		writeFile(t, images, partial, content[:4096])
	}
	// A VM deleted with keep_volumes left its root volume, backed by "kept".
	vm := newVM("kept")
	vm.Spec.CloudInit = nil
	kept := fsm.Image{ID: "kept", Name: "kept", Format: fsm.ImageRaw, SizeBytes: int64(len(content)), VirtualSizeBytes: int64(len(content))}
	if _, err := s.PrepareVM(ctx, vm, p, kept); err != nil {
		t.Fatal(err)
	}

	recorded := func(id string) bool { return id == "live" }
	removed, keptFiles := s.CollectImages(ctx, []fsm.StoragePool{p}, recorded)
	slices.Sort(removed)
	want := []string{filepath.Join(images, "gone"), filepath.Join(images, "gone2.copy"), filepath.Join(images, "gone3.import")}
	if !slices.Equal(removed, want) {
		t.Fatalf("removed %v, want %v", removed, want)
	}
	if !slices.Equal(keptFiles, []string{filepath.Join(images, "kept")}) {
		t.Fatalf("kept %v, want the image the root volume needs", keptFiles)
	}
	if got := entries(t, images); !slices.Equal(got, []string{"kept", "live", "live.copy"}) {
		t.Fatalf("images folder holds %v", got)
	}
	// Once the volume goes, so does its image.
	if err := s.RemoveVM(p, vm.ID, false); err != nil {
		t.Fatal(err)
	}
	s.CollectImages(ctx, []fsm.StoragePool{p}, recorded)
	if _, err := os.Stat(filepath.Join(images, "kept")); !os.IsNotExist(err) {
		t.Fatalf("the image of a removed volume stayed: %v", err)
	}
}
