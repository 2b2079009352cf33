package qemuimg

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// CreateOverlay creates path as a qcow2 image backed by base: the instant
// clone of an imported image into a VM's root volume. Only metadata is
// written, so it takes milliseconds whatever base's size; the guest's writes
// go to path and base is never modified.
//
// baseFormat is the format recorded when base was imported (never probed
// again). sizeBytes 0 gives the overlay base's virtual size; a larger size
// grows the disk; a smaller one is ErrShrink. The backing file is recorded as
// base's absolute path, so the overlay does not depend on the working
// directory of whoever opens it.
//
// path is created with mode 0600 and must not exist: an existing file is
// never overwritten (the error wraps fs.ErrExist), and nothing is left behind
// on failure.
func CreateOverlay(ctx context.Context, base, baseFormat, path string, sizeBytes int64) error {
	if err := checkPath(base); err != nil {
		return err
	}
	if err := checkFormat(baseFormat); err != nil {
		return err
	}
	if err := checkPath(path); err != nil {
		return err
	}
	if sizeBytes != 0 {
		if err := checkSize(sizeBytes); err != nil {
			return err
		}
	}
	if err := checkAbsent(path); err != nil {
		return err
	}
	if sizeBytes != 0 {
		baseSize, err := virtualSize(ctx, base, baseFormat)
		if err != nil {
			return err
		}
		if sizeBytes < baseSize {
			return fmt.Errorf("%w: overlay of %d bytes over a base of %d", ErrShrink, sizeBytes, baseSize)
		}
	}
	return createNew(path, func(tmp string) error {
		args := []string{"create", "-q", "-f", FormatQCOW2, "-F", baseFormat, "-b", base, tmp}
		if sizeBytes != 0 {
			// Left out, qemu-img reads the base's size itself.
			args = append(args, strconv.FormatInt(sizeBytes, 10))
		}
		_, err := run(ctx, "create", path, args...)
		return err
	})
}

// CreateBlank creates path as an empty qcow2 image of sizeBytes: a data
// volume, or a root volume for an installer to fill. qcow2 rather than raw so
// the file grows with what the guest writes. The same rules as CreateOverlay
// hold: mode 0600, never overwrite, nothing left behind on failure.
func CreateBlank(ctx context.Context, path string, sizeBytes int64) error {
	if err := checkPath(path); err != nil {
		return err
	}
	if err := checkSize(sizeBytes); err != nil {
		return err
	}
	if err := checkAbsent(path); err != nil {
		return err
	}
	return createNew(path, func(tmp string) error {
		_, err := run(ctx, "create", path, "create", "-q", "-f", FormatQCOW2, tmp, strconv.FormatInt(sizeBytes, 10))
		return err
	})
}

// Resize grows the image at path, opened as its recorded format, to
// sizeBytes. It never shrinks (ErrShrink): shrinking drops whatever the guest
// stored at the end of its disk, and the guest's file system still thinks it
// is there. Growing to the current size is a no-op. qemu-img takes a write
// lock, so resizing a disk a running VM holds fails; grow it through the
// hypervisor instead.
func Resize(ctx context.Context, path, format string, sizeBytes int64) error {
	if err := checkPath(path); err != nil {
		return err
	}
	if err := checkFormat(format); err != nil {
		return err
	}
	if err := checkSize(sizeBytes); err != nil {
		return err
	}
	info, err := Inspect(ctx, path, format)
	if err != nil {
		return err
	}
	switch {
	case sizeBytes < info.VirtualSize:
		return fmt.Errorf("%w: %s is %d bytes, asked for %d", ErrShrink, path, info.VirtualSize, sizeBytes)
	case sizeBytes == info.VirtualSize:
		return nil
	}
	// No --shrink: should the image have grown since Inspect, qemu-img itself
	// refuses to shrink it.
	_, err = run(ctx, "resize", path, "resize", "-q", "-f", format, path, strconv.FormatInt(sizeBytes, 10))
	return err
}

// virtualSize is the virtual size of the image at path, opened as format. It
// reads it from the file itself, as qemu does, because a second qemu-img run
// would double CreateOverlay's time: a raw image's size is the file's,
// rounded up to whole sectors; a qcow2 image's is in its header. Anything
// else (a block device, a header that does not read as qcow2) is left to
// qemu-img info.
func virtualSize(ctx context.Context, path, format string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if st.Mode().IsRegular() {
		switch format {
		case FormatRaw:
			return (st.Size() + sectorSize - 1) / sectorSize * sectorSize, nil
		case FormatQCOW2:
			// Header: magic "QFI\xfb" (4 bytes), version (4), backing file
			// offset (8), backing file name size (4), cluster bits (4), size (8).
			var head [32]byte
			if _, err := io.ReadFull(f, head[:]); err == nil && string(head[:4]) == "QFI\xfb" {
				if size := int64(binary.BigEndian.Uint64(head[24:32])); size >= 0 {
					return size, nil
				}
			}
		}
	}
	info, err := Inspect(ctx, path, format)
	return info.VirtualSize, err
}

// checkAbsent fails early, before any qemu-img run, when path exists.
// createNew's link is what guarantees no overwrite; this only saves work.
func checkAbsent(path string) error {
	_, err := os.Lstat(path)
	switch {
	case err == nil:
		return &fs.PathError{Op: "create", Path: path, Err: fs.ErrExist}
	case errors.Is(err, fs.ErrNotExist):
		return nil
	default:
		return err
	}
}

// createNew has create write a new image under a temporary name in path's
// folder, then hard-links it to path. link(2) fails when path exists, so a
// file created meanwhile is not overwritten (qemu-img create would truncate
// it), and a half-written image never appears under path. The temporary file
// is made 0600 before qemu-img opens it, and qemu-img keeps an existing
// file's mode. A crash can leave a ".NAME.qemuimg-*" file behind, never a
// wrong NAME.
func createNew(path string, create func(tmp string) error) error {
	dir, name := filepath.Split(path)
	f, err := os.CreateTemp(dir, "."+name+".qemuimg-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	// After a successful link this removes only the temporary name.
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := create(tmp); err != nil {
		return err
	}
	return os.Link(tmp, path)
}

// Rebase points the qcow2 overlay at path to base, of the recorded format
// baseFormat, without reading either (qemu-img rebase -u): the overlay
// moved to a host that keeps the same base at another path. The caller
// vouches that base holds the same data as the overlay's old base.
func Rebase(ctx context.Context, path, base, baseFormat string) error {
	if err := checkPath(path); err != nil {
		return err
	}
	if err := checkPath(base); err != nil {
		return err
	}
	if err := checkFormat(baseFormat); err != nil {
		return err
	}
	_, err := run(ctx, "rebase", path, "rebase", "-q", "-u", "-f", FormatQCOW2, "-F", baseFormat, "-b", base, path)
	return err
}
