package fetch

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// progressEvery spaces progress calls: often enough for a live bar, rarely
// enough that a caller may write each one to Raft or a log.
const progressEvery = 250 * time.Millisecond

// Result describes a finished download.
type Result struct {
	// Bytes is the length of the file written.
	Bytes int64
	// SHA256 is its sum, in lower-case hex (equal to the one asked for).
	SHA256 string
	// FinalURL is the URL the body came from, after redirects. It may carry
	// a signed query string, so log it with care.
	FinalURL string
}

// Download fetches rawURL, as p allows, into destPath, and returns only once
// the body's SHA-256 equals wantSHA256 (64 hex digits, any case): an image is
// never used on the server's word alone. The body goes to destPath+".part"
// (mode 0600, created afresh, never through an existing file or symlink) and
// is renamed to destPath after the sum matched; on any error, including ctx
// ending, neither file is left. destPath must not exist: an imported image
// is not overwritten. progress, if not nil, gets the bytes done and the total
// (-1 when the server sends no length) a few times a second and once at the
// end.
func Download(ctx context.Context, p Policy, rawURL, wantSHA256, destPath string, progress func(done, total int64)) (Result, error) {
	want := strings.ToLower(wantSHA256)
	if b, err := hex.DecodeString(want); err != nil || len(b) != sha256.Size {
		return Result{}, fmt.Errorf("%w: expected sum %q is not a SHA-256 (64 hex digits)", ErrChecksum, wantSHA256)
	}
	entries, err := p.entries()
	if err != nil {
		return Result{}, err
	}
	u, err := p.CheckURL(rawURL)
	if err != nil {
		return Result{}, err
	}
	if err := absent(destPath); err != nil {
		return Result{}, err
	}
	part := destPath + ".part"
	// O_EXCL: a .part already there belongs to another download of the
	// same image (or a crashed one), and a symlink planted there must not be
	// followed to truncate whatever it points at.
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return Result{}, fmt.Errorf("cannot start the download: %w (a download to %s is running, or a failed one left the file)", err, destPath)
	}
	res, err := p.fetchTo(ctx, entries, u, want, f, progress)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("writing %s: %w", part, cerr)
	}
	if err == nil {
		err = publish(part, destPath)
	}
	if err != nil {
		_ = os.Remove(part)
		return Result{}, err
	}
	return res, nil
}

// fetchTo streams the body into f, hashing and bounding it on the way.
func (p Policy) fetchTo(ctx context.Context, entries []entry, u *url.URL, want string, f *os.File, progress func(done, total int64)) (Result, error) {
	client := p.client(entries)
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrBadURL, err)
	}
	req.Header.Set("User-Agent", "novacron-image-fetch")
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error would repeat the whole URL, query tokens and all.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, ErrNotAllowed) || errors.Is(err, ErrBadURL) {
			return Result{}, err // a refusal names its host already
		}
		return Result{}, fmt.Errorf("fetching from %s: %w", u.Host, err)
	}
	defer resp.Body.Close()
	from := resp.Request.URL.Host
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return Result{}, fmt.Errorf("%w: %s answered %q", ErrStatus, from, resp.Status)
	}
	limit := p.maxBytes()
	if resp.ContentLength > limit {
		return Result{}, fmt.Errorf("%w: %s announces %d bytes, the limit is %d", ErrTooLarge, from, resp.ContentLength, limit)
	}

	h := sha256.New()
	pw := &progressWriter{total: resp.ContentLength, fn: progress}
	// One byte past the limit tells a body that is too long from one that
	// is exactly the limit.
	n, err := io.CopyBuffer(io.MultiWriter(f, h, pw), io.LimitReader(resp.Body, limit+1), make([]byte, 1<<20))
	switch {
	case ctx.Err() != nil:
		return Result{}, fmt.Errorf("fetching from %s: %w", from, ctx.Err())
	case err != nil:
		return Result{}, fmt.Errorf("fetching from %s after %d bytes: %w", from, n, err)
	case n > limit:
		return Result{}, fmt.Errorf("%w: %s sent more than the limit of %d bytes", ErrTooLarge, from, limit)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if got != want {
		return Result{}, fmt.Errorf("%w: the %d bytes from %s have SHA-256 %s, want %s; the download was discarded", ErrChecksum, n, from, got, want)
	}
	if err := f.Sync(); err != nil {
		return Result{}, fmt.Errorf("writing %s: %w", f.Name(), err)
	}
	pw.report(true)
	return Result{Bytes: n, SHA256: got, FinalURL: resp.Request.URL.String()}, nil
}

// client builds a dedicated client: its own transport so that no proxy from
// the environment (which would connect in our stead, past the address check)
// and no connection from another caller is ever used.
func (p Policy) client(entries []entry) *http.Client {
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            p.dialContext(entries),
		TLSClientConfig:        &tls.Config{RootCAs: p.RootCAs, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    connectTimeout,
		ResponseHeaderTimeout:  connectTimeout,
		IdleConnTimeout:        connectTimeout,
		MaxResponseHeaderBytes: 1 << 20,
		// The sum and the limit are about the bytes the server sends;
		// transparent gunzip would also let a small body inflate.
		DisableCompression: true,
	}
	maxRedirects := p.maxRedirects()
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			from := via[len(via)-1].URL.Host
			if len(via) > maxRedirects {
				return fmt.Errorf("%w: more than %d redirects (last from %s)", ErrNotAllowed, maxRedirects, from)
			}
			if _, err := p.CheckURL(req.URL.String()); err != nil {
				return fmt.Errorf("redirect from %s: %w", from, err)
			}
			return nil
		},
	}
}

// absent refuses a destination that exists (as anything, even a dangling
// symlink).
func absent(path string) error {
	_, err := os.Lstat(path)
	switch {
	case err == nil:
		return fmt.Errorf("destination %s: %w", path, fs.ErrExist)
	case errors.Is(err, fs.ErrNotExist):
		return nil
	}
	return fmt.Errorf("destination %s: %w", path, err)
}

// publish moves the verified file into place and makes the rename durable,
// so that a caller who records the import after Download returns does not
// record a file a power cut would lose.
func publish(part, dest string) error {
	if err := absent(dest); err != nil {
		return err
	}
	if err := os.Rename(part, dest); err != nil {
		return fmt.Errorf("moving the download into place: %w", err)
	}
	dir, err := os.Open(filepath.Dir(dest))
	if err == nil {
		err = dir.Sync()
		_ = dir.Close()
	}
	if err != nil {
		_ = os.Remove(dest)
		return fmt.Errorf("syncing the folder of %s: %w", dest, err)
	}
	return nil
}

// progressWriter counts the bytes written and reports them, spaced by
// progressEvery.
type progressWriter struct {
	done, total int64
	fn          func(done, total int64)
	last        time.Time
}

func (w *progressWriter) Write(b []byte) (int, error) {
	w.done += int64(len(b))
	w.report(false)
	return len(b), nil
}

func (w *progressWriter) report(final bool) {
	if w.fn == nil {
		return
	}
	if now := time.Now(); final || now.Sub(w.last) >= progressEvery {
		w.last = now
		w.fn(w.done, w.total)
	}
}
