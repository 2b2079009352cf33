package fetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// image is a body to serve; large enough to take several reads.
var image = bytes.Repeat([]byte("novacron disk image\n"), 200_000)

func sumOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// imageServer serves image at any path and counts the requests it got.
func imageServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Length", fmt.Sprint(len(image)))
		_, _ = w.Write(image)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func hostPort(srv *httptest.Server) (host, port string) {
	u, _ := url.Parse(srv.URL)
	return u.Hostname(), u.Port()
}

// newDest returns a destination in a fresh folder; assertEmpty checks
// that the folder is still empty (no file, no .part).
func newDest(t *testing.T) string {
	return filepath.Join(t.TempDir(), "disk.img")
}

func assertEmpty(t *testing.T, dest string) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Dir(dest))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("left behind: %s", e.Name())
	}
}

func TestDownload_FetchesFromAllowListedLoopback(t *testing.T) {
	srv, _ := imageServer(t)
	dest := newDest(t)
	var calls, lastDone, lastTotal int64
	start := time.Now()
	res, err := Download(context.Background(), Policy{AllowedHosts: []string{"127.0.0.1"}},
		srv.URL+"/disk.img", strings.ToUpper(sumOf(image)), dest, func(done, total int64) {
			calls++
			lastDone, lastTotal = done, total
		})
	if err != nil {
		t.Fatal(err)
	}
	if res.Bytes != int64(len(image)) || res.SHA256 != sumOf(image) || res.FinalURL != srv.URL+"/disk.img" {
		t.Errorf("result %+v", res)
	}
	got, err := os.ReadFile(dest)
	if err != nil || !bytes.Equal(got, image) {
		t.Fatalf("file differs from the image (err %v)", err)
	}
	if fi, _ := os.Stat(dest); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := os.Stat(dest + ".part"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf(".part left: %v", err)
	}
	if lastDone != int64(len(image)) || lastTotal != int64(len(image)) {
		t.Errorf("last progress %d/%d, want %d/%d", lastDone, lastTotal, len(image), len(image))
	}
	if limit := int64(time.Since(start)/progressEvery) + 2; calls < 1 || calls > limit {
		t.Errorf("progress called %d times, want 1..%d", calls, limit)
	}
}

func TestDownload_FetchesOverHTTPSWithTheGivenCAs(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(image) }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	p := Policy{AllowedHosts: []string{"127.0.0.1"}}
	if _, err := Download(context.Background(), p, srv.URL, sumOf(image), newDest(t), nil); err == nil {
		t.Fatal("fetched from a server whose CA is not trusted")
	}
	p.RootCAs = x509.NewCertPool()
	p.RootCAs.AddCert(srv.Certificate())
	if _, err := Download(context.Background(), p, srv.URL, sumOf(image), newDest(t), nil); err != nil {
		t.Fatal(err)
	}
}

func TestDownload_RefusesBeforeConnecting(t *testing.T) {
	srv, hits := imageServer(t)
	_, port := hostPort(srv)
	cases := []struct {
		allowed []string
		url     string
		want    error
		says    string
	}{
		{nil, srv.URL, ErrNotAllowed, "127.0.0.1:" + port},
		{[]string{"images.example.com"}, srv.URL, ErrNotAllowed, "127.0.0.1:" + port},
		{[]string{"127.0.0.1"}, "http://169.254.169.254/latest/meta-data/", ErrNotAllowed, "169.254.169.254"},
		{[]string{"127.0.0.1"}, "http://10.0.0.1/disk", ErrNotAllowed, "10.0.0.1"},
		{[]string{"127.0.0.1"}, "http://192.168.1.1/disk", ErrNotAllowed, "192.168.1.1"},
		{[]string{"127.0.0.1"}, "http://[::1]:" + port + "/disk", ErrNotAllowed, "[::1]"},
		{[]string{"127.0.0.1"}, "http://0.0.0.0:" + port + "/disk", ErrNotAllowed, "0.0.0.0"},
		{[]string{"localhost"}, "http://localhost:" + port + "/disk", ErrNotAllowed, "localhost resolves to "},
		{[]string{"127.0.0.1:1"}, srv.URL, ErrNotAllowed, "port " + port},
		{[]string{"127.0.0.1"}, "http://user:pass@127.0.0.1:" + port + "/disk", ErrBadURL, "credentials"},
		{[]string{"127.0.0.1"}, "ftp://127.0.0.1:" + port + "/disk", ErrBadURL, `"ftp"`},
		{[]string{"127.0.0.1"}, "file:///etc/passwd", ErrBadURL, `"file"`},
	}
	for _, c := range cases {
		dest := newDest(t)
		_, err := Download(context.Background(), Policy{AllowedHosts: c.allowed}, c.url, sumOf(image), dest, nil)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("allow %q, %s: %v; want %v saying %q", c.allowed, c.url, err, c.want, c.says)
		}
		assertEmpty(t, dest)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the server got %d requests", n)
	}
}

func TestDownload_RechecksRedirects(t *testing.T) {
	other, otherHits := imageServer(t)
	_, otherPort := hostPort(other)
	var target atomic.Pointer[string]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/disk" {
			_, _ = w.Write(image)
			return
		}
		http.Redirect(w, r, *target.Load(), http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	_, port := hostPort(srv)
	allowed := []string{"127.0.0.1:" + port, "localhost"}
	cases := []struct {
		to   string
		want error
		says string
	}{
		{"/disk", nil, ""},
		{"http://evil.example.net/disk", ErrNotAllowed, "redirect from 127.0.0.1:" + port + ": image URL not allowed: host evil.example.net"},
		{"http://169.254.169.254/latest/meta-data/", ErrNotAllowed, "169.254.169.254"},
		{other.URL + "/disk", ErrNotAllowed, "port " + otherPort},
		{"http://localhost:" + otherPort + "/disk", ErrNotAllowed, "localhost resolves to "},
		{"http://u:p@127.0.0.1:" + port + "/disk", ErrBadURL, "credentials"},
		{"file:///etc/passwd", ErrBadURL, `"file"`},
	}
	for _, c := range cases {
		target.Store(&c.to)
		dest := newDest(t)
		res, err := Download(context.Background(), Policy{AllowedHosts: allowed}, srv.URL+"/start", sumOf(image), dest, nil)
		if c.want == nil {
			if err != nil || res.FinalURL != srv.URL+"/disk" {
				t.Errorf("redirect to %s: %+v, %v", c.to, res, err)
			}
			continue
		}
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("redirect to %s: %v; want %v saying %q", c.to, err, c.want, c.says)
		}
		assertEmpty(t, dest)
	}
	if n := otherHits.Load(); n != 0 {
		t.Errorf("the server redirected to got %d requests", n)
	}
}

func TestDownload_RefusesTooManyRedirects(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := hits.Add(1)
		http.Redirect(w, r, fmt.Sprintf("/hop/%d", n), http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	for _, c := range []struct{ max, hits int32 }{{3, 4}, {-1, 1}, {0, DefaultMaxRedirects + 1}} {
		hits.Store(0)
		dest := newDest(t)
		p := Policy{AllowedHosts: []string{"127.0.0.1"}, MaxRedirects: int(c.max)}
		_, err := Download(context.Background(), p, srv.URL, sumOf(image), dest, nil)
		if !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), "redirects") {
			t.Errorf("MaxRedirects %d: %v; want too many redirects", c.max, err)
		}
		if got := hits.Load(); got != c.hits {
			t.Errorf("MaxRedirects %d: %d requests, want %d", c.max, got, c.hits)
		}
		assertEmpty(t, dest)
	}
}

func TestDownload_WrongChecksumLeavesNothing(t *testing.T) {
	srv, hits := imageServer(t)
	p := Policy{AllowedHosts: []string{"127.0.0.1"}}
	wrong := sumOf([]byte("another image"))
	dest := newDest(t)
	_, err := Download(context.Background(), p, srv.URL, wrong, dest, nil)
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), wrong) || !strings.Contains(err.Error(), sumOf(image)) {
		t.Errorf("wrong sum: %v; want ErrChecksum naming both sums", err)
	}
	assertEmpty(t, dest)

	for _, bad := range []string{"", "abc", sumOf(image)[:63], strings.Repeat("g", 64), sumOf(image) + "00"} {
		if _, err := Download(context.Background(), p, srv.URL, bad, dest, nil); !errors.Is(err, ErrChecksum) {
			t.Errorf("expected sum %q: %v; want ErrChecksum", bad, err)
		}
		assertEmpty(t, dest)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("%d requests; malformed sums should be refused before fetching", n)
	}
}

func TestDownload_EnforcesTheSizeLimit(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 1000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			for i := 0; i < len(body); i += 100 {
				_, _ = w.Write(body[i : i+100])
				w.(http.Flusher).Flush() // no Content-Length: the body decides
			}
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	cases := []struct {
		path string
		max  int64
		want error
		says string
	}{
		{"/length", 999, ErrTooLarge, "announces 1000 bytes, the limit is 999"},
		{"/chunked", 999, ErrTooLarge, "more than the limit of 999 bytes"},
		{"/chunked", 100, ErrTooLarge, "more than the limit of 100 bytes"},
		{"/length", 1000, nil, ""},
		{"/chunked", 1000, nil, ""},
	}
	for _, c := range cases {
		dest := newDest(t)
		p := Policy{AllowedHosts: []string{"127.0.0.1"}, MaxBytes: c.max}
		res, err := Download(context.Background(), p, srv.URL+c.path, sumOf(body), dest, nil)
		if c.want == nil {
			if err != nil || res.Bytes != 1000 {
				t.Errorf("%s with limit %d: %+v, %v", c.path, c.max, res, err)
			}
			continue
		}
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s with limit %d: %v; want %v saying %q", c.path, c.max, err, c.want, c.says)
		}
		assertEmpty(t, dest)
	}
}

func TestDownload_RefusesErrorStatus(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	dest := newDest(t)
	_, err := Download(context.Background(), Policy{AllowedHosts: []string{"127.0.0.1"}}, srv.URL, sumOf(image), dest, nil)
	if !errors.Is(err, ErrStatus) || !strings.Contains(err.Error(), "404 Not Found") {
		t.Errorf("404: %v; want ErrStatus naming it", err)
	}
	assertEmpty(t, dest)
}

func TestDownload_CancelStopsAndCleansUp(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(image)))
		_, _ = w.Write(image[:64<<10])
		w.(http.Flusher).Flush()
		select { // stall: only the client's cancel can end this download
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first, so Close does not wait on a stuck handler
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dest := newDest(t)
	_, err := Download(ctx, Policy{AllowedHosts: []string{"127.0.0.1"}}, srv.URL, sumOf(image), dest,
		func(done, total int64) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled download: %v; want context.Canceled", err)
	}
	assertEmpty(t, dest)
}

func TestDownload_NeverOverwrites(t *testing.T) {
	srv, hits := imageServer(t)
	p := Policy{AllowedHosts: []string{"127.0.0.1"}}
	for _, existing := range []string{"", ".part"} {
		dest := newDest(t)
		if err := os.WriteFile(dest+existing, []byte("keep me"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Download(context.Background(), p, srv.URL, sumOf(image), dest, nil); err == nil {
			t.Errorf("downloaded over an existing %q", dest+existing)
		}
		if got, _ := os.ReadFile(dest + existing); string(got) != "keep me" {
			t.Errorf("%s changed to %d bytes", dest+existing, len(got))
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests; an occupied destination should be refused before fetching", n)
	}
}
