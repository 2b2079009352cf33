package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/novacron/novacron/cluster"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/storage"
)

// Gossip is encrypted by default (issue 11). A node's first gossip keyring
// comes from, in order: the keyring saved in its data dir (the latest
// rotation, see cluster/keyring.go); --gossip-key-file; else a decision made
// here, by gossipKeySource.

// gossipKeySource is where a node's first gossip keyring comes from.
type gossipKeySource int

const (
	// gossipFromDataDir: the keyring the node saved (the latest rotation).
	gossipFromDataDir gossipKeySource = iota
	// gossipFromFlag: --gossip-key-file (or NOVACRON_GOSSIP_KEY).
	gossipFromFlag
	// gossipGenerate: a new random key, for a node that starts a cluster alone.
	gossipGenerate
	// gossipClearText: no key; only without TLS, with a warning.
	gossipClearText
)

// gossipKeyInputs is what the decision depends on.
type gossipKeyInputs struct {
	// savedKeyring: the data dir holds a keyring.
	savedKeyring bool
	// keyGiven: --gossip-key-file or NOVACRON_GOSSIP_KEY.
	keyGiven bool
	dev      bool
	tls      bool
	// bootstrapExpect is --bootstrap-expect: 1 starts a cluster alone, more
	// starts one with others, 0 joins an existing one.
	bootstrapExpect int
}

// errGossipKeyNeeded refuses a TLS node that would join others without
// their key: it could never gossip with them.
var errGossipKeyNeeded = errors.New("gossip must be encrypted on a cluster with TLS, and this node has no gossip key: " +
	"give every server the same --gossip-key-file (make the key with `novacron operator gossip keygen`; " +
	"a running cluster's keys are in `novacron operator gossip keyring list --show-keys`), or join it with a join token")

// gossipKeySourceFor decides where the first keyring comes from. A node with
// no key generates one only when it starts a cluster alone (--dev, or
// --bootstrap-expect 1 with TLS): nobody else needs that key yet, and nodes
// that join later get it from the operator (or a join token). Without TLS
// Raft itself is clear text, so gossip stays clear text as before, with a
// warning; with TLS a node that meets others without a key is refused.
func gossipKeySourceFor(in gossipKeyInputs) (gossipKeySource, error) {
	switch {
	case in.savedKeyring:
		return gossipFromDataDir, nil
	case in.keyGiven:
		return gossipFromFlag, nil
	case in.dev:
		return gossipGenerate, nil
	case !in.tls:
		return gossipClearText, nil
	case in.bootstrapExpect == 1:
		return gossipGenerate, nil
	}
	return 0, errGossipKeyNeeded
}

// setGossipKeyring points the node at its keyring file in the data dir and
// settles its first key (cc.GossipKey), logging what it decided.
func (f *agentFlags) setGossipKeyring(cc *cluster.Config, keyringPath string, logger *slog.Logger) error {
	cc.GossipKeyringFile = keyringPath
	saved, readErr := storage.ReadGossipKeyring(keyringPath)
	if readErr != nil && !errors.Is(readErr, os.ErrNotExist) {
		return readErr
	}
	src, err := gossipKeySourceFor(gossipKeyInputs{
		savedKeyring: readErr == nil, keyGiven: len(cc.GossipKey) > 0, dev: f.Dev,
		tls: f.TLS.Set(), bootstrapExpect: f.BootstrapExpect,
	})
	if err != nil {
		return err
	}
	logger = logger.With("component", "config")
	switch src {
	case gossipFromDataDir:
		logger.Info("gossip is encrypted with the keyring saved in the data dir", "keyring", keyringPath,
			"primary", fsm.KeyFingerprintOf(saved.Primary), "keys", len(saved.Keys))
	case gossipGenerate:
		cc.GossipKey = make([]byte, 32)
		if _, err := rand.Read(cc.GossipKey); err != nil {
			return fmt.Errorf("generating a gossip key: %w", err)
		}
		logger.Info("generated a gossip key for this new cluster; nodes that join it need it (novacron operator gossip keyring list --show-keys)",
			"fingerprint", fsm.KeyFingerprint(cc.GossipKey))
	case gossipClearText:
		logger.Warn("gossip is not encrypted: anyone who reaches the gossip port can join it; give every node the same --gossip-key-file (novacron operator gossip keygen), and TLS")
	}
	return nil
}
