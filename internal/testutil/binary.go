package testutil

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Module is the module path of NovaCron's go.mod, by which ModuleRoot knows the
// right go.mod.
const Module = "github.com/novacron/novacron"

// BuildTags are the tags `make build` builds the binary with.
const BuildTags = "libvirt_dlopen"

// buildTimeout bounds the one `go build` of a test process: a cold build cache
// compiles every dependency.
const buildTimeout = 5 * time.Minute

// built is the binary of this test process. Each process builds its own copy
// into its own temp dir, so packages tested in parallel never write the same
// file; Go's build cache makes every build after the first a link only.
var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// BuildBinary returns the path of the novacron binary, built from
// ./cmd/novacron (with BuildTags) on the first call in the test process, and
// fails tb when the build fails. A package that uses it removes the binary with
// RemoveBinary in its TestMain.
func BuildBinary(tb testing.TB) string {
	tb.Helper()
	path, err := Binary()
	if err != nil {
		tb.Fatal(err)
	}
	return path
}

// Binary is BuildBinary for a caller without a testing.TB (a TestMain, a
// benchmark fixture): it returns the build error instead. Every call after the
// first returns the first call's result.
func Binary() (string, error) {
	built.once.Do(func() {
		built.path, built.dir, built.err = buildBinary()
	})
	return built.path, built.err
}

// RemoveBinary removes the binary Binary built, if it did; a TestMain calls it
// after m.Run. Binary does not build again afterwards.
func RemoveBinary() {
	built.once.Do(func() { built.err = errors.New("testutil: the novacron binary was removed") })
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
}

func buildBinary() (path, dir string, err error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", "", err
	}
	dir, err = os.MkdirTemp("", "novacron-test-bin-")
	if err != nil {
		return "", "", err
	}
	path = filepath.Join(dir, "novacron")
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", BuildTags, "-o", path, "./cmd/novacron")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", "", fmt.Errorf("go build ./cmd/novacron in %s: %v\n%s", root, err, out)
	}
	return path, dir, nil
}

// ModuleRoot returns NovaCron's module root: the nearest folder, from the
// working directory up (a test runs in its package's folder), whose go.mod
// declares Module.
func ModuleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if declaresModule(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no go.mod of %s in %s or above", Module, wd)
		}
	}
}

// declaresModule reports whether the go.mod at path declares Module.
func declaresModule(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(name), `"`) == Module
		}
	}
	return false
}
