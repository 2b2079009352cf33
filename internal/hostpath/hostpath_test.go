package hostpath

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestConfiner_Check(t *testing.T) {
	root := t.TempDir()
	images := filepath.Join(root, "images")
	evil := filepath.Join(root, "images-evil")
	outside := filepath.Join(root, "outside")
	for _, d := range []string{images, evil, outside, filepath.Join(images, "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(images, "disk.img"), []byte("raw"))
	writeFile(t, filepath.Join(images, "sub", "vmlinuz"), []byte("kernel"))
	writeFile(t, filepath.Join(evil, "x"), []byte("x"))
	writeFile(t, filepath.Join(outside, "secret"), []byte("secret"))
	mustLink := func(target, link string) {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	mustLink(filepath.Join(outside, "secret"), filepath.Join(images, "to-outside"))
	mustLink("/etc/passwd", filepath.Join(images, "to-passwd"))
	mustLink("/proc/self/environ", filepath.Join(images, "to-environ"))
	mustLink(filepath.Join(images, "disk.img"), filepath.Join(images, "to-inside"))
	mustLink("sub/vmlinuz", filepath.Join(images, "relative-inside"))
	// The folder itself reached through a symlink is resolved too.
	linkedDir := filepath.Join(root, "linked-images")
	mustLink(images, linkedDir)

	c := New([]string{images + "/"}) // a trailing slash is the same folder
	for _, tc := range []struct {
		name, path, want string
	}{
		{"plain file inside", filepath.Join(images, "disk.img"), filepath.Join(images, "disk.img")},
		{"file in a subfolder", filepath.Join(images, "sub", "vmlinuz"), filepath.Join(images, "sub", "vmlinuz")},
		{"symlink inside to inside", filepath.Join(images, "to-inside"), filepath.Join(images, "disk.img")},
		{"relative symlink inside to inside", filepath.Join(images, "relative-inside"), filepath.Join(images, "sub", "vmlinuz")},
		{"dot-dot staying inside", filepath.Join(images, "sub", "..", "disk.img"), filepath.Join(images, "disk.img")},
		{"dot-dot escaping", filepath.Join(images, "..", "outside", "secret"), ""},
		{"dot-dot to /etc", images + "/../../../../../../etc/passwd", ""},
		{"symlink to outside", filepath.Join(images, "to-outside"), ""},
		{"symlink to /etc/passwd", filepath.Join(images, "to-passwd"), ""},
		{"symlink to /proc", filepath.Join(images, "to-environ"), ""},
		{"/etc/shadow", "/etc/shadow", ""},
		{"/etc/../etc/passwd", "/etc/../etc/passwd", ""},
		{"/proc/self/environ", "/proc/self/environ", ""},
		{"/dev/vda", "/dev/vda", ""},
		{"/dev/null", "/dev/null", ""},
		{"/sys file", "/sys/kernel/uevent_seqnum", ""},
		{"a directory", filepath.Join(images, "sub"), ""},
		{"the folder itself", images, ""},
		{"the folder with a trailing slash", images + "/", ""},
		{"a missing file", filepath.Join(images, "missing.img"), ""},
		{"sibling folder sharing the prefix", filepath.Join(evil, "x"), ""},
		{"relative path", "disk.img", ""},
		{"empty path", "", ""},
		{"folder through a symlinked parent", filepath.Join(linkedDir, "disk.img"), filepath.Join(images, "disk.img")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Check(tc.path)
			if tc.want == "" {
				if !errors.Is(err, ErrNotAllowed) || got != "" {
					t.Fatalf("Check(%q) = %q, %v; want ErrNotAllowed", tc.path, got, err)
				}
				if err.Error() != ErrNotAllowed.Error() {
					t.Fatalf("refusal %q says more than ErrNotAllowed", err)
				}
				return
			}
			want, _ := filepath.EvalSymlinks(tc.want) // t.TempDir may itself sit below a symlink
			if err != nil || got != want {
				t.Fatalf("Check(%q) = %q, %v; want %q", tc.path, got, err, want)
			}
		})
	}
}

func TestConfiner_SymlinkedFolder(t *testing.T) {
	root := t.TempDir()
	real := filepath.Join(root, "real")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(real, "disk.img"), []byte("raw"))
	link := filepath.Join(root, "images")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	c := New([]string{link})
	got, err := c.Check(filepath.Join(link, "disk.img"))
	want, _ := filepath.EvalSymlinks(filepath.Join(real, "disk.img"))
	if err != nil || got != want {
		t.Fatalf("Check through a symlinked folder = %q, %v; want %q", got, err, want)
	}
}

func TestConfiner_MissingOrNoFolders(t *testing.T) {
	for _, dirs := range [][]string{nil, {"/no/such/folder"}, {"relative/folder"}} {
		if _, err := New(dirs).Check("/etc/hostname"); !errors.Is(err, ErrNotAllowed) {
			t.Fatalf("folders %q accepted /etc/hostname: %v", dirs, err)
		}
	}
}

func TestConfiner_RootFolderStillRefusesPseudoFileSystems(t *testing.T) {
	c := New([]string{"/"})
	for _, p := range []string{"/proc/self/environ", "/dev/null", "/sys/kernel/uevent_seqnum"} {
		if _, err := c.Check(p); !errors.Is(err, ErrNotAllowed) {
			t.Fatalf("%s accepted with / as the folder: %v", p, err)
		}
	}
}

func TestDetectFormat(t *testing.T) {
	dir := t.TempDir()
	qcow2 := func(backing uint64) []byte {
		h := make([]byte, 512)
		copy(h, qcow2Magic)
		h[7] = 3
		for i := 0; i < 8; i++ {
			h[8+i] = byte(backing >> (56 - 8*i))
		}
		return h
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
		err  error
	}{
		{"empty", nil, FormatRaw, nil},
		{"raw", []byte("just bytes, no header here"), FormatRaw, nil},
		{"qcow2", qcow2(0), FormatQCOW2, nil},
		{"qcow2 with backing file", qcow2(0x200), "", ErrBackingFile},
		{"truncated qcow2", qcow2Magic, "", ErrBadImage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			writeFile(t, p, tc.data)
			got, err := DetectFormat(p)
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Fatalf("DetectFormat = %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
			if cerr := CheckQCOW2(p); !errors.Is(cerr, tc.err) {
				t.Fatalf("CheckQCOW2 = %v; want %v", cerr, tc.err)
			}
		})
	}
}
