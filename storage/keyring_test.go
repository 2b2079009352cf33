package storage

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/novacron/novacron/fsm"
)

func testKey(n byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{n}, 32)) }

func TestGossipKeyring_WriteReadPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gossip-keyring.json")
	if _, err := ReadGossipKeyring(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v, want ErrNotExist", err)
	}
	kr := fsm.Keyring{Primary: testKey(2), Keys: []string{testKey(1), testKey(2)}, Index: 42}
	if err := WriteGossipKeyring(path, kr); err != nil {
		t.Fatal(err)
	}
	got, err := ReadGossipKeyring(path)
	if err != nil || got.Primary != kr.Primary || !got.SameKeys(kr) || got.Index != 42 {
		t.Fatalf("read back %+v, %v", got, err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
	if err := WriteGossipKeyring(path, fsm.Keyring{}); err == nil {
		t.Fatal("an empty keyring was written")
	}
	if err := WriteGossipKeyring(path, fsm.Keyring{Primary: "x", Keys: []string{"x"}}); err == nil {
		t.Fatal("an invalid keyring was written")
	}
	if got, _ := ReadGossipKeyring(path); got.Index != 42 {
		t.Fatalf("a refused write changed the file: %+v", got)
	}
}

func TestGossipKeyring_DamagedFileRefused(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"garbage": "not json",
		"no keys": `{"primary":"","keys":[]}`,
		"bad key": `{"primary":"abc","keys":["abc"]}`,
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadGossipKeyring(path); !errors.Is(err, ErrCorruptDataDir) {
			t.Errorf("%s: %v, want ErrCorruptDataDir", name, err)
		}
	}
}
