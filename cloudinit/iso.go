package cloudinit

import (
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
)

// VolumeLabel is the label cloud-init's NoCloud source looks for.
const VolumeLabel = "cidata"

// isoBlock is ISO 9660's logical block; isoOverhead covers the volume
// descriptors, path tables and directories of a seed's few files.
const (
	isoBlock    = 2048
	isoOverhead = 512 << 10
)

// WriteISO writes files as an ISO 9660 image with Rock Ridge names (so the
// guest sees "meta-data", not "META_DAT.;1"), labelled cidata, at path: a
// new file, mode 0600, removed again if the write fails.
func WriteISO(path string, files map[string][]byte) (err error) {
	size := int64(isoOverhead)
	for _, b := range files {
		size += (int64(len(b))/isoBlock + 1) * isoBlock
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(path)
		}
	}()
	if err := f.Truncate(size); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "novacron-cidata-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	fs, err := iso9660.Create(file.New(f, false), size, 0, isoBlock, work)
	if err != nil {
		return fmt.Errorf("cidata: %w", err)
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		w, err := fs.OpenFile("/"+name, os.O_CREATE|os.O_RDWR)
		if err != nil {
			return fmt.Errorf("cidata %s: %w", name, err)
		}
		if _, err := w.Write(files[name]); err != nil {
			return fmt.Errorf("cidata %s: %w", name, err)
		}
	}
	if err := fs.Finalize(iso9660.FinalizeOptions{RockRidge: true, VolumeIdentifier: VolumeLabel}); err != nil {
		return fmt.Errorf("cidata: %w", err)
	}
	return nil
}
