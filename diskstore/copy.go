package diskstore

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/novacron/novacron/fsm"
)

// Copies between hosts: a host that needs an image of a dir pool it does
// not hold reads it from a host that does, over the cluster's own
// authenticated internal API (mutual TLS with node certificates). The copy
// resumes where a broken one stopped (an HTTP range from the partial
// file's length) and is verified against the image's recorded SHA-256
// before it takes the image's name.

// OpenFunc opens an image on another host from offset on.
type OpenFunc func(ctx context.Context, offset int64) (io.ReadCloser, error)

// copyBuffer is the size of one read of a copy: large reads keep a copy
// near a plain file copy's speed.
const copyBuffer = 1 << 20

// CopyImage copies img into pool p from open, resuming a partial copy.
func (s *Store) CopyImage(ctx context.Context, p fsm.StoragePool, img fsm.Image, open OpenFunc) error {
	if err := checkID(img.ID); err != nil {
		return err
	}
	if err := s.Realise(p); err != nil {
		return err
	}
	return copyVerified(ctx, s.ImagePath(p, img.ID), img.SizeBytes, img.SHA256, "image "+img.Name, open)
}

// copyVerified copies size bytes from open into dest, through dest.copy: a
// partial copy left there is resumed, and the whole is verified against
// sum (SHA-256, hex) before it takes dest's name. what names it in errors.
func copyVerified(ctx context.Context, dest string, size int64, sum, what string, open OpenFunc) error {
	part := dest + ".copy"
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	// The partial file is hashed as it is read back, then the rest as it
	// arrives: one pass over the data either way.
	h := sha256.New()
	have, err := io.CopyBuffer(h, f, make([]byte, copyBuffer))
	if err != nil {
		return err
	}
	if have > size {
		have = 0
		h.Reset()
		if err := f.Truncate(0); err != nil {
			return err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
	}
	if have < size {
		rc, err := open(ctx, have)
		if err != nil {
			if have == 0 {
				os.Remove(part) // nothing to resume from: leave no empty file
			}
			return err
		}
		// TLS hands the body over in records of 16 KiB: gather them into
		// large writes, as cp does.
		w := bufio.NewWriterSize(f, copyBuffer)
		n, err := io.CopyBuffer(io.MultiWriter(w, h), io.LimitReader(&ctxReader{ctx: ctx, r: rc}, size-have), make([]byte, copyBuffer))
		if ferr := w.Flush(); err == nil {
			err = ferr
		}
		rc.Close()
		if err != nil {
			return fmt.Errorf("copying %s: %w (%d of %d bytes here; the next try resumes)", what, err, have+n, size)
		}
		if have+n != size {
			return fmt.Errorf("copying %s: the source ended at %d of %d bytes", what, have+n, size)
		}
	}
	if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, sum) {
		os.Remove(part)
		return fmt.Errorf("%w: the copy of %s has SHA-256 %s, want %s; removed", ErrChecksum, what, got, sum)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return os.Rename(part, dest)
}

// ServeImage answers another host's read of image img of pool p, with
// ranges (http.ServeContent), from this host's verified copy.
func (s *Store) ServeImage(w http.ResponseWriter, r *http.Request, p fsm.StoragePool, img fsm.Image) {
	if !s.HasImage(p, img) {
		http.Error(w, "image not on this host", http.StatusNotFound)
		return
	}
	f, err := os.Open(s.ImagePath(p, img.ID))
	if err != nil {
		http.Error(w, "image not readable on this host", http.StatusNotFound)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(newStreamWriter(w), r, "", img.CreatedAt, f)
}

// stallTimeout is how long an answer that streams a file may go without
// writing anything before the reader is cut off.
const stallTimeout = time.Minute

// streamWriter moves the answer's write deadline on while it makes
// progress. The server's WriteTimeout bounds a whole answer, which suits
// the API's small ones but would cut a large image or disk in the middle
// of its copy (60 s is 12 GiB at 200 MiB/s); a reader that stops reading
// is still cut off, after stallTimeout.
type streamWriter struct {
	http.ResponseWriter
	rc   *http.ResponseController
	next time.Time // when to move the deadline again
}

func newStreamWriter(w http.ResponseWriter) *streamWriter {
	s := &streamWriter{ResponseWriter: w, rc: http.NewResponseController(w)}
	s.progress()
	return s
}

// progress moves the deadline to stallTimeout from now, at most once a
// second (each move is a system call's worth of work).
func (s *streamWriter) progress() {
	if now := time.Now(); now.After(s.next) {
		s.rc.SetWriteDeadline(now.Add(stallTimeout))
		s.next = now.Add(time.Second)
	}
}

func (s *streamWriter) Write(p []byte) (int, error) {
	s.progress()
	return s.ResponseWriter.Write(p)
}

// errNoHolder: no host that holds the image could give it.
var errNoHolder = errors.New("no host holding the image answered")
