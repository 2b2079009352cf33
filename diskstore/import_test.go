package diskstore

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/fetch"
	"github.com/novacron/novacron/internal/qemuimg"
)

// An imported file keeps its bytes and gets the format, sizes and sum an
// operator would find with qemu-img and sha256sum.
func TestStore_ImportFile_RecordsFormatSizesAndSum(t *testing.T) {
	requireQemuImg(t)
	src := t.TempDir()
	cases := []struct {
		name, format string
		path         string
		virtual      int64
	}{
		{"raw", fsm.ImageRaw, writeFile(t, src, "disk.raw", pattern(mib)), mib},
		{"qcow2", fsm.ImageQCOW2, qcow2File(t, src, "disk.qcow2", 64*mib), 64 * mib},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			img := fsm.Image{ID: "img-" + c.name, Name: c.name, Pool: defaultPool.Name}
			sum := sha256Of(t, c.path)
			got, err := s.Import(context.Background(), defaultPool, img, Source{File: c.path, SHA256: strings.ToUpper(sum)}, gib)
			if err != nil {
				t.Fatal(err)
			}
			want := Imported{Format: c.format, SizeBytes: fileSize(t, c.path), VirtualSizeBytes: c.virtual, SHA256: sum}
			if got != want {
				t.Fatalf("Import = %+v, want %+v", got, want)
			}
			dest := s.ImagePath(defaultPool, img.ID)
			if dest != filepath.Join(s.dataDir, "pools", "default", "images", img.ID) {
				t.Errorf("ImagePath = %s, not in DATA/pools/default/images", dest)
			}
			if sha256Of(t, dest) != sum {
				t.Errorf("the image at %s is not the source's bytes", dest)
			}
			if qi := info(t, dest); qi.Format != c.format || qi.VirtualSize != c.virtual {
				t.Errorf("qemu-img says %+v", qi)
			}
			if names := entries(t, filepath.Dir(dest)); len(names) != 1 || names[0] != img.ID {
				t.Errorf("images/ holds %q, want only %s", names, img.ID)
			}
			img.SizeBytes = got.SizeBytes
			if !s.HasImage(defaultPool, img) {
				t.Error("HasImage is false after the import")
			}
		})
	}
}

// Every refusal leaves the pool's images folder empty: no image, no
// .import partial.
func TestStore_ImportFile_RefusalsLeaveNothing(t *testing.T) {
	src := t.TempDir()
	raw := writeFile(t, src, "disk.raw", pattern(mib))
	cases := []struct {
		name     string
		qemu     bool
		src      func(t *testing.T) Source
		maxBytes int64
		want     error
	}{
		{"wrong sha256", false, func(*testing.T) Source {
			return Source{File: raw, SHA256: strings.Repeat("ab", 32)}
		}, gib, ErrChecksum},
		{"larger than max_bytes", false, func(*testing.T) Source { return Source{File: raw} }, mib - 1, ErrNotImage},
		{"qcow2 with a backing file", true, func(t *testing.T) Source {
			base := qcow2File(t, src, "base.qcow2", 16*mib)
			return Source{File: qcow2File(t, src, "overlay.qcow2", 16*mib, "-b", base, "-F", "qcow2")}
		}, gib, ErrNotImage},
		{"missing file", false, func(*testing.T) Source { return Source{File: filepath.Join(src, "absent")} }, gib, os.ErrNotExist},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.qemu {
				requireQemuImg(t)
			}
			s := newStore(t)
			_, err := s.Import(context.Background(), defaultPool, fsm.Image{ID: "img-1", Name: "img"}, c.src(t), c.maxBytes)
			if !errors.Is(err, c.want) {
				t.Fatalf("Import: %v, want %v", err, c.want)
			}
			requireEmpty(t, filepath.Join(s.PoolDir(defaultPool), "images"))
		})
	}
	t.Run("backing file names qemuimg's reason", func(t *testing.T) {
		requireQemuImg(t)
		base := qcow2File(t, src, "base2.qcow2", 16*mib)
		overlay := qcow2File(t, src, "overlay2.qcow2", 16*mib, "-b", base, "-F", "qcow2")
		_, err := newStore(t).Import(context.Background(), defaultPool, fsm.Image{ID: "img-1"}, Source{File: overlay}, gib)
		if !errors.Is(err, qemuimg.ErrBackingFile) {
			t.Errorf("Import: %v, want it to wrap qemuimg.ErrBackingFile", err)
		}
	})
}

// An ID that could leave the images folder is refused before anything is
// written.
func TestStore_Import_RefusesIDsThatAreNoFileName(t *testing.T) {
	src := writeFile(t, t.TempDir(), "disk.raw", pattern(4*kib))
	s := newStore(t)
	for _, id := range []string{"", "../escape", "a/b", ".hidden", `a\b`, strings.Repeat("x", 129)} {
		if _, err := s.Import(context.Background(), defaultPool, fsm.Image{ID: id}, Source{File: src}, gib); !errors.Is(err, errBadID) {
			t.Errorf("id %q: %v, want errBadID", id, err)
		}
	}
	if names := entries(t, s.PoolDir(defaultPool)); len(names) != 0 {
		t.Errorf("the pool holds %q after refused imports", names)
	}
	if _, err := s.Import(context.Background(), defaultPool, fsm.Image{ID: "img-1"}, Source{}, gib); err == nil {
		t.Error("an import with neither file nor URL succeeded")
	}
}

// imageServer serves body at /disk.img on 127.0.0.1 and counts requests.
func imageServer(t *testing.T, body []byte) (url string, hits *atomic.Int64) {
	t.Helper()
	hits = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/disk.img" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/disk.img", hits
}

func TestStore_ImportURL_AllowListedHostWithItsSum(t *testing.T) {
	requireQemuImg(t)
	body := pattern(2 * mib)
	url, hits := imageServer(t, body)
	s := newStore(t)
	img := fsm.Image{ID: "img-url", Name: "from-url"}
	src := Source{URL: url, Policy: fetch.Policy{AllowedHosts: []string{"127.0.0.1"}}, SHA256: sha256Hex(body)}
	got, err := s.Import(context.Background(), defaultPool, img, src, gib)
	if err != nil {
		t.Fatal(err)
	}
	want := Imported{Format: fsm.ImageRaw, SizeBytes: 2 * mib, VirtualSizeBytes: 2 * mib, SHA256: sha256Hex(body)}
	if got != want {
		t.Fatalf("Import = %+v, want %+v", got, want)
	}
	if sha256Of(t, s.ImagePath(defaultPool, img.ID)) != want.SHA256 {
		t.Error("the image is not the served bytes")
	}
	if names := entries(t, filepath.Join(s.PoolDir(defaultPool), "images")); len(names) != 1 {
		t.Errorf("images/ holds %q, want the image only", names)
	}
	if hits.Load() != 1 {
		t.Errorf("the server saw %d requests, want 1", hits.Load())
	}
}

func TestStore_ImportURL_Refusals(t *testing.T) {
	body := pattern(256 * kib)
	allow := fetch.Policy{AllowedHosts: []string{"127.0.0.1"}}
	cases := []struct {
		name    string
		policy  fetch.Policy
		sum     string
		max     int64
		want    error
		reached bool // whether the server may see the request
	}{
		{"empty allow-list", fetch.Policy{}, sha256Hex(body), gib, fetch.ErrNotAllowed, false},
		{"host not on the list", fetch.Policy{AllowedHosts: []string{"203.0.113.7"}}, sha256Hex(body), gib, fetch.ErrNotAllowed, false},
		{"wrong sha256", allow, strings.Repeat("0", 64), gib, fetch.ErrChecksum, true},
		{"no sha256", allow, "", gib, fetch.ErrChecksum, false},
		{"larger than max_bytes", allow, sha256Hex(body), 128 * kib, fetch.ErrTooLarge, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			url, hits := imageServer(t, body)
			s := newStore(t)
			_, err := s.Import(context.Background(), defaultPool, fsm.Image{ID: "img-url"}, Source{URL: url, Policy: c.policy, SHA256: c.sum}, c.max)
			if !errors.Is(err, c.want) {
				t.Fatalf("Import: %v, want %v", err, c.want)
			}
			if !c.reached && hits.Load() != 0 {
				t.Errorf("the server saw %d requests for a refused URL", hits.Load())
			}
			requireEmpty(t, filepath.Join(s.PoolDir(defaultPool), "images"))
		})
	}
}
