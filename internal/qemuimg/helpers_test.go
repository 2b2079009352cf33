package qemuimg

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const (
	mib = int64(1) << 20
	gib = int64(1) << 30
)

// requireQemuImg skips a test that needs the real qemu-img when it is not
// installed, except in CI (CI=true), where a missing qemu-img is a broken
// runner image and must fail rather than silently skip every test here.
func requireQemuImg(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath(qemuImg); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("qemu-img not in PATH (install the Debian package qemu-utils): %v", err)
		}
		tb.Skipf("qemu-img not in PATH (install the Debian package qemu-utils): %v", err)
	}
}

// tool runs a command the tests use as an independent witness (qemu-img,
// qemu-io) and fails the test on error.
func tool(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// sparseRaw creates a sparse raw image of size bytes in dir.
func sparseRaw(tb testing.TB, dir, name string, size int64) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		tb.Fatal(err)
	}
	return p
}

// qcow2Image creates a qcow2 image with qemu-img itself, not the code under
// test; extra are options such as "-o", "data_file=...".
func qcow2Image(tb testing.TB, dir, name string, size int64, extra ...string) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	args := append([]string{"create", "-q", "-f", "qcow2"}, extra...)
	tool(tb, qemuImg, append(args, p, itoa(size))...)
	return p
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func mustInspect(tb testing.TB, path, format string) Info {
	tb.Helper()
	info, err := Inspect(context.Background(), path, format)
	if err != nil {
		tb.Fatalf("Inspect(%s, %q): %v", path, format, err)
	}
	return info
}
