package diskstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
)

// fileSource opens a file at an offset, as another host's ServeImage does
// with a Range, and remembers the offsets it was asked for.
type fileSource struct {
	path string
	// breakAfter, when positive, makes the next reader fail after that
	// many bytes, as a connection that drops does.
	breakAfter int64

	mu      sync.Mutex
	offsets []int64
}

func (s *fileSource) open(_ context.Context, offset int64) (io.ReadCloser, error) {
	s.mu.Lock()
	s.offsets = append(s.offsets, offset)
	n := s.breakAfter
	s.breakAfter = 0
	s.mu.Unlock()
	f, err := os.Open(s.path)
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	if n > 0 {
		return &breakingReader{f: f, left: n}, nil
	}
	return f, nil
}

func (s *fileSource) asked() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int64(nil), s.offsets...)
}

var errDropped = errors.New("connection reset by peer")

// breakingReader reads left bytes, then fails.
type breakingReader struct {
	f    *os.File
	left int64
}

func (r *breakingReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, errDropped
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.f.Read(p)
	r.left -= int64(n)
	return n, err
}

func (r *breakingReader) Close() error { return r.f.Close() }

// imageOf is the record of content as image id, the way the importer
// recorded it.
func imageOf(id string, content []byte) fsm.Image {
	return fsm.Image{ID: id, Name: id, Pool: defaultPool.Name, State: fsm.ImageReady, Format: fsm.ImageRaw,
		SizeBytes: int64(len(content)), VirtualSizeBytes: int64(len(content)), SHA256: sha256Hex(content)}
}

func requireImage(t *testing.T, s *Store, img fsm.Image, content []byte) {
	t.Helper()
	got, err := os.ReadFile(s.ImagePath(defaultPool, img.ID))
	if err != nil {
		t.Fatalf("the image is not in place: %v", err)
	}
	if !bytes.Equal(got, content) {
		t.Fatalf("the copy differs from the source (%d bytes, want %d)", len(got), len(content))
	}
	if !s.HasImage(defaultPool, img) {
		t.Error("HasImage is false after the copy")
	}
	if _, err := os.Stat(s.ImagePath(defaultPool, img.ID) + ".copy"); !os.IsNotExist(err) {
		t.Errorf("the .copy partial is still there: %v", err)
	}
}

// Sizes that are not multiples of the copy's buffer, so a resume lands in
// the middle of one.
const (
	copySize  = 3*copyBuffer + 12345
	breakSize = copyBuffer + 777
)

func TestStore_CopyImage_CopiesAndVerifies(t *testing.T) {
	content := pattern(copySize)
	src := &fileSource{path: writeFile(t, t.TempDir(), "src", content)}
	s := newStore(t)
	img := imageOf("img-1", content)
	if err := s.CopyImage(context.Background(), defaultPool, img, src.open); err != nil {
		t.Fatal(err)
	}
	requireImage(t, s, img, content)
	if got := src.asked(); len(got) != 1 || got[0] != 0 {
		t.Errorf("the source was opened at %v, want once at 0", got)
	}
}

// A copy that breaks keeps what it got; the next one asks only for the
// rest and ends with the whole image.
func TestStore_CopyImage_ResumesABrokenCopy(t *testing.T) {
	content := pattern(copySize)
	src := &fileSource{path: writeFile(t, t.TempDir(), "src", content), breakAfter: breakSize}
	s := newStore(t)
	img := imageOf("img-1", content)
	part := s.ImagePath(defaultPool, img.ID) + ".copy"

	err := s.CopyImage(context.Background(), defaultPool, img, src.open)
	if !errors.Is(err, errDropped) {
		t.Fatalf("the broken copy: %v, want the reader's error", err)
	}
	if got := fileSize(t, part); got != breakSize {
		t.Fatalf("the partial holds %d bytes, want %d", got, breakSize)
	}
	if _, err := os.Stat(s.ImagePath(defaultPool, img.ID)); !os.IsNotExist(err) {
		t.Fatalf("a broken copy took the image's name: %v", err)
	}
	if s.HasImage(defaultPool, img) {
		t.Fatal("HasImage is true after a broken copy")
	}

	if err := s.CopyImage(context.Background(), defaultPool, img, src.open); err != nil {
		t.Fatal(err)
	}
	if got := src.asked(); len(got) != 2 || got[0] != 0 || got[1] != breakSize {
		t.Errorf("the source was opened at %v, want 0 then %d", got, breakSize)
	}
	requireImage(t, s, img, content)
}

// A source that ends early keeps the partial for the next try; a partial
// longer than the image (another image's, or a corrupt one) is restarted.
func TestStore_CopyImage_ShortSourceAndOverlongPartial(t *testing.T) {
	content := pattern(copySize)
	s := newStore(t)
	img := imageOf("img-1", content)
	short := &fileSource{path: writeFile(t, t.TempDir(), "short", content[:breakSize])}
	if err := s.CopyImage(context.Background(), defaultPool, img, short.open); err == nil {
		t.Fatal("a copy from a source that ended early succeeded")
	}
	part := s.ImagePath(defaultPool, img.ID) + ".copy"
	if got := fileSize(t, part); got != breakSize {
		t.Fatalf("the partial holds %d bytes, want %d", got, breakSize)
	}

	if err := os.WriteFile(part, pattern(copySize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	src := &fileSource{path: writeFile(t, t.TempDir(), "src", content)}
	if err := s.CopyImage(context.Background(), defaultPool, img, src.open); err != nil {
		t.Fatal(err)
	}
	if got := src.asked(); len(got) != 1 || got[0] != 0 {
		t.Errorf("after an overlong partial the source was opened at %v, want 0", got)
	}
	requireImage(t, s, img, content)
}

// A source whose bytes are not the recorded image is refused, and nothing
// of it stays: the next try starts afresh.
func TestStore_CopyImage_WrongContentLeavesNothing(t *testing.T) {
	content := pattern(copySize)
	bad := bytes.Clone(content)
	bad[breakSize] ^= 0xff
	src := &fileSource{path: writeFile(t, t.TempDir(), "src", bad)}
	s := newStore(t)
	img := imageOf("img-1", content)
	if err := s.CopyImage(context.Background(), defaultPool, img, src.open); !errors.Is(err, ErrChecksum) {
		t.Fatalf("CopyImage: %v, want ErrChecksum", err)
	}
	requireEmpty(t, filepath.Join(s.PoolDir(defaultPool), "images"))
	if s.HasImage(defaultPool, img) {
		t.Error("HasImage is true after a refused copy")
	}
}

func TestStore_CopyImage_OpenFailsAndContextEnds(t *testing.T) {
	content := pattern(copySize)
	s := newStore(t)
	img := imageOf("img-1", content)
	refused := errors.New("node answered 404")
	err := s.CopyImage(context.Background(), defaultPool, img, func(context.Context, int64) (io.ReadCloser, error) { return nil, refused })
	if !errors.Is(err, refused) {
		t.Errorf("CopyImage: %v, want the opener's error", err)
	}
	if _, err := os.Stat(s.ImagePath(defaultPool, img.ID) + ".copy"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("an opener that failed before any byte left a partial copy (%v)", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	src := &fileSource{path: writeFile(t, t.TempDir(), "src", content)}
	if err := s.CopyImage(ctx, defaultPool, img, src.open); !errors.Is(err, context.Canceled) {
		t.Errorf("CopyImage with an ended context: %v", err)
	}
	if s.HasImage(defaultPool, img) {
		t.Error("HasImage is true after failed copies")
	}
}

// ServeImage answers ranges from the verified copy, and 404 for an image
// this host does not hold whole.
func TestStore_ServeImage_RangesAndMissing(t *testing.T) {
	s := newStore(t)
	content := pattern(copySize)
	img := placeImage(t, s, defaultPool, "img-1", content)
	absent := imageOf("img-2", content[:100])
	partial := imageOf("img-3", content)
	writeFile(t, filepath.Join(s.PoolDir(defaultPool), "images"), "img-3", content[:breakSize])
	images := map[string]fsm.Image{img.ID: img, absent.ID: absent, partial.ID: partial}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.ServeImage(w, r, defaultPool, images[r.URL.Path[1:]])
	}))
	defer srv.Close()

	get := func(id, rng string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, srv.URL+"/"+id, nil)
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
	if code, b := get(img.ID, ""); code != http.StatusOK || !bytes.Equal(b, content) {
		t.Errorf("whole image: HTTP %d, %d bytes", code, len(b))
	}
	if code, b := get(img.ID, "bytes=1000-1999"); code != http.StatusPartialContent || !bytes.Equal(b, content[1000:2000]) {
		t.Errorf("bytes=1000-1999: HTTP %d, %d bytes", code, len(b))
	}
	if code, b := get(img.ID, fmt.Sprintf("bytes=%d-", breakSize)); code != http.StatusPartialContent || !bytes.Equal(b, content[breakSize:]) {
		t.Errorf("the rest from %d: HTTP %d, %d bytes", breakSize, code, len(b))
	}
	for _, id := range []string{absent.ID, partial.ID} {
		if code, _ := get(id, ""); code != http.StatusNotFound {
			t.Errorf("image %s not held whole here: HTTP %d, want 404", id, code)
		}
	}
}

// A copy that takes longer than the server's WriteTimeout (which bounds the
// API's small answers) still arrives whole: the deadline moves on while the
// answer makes progress.
func TestStore_ServeImage_OutlastsTheServersWriteTimeout(t *testing.T) {
	s := newStore(t)
	content := pattern(32 << 20)
	img := placeImage(t, s, defaultPool, "img-1", content)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.ServeImage(w, r, defaultPool, img)
	}))
	srv.Config.WriteTimeout = 100 * time.Millisecond
	srv.StartTLS()
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// A reader slower than the timeout: 1 MiB each 20 ms, 32 MiB in about
	// 0.6 s, well past what the socket buffers hold.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var got bytes.Buffer
	for {
		<-tick.C
		n, err := io.CopyN(&got, resp.Body, 1<<20)
		if err == io.EOF || (err == nil && n == 0) {
			break
		}
		if err != nil {
			t.Fatalf("the copy broke after %d of %d bytes: %v", got.Len(), len(content), err)
		}
	}
	if !bytes.Equal(got.Bytes(), content) {
		t.Fatalf("got %d bytes, want the image's %d", got.Len(), len(content))
	}
}
