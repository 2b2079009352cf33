package qemuimg

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Info is what qemu-img info reports about an image, reduced to what import
// checks and volume creation need.
type Info struct {
	Format      string // as qemu-img opened it: the format passed, or the probed one
	VirtualSize int64  // the disk size the guest sees
	ActualSize  int64  // bytes allocated on the host
	BackingFile string // the backing file qemu would open (resolved), "" if none
	DataFile    string // qcow2 external data file, "" if none
	ClusterSize int64  // qcow2 cluster size, 0 for raw
}

// infoTimeout bounds one qemu-img info run whatever the caller's context:
// a crafted image can make qemu-img spin for a long time.
const infoTimeout = 30 * time.Second

// infoJSON is the subset of `qemu-img info --output=json` read here.
type infoJSON struct {
	Format              string `json:"format"`
	VirtualSize         int64  `json:"virtual-size"`
	ActualSize          int64  `json:"actual-size"`
	ClusterSize         int64  `json:"cluster-size"`
	BackingFilename     string `json:"backing-filename"`
	FullBackingFilename string `json:"full-backing-filename"`
	FormatSpecific      *struct {
		Type string `json:"type"`
		// Data's shape depends on Type, so it is decoded only for qcow2.
		Data json.RawMessage `json:"data"`
	} `json:"format-specific"`
}

// Inspect runs qemu-img info on path, opened as format.
//
// format "" lets qemu-img probe the format from the file's contents. That is
// for import only: a format is detected once, when an image is imported,
// checked with CheckImportable and recorded; everything after passes the
// recorded format, because the contents of a disk a guest has written to say
// nothing trustworthy about its format.
//
// Inspect opens the image shared (-U), so it works on a disk a running VM
// holds, and does not open the backing file or the data file the image names
// (qemu-img info reads only the image's own metadata; checked with strace on
// qemu 7.2).
func Inspect(ctx context.Context, path string, format string) (Info, error) {
	if err := checkPath(path); err != nil {
		return Info{}, err
	}
	args := []string{"info", "--output=json"}
	if format != "" {
		if err := checkFormat(format); err != nil {
			return Info{}, err
		}
		args = append(args, "-f", format)
	}
	args = append(args, "-U", path)

	ctx, cancel := context.WithTimeout(ctx, infoTimeout)
	defer cancel()
	out, err := run(ctx, "info", path, args...)
	if err != nil {
		return Info{}, err
	}
	return parseInfo(out)
}

// parseInfo turns qemu-img info's JSON into an Info.
func parseInfo(out []byte) (Info, error) {
	var j infoJSON
	if err := json.Unmarshal(out, &j); err != nil {
		return Info{}, fmt.Errorf("qemu-img info: unreadable output: %w", err)
	}
	info := Info{
		Format:      j.Format,
		VirtualSize: j.VirtualSize,
		ActualSize:  j.ActualSize,
		ClusterSize: j.ClusterSize,
		BackingFile: j.FullBackingFilename,
	}
	if info.BackingFile == "" {
		// qemu leaves the full name out when it cannot resolve the one in
		// the header; that one still names a backing file.
		info.BackingFile = j.BackingFilename
	}
	if fs := j.FormatSpecific; fs != nil && fs.Type == FormatQCOW2 && len(fs.Data) > 0 {
		var data struct {
			DataFile string `json:"data-file"`
		}
		if err := json.Unmarshal(fs.Data, &data); err != nil {
			return Info{}, fmt.Errorf("qemu-img info: unreadable qcow2 details: %w", err)
		}
		info.DataFile = data.DataFile
	}
	return info, nil
}

// CheckImportable refuses an image NovaCron must not import: a format other
// than raw or qcow2 (ErrUnsupportedFormat), a backing file (ErrBackingFile) or
// an external data file (ErrDataFile), both of which would make a VM read
// another host path, and a virtual size that is zero or above MaxVirtualSize
// (ErrBadSize, ErrTooLarge).
func CheckImportable(info Info) error {
	if err := checkFormat(info.Format); err != nil {
		return err
	}
	if info.BackingFile != "" {
		return fmt.Errorf("%w: %s", ErrBackingFile, strconv.Quote(info.BackingFile))
	}
	if info.DataFile != "" {
		return fmt.Errorf("%w: %s", ErrDataFile, strconv.Quote(info.DataFile))
	}
	if info.VirtualSize <= 0 {
		return fmt.Errorf("%w: virtual size %d", ErrBadSize, info.VirtualSize)
	}
	if info.VirtualSize > MaxVirtualSize {
		return fmt.Errorf("%w: %d bytes > %d", ErrTooLarge, info.VirtualSize, MaxVirtualSize)
	}
	return nil
}
