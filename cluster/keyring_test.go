package cluster

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/memberlist"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/testutil"
	"github.com/novacron/novacron/storage"
)

func rawTestKey(n byte) []byte { return bytes.Repeat([]byte{n}, 32) }
func testKeyB64(n byte) string { return base64.StdEncoding.EncodeToString(rawTestKey(n)) }
func keyringOf(primary byte, keys ...byte) fsm.Keyring {
	kr := fsm.Keyring{Primary: testKeyB64(primary)}
	for _, k := range keys {
		kr.Keys = append(kr.Keys, testKeyB64(k))
	}
	return kr
}

// mlKeys is what memberlist holds, base64, primary first.
func mlKeys(k *localKeyring) []string {
	var out []string
	for _, b := range k.ml.GetKeys() {
		out = append(out, base64.StdEncoding.EncodeToString(b))
	}
	return out
}

func TestLoadKeyring_SavedThenGivenThenNone(t *testing.T) {
	logger := testutil.Logger(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "gossip-keyring.json")

	// Nothing saved, nothing given: clear text, nothing written.
	k, err := loadKeyring(&Config{GossipKeyringFile: path}, logger)
	if err != nil || k.current().Encrypted() || len(k.ml.GetKeys()) != 0 || k.fingerprints() != nil {
		t.Fatalf("no key: %v %+v", err, k.current())
	}
	if _, err := storage.ReadGossipKeyring(path); err == nil {
		t.Fatal("a clear-text node wrote a keyring file")
	}
	// A given key is used and saved.
	k, err = loadKeyring(&Config{GossipKeyringFile: path, GossipKey: rawTestKey(1)}, logger)
	if err != nil || !slices.Equal(mlKeys(k), []string{testKeyB64(1)}) {
		t.Fatalf("given key: %v %v", err, mlKeys(k))
	}
	if saved, err := storage.ReadGossipKeyring(path); err != nil || saved.Primary != testKeyB64(1) {
		t.Fatalf("given key not saved: %+v %v", saved, err)
	}
	// A saved keyring wins over the given key.
	if err := storage.WriteGossipKeyring(path, keyringOf(3, 2, 3)); err != nil {
		t.Fatal(err)
	}
	k, err = loadKeyring(&Config{GossipKeyringFile: path, GossipKey: rawTestKey(1)}, logger)
	if err != nil || !slices.Equal(mlKeys(k), []string{testKeyB64(3), testKeyB64(2)}) {
		t.Fatalf("saved keyring: %v %v", err, mlKeys(k))
	}
	if fps := k.fingerprints(); !slices.Equal(fps, []string{fsm.KeyFingerprint(rawTestKey(3)), fsm.KeyFingerprint(rawTestKey(2))}) {
		t.Fatalf("fingerprints %v", fps)
	}
	// A damaged file stops the node.
	if err := writeFile(path, "{"); err != nil {
		t.Fatal(err)
	}
	if _, err := loadKeyring(&Config{GossipKeyringFile: path, GossipKey: rawTestKey(1)}, logger); err == nil {
		t.Fatal("a damaged keyring file was accepted")
	}
}

func TestLocalKeyring_SetFollowsTheState(t *testing.T) {
	logger := testutil.Logger(t)
	path := filepath.Join(t.TempDir(), "gossip-keyring.json")
	k, err := loadKeyring(&Config{GossipKeyringFile: path, GossipKey: rawTestKey(1)}, logger)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		want fsm.Keyring
		ml   []string // memberlist's keys, primary first
	}{
		{keyringOf(1, 1, 2, 3), []string{testKeyB64(1), testKeyB64(2), testKeyB64(3)}},
		{keyringOf(3, 1, 2, 3), []string{testKeyB64(3), testKeyB64(1), testKeyB64(2)}},
		// Removing a key in the middle keeps the primary and the others.
		{keyringOf(3, 2, 3), []string{testKeyB64(3), testKeyB64(2)}},
		{keyringOf(2, 2), []string{testKeyB64(2)}},
	}
	for i, s := range steps {
		s.want.Index = uint64(10 + i)
		changed, err := k.set(s.want, logger)
		if err != nil || !changed {
			t.Fatalf("step %d: %v changed %v", i, err, changed)
		}
		if got := mlKeys(k); !slices.Equal(got, s.ml) {
			t.Fatalf("step %d: memberlist holds %v, want %v", i, got, s.ml)
		}
		saved, err := storage.ReadGossipKeyring(path)
		if err != nil || !saved.SameKeys(s.want) || saved.Index != s.want.Index {
			t.Fatalf("step %d: saved %+v %v", i, saved, err)
		}
	}
	// The same keys at a later index: memberlist unchanged, the index saved.
	want := keyringOf(2, 2)
	want.Index = 99
	if changed, err := k.set(want, logger); err != nil || changed {
		t.Fatalf("same keys: %v changed %v", err, changed)
	}
	if saved, _ := storage.ReadGossipKeyring(path); saved.Index != 99 {
		t.Fatalf("index not saved: %+v", saved)
	}
}

func TestNodeMeta_KeysFitAndGoBeforeLabels(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
	m := nodeMeta{
		ID: "0b3d6f0e-1c2a-4b5e-8f9a-0123456789ab", Raft: "255.255.255.255:65535", API: "255.255.255.255:65535",
		Version: "0.1.0-dev+0123456789ab", VCPUs: 1024, Memory: 1 << 40, Disk: 1 << 40, Driver: "libvirt",
		URI: "qemu+tcp://255.255.255.255/system", Nets: []string{"default"}, MURI: "tcp://255.255.255.255", OC: 1.5, Expect: 5,
	}
	for i := range fsm.MaxGossipKeys {
		m.Keys = append(m.Keys, fsm.KeyFingerprint(rawTestKey(byte(i))))
	}
	var got nodeMeta
	if b := m.encode(logger); len(b) > memberlist.MetaMaxSize || json.Unmarshal(b, &got) != nil || len(got.Keys) != fsm.MaxGossipKeys {
		t.Fatalf("a full keyring does not fit a large meta: %d bytes, %d keys", len(b), len(got.Keys))
	}
	// Labels that leave no room: the keys go first, the labels stay.
	m.Labels = map[string]string{"rack": strings.Repeat("r", 512-len(m.encode(logger))-20+11*fsm.MaxGossipKeys)}
	got = nodeMeta{}
	b := m.encode(logger)
	if len(b) > memberlist.MetaMaxSize || json.Unmarshal(b, &got) != nil || got.Keys != nil || got.Labels == nil {
		t.Fatalf("%d bytes, keys %v, labels %d", len(b), got.Keys, len(got.Labels))
	}
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }
