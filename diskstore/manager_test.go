package diskstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/ids"
	"github.com/novacron/novacron/internal/testutil"
)

// imageDir is a folder the Files fake allows, resolved as a Confiner
// resolves it.
func imageDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// Manager.Import runs in the background and records the outcome through
// Raft: ready with the facts found and this node as a holder.
func TestManager_Import_RecordsReady(t *testing.T) {
	requireQemuImg(t)
	dir := imageDir(t)
	path := qcow2File(t, dir, "debian.qcow2", 64*mib)
	sum := sha256Of(t, path)
	st := newFakeState(defaultPool)
	m, c := newTestManager(t, "node-1", newStore(t), st, nil, fakeFiles{dir: dir})
	img := fsm.Image{ID: ids.New(), Name: "debian", Pool: defaultPool.Name, Source: path, State: fsm.ImageImporting, Importer: "node-1"}
	if err := m.CheckSource(img.Source, sum); err != nil {
		t.Fatal(err)
	}
	m.Import(img, sum)

	up := c.waitUpdate(t, img.ID)
	want := fsm.UpdateImage{ID: img.ID, State: fsm.ImageReady, Format: fsm.ImageQCOW2, SizeBytes: fileSize(t, path),
		VirtualSizeBytes: 64 * mib, SHA256: sum, Host: "node-1", At: up.At}
	if up != want {
		t.Fatalf("recorded %+v, want %+v", up, want)
	}
	if up.At.IsZero() {
		t.Error("the update has no time")
	}
	if sha256Of(t, m.ImagePath(defaultPool, img.ID)) != sum {
		t.Error("the imported image is not the source's bytes")
	}
}

// A failed import is recorded failed with its reason, so the image does
// not stay importing for ever.
func TestManager_Import_RecordsFailure(t *testing.T) {
	dir := imageDir(t)
	path := writeFile(t, dir, "disk.raw", pattern(64*kib))
	st := newFakeState(defaultPool)
	m, c := newTestManager(t, "node-1", newStore(t), st, nil, fakeFiles{dir: dir})
	img := fsm.Image{ID: ids.New(), Name: "disk", Pool: defaultPool.Name, Source: path, State: fsm.ImageImporting, Importer: "node-1"}
	m.Import(img, strings.Repeat("0", 64))

	up := c.waitUpdate(t, img.ID)
	if up.State != fsm.ImageFailed || !strings.Contains(up.Error, "checksum") || up.Host != "" || up.SHA256 != "" {
		t.Fatalf("recorded %+v, want failed with a checksum error", up)
	}
	requireEmpty(t, filepath.Join(m.PoolDir(defaultPool), "images"))
}

// A user cancels an import under way: the importer stops reading the
// source, leaves no partial file, and records nothing over the
// cancellation.
func TestManager_Import_StopsWhenCancelled(t *testing.T) {
	reading, done, stop := make(chan struct{}), make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(64*int(mib)))
		w.Write(pattern(256 * kib))
		w.(http.Flusher).Flush()
		close(reading)
		select { // the rest never comes: only a cancel ends this
		case <-r.Context().Done():
			close(done)
		case <-stop: // the test failed
		}
	}))
	defer srv.Close()
	defer close(stop) // before srv.Close waits for the handler
	st := newFakeState(defaultPool)
	st.settings.Images.URLAllow = []string{strings.TrimPrefix(srv.URL, "http://")}
	m, c := newTestManager(t, "node-1", newStore(t), st, nil, nil)
	img := fsm.Image{ID: ids.New(), Name: "slow", Pool: defaultPool.Name, Source: srv.URL + "/slow.raw", State: fsm.ImageImporting, Importer: "node-1"}
	st.putImage(img)
	sum := strings.Repeat("ab", 32)
	if err := m.CheckSource(img.Source, sum); err != nil {
		t.Fatal(err)
	}
	m.Import(img, sum)
	select {
	case <-reading:
	case <-time.After(10 * time.Second):
		t.Fatalf("the import did not start reading its source; recorded %+v", c.updates())
	}
	images := filepath.Join(m.PoolDir(defaultPool), "images")
	testutil.Eventually(t, 10*time.Second, "the partial import file", func() error {
		if len(entries(t, images)) == 0 {
			return errors.New("none yet")
		}
		return nil
	})

	img.State = fsm.ImageCancelled
	st.putImage(img)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the importer still reads its source 10 s after the cancel")
	}
	m.Close() // waits for the import to end
	requireEmpty(t, images)
	if ups := c.updates(); len(ups) != 0 {
		t.Fatalf("recorded %+v after the cancel, want nothing", ups)
	}
}

// CheckSource refuses, before anything is recorded, what the import would
// refuse: each refusal is fsm.ErrInvalid, which the API maps to a 400.
func TestManager_CheckSource_Refusals(t *testing.T) {
	dir := imageDir(t)
	inside := writeFile(t, dir, "disk.raw", pattern(4*kib))
	outside := writeFile(t, t.TempDir(), "disk.raw", pattern(4*kib))
	sum := sha256Hex(pattern(4 * kib))
	st := newFakeState(defaultPool)
	st.settings.Images.URLAllow = []string{"images.example.com"}
	m, _ := newTestManager(t, "node-1", newStore(t), st, nil, fakeFiles{dir: dir})
	noFiles, _ := newTestManager(t, "node-1", newStore(t), st, nil, nil)

	cases := []struct {
		name, src, sha string
		m              *Manager
	}{
		{"file outside the image folder", outside, "", m},
		{"no image folder on this node", inside, "", noFiles},
		{"relative path", "disk.raw", "", m},
		{"URL without sha256", "https://images.example.com/disk.raw", "", m},
		{"URL host not on the allow-list", "https://evil.example.net/disk.raw", sum, m},
		{"URL of another scheme", "ftp://images.example.com/disk.raw", sum, m},
		{"sha256 not hex", inside, strings.Repeat("z", 64), m},
		{"sha256 too short", inside, "abcd", m},
	}
	for _, c := range cases {
		if err := c.m.CheckSource(c.src, c.sha); !errors.Is(err, fsm.ErrInvalid) {
			t.Errorf("%s: %v, want fsm.ErrInvalid", c.name, err)
		}
	}
	for _, ok := range []struct{ src, sha string }{{inside, ""}, {inside, strings.ToUpper(sum)}, {"https://images.example.com/disk.raw", sum}} {
		if err := m.CheckSource(ok.src, ok.sha); err != nil {
			t.Errorf("CheckSource(%s, %q): %v", ok.src, ok.sha, err)
		}
	}
}

// ServeHTTP is what other hosts copy from: ranges of a ready image, 404
// for anything else.
func TestManager_ServeHTTP_RangesAndNotFound(t *testing.T) {
	s := newStore(t)
	content := pattern(copySize)
	img := placeImage(t, s, defaultPool, "img-1", content)
	st := newFakeState(defaultPool)
	st.putImage(img)
	importing := imageOf("img-2", content)
	importing.State = fsm.ImageImporting
	st.putImage(importing)
	writeFile(t, filepath.Join(s.PoolDir(defaultPool), "images"), importing.ID, content)
	otherPool := imageOf("img-3", content)
	otherPool.Pool = "gone"
	st.putImage(otherPool)
	m, _ := newTestManager(t, "node-1", s, st, nil, nil)

	srv := httptest.NewServer(m)
	defer srv.Close()
	get := func(path, rng string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, b
	}
	if code, b := get(ImagePathPrefix+img.ID, "bytes=4096-8191"); code != http.StatusPartialContent || !bytes.Equal(b, content[4096:8192]) {
		t.Errorf("a range: HTTP %d, %d bytes", code, len(b))
	}
	if code, b := get(ImagePathPrefix+img.ID, ""); code != http.StatusOK || !bytes.Equal(b, content) {
		t.Errorf("the whole image: HTTP %d, %d bytes", code, len(b))
	}
	for _, path := range []string{ImagePathPrefix + "unknown", ImagePathPrefix + importing.ID, ImagePathPrefix + otherPool.ID, ImagePathPrefix + "..%2Fetc"} {
		if code, _ := get(path, ""); code != http.StatusNotFound {
			t.Errorf("%s: HTTP %d, want 404", path, code)
		}
	}
}

// twoHosts is node-a holding image img in its default pool and node-b,
// which does not, reaching node-a through fake peers.
func twoHosts(t *testing.T) (b *Manager, cb *fakeCluster, peers *fakePeers, img fsm.Image) {
	t.Helper()
	requireQemuImg(t)
	sa := newStore(t)
	img = importFile(t, sa, ids.New(), qcow2File(t, t.TempDir(), "debian.qcow2", 64*mib))
	img.Hosts = []string{"node-a"}
	st := newFakeState(defaultPool)
	st.putImage(img)
	a, _ := newTestManager(t, "node-a", sa, st, nil, nil)
	peers = &fakePeers{nodes: map[string]http.Handler{"node-a": a}}
	b, cb = newTestManager(t, "node-b", newStore(t), st, peers, nil)
	return b, cb, peers, img
}

// A VM placed on a host without its image: the host copies it from a
// holder, records that it holds it now, and makes the overlay over it.
func TestManager_PrepareVM_CopiesTheImageFromAPeer(t *testing.T) {
	b, cb, peers, img := twoHosts(t)
	vm := newVM(img.ID)
	disks, err := b.PrepareVM(context.Background(), vm, defaultPool, img)
	if err != nil {
		t.Fatal(err)
	}
	if len(disks) != 2 || disks[0].Path != b.RootVolume(defaultPool, vm.ID) {
		t.Fatalf("disks = %+v", disks)
	}
	if sha256Of(t, b.ImagePath(defaultPool, img.ID)) != img.SHA256 {
		t.Fatal("node-b's copy is not the image")
	}
	qi := info(t, disks[0].Path)
	if backing := cmpOr(qi.FullBackingFilename, qi.BackingFilename); backing != b.ImagePath(defaultPool, img.ID) || qi.VirtualSize != gib {
		t.Errorf("node-b's root is %+v, want 1 GiB over its own copy", qi)
	}
	ups := cb.updates()
	if len(ups) != 1 || ups[0].ID != img.ID || ups[0].Host != "node-b" || ups[0].State != "" {
		t.Errorf("node-b recorded %+v, want one UpdateImage{Host: node-b}", ups)
	}
	reqs := peers.requests()
	if len(reqs) != 1 || reqs[0].URL.Path != ImagePathPrefix+img.ID || reqs[0].Header.Get("Range") != "" {
		t.Errorf("node-b asked node-a %d times: %+v", len(reqs), reqs)
	}

	// The next VM from the image finds it here: no second copy.
	if _, err := b.PrepareVM(context.Background(), newVM(img.ID), defaultPool, img); err != nil {
		t.Fatal(err)
	}
	if n := len(peers.requests()); n != 1 {
		t.Errorf("node-b asked node-a %d times for an image it holds", n)
	}
}

// A copy a previous start left half done resumes with a Range, which the
// holder answers with 206.
func TestManager_PrepareVM_ResumesAPartialCopy(t *testing.T) {
	b, _, peers, img := twoHosts(t)
	if b.HasImage(defaultPool, img) {
		t.Fatal("node-b holds the image before any copy")
	}
	// node-a's bytes, read through its own ServeHTTP, cut short.
	rec := httptest.NewRecorder()
	peers.nodes["node-a"].ServeHTTP(rec, httptest.NewRequest(http.MethodGet, ImagePathPrefix+img.ID, nil))
	half := int64(rec.Body.Len() / 2)
	if err := b.Realise(defaultPool); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(b.PoolDir(defaultPool), "images"), img.ID+".copy", rec.Body.Bytes()[:half])

	if _, err := b.PrepareVM(context.Background(), newVM(img.ID), defaultPool, img); err != nil {
		t.Fatal(err)
	}
	reqs := peers.requests()
	if want := "bytes=" + strconv.FormatInt(half, 10) + "-"; len(reqs) != 1 || reqs[0].Header.Get("Range") != want {
		t.Errorf("node-b's requests: %+v, want one with Range %s", reqs, want)
	}
	if sha256Of(t, b.ImagePath(defaultPool, img.ID)) != img.SHA256 {
		t.Error("the resumed copy is not the image")
	}
}

// No other host holds the image, or the holder answers 404: the VM is
// not prepared, nothing is recorded.
func TestManager_PrepareVM_NoHolder(t *testing.T) {
	b, cb, peers, img := twoHosts(t)
	alone := img
	alone.Hosts = []string{"node-b"}
	if _, err := b.PrepareVM(context.Background(), newVM(img.ID), defaultPool, alone); !errors.Is(err, ErrImageMissing) {
		t.Errorf("an image on no other host: %v, want ErrImageMissing", err)
	}
	gone := img
	gone.ID = "not-on-node-a"
	if _, err := b.PrepareVM(context.Background(), newVM(gone.ID), defaultPool, gone); !errors.Is(err, errNoHolder) {
		t.Errorf("a holder that answers 404: %v, want errNoHolder", err)
	}
	if len(peers.requests()) != 1 || len(cb.updates()) != 0 {
		t.Errorf("requests %d, updates %+v", len(peers.requests()), cb.updates())
	}
	if names := entries(t, filepath.Join(b.PoolDir(defaultPool), "volumes")); len(names) != 0 {
		t.Errorf("volumes/ holds %q without an image", names)
	}
}
