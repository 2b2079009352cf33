package qemuimg

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInspect_Raw(t *testing.T) {
	requireQemuImg(t)
	p := sparseRaw(t, t.TempDir(), "disk.raw", 64*mib)
	for _, format := range []string{"", FormatRaw} {
		info := mustInspect(t, p, format)
		if info.Format != FormatRaw || info.VirtualSize != 64*mib || info.BackingFile != "" || info.DataFile != "" {
			t.Errorf("format %q: got %+v", format, info)
		}
		if err := CheckImportable(info); err != nil {
			t.Errorf("format %q: CheckImportable: %v", format, err)
		}
	}
}

func TestInspect_QCOW2(t *testing.T) {
	requireQemuImg(t)
	p := qcow2Image(t, t.TempDir(), "disk.qcow2", gib)
	info := mustInspect(t, p, "")
	if info.Format != FormatQCOW2 || info.VirtualSize != gib || info.ClusterSize != 64<<10 {
		t.Errorf("got %+v", info)
	}
	if info.ActualSize <= 0 || info.ActualSize > mib {
		t.Errorf("actual size %d, want a few hundred KiB of metadata", info.ActualSize)
	}
	if err := CheckImportable(info); err != nil {
		t.Errorf("CheckImportable: %v", err)
	}
}

func TestInspect_BackingFileRefused(t *testing.T) {
	requireQemuImg(t)
	dir := t.TempDir()
	base := sparseRaw(t, dir, "base.raw", 16*mib)
	p := filepath.Join(dir, "child.qcow2")
	tool(t, qemuImg, "create", "-q", "-f", "qcow2", "-F", "raw", "-b", base, p)
	info := mustInspect(t, p, FormatQCOW2)
	if info.BackingFile != base {
		t.Errorf("BackingFile = %q, want %q", info.BackingFile, base)
	}
	if err := CheckImportable(info); !errors.Is(err, ErrBackingFile) {
		t.Errorf("CheckImportable = %v, want ErrBackingFile", err)
	}
}

func TestInspect_DataFileRefused(t *testing.T) {
	requireQemuImg(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data.raw")
	p := qcow2Image(t, dir, "ext.qcow2", 16*mib, "-o", "data_file="+data)
	for _, format := range []string{"", FormatQCOW2} {
		info := mustInspect(t, p, format)
		if info.Format != FormatQCOW2 || info.DataFile != data {
			t.Errorf("format %q: got %+v, want data file %q", format, info, data)
		}
		if err := CheckImportable(info); !errors.Is(err, ErrDataFile) {
			t.Errorf("format %q: CheckImportable = %v, want ErrDataFile", format, err)
		}
	}
}

func TestInspect_NotAnImageProbesRaw(t *testing.T) {
	requireQemuImg(t)
	p := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(p, []byte(strings.Repeat("not a disk image\n", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	info := mustInspect(t, p, "")
	// qemu reports raw sizes rounded up to whole 512-byte sectors.
	if info.Format != FormatRaw || info.VirtualSize != 2048 {
		t.Errorf("got %+v, want raw of 1700 bytes rounded up to 2048", info)
	}
}

func TestInspect_GivenFormatIsNotProbed(t *testing.T) {
	requireQemuImg(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data.raw")
	// A qcow2 with an external data file, as a guest could write into its
	// raw disk: opened as the recorded raw, qemu must not read the header.
	p := qcow2Image(t, dir, "disk.img", 8*gib, "-o", "data_file="+data)
	info := mustInspect(t, p, FormatRaw)
	if info.Format != FormatRaw || info.DataFile != "" || info.ClusterSize != 0 {
		t.Errorf("got %+v, want a raw image", info)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := (st.Size() + 511) / 512 * 512; info.VirtualSize != want {
		t.Errorf("virtual size %d, want the file's size %d rounded up to %d (not the header's 8 GiB)", info.VirtualSize, st.Size(), want)
	}
}

func TestInspect_Errors(t *testing.T) {
	requireQemuImg(t)
	dir := t.TempDir()
	raw := sparseRaw(t, dir, "disk.raw", mib)
	ctx := context.Background()

	if _, err := Inspect(ctx, raw, "vmdk"); !errors.Is(err, ErrUnsupportedFormat) {
		t.Errorf("format vmdk: %v, want ErrUnsupportedFormat", err)
	}
	_, err := Inspect(ctx, filepath.Join(dir, "missing.raw"), FormatRaw)
	var qerr *Error
	if !errors.As(err, &qerr) || qerr.Op != "info" || !strings.Contains(qerr.Stderr, "No such file") {
		t.Errorf("missing file: %v, want an *Error carrying qemu-img's stderr", err)
	}
	// raw data opened as qcow2 fails in qemu-img, not here.
	if _, err := Inspect(ctx, raw, FormatQCOW2); !errors.As(err, &qerr) {
		t.Errorf("raw as qcow2: %v, want *Error", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Inspect(cancelled, raw, FormatRaw); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v, want context.Canceled", err)
	}
}

func TestCheckPath_RefusesOddPaths(t *testing.T) {
	bad := []string{
		"", "disk.raw", "./disk.raw", "-f", "-o/x", "/a/../b", "/a/", "/a//b",
		"json:{\"file.filename\":\"/etc/shadow\"}", "nbd:localhost:10809",
		"/images/a,b.raw", "/images/a:b.raw", "/images/a\nb", "/images/a\x00b",
	}
	for _, p := range bad {
		if err := checkPath(p); !errors.Is(err, ErrBadPath) {
			t.Errorf("checkPath(%q) = %v, want ErrBadPath", p, err)
		}
		if _, err := Inspect(context.Background(), p, FormatRaw); !errors.Is(err, ErrBadPath) {
			t.Errorf("Inspect(%q) = %v, want ErrBadPath", p, err)
		}
	}
	for _, p := range []string{"/", "/var/lib/novacron/volumes/vm-1.qcow2", "/a b/c-d_e.f"} {
		if err := checkPath(p); err != nil {
			t.Errorf("checkPath(%q) = %v, want nil", p, err)
		}
	}
}

func TestCheckImportable_Refusals(t *testing.T) {
	cases := []struct {
		info Info
		want error
	}{
		{Info{Format: "vmdk", VirtualSize: gib}, ErrUnsupportedFormat},
		{Info{Format: "", VirtualSize: gib}, ErrUnsupportedFormat},
		{Info{Format: FormatQCOW2, VirtualSize: gib, BackingFile: "/etc/shadow"}, ErrBackingFile},
		{Info{Format: FormatQCOW2, VirtualSize: gib, DataFile: "/dev/sda"}, ErrDataFile},
		{Info{Format: FormatRaw, VirtualSize: 0}, ErrBadSize},
		{Info{Format: FormatQCOW2, VirtualSize: MaxVirtualSize + 512}, ErrTooLarge},
		{Info{Format: FormatQCOW2, VirtualSize: MaxVirtualSize}, nil},
	}
	for _, c := range cases {
		if err := CheckImportable(c.info); !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("CheckImportable(%+v) = %v, want %v", c.info, err, c.want)
		}
	}
}

func TestParseInfo_OtherFormatSpecificShapes(t *testing.T) {
	// vmdk's format-specific data has another shape; it must not break parsing.
	out := `{"format":"vmdk","virtual-size":1048576,"format-specific":{"type":"vmdk","data":{"extents":[{"filename":"/etc/shadow"}]}}}`
	info, err := parseInfo([]byte(out))
	if err != nil || info.Format != "vmdk" || info.DataFile != "" {
		t.Fatalf("parseInfo = %+v, %v", info, err)
	}
	if err := CheckImportable(info); !errors.Is(err, ErrUnsupportedFormat) {
		t.Errorf("CheckImportable = %v, want ErrUnsupportedFormat", err)
	}
	// A backing name qemu could not resolve still counts.
	info, err = parseInfo([]byte(`{"format":"qcow2","virtual-size":512,"backing-filename":"json:{}"}`))
	if err != nil || info.BackingFile != "json:{}" {
		t.Errorf("parseInfo = %+v, %v, want the unresolved backing name", info, err)
	}
}

func TestBoundedBuffer_KeepsHead(t *testing.T) {
	b := &boundedBuffer{limit: 8}
	for _, s := range []string{"  qemu", "-img: ", "long tail"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	if got := b.text(); got != "qemu-i …(truncated)" {
		t.Errorf("text = %q", got)
	}
}
