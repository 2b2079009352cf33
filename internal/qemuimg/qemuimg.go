// Package qemuimg is NovaCron's only way to run qemu-img: it inspects disk
// images at import, and creates and grows the volumes VMs boot from.
//
// qemu-img is powerful and trusting. It probes formats from file contents,
// follows backing files and qcow2 external data files named inside an image,
// reads "json:{...}" or "nbd:..." file names as protocols, and overwrites the
// file it is told to create. Every function here closes one of those doors:
//
//   - A format is probed once, when an image is imported (Inspect with
//     format ""), checked (CheckImportable) and recorded; every later call
//     passes the recorded format, so a guest that writes a qcow2 header into
//     its raw disk cannot choose how the host opens that disk next time.
//   - Only raw and qcow2 images without a backing file or an external data
//     file are importable: those name other host paths, which no one confined.
//   - Paths must be absolute and clean and contain no ',' or ':' (see
//     checkPath), so qemu never reads one as options or a protocol.
//   - New files are created under a temporary name and hard-linked into
//     place, so an existing file is never overwritten and a half-written one
//     never appears under the final name.
//   - qemu-img runs through exec.CommandContext with an argument list, never a
//     shell; its stderr, trimmed and bounded, is kept in the returned *Error.
//
// Sizes are bytes throughout. Sizes a caller asks for must be multiples of
// 512, because qemu-img silently rounds them up at create and refuses them at
// resize.
package qemuimg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"unicode"
)

// Disk image formats NovaCron records for a volume (the same names as
// hostpath.FormatRaw and hostpath.FormatQCOW2).
const (
	FormatRaw   = "raw"
	FormatQCOW2 = "qcow2"
)

// MaxVirtualSize bounds every image and volume: a larger one is far beyond any
// host's disks and is more likely a crafted header than a real image.
const MaxVirtualSize int64 = 16 << 40 // 16 TiB

// sectorSize is the unit qemu-img sizes images in.
const sectorSize = 512

// Errors a caller can test with errors.Is; each refusal wraps one of them.
var (
	// ErrUnsupportedFormat: not raw or qcow2, the only formats NovaCron runs.
	ErrUnsupportedFormat = errors.New("unsupported image format (only raw and qcow2)")
	// ErrBackingFile: the image names a backing file, another host path.
	ErrBackingFile = errors.New("image has a backing file; only self-contained images are allowed")
	// ErrDataFile: the qcow2 image keeps its data in an external file,
	// another host path.
	ErrDataFile = errors.New("image has an external data file; only self-contained images are allowed")
	// ErrTooLarge: a virtual size above MaxVirtualSize.
	ErrTooLarge = errors.New("image size above the limit")
	// ErrBadSize: a size that is zero or negative where a size is needed, or
	// not a multiple of 512 bytes.
	ErrBadSize = errors.New("bad image size (must be positive and a multiple of 512 bytes)")
	// ErrShrink: a size smaller than the image's (or the base's) virtual
	// size. Shrinking drops the guest's data at the end of the disk, so it is
	// never done here.
	ErrShrink = errors.New("size smaller than the image's virtual size; images are never shrunk")
	// ErrBadPath: a path qemu might read as something other than a file name.
	ErrBadPath = errors.New("path must be absolute, clean, and free of ',', ':' and control characters")
)

// Error is a qemu-img run that failed. Err is the context's error when the
// context ended the run, so errors.Is(err, context.DeadlineExceeded) works;
// otherwise the *exec.ExitError or the error starting qemu-img (for example
// exec.ErrNotFound).
type Error struct {
	Op     string // qemu-img subcommand: "info", "create", "resize"
	Path   string // the image the command was about
	Err    error
	Stderr string // trimmed, at most maxStderr bytes
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("qemu-img %s %s: %v", e.Op, e.Path, e.Err)
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

// Unwrap lets errors.Is and errors.As see the cause.
func (e *Error) Unwrap() error { return e.Err }

// qemuImg is the binary run, looked up in PATH.
const qemuImg = "qemu-img"

// Output bounds: info's JSON is a few hundred bytes, an error a line or two.
const (
	maxStdout = 1 << 20
	maxStderr = 1 << 10
)

// run runs qemu-img with args and returns its stdout. op and path only label
// the error.
func run(ctx context.Context, op, path string, args ...string) ([]byte, error) {
	stdout := &boundedBuffer{limit: maxStdout}
	stderr := &boundedBuffer{limit: maxStderr}
	cmd := exec.CommandContext(ctx, qemuImg, args...)
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	err := cmd.Run()
	if err == nil && stdout.truncated {
		err = fmt.Errorf("output larger than %d bytes", maxStdout)
	}
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			err = ctxErr
		}
		return nil, &Error{Op: op, Path: path, Err: err, Stderr: stderr.text()}
	}
	return stdout.buf.Bytes(), nil
}

// boundedBuffer keeps the first limit bytes written and drops the rest
// without failing the write, so a chatty qemu-img is never blocked or killed
// by a full pipe.
type boundedBuffer struct {
	buf       bytes.Buffer
	limit     int
	truncated bool
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	room := b.limit - b.buf.Len()
	if len(p) > room {
		b.truncated = true
		b.buf.Write(p[:max(room, 0)])
	} else {
		b.buf.Write(p)
	}
	return len(p), nil
}

func (b *boundedBuffer) text() string {
	s := strings.TrimSpace(strings.ToValidUTF8(b.buf.String(), "?"))
	if b.truncated {
		s += " …(truncated)"
	}
	return s
}

// checkPath accepts only absolute, clean paths without ',', ':' or control
// characters. qemu reads a name with ':' before its first '/' as a protocol
// ("nbd:", "json:{...}"), ',' separates options wherever a file name is
// embedded in an option string, and a leading '-' would be an option; an
// absolute path already rules out the first and the last, and refusing ','
// and ':' anywhere costs nothing because NovaCron names its volume files
// itself.
func checkPath(p string) error {
	ok := filepath.IsAbs(p) && filepath.Clean(p) == p && !strings.HasPrefix(p, "-") &&
		!strings.ContainsAny(p, ",:") && !strings.ContainsFunc(p, unicode.IsControl)
	if !ok {
		return fmt.Errorf("%w: %q", ErrBadPath, p)
	}
	return nil
}

// checkFormat accepts only the formats NovaCron records; "" (probe) is not
// one of them.
func checkFormat(format string) error {
	if format != FormatRaw && format != FormatQCOW2 {
		return fmt.Errorf("%w: %q", ErrUnsupportedFormat, format)
	}
	return nil
}

// checkSize accepts a size a caller asks for a new or grown image.
func checkSize(size int64) error {
	if size <= 0 || size%sectorSize != 0 {
		return fmt.Errorf("%w: %d", ErrBadSize, size)
	}
	if size > MaxVirtualSize {
		return fmt.Errorf("%w: %d bytes > %d", ErrTooLarge, size, MaxVirtualSize)
	}
	return nil
}
