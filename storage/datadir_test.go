package storage

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestOpenDataDir_NewDirGetsStableNodeID(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	d, err := OpenDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	id := d.NodeID()
	if id == "" {
		t.Fatal("no node id")
	}
	d.Close()
	d2, err := OpenDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	if d2.NodeID() != id {
		t.Fatalf("node id changed across restarts: %s then %s", id, d2.NodeID())
	}
}

func TestOpenDataDir_RefusesForeignDir(t *testing.T) {
	dir := t.TempDir()
	precious := filepath.Join(dir, "thesis.tex")
	os.WriteFile(precious, []byte("do not lose me"), 0o600)
	_, err := OpenDataDir(dir)
	if !errors.Is(err, ErrForeignDataDir) {
		t.Fatalf("want ErrForeignDataDir, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, metaFile)); !os.IsNotExist(err) {
		t.Fatal("a foreign dir was written to")
	}
	if b, _ := os.ReadFile(precious); string(b) != "do not lose me" {
		t.Fatal("foreign file changed")
	}
}

func TestOpenDataDir_RefusesCorruptMeta(t *testing.T) {
	for name, content := range map[string]string{
		"garbage":      "{not json",
		"wrong format": `{"format":99,"node_id":"x"}`,
		"no node id":   `{"format":1}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, metaFile), []byte(content), 0o600)
			_, err := OpenDataDir(dir)
			if !errors.Is(err, ErrCorruptDataDir) {
				t.Fatalf("want ErrCorruptDataDir, got %v", err)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, metaFile)); string(b) != content {
				t.Fatal("corrupt meta was overwritten")
			}
		})
	}
}

func TestOpenDataDir_SecondAgentIsRefused(t *testing.T) {
	dir := t.TempDir()
	d, err := OpenDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := OpenDataDir(dir); !errors.Is(err, ErrDataDirInUse) {
		t.Fatalf("want ErrDataDirInUse, got %v", err)
	}
}

func TestOpenRaftStores_RefusesGarbageLog(t *testing.T) {
	dir := t.TempDir()
	garbage := bytes.Repeat([]byte("not a bolt file "), 1024)
	path := filepath.Join(dir, "raft.db")
	os.WriteFile(path, garbage, 0o600)
	_, err := OpenRaftStores(dir, io.Discard)
	if !errors.Is(err, ErrCorruptDataDir) {
		t.Fatalf("want ErrCorruptDataDir, got %v", err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, garbage) {
		t.Fatal("damaged raft.db was modified")
	}
}

func TestOpenRaftStores_RoundTrip(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenRaftStores(dir, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Stable.SetUint64([]byte("CurrentTerm"), 7); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := OpenRaftStores(dir, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if v, err := s2.Stable.GetUint64([]byte("CurrentTerm")); err != nil || v != 7 {
		t.Fatalf("got %d, %v", v, err)
	}
}
