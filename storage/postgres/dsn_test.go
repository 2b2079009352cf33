package postgres

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestReadDSNFile_RefusesWorldReadable(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dsn")
	const dsn = "postgres://novacron:pw@db:5432/novacron"
	if err := os.WriteFile(path, []byte("\n  "+dsn+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil { // past the umask
		t.Fatal(err)
	}
	if _, err := ReadDSNFile(path); !errors.Is(err, ErrInsecureDSNFile) {
		t.Fatalf("0644 file: %v, want ErrInsecureDSNFile", err)
	}
	for _, mode := range []os.FileMode{0o600, 0o640, 0o400} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		got, err := ReadDSNFile(path)
		if err != nil || got != dsn {
			t.Fatalf("mode %04o: %q, %v; want %q", mode, got, err, dsn)
		}
	}
}

func TestReadDSNFile_EmptyMissingOrNotAFile(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadDSNFile(empty); !errors.Is(err, ErrInvalidDSN) {
		t.Errorf("empty file: %v, want ErrInvalidDSN", err)
	}
	if _, err := ReadDSNFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want os.ErrNotExist", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadDSNFile(dir); !errors.Is(err, ErrInvalidDSN) {
		t.Errorf("a directory: %v, want ErrInvalidDSN", err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, maxDSNFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadDSNFile(big); !errors.Is(err, ErrInvalidDSN) {
		t.Errorf("a large file: %v, want ErrInvalidDSN", err)
	}
}
