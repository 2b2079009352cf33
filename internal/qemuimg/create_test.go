package qemuimg

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestCreateOverlay_BackedByBase(t *testing.T) {
	requireQemuImg(t)
	ctx := context.Background()
	dir := t.TempDir()
	bases := map[string]string{
		FormatRaw:   sparseRaw(t, dir, "base.raw", gib),
		FormatQCOW2: qcow2Image(t, dir, "base.qcow2", gib),
	}
	for format, base := range bases {
		for _, size := range []int64{0, gib, 2 * gib} {
			p := filepath.Join(dir, "vm-"+format+"-"+itoa(size)+".qcow2")
			if err := CreateOverlay(ctx, base, format, p, size); err != nil {
				t.Fatalf("CreateOverlay(%s, size %d): %v", format, size, err)
			}
			info := mustInspect(t, p, FormatQCOW2)
			want := max(size, gib)
			if info.Format != FormatQCOW2 || info.BackingFile != base || info.VirtualSize != want {
				t.Errorf("%s size %d: got %+v, want qcow2 over %s of %d bytes", format, size, info, base, want)
			}
			// Metadata only: a few hundred KiB however large the base.
			if info.ActualSize > mib {
				t.Errorf("%s: overlay allocates %d bytes", format, info.ActualSize)
			}
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v, want 0600", format, st.Mode().Perm())
			}
			// The backing format is recorded, so qemu will not probe the base.
			if out := tool(t, qemuImg, "info", "-U", p); !strings.Contains(out, "backing file format: "+format) {
				t.Errorf("%s: backing format not recorded:\n%s", format, out)
			}
		}
	}
	assertNoTempFiles(t, dir)
}

func TestCreateOverlay_WritesDoNotReachBase(t *testing.T) {
	requireQemuImg(t)
	// qemu-io is only a witness here, so without it this part is skipped,
	// even in CI.
	if _, err := exec.LookPath("qemu-io"); err != nil {
		t.Skipf("qemu-io not in PATH, cannot write through the overlay: %v", err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	base := filepath.Join(dir, "base.raw")
	pattern := bytes.Repeat([]byte{0x5a}, 1<<20)
	if err := os.WriteFile(base, pattern, 0o600); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "vm.qcow2")
	if err := CreateOverlay(ctx, base, FormatRaw, p, 0); err != nil {
		t.Fatal(err)
	}
	tool(t, "qemu-io", "-f", "qcow2", "-c", "write -P 0xab 0 64k", p)
	// Through the overlay: the new bytes, then the base's.
	tool(t, "qemu-io", "-f", "qcow2", "-c", "read -P 0xab 0 64k", "-c", "read -P 0x5a 64k 64k", p)
	got, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, pattern) {
		t.Error("writing through the overlay changed the base")
	}
}

func TestCreateOverlay_NeverOverwrites(t *testing.T) {
	requireQemuImg(t)
	ctx := context.Background()
	dir := t.TempDir()
	base := sparseRaw(t, dir, "base.raw", 16*mib)
	p := filepath.Join(dir, "vm.qcow2")
	if err := os.WriteFile(p, []byte("a guest's data"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CreateOverlay(ctx, base, FormatRaw, p, 0); !errors.Is(err, fs.ErrExist) {
		t.Errorf("CreateOverlay over a file = %v, want fs.ErrExist", err)
	}
	if err := CreateBlank(ctx, p, 16*mib); !errors.Is(err, fs.ErrExist) {
		t.Errorf("CreateBlank over a file = %v, want fs.ErrExist", err)
	}
	if got, _ := os.ReadFile(p); string(got) != "a guest's data" {
		t.Errorf("existing file changed to %q", got)
	}
	// A dangling symlink exists too: following it would create its target.
	link := filepath.Join(dir, "link.qcow2")
	if err := os.Symlink(filepath.Join(dir, "target.qcow2"), link); err != nil {
		t.Fatal(err)
	}
	if err := CreateOverlay(ctx, base, FormatRaw, link, 0); !errors.Is(err, fs.ErrExist) {
		t.Errorf("CreateOverlay over a symlink = %v, want fs.ErrExist", err)
	}
	assertNoTempFiles(t, dir)
}

func TestCreateNew_LinkRefusesFileCreatedMeanwhile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "vm.qcow2")
	err := createNew(p, func(tmp string) error {
		// Someone creates p while the image is being written.
		return os.WriteFile(p, []byte("theirs"), 0o600)
	})
	if !errors.Is(err, fs.ErrExist) {
		t.Errorf("createNew = %v, want fs.ErrExist", err)
	}
	if got, _ := os.ReadFile(p); string(got) != "theirs" {
		t.Errorf("file created meanwhile changed to %q", got)
	}
	assertNoTempFiles(t, dir)
}

func TestCreateOverlay_Refusals(t *testing.T) {
	requireQemuImg(t)
	ctx := context.Background()
	dir := t.TempDir()
	base := sparseRaw(t, dir, "base.raw", gib)
	p := filepath.Join(dir, "vm.qcow2")
	cases := []struct {
		name             string
		base, format, to string
		size             int64
		want             error
	}{
		{"smaller than base", base, FormatRaw, p, gib / 2, ErrShrink},
		{"not a sector multiple", base, FormatRaw, p, gib + 1, ErrBadSize},
		{"negative", base, FormatRaw, p, -512, ErrBadSize},
		{"too large", base, FormatRaw, p, MaxVirtualSize + 512, ErrTooLarge},
		{"probe base", base, "", p, 0, ErrUnsupportedFormat},
		{"vmdk base", base, "vmdk", p, 0, ErrUnsupportedFormat},
		{"relative base", "base.raw", FormatRaw, p, 0, ErrBadPath},
		{"relative path", base, FormatRaw, "vm.qcow2", 0, ErrBadPath},
		{"unclean path", base, FormatRaw, dir + "/x/../vm.qcow2", 0, ErrBadPath},
		{"protocol base", "nbd:localhost:10809", FormatRaw, p, 0, ErrBadPath},
		{"json base", `json:{"file":{"filename":"/etc/shadow"}}`, FormatRaw, p, 0, ErrBadPath},
		{"option path", base, FormatRaw, "-o", 0, ErrBadPath},
		{"comma path", base, FormatRaw, dir + "/vm,backing_file=x.qcow2", 0, ErrBadPath},
	}
	for _, c := range cases {
		if err := CreateOverlay(ctx, c.base, c.format, c.to, c.size); !errors.Is(err, c.want) {
			t.Errorf("%s: CreateOverlay = %v, want %v", c.name, err, c.want)
		}
	}
	// A base qemu-img cannot open: its stderr in the error, nothing left behind.
	err := CreateOverlay(ctx, filepath.Join(dir, "missing.raw"), FormatRaw, p, 0)
	var qerr *Error
	if !errors.As(err, &qerr) || qerr.Stderr == "" {
		t.Errorf("missing base: %v, want *Error with stderr", err)
	}
	if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s left behind after failures (%v)", p, err)
	}
	assertNoTempFiles(t, dir)
}

func TestCreateOverlay_FailedCreateLeavesNothing(t *testing.T) {
	requireQemuImg(t)
	ctx := context.Background()
	dir := t.TempDir()
	// Opened as qcow2 by Inspect this base fails early; make Inspect pass
	// and qemu-img create fail instead: a raw base that is then removed.
	base := sparseRaw(t, dir, "base.raw", 16*mib)
	p := filepath.Join(dir, "vm.qcow2")
	err := createNew(p, func(tmp string) error {
		if err := os.Remove(base); err != nil {
			t.Fatal(err)
		}
		_, err := run(ctx, "create", p, "create", "-q", "-f", FormatQCOW2, "-F", FormatRaw, "-b", base, tmp)
		return err
	})
	var qerr *Error
	if !errors.As(err, &qerr) {
		t.Fatalf("create over a vanished base = %v, want *Error", err)
	}
	if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s exists after a failed create", p)
	}
	assertNoTempFiles(t, dir)
}

func TestCreateBlank_QCOW2OfSize(t *testing.T) {
	requireQemuImg(t)
	ctx := context.Background()
	dir := t.TempDir()
	p := filepath.Join(dir, "data.qcow2")
	if err := CreateBlank(ctx, p, 10*gib); err != nil {
		t.Fatal(err)
	}
	info := mustInspect(t, p, "")
	if info.Format != FormatQCOW2 || info.VirtualSize != 10*gib || info.BackingFile != "" || info.ActualSize > mib {
		t.Errorf("got %+v", info)
	}
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("stat: %v, %v; want mode 0600", st, err)
	}
	for _, size := range []int64{0, -512, 1000, MaxVirtualSize + 512} {
		if err := CreateBlank(ctx, filepath.Join(dir, "bad.qcow2"), size); err == nil {
			t.Errorf("CreateBlank size %d succeeded", size)
		}
	}
	if err := CreateBlank(ctx, "data.qcow2", gib); !errors.Is(err, ErrBadPath) {
		t.Errorf("relative path: %v, want ErrBadPath", err)
	}
	assertNoTempFiles(t, dir)
}

func TestResize_GrowsOnly(t *testing.T) {
	requireQemuImg(t)
	ctx := context.Background()
	dir := t.TempDir()
	images := map[string]string{
		FormatRaw:   sparseRaw(t, dir, "disk.raw", gib),
		FormatQCOW2: qcow2Image(t, dir, "disk.qcow2", gib),
	}
	for format, p := range images {
		if err := Resize(ctx, p, format, 3*gib); err != nil {
			t.Fatalf("%s: grow: %v", format, err)
		}
		if info := mustInspect(t, p, format); info.VirtualSize != 3*gib {
			t.Errorf("%s: after grow %d bytes, want %d", format, info.VirtualSize, 3*gib)
		}
		if err := Resize(ctx, p, format, 3*gib); err != nil {
			t.Errorf("%s: same size: %v, want no-op", format, err)
		}
		if err := Resize(ctx, p, format, gib); !errors.Is(err, ErrShrink) {
			t.Errorf("%s: shrink: %v, want ErrShrink", format, err)
		}
		if info := mustInspect(t, p, format); info.VirtualSize != 3*gib {
			t.Errorf("%s: after refused shrink %d bytes", format, info.VirtualSize)
		}
		if err := Resize(ctx, p, "", 4*gib); !errors.Is(err, ErrUnsupportedFormat) {
			t.Errorf("%s: probe format: %v, want ErrUnsupportedFormat", format, err)
		}
		if err := Resize(ctx, p, format, 4*gib+1); !errors.Is(err, ErrBadSize) {
			t.Errorf("%s: odd size: %v, want ErrBadSize", format, err)
		}
	}
}

// assertNoTempFiles checks that createNew left no temporary file in dir.
func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(dir, ".*.qemuimg-*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(matches) > 0 {
		t.Errorf("temporary files left behind: %v", matches)
	}
}

func TestVirtualSize_AgreesWithQemuImg(t *testing.T) {
	requireQemuImg(t)
	ctx := context.Background()
	dir := t.TempDir()
	images := []struct{ format, path string }{
		{FormatRaw, sparseRaw(t, dir, "a.raw", gib)},
		{FormatRaw, sparseRaw(t, dir, "odd.raw", 1001)},
		{FormatRaw, sparseRaw(t, dir, "empty.raw", 0)},
		{FormatQCOW2, qcow2Image(t, dir, "a.qcow2", 3*gib+512)},
		{FormatQCOW2, qcow2Image(t, dir, "odd.qcow2", 1000)},
		// A qcow2 file opened as raw is raw: the header is not read.
		{FormatRaw, qcow2Image(t, dir, "b.qcow2", 8*gib)},
	}
	for _, im := range images {
		got, err := virtualSize(ctx, im.path, im.format)
		if err != nil {
			t.Fatalf("virtualSize(%s): %v", im.path, err)
		}
		if want := mustInspect(t, im.path, im.format).VirtualSize; got != want {
			t.Errorf("virtualSize(%s, %s) = %d, qemu-img says %d", im.path, im.format, got, want)
		}
	}
	if _, err := virtualSize(ctx, sparseRaw(t, dir, "raw-as-qcow2", mib), FormatQCOW2); err == nil {
		t.Error("raw data as qcow2: no error")
	}
}

func TestRebase_PointsTheOverlayAtAnotherBase(t *testing.T) {
	requireQemuImg(t)
	dir := t.TempDir()
	a := sparseRaw(t, dir, "a.raw", 1<<20)
	b := sparseRaw(t, dir, "b.raw", 1<<20)
	overlay := filepath.Join(dir, "o.qcow2")
	if err := CreateOverlay(context.Background(), a, FormatRaw, overlay, 0); err != nil {
		t.Fatal(err)
	}
	if err := Rebase(context.Background(), overlay, b, FormatRaw); err != nil {
		t.Fatal(err)
	}
	if info := mustInspect(t, overlay, FormatQCOW2); info.BackingFile != b {
		t.Fatalf("backing file %q, want %q", info.BackingFile, b)
	}
	if err := Rebase(context.Background(), overlay, "relative.raw", FormatRaw); err == nil {
		t.Fatal("a relative base was accepted")
	}
}
