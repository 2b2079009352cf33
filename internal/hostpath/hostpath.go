// Package hostpath confines the host files a VM may use (boot kernels, initrds,
// disk images) to folders the operator configured (--image-dir).
//
// A path given through the API is untrusted: without a check, a VM could be
// created whose disk is /etc/shadow, /etc/../etc/passwd, a symlink to either,
// /proc/self/environ or /dev/vda. Check resolves the path the way the kernel
// will (symlinks and "..", filepath.EvalSymlinks) and accepts it only if the
// result is a regular file inside one of the (resolved) allowed folders and
// outside /proc, /sys and /dev. Every refusal is the same ErrNotAllowed, so a
// caller cannot learn whether a file it may not use exists.
package hostpath

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// DefaultDir is the image folder when the operator names none (--image-dir).
const DefaultDir = "/var/lib/novacron/images"

// ErrNotAllowed is every refusal: missing, outside the folders, not a regular
// file, or in a pseudo file system. It deliberately says no more.
var ErrNotAllowed = errors.New("not an image in the allowed folders (--image-dir)")

// forbidden are pseudo file systems never served, whatever the folders say.
var forbidden = []string{"/proc", "/sys", "/dev"}

// Confiner accepts only regular files inside its folders.
type Confiner struct {
	dirs []string
}

// New returns a Confiner for the given folders (absolute paths). A folder is
// resolved at every Check, so one created or re-linked after start counts; a
// folder that does not exist accepts nothing.
func New(dirs []string) *Confiner {
	return &Confiner{dirs: append([]string(nil), dirs...)}
}

// Dirs are the configured folders, as given.
func (c *Confiner) Dirs() []string { return append([]string(nil), c.dirs...) }

// Check resolves path and returns the resolved path when it is a regular file
// inside one of the folders; otherwise ErrNotAllowed. Callers should use the
// resolved path from then on, so a symlink swapped later is not followed.
func (c *Confiner) Check(path string) (string, error) {
	if !filepath.IsAbs(path) || strings.ContainsRune(path, 0) {
		return "", ErrNotAllowed
	}
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", ErrNotAllowed
	}
	resolved = filepath.Clean(resolved)
	for _, f := range forbidden {
		if within(resolved, f) {
			return "", ErrNotAllowed
		}
	}
	if !c.inside(resolved) {
		return "", ErrNotAllowed
	}
	info, err := os.Stat(resolved)
	if err != nil || !info.Mode().IsRegular() {
		return "", ErrNotAllowed
	}
	return resolved, nil
}

// inside reports whether resolved lies strictly below one of the folders.
func (c *Confiner) inside(resolved string) bool {
	for _, d := range c.dirs {
		if !filepath.IsAbs(d) {
			continue
		}
		rd, err := filepath.EvalSymlinks(d)
		if err != nil {
			continue
		}
		rd = filepath.Clean(rd)
		if resolved != rd && within(resolved, rd) {
			return true
		}
	}
	return false
}

// within reports whether p is dir or below it, by whole path elements (so
// /images-evil/x is not within /images).
func within(p, dir string) bool {
	if dir == "/" {
		return true
	}
	return p == dir || strings.HasPrefix(p, dir+string(filepath.Separator))
}
