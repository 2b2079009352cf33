package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novacron/novacron/cluster"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/pki"
	"github.com/novacron/novacron/storage"
)

func TestGossipKeySource_Table(t *testing.T) {
	cases := []struct {
		name string
		in   gossipKeyInputs
		want gossipKeySource
		err  error
	}{
		{"saved keyring wins over all", gossipKeyInputs{savedKeyring: true, keyGiven: true, tls: true, bootstrapExpect: 3}, gossipFromDataDir, nil},
		{"saved keyring, no TLS", gossipKeyInputs{savedKeyring: true}, gossipFromDataDir, nil},
		{"given key", gossipKeyInputs{keyGiven: true, tls: true, bootstrapExpect: 3}, gossipFromFlag, nil},
		{"given key, no TLS, joining", gossipKeyInputs{keyGiven: true}, gossipFromFlag, nil},
		{"dev generates", gossipKeyInputs{dev: true, bootstrapExpect: 1}, gossipGenerate, nil},
		{"dev with TLS generates", gossipKeyInputs{dev: true, tls: true, bootstrapExpect: 1}, gossipGenerate, nil},
		{"TLS, alone", gossipKeyInputs{tls: true, bootstrapExpect: 1}, gossipGenerate, nil},
		{"TLS, with others", gossipKeyInputs{tls: true, bootstrapExpect: 3}, 0, errGossipKeyNeeded},
		{"TLS, joining", gossipKeyInputs{tls: true}, 0, errGossipKeyNeeded},
		{"no TLS, alone", gossipKeyInputs{bootstrapExpect: 1}, gossipClearText, nil},
		{"no TLS, with others", gossipKeyInputs{bootstrapExpect: 3}, gossipClearText, nil},
		{"no TLS, joining", gossipKeyInputs{}, gossipClearText, nil},
	}
	for _, c := range cases {
		got, err := gossipKeySourceFor(c.in)
		if !errors.Is(err, c.err) || (err == nil && got != c.want) {
			t.Errorf("%s: %v, %v; want %v, %v", c.name, got, err, c.want, c.err)
		}
	}
	if msg := errGossipKeyNeeded.Error(); !strings.Contains(msg, "--gossip-key-file") || !strings.Contains(msg, "novacron operator gossip keygen") || !strings.Contains(msg, "join token") {
		t.Errorf("the refusal does not say what to do: %s", msg)
	}
}

func TestSetGossipKeyring(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	dir := t.TempDir()
	path := filepath.Join(dir, "gossip-keyring.json")

	// A new single-node dev cluster: a fresh 32-byte key, and the file is
	// the cluster's to write (it seeds it with the key).
	f := &agentFlags{Dev: true, BootstrapExpect: 1}
	var cc cluster.Config
	if err := f.setGossipKeyring(&cc, path, logger); err != nil {
		t.Fatal(err)
	}
	if len(cc.GossipKey) != 32 || cc.GossipKeyringFile != path || !strings.Contains(logs.String(), "generated a gossip key") {
		t.Fatalf("dev: key %d bytes, file %q; log %s", len(cc.GossipKey), cc.GossipKeyringFile, logs.String())
	}
	if strings.Contains(logs.String(), encodeForTest(cc.GossipKey)) {
		t.Fatal("the generated key was logged")
	}

	// A saved keyring is used as it is, whatever else is given.
	saved := fsm.Keyring{Primary: testKeyB64(7), Keys: []string{testKeyB64(7)}}
	if err := storage.WriteGossipKeyring(path, saved); err != nil {
		t.Fatal(err)
	}
	f = &agentFlags{TLS: tlsFilesForTest(), BootstrapExpect: 3}
	cc = cluster.Config{}
	if err := f.setGossipKeyring(&cc, path, logger); err != nil || cc.GossipKey != nil {
		t.Fatalf("saved keyring: %v, key %v", err, cc.GossipKey)
	}

	// TLS, three servers, nothing saved or given: refused.
	cc = cluster.Config{}
	if err := f.setGossipKeyring(&cc, filepath.Join(dir, "none.json"), logger); !errors.Is(err, errGossipKeyNeeded) {
		t.Fatalf("TLS without a key: %v", err)
	}
	// A damaged keyring file stops the node rather than being replaced.
	if err := writeFileForTest(path, "garbage"); err != nil {
		t.Fatal(err)
	}
	if err := f.setGossipKeyring(&cc, path, logger); !errors.Is(err, storage.ErrCorruptDataDir) {
		t.Fatalf("damaged keyring: %v", err)
	}
	// No TLS, no key: clear text, with a warning.
	logs.Reset()
	cc = cluster.Config{}
	f = &agentFlags{BootstrapExpect: 3}
	if err := f.setGossipKeyring(&cc, filepath.Join(dir, "none.json"), logger); err != nil || cc.GossipKey != nil || !strings.Contains(logs.String(), "gossip is not encrypted") {
		t.Fatalf("clear text: %v, key %v, log %s", err, cc.GossipKey, logs.String())
	}
}

func encodeForTest(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func testKeyB64(n byte) string { return encodeForTest(bytes.Repeat([]byte{n}, 32)) }

// tlsFilesForTest are TLS files as the flags name them (only whether they are
// set matters here).
func tlsFilesForTest() pki.Files { return pki.Files{CA: "ca.pem", Cert: "n.pem", Key: "n-key.pem"} }

func writeFileForTest(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }
