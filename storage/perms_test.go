package storage

import (
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func modeOf(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestOpenDataDir_NewDirIsPrivate(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "data")
	d, err := OpenDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if m := modeOf(t, dir); m != 0o700 {
		t.Fatalf("new data dir has mode %#o, want 0700", m)
	}
	if d.Loosened() != 0 {
		t.Fatalf("Loosened = %#o for a new dir", d.Loosened())
	}
}

func TestOpenDataDir_TightensAnExistingDir(t *testing.T) {
	for _, empty := range []bool{true, false} {
		dir := filepath.Join(t.TempDir(), "data")
		if !empty {
			d, err := OpenDataDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			d.Close()
		} else if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		d, err := OpenDataDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		d.Close()
		if m := modeOf(t, dir); m != 0o700 {
			t.Errorf("empty=%v: data dir has mode %#o after opening, want 0700", empty, m)
		}
		if d.Loosened() != 0o755 {
			t.Errorf("empty=%v: Loosened = %#o, want 0755", empty, d.Loosened())
		}
	}
}

// A folder that is not NovaCron's is refused and left exactly as it was.
func TestOpenDataDir_ForeignDirModeUntouched(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "thesis.tex"), []byte("x"), 0o600)
	os.Chmod(dir, 0o755)
	if _, err := OpenDataDir(dir); err == nil {
		t.Fatal("foreign dir accepted")
	}
	if m := modeOf(t, dir); m != 0o755 {
		t.Fatalf("foreign dir's mode changed to %#o", m)
	}
}

func TestOpenRaftStores_PrivateFolders(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "raft")
	if err := os.MkdirAll(filepath.Join(dir, "snapshots"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := OpenRaftStores(dir, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, p := range []string{dir, filepath.Join(dir, "snapshots")} {
		if m := modeOf(t, p); m != 0o700 {
			t.Errorf("%s has mode %#o, want 0700", p, m)
		}
	}
	if m := modeOf(t, filepath.Join(dir, "raft.db")); m&0o077 != 0 {
		t.Errorf("raft.db has mode %#o, readable by others", m)
	}
}
