package diskstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/qemuimg"
)

// CollectImages removes from this host's pools the files of images the
// cluster no longer records (deleted ones, and partial copies or imports
// of them: images/<id>, <id>.copy, <id>.import), except an image file a
// root volume here is still backed by: a VM deleted with its root volume
// kept (keep_volumes) needs its image for as long as that volume exists.
// It returns the files it removed and those it kept for a volume.
func (s *Store) CollectImages(ctx context.Context, pools []fsm.StoragePool, recorded func(id string) bool) (removed, kept []string) {
	for _, p := range pools {
		dir := filepath.Join(s.PoolDir(p), "images")
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		var backing map[string]bool
		for _, e := range entries {
			id := strings.TrimSuffix(strings.TrimSuffix(e.Name(), ".copy"), ".import")
			if !e.Type().IsRegular() || checkID(id) != nil || recorded(id) {
				continue
			}
			path := filepath.Join(dir, e.Name())
			if id == e.Name() {
				if backing == nil {
					backing = s.backingFiles(ctx, p)
				}
				if backing[path] {
					kept = append(kept, path)
					continue
				}
			}
			if err := os.Remove(path); err == nil || errors.Is(err, os.ErrNotExist) {
				removed = append(removed, path)
			}
		}
	}
	return removed, kept
}

// backingFiles are the files the root volumes of pool p here are backed
// by. A volume qemu-img cannot read counts as backed by every image, so
// nothing it might need is removed.
func (s *Store) backingFiles(ctx context.Context, p fsm.StoragePool) map[string]bool {
	out := map[string]bool{}
	vols, _ := filepath.Glob(filepath.Join(s.PoolDir(p), "volumes", "*-root.qcow2"))
	for _, v := range vols {
		info, err := qemuimg.Inspect(ctx, v, fsm.DiskQCOW2)
		if err != nil {
			images, _ := filepath.Glob(filepath.Join(s.PoolDir(p), "images", "*"))
			for _, img := range images {
				out[img] = true
			}
			continue
		}
		out[info.BackingFile] = true
	}
	return out
}
