package diskstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/fetch"
	"github.com/novacron/novacron/internal/qemuimg"
)

// Errors of an import; the API maps them to 4xx.
var (
	// ErrChecksum: the image's SHA-256 is not the one the request gave.
	ErrChecksum = errors.New("image checksum mismatch")
	// ErrNotImage: the file is no image NovaCron runs (a format other than
	// raw or qcow2, a backing or data file, too large).
	ErrNotImage = errors.New("not an importable image")
)

// Imported is what an import found out about the image, for its record.
type Imported struct {
	Format           string
	SizeBytes        int64
	VirtualSizeBytes int64
	SHA256           string
}

// Source is where an import reads from: a file the caller has confined to
// the allowed image folders (its resolved path), or a URL fetched under
// Policy.
type Source struct {
	File   string
	URL    string
	Policy fetch.Policy
	// SHA256 is the sum the image must have (required for a URL).
	SHA256 string
}

// Import copies an image into pool p as img.ID, checks its SHA-256 (when
// given), detects its format once with qemu-img and refuses what NovaCron
// does not run: formats other than raw and qcow2, qcow2 images that name a
// backing or external data file (other host paths), images larger than
// maxBytes. The image appears under its final name only once every check
// passed; a failed import leaves nothing behind.
func (s *Store) Import(ctx context.Context, p fsm.StoragePool, img fsm.Image, src Source, maxBytes int64) (Imported, error) {
	if err := checkID(img.ID); err != nil {
		return Imported{}, err
	}
	if err := s.Realise(p); err != nil {
		return Imported{}, err
	}
	dest := s.ImagePath(p, img.ID)
	part := dest + ".import"
	os.Remove(part)
	var sum string
	var size int64
	var err error
	switch {
	case src.URL != "":
		src.Policy.MaxBytes = maxBytes
		var res fetch.Result
		res, err = fetch.Download(ctx, src.Policy, src.URL, src.SHA256, part, nil)
		sum, size = res.SHA256, res.Bytes
		switch {
		case errors.Is(err, fetch.ErrChecksum):
			err = fmt.Errorf("%w: %w", ErrChecksum, err)
		case errors.Is(err, fetch.ErrTooLarge):
			err = fmt.Errorf("%w: %w", ErrNotImage, err)
		}
	case src.File != "":
		sum, size, err = copyFile(ctx, src.File, part, maxBytes)
		if err == nil && src.SHA256 != "" && !strings.EqualFold(src.SHA256, sum) {
			err = fmt.Errorf("%w: the file's SHA-256 is %s, the request says %s", ErrChecksum, sum, strings.ToLower(src.SHA256))
		}
	default:
		err = errors.New("an import needs a file or a URL")
	}
	if err != nil {
		os.Remove(part)
		return Imported{}, err
	}
	out, err := inspectImport(ctx, part, maxBytes)
	if err == nil {
		err = os.Rename(part, dest)
	}
	if err != nil {
		os.Remove(part)
		return Imported{}, err
	}
	out.SHA256, out.SizeBytes = sum, size
	return out, nil
}

// inspectImport probes the new image's format: the one time NovaCron lets
// qemu-img guess it. Every later use passes the format recorded here.
func inspectImport(ctx context.Context, path string, maxBytes int64) (Imported, error) {
	info, err := qemuimg.Inspect(ctx, path, "")
	if err != nil {
		return Imported{}, fmt.Errorf("%w: %w", ErrNotImage, err)
	}
	if err := qemuimg.CheckImportable(info); err != nil {
		return Imported{}, fmt.Errorf("%w: %w", ErrNotImage, err)
	}
	if info.VirtualSize > fsm.MaxDiskGiB<<30 {
		return Imported{}, fmt.Errorf("%w: virtual size %d bytes is above the largest disk", ErrNotImage, info.VirtualSize)
	}
	return Imported{Format: info.Format, VirtualSizeBytes: info.VirtualSize}, nil
}

// copyFile copies src to a new file dst (0600), hashing as it goes and
// stopping past maxBytes or when ctx ends.
func copyFile(ctx context.Context, src, dst string, maxBytes int64) (string, int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", 0, err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", 0, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), &ctxReader{ctx: ctx, r: io.LimitReader(in, maxBytes+1)})
	if err == nil && n > maxBytes {
		err = fmt.Errorf("%w: the file is larger than %d bytes (images.max_bytes)", ErrNotImage, maxBytes)
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// ctxReader ends a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
