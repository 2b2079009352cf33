package diskstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
)

// BenchmarkCopyImage_OverTLS copies a 256 MiB image from one store to
// another through ServeImage over HTTPS on loopback, the way two hosts
// copy one (less the node certificates' mutual check, which costs only the
// handshake), beside a plain copy of the same file with its fsync.
func BenchmarkCopyImage_OverTLS(b *testing.B) {
	const size = 256 << 20
	from, to := New(b.TempDir()), New(b.TempDir())
	if err := from.Realise(defaultPool); err != nil {
		b.Fatal(err)
	}
	img := fsm.Image{ID: "img-bench", Name: "bench", Pool: defaultPool.Name, State: fsm.ImageReady, Format: fsm.ImageRaw, SizeBytes: size}
	img.SHA256 = writeRandomFile(b, from.ImagePath(defaultPool, img.ID), size)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		from.ServeImage(w, r, defaultPool, img)
	}))
	defer srv.Close()
	client := srv.Client()
	open := func(ctx context.Context, offset int64) (io.ReadCloser, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		if offset > 0 {
			req.Header.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		return resp.Body, nil
	}
	var copyTook, plainTook time.Duration
	for i := 0; i < b.N; i++ {
		os.Remove(to.ImagePath(defaultPool, img.ID))
		start := time.Now()
		if err := to.CopyImage(context.Background(), defaultPool, img, open); err != nil {
			b.Fatal(err)
		}
		copyTook += time.Since(start)
		start = time.Now()
		plainCopy(b, from.ImagePath(defaultPool, img.ID), filepath.Join(b.TempDir(), "plain"))
		plainTook += time.Since(start)
	}
	mibs := float64(size) / (1 << 20) * float64(b.N)
	b.ReportMetric(mibs/copyTook.Seconds(), "copy-MiB/s")
	b.ReportMetric(mibs/plainTook.Seconds(), "plain-MiB/s")
	b.ReportMetric(plainTook.Seconds()/copyTook.Seconds(), "copy/plain-speed")
}

// writeRandomFile writes size random bytes at path and returns their SHA-256.
func writeRandomFile(tb testing.TB, path string, size int64) string {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), rand.Reader, size); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// plainCopy is cp followed by sync: the figure a copy is held against.
func plainCopy(tb testing.TB, src, dst string) {
	tb.Helper()
	in, err := os.Open(src)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		tb.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, in); err != nil {
		tb.Fatal(err)
	}
	if err := out.Sync(); err != nil {
		tb.Fatal(err)
	}
}
