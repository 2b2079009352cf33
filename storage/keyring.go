package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/novacron/novacron/fsm"
)

// keyringFile names the gossip keyring's file in a data dir.
const keyringFile = "gossip-keyring.json"

// GossipKeyringPath is where this node keeps its gossip keyring: the keys its
// memberlist holds, saved at every change so that a restart gossips with the
// latest keyring before Raft is up (package cluster).
func (d *DataDir) GossipKeyringPath() string { return filepath.Join(d.path, keyringFile) }

// ReadGossipKeyring reads a keyring file written by WriteGossipKeyring. A
// missing file is an error matching os.ErrNotExist; a file that does not hold
// a valid keyring with at least one key is ErrCorruptDataDir, left as it is.
func ReadGossipKeyring(path string) (fsm.Keyring, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return fsm.Keyring{}, err
	}
	var kr fsm.Keyring
	if err := json.Unmarshal(b, &kr); err != nil {
		return fsm.Keyring{}, fmt.Errorf("%w: %s is not valid JSON (%v); fix it or remove it and give the node --gossip-key-file", ErrCorruptDataDir, path, err)
	}
	if err := kr.Validate(); err != nil || !kr.Encrypted() {
		if err == nil {
			err = errors.New("it holds no key")
		}
		return fsm.Keyring{}, fmt.Errorf("%w: %s is not a gossip keyring: %v; fix it or remove it and give the node --gossip-key-file", ErrCorruptDataDir, path, err)
	}
	return kr, nil
}

// WriteGossipKeyring saves kr at path, mode 0600, atomically (temp file,
// fsync, rename): a crash leaves the old keyring or the new one. It is also
// how a node is seeded with the cluster's keyring before its first start
// (what a join token's enrollment does), since a node starts with the keyring
// in its data dir before any --gossip-key-file.
func WriteGossipKeyring(path string, kr fsm.Keyring) error {
	if err := kr.Validate(); err != nil {
		return err
	}
	if !kr.Encrypted() {
		return errors.New("a gossip keyring file needs at least one key")
	}
	b, err := json.MarshalIndent(kr, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("save gossip keyring: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Chmod(0o600) // O_CREATE's mode does not apply to a leftover temp file
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("save gossip keyring %s: %w", path, err)
	}
	return nil
}
