package api

import (
	"errors"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/hostpath"
)

// checkBootFiles confines b's files to this node's image folders (Config.BootFiles)
// and fills in the disk's format when b leaves it empty: read once here from
// the image's first bytes and recorded in the spec, so no host ever probes it
// (a guest could write a qcow2 header into a raw disk). Without BootFiles
// (sim) an empty format is raw. Every refusal of a path reads the same, so
// the API does not tell which host files exist.
func (s *Server) checkBootFiles(b *fsm.BootSource) error {
	if b == nil {
		return nil
	}
	files := s.cfg.BootFiles
	if files == nil {
		if b.Disk != "" && b.DiskFormat == "" {
			b.DiskFormat = fsm.DiskRaw
		}
		return nil
	}
	for _, f := range []struct{ field, path string }{{"boot.kernel", b.Kernel}, {"boot.initrd", b.Initrd}} {
		if f.path == "" {
			continue
		}
		if _, err := files.Check(f.path); err != nil {
			return invalidf("%s %q: %v", f.field, f.path, hostpath.ErrNotAllowed)
		}
	}
	if b.Disk == "" {
		return nil
	}
	resolved, err := files.Check(b.Disk)
	if err != nil {
		return invalidf("boot.disk %q: %v", b.Disk, hostpath.ErrNotAllowed)
	}
	if b.DiskFormat == "" {
		format, err := hostpath.DetectFormat(resolved)
		if err != nil {
			return diskError(b.Disk, err)
		}
		b.DiskFormat = format
	}
	if b.DiskFormat == fsm.DiskQCOW2 {
		if err := hostpath.CheckQCOW2(resolved); err != nil {
			return diskError(b.Disk, err)
		}
	}
	return nil
}

// diskError words a refusal of an allowed image by what is wrong with it; any
// other failure reads as every refusal does.
func diskError(path string, err error) error {
	if errors.Is(err, hostpath.ErrBackingFile) || errors.Is(err, hostpath.ErrBadImage) {
		return invalidf("boot.disk %q %v", path, err)
	}
	return invalidf("boot.disk %q: %v", path, hostpath.ErrNotAllowed)
}
