package diskstore

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/novacron/novacron/fsm"
)

func TestStore_DataVolume_MadeGrownResetRemoved(t *testing.T) {
	requireQemuImg(t)
	s := newStore(t)
	ctx := context.Background()
	p := fsm.StoragePool{Name: fsm.DefaultPool, Type: fsm.PoolDir}
	v := fsm.Volume{ID: "3f1c2e7a-data", Name: "data", Format: fsm.DiskQCOW2, SizeGiB: 1, Target: "vdc"}

	d, err := s.PrepareVolume(ctx, p, v)
	if err != nil {
		t.Fatal(err)
	}
	if d.Path != s.DataVolume(p, v.ID) || d.Target != "vdc" || d.Format != fsm.DiskQCOW2 || d.ReadOnly || d.Shared {
		t.Fatalf("disk %+v", d)
	}
	qi := info(t, d.Path)
	if qi.Format != "qcow2" || qi.VirtualSize != 1<<30 || qi.BackingFilename != "" {
		t.Fatalf("qemu-img says the new volume is %+v, want a blank 1 GiB qcow2", qi)
	}
	// Data written to it survives a second prepare (a restart), which grows
	// it when its record grew.
	if _, err := os.Stat(d.Path); err != nil {
		t.Fatal(err)
	}
	tool(t, "qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 64k", d.Path)
	v.SizeGiB = 2
	if _, err := s.PrepareVolume(ctx, p, v); err != nil {
		t.Fatal(err)
	}
	if qi := info(t, d.Path); qi.VirtualSize != 2<<30 {
		t.Fatalf("after growing to 2 GiB qemu-img says %d bytes", qi.VirtualSize)
	}
	out := tool(t, "qemu-io", "-f", "qcow2", "-c", "read -P 0x5a 0 64k", d.Path)
	if !strings.Contains(out, "read 65536/65536") {
		t.Fatalf("the data written before is gone: %s", out)
	}
	v.SizeGiB = 3
	if err := s.GrowVolume(ctx, p, v); err != nil || info(t, d.Path).VirtualSize != 3<<30 {
		t.Fatalf("GrowVolume: %v", err)
	}
	// A migration's destination starts from a blank file.
	if _, err := s.ResetVolume(ctx, p, v); err != nil {
		t.Fatal(err)
	}
	out = tool(t, "qemu-io", "-f", "qcow2", "-c", "read -P 0 0 64k", d.Path)
	if !strings.Contains(out, "read 65536/65536") || strings.Contains(out, "verification failed") {
		t.Fatalf("a reset volume still holds data: %s", out)
	}
	if err := s.RemoveVolume(p, v.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.Path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("removed volume: %v", err)
	}
	if err := s.RemoveVolume(p, v.ID); err != nil {
		t.Fatalf("removing it again: %v", err)
	}
}

func TestStore_DataVolume_Refusals(t *testing.T) {
	s := newStore(t)
	p := fsm.StoragePool{Name: fsm.DefaultPool, Type: fsm.PoolDir}
	for _, id := range []string{"", "../x", "a/b", ".hidden"} {
		if _, err := s.PrepareVolume(context.Background(), p, fsm.Volume{ID: id, Format: fsm.DiskQCOW2, SizeGiB: 1}); !errors.Is(err, errBadID) {
			t.Errorf("volume id %q: %v, want refused", id, err)
		}
		if err := s.RemoveVolume(p, id); !errors.Is(err, errBadID) {
			t.Errorf("removing volume id %q: %v, want refused", id, err)
		}
	}
	if _, err := s.PrepareVolume(context.Background(), p, fsm.Volume{ID: "v", Format: "raw", SizeGiB: 1}); err == nil {
		t.Error("a data volume recorded as raw was made")
	}
}
