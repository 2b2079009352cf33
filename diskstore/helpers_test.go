package diskstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/novacron/novacron/fsm"
)

const (
	kib = int64(1) << 10
	mib = int64(1) << 20
	gib = int64(1) << 30
)

// defaultPool is the pool every cluster has: a dir pool without a path, so
// it lives in DATA/pools/default.
var defaultPool = fsm.StoragePool{Name: fsm.DefaultPool, Type: fsm.PoolDir}

// requireQemuImg skips a test that needs the real qemu-img when it is not
// installed, except in CI (CI=true), where a missing qemu-img is a broken
// runner image and must fail rather than silently skip (the same rule as
// internal/qemuimg's tests).
func requireQemuImg(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("qemu-img"); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("qemu-img not in PATH (install the Debian package qemu-utils): %v", err)
		}
		tb.Skipf("qemu-img not in PATH (install the Debian package qemu-utils): %v", err)
	}
}

// tool runs a command the tests use as an independent witness (qemu-img,
// qemu-io, blkid) and fails the test on error.
func tool(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// newStore is a Store over a fresh data dir.
func newStore(t *testing.T) *Store {
	t.Helper()
	return New(t.TempDir())
}

// pattern is size bytes that no format probe mistakes for a header, and
// that differ from offset to offset, so a copy from a wrong offset shows.
func pattern(size int64) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*7 + i/4093)
	}
	return b
}

// writeFile writes b to dir/name and returns its path.
func writeFile(tb testing.TB, dir, name string, b []byte) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// qcow2File creates a qcow2 image of virtual size size with qemu-img
// itself; extra are options such as "-b", base, "-F", "qcow2".
func qcow2File(tb testing.TB, dir, name string, size int64, extra ...string) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	args := append([]string{"create", "-q", "-f", "qcow2"}, extra...)
	tool(tb, "qemu-img", append(args, p, strconv.FormatInt(size, 10))...)
	return p
}

// sha256Of is the SHA-256 of the file at path, in lower-case hex.
func sha256Of(tb testing.TB, path string) string {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func fileSize(tb testing.TB, path string) int64 {
	tb.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	return fi.Size()
}

// entries lists the names in dir ("" for a missing dir).
func entries(tb testing.TB, dir string) []string {
	tb.Helper()
	des, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		tb.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// requireEmpty fails the test if dir holds anything: what a failed import
// or copy must leave in a pool's images folder.
func requireEmpty(tb testing.TB, dir string) {
	tb.Helper()
	if names := entries(tb, dir); len(names) != 0 {
		tb.Fatalf("%s holds %q, want nothing", dir, names)
	}
}

// importFile imports the file at path into the default pool of s as id and
// returns the image record an import would leave (ready, with the facts
// found).
func importFile(t *testing.T, s *Store, id, path string) fsm.Image {
	t.Helper()
	img := fsm.Image{ID: id, Name: id, Pool: defaultPool.Name, Source: path}
	got, err := s.Import(context.Background(), defaultPool, img, Source{File: path}, 64*gib)
	if err != nil {
		t.Fatalf("import %s: %v", path, err)
	}
	img.State, img.Format, img.SizeBytes, img.VirtualSizeBytes, img.SHA256 = fsm.ImageReady, got.Format, got.SizeBytes, got.VirtualSizeBytes, got.SHA256
	return img
}

// placeImage puts content into pool p of s as image id the way a host
// that did not import it gets it (CopyImage), and returns its record.
func placeImage(t *testing.T, s *Store, p fsm.StoragePool, id string, content []byte) fsm.Image {
	t.Helper()
	img := fsm.Image{ID: id, Name: id, Pool: p.Name, State: fsm.ImageReady, Format: fsm.ImageRaw,
		SizeBytes: int64(len(content)), VirtualSizeBytes: int64(len(content)), SHA256: sha256Hex(content)}
	err := s.CopyImage(context.Background(), p, img, func(_ context.Context, offset int64) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(content[offset:])), nil
	})
	if err != nil {
		t.Fatalf("placing image %s: %v", id, err)
	}
	return img
}

// qemuInfo is the part of `qemu-img info --output=json` the tests check.
type qemuInfo struct {
	Format              string `json:"format"`
	VirtualSize         int64  `json:"virtual-size"`
	BackingFilename     string `json:"backing-filename"`
	BackingFormat       string `json:"backing-filename-format"`
	FullBackingFilename string `json:"full-backing-filename"`
}

// info asks qemu-img, not the code under test, what the image at path is.
func info(tb testing.TB, path string) qemuInfo {
	tb.Helper()
	var qi qemuInfo
	out := tool(tb, "qemu-img", "info", "--output=json", "-U", path)
	if err := json.Unmarshal([]byte(out), &qi); err != nil {
		tb.Fatalf("qemu-img info %s: %v\n%s", path, err, out)
	}
	return qi
}
