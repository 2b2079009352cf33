package cluster

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/storage"
)

// The gossip keyring. The cluster's keyring lives in the replicated state
// (fsm/keyring.go); each node applies it to its memberlist whenever it
// changes, saves it in its data dir (so that a restart gossips with the
// latest keys before Raft is up) and publishes the fingerprints of the keys
// it holds in its gossip metadata, primary first, so that the API can refuse
// to make a key primary before every alive member holds it. A node that was
// down during a rotation gossips with its old keys when it comes back; if the
// others no longer accept them, Raft (which needs no gossip to reach a node
// already in its configuration) brings it the new keyring, and it rejoins.
//
// A node starts with, in order: the keyring saved in its data dir; the key
// it was given (Config.GossipKey, --gossip-key-file), which it saves; or
// none, and gossips in clear text. The first leader records its keyring in
// the state when the state has none (establishLeadership).

// localKeyring is this node's gossip keyring: the memberlist keyring and the
// keyring it was last set from.
type localKeyring struct {
	ml   *memberlist.Keyring
	path string // the keyring file; "" keeps it in memory only

	mu   sync.Mutex
	held fsm.Keyring
	// warned is set once the agent warned that it cannot save the keyring,
	// so the warning is not repeated at every sync.
	warned bool
}

// loadKeyring builds the node's first keyring from its keyring file, else
// from cfg.GossipKey (saving it), else empty (clear text).
func loadKeyring(cfg *Config, logger *slog.Logger) (*localKeyring, error) {
	k := &localKeyring{path: cfg.GossipKeyringFile}
	switch held, err := k.read(); {
	case err == nil:
		k.held = held
		if given := encodeKey(cfg.GossipKey); given != "" && !held.Has(given) {
			logger.Warn("the given gossip key is not in the keyring saved in the data dir, which wins (it holds the latest rotation): the given key is ignored; rotate keys with novacron operator gossip keyring",
				"keyring", k.path, "primary", fsm.KeyFingerprintOf(held.Primary))
		}
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	case len(cfg.GossipKey) > 0:
		key := encodeKey(cfg.GossipKey)
		k.held = fsm.Keyring{Primary: key, Keys: []string{key}}
		if k.path != "" {
			if err := storage.WriteGossipKeyring(k.path, k.held); err != nil {
				return nil, err
			}
		}
	}
	var raw [][]byte
	for _, key := range k.held.Keys {
		b, _ := base64.StdEncoding.DecodeString(key) // validated by Validate or made here
		raw = append(raw, b)
	}
	primary, _ := base64.StdEncoding.DecodeString(k.held.Primary)
	ml, err := memberlist.NewKeyring(raw, primary)
	if err != nil {
		return nil, fmt.Errorf("gossip keyring: %w", err)
	}
	// Even an empty keyring goes to memberlist: a node started without a key
	// can then take the cluster's keyring from Raft and join its encrypted
	// gossip (memberlist encrypts once the keyring holds a key).
	k.ml = ml
	return k, nil
}

// read reads the keyring file; os.ErrNotExist when there is none.
func (k *localKeyring) read() (fsm.Keyring, error) {
	if k.path == "" {
		return fsm.Keyring{}, os.ErrNotExist
	}
	return storage.ReadGossipKeyring(k.path)
}

func encodeKey(raw []byte) string {
	if len(raw) == 0 {
		return ""
	}
	return base64.StdEncoding.EncodeToString(raw)
}

// current returns the keyring the node was last set from.
func (k *localKeyring) current() fsm.Keyring {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.held.Clone()
}

// fingerprints are what the node publishes in gossip: the fingerprints of
// the keys its memberlist holds, primary first.
func (k *localKeyring) fingerprints() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for _, key := range k.ml.GetKeys() {
		out = append(out, fsm.KeyFingerprint(key))
	}
	return out
}

// set makes memberlist hold exactly want's keys with want's primary, and
// saves want. It reports whether memberlist's keys changed.
func (k *localKeyring) set(want fsm.Keyring, logger *slog.Logger) (bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	changed := !k.held.SameKeys(want)
	if changed {
		for _, key := range want.Keys {
			b, err := fsm.ParseGossipKey(key)
			if err == nil {
				err = k.ml.AddKey(b)
			}
			if err != nil {
				return false, fmt.Errorf("install gossip key %s: %w", fsm.KeyFingerprintOf(key), err)
			}
		}
		primary, _ := fsm.ParseGossipKey(want.Primary)
		if err := k.ml.UseKey(primary); err != nil {
			return false, fmt.Errorf("use gossip key %s: %w", fsm.KeyFingerprintOf(want.Primary), err)
		}
		for _, b := range slices.Clone(k.ml.GetKeys()) {
			if !want.Has(base64.StdEncoding.EncodeToString(b)) {
				if err := k.remove(b); err != nil {
					return false, fmt.Errorf("remove gossip key %s: %w", fsm.KeyFingerprint(b), err)
				}
			}
		}
	}
	k.held = want.Clone()
	if k.path == "" {
		return changed, nil
	}
	if err := storage.WriteGossipKeyring(k.path, k.held); err != nil {
		if !k.warned {
			logger.Warn("cannot save the gossip keyring; after a restart this node may gossip with old keys until Raft brings the new ones", "error", err)
			k.warned = true
		}
	} else {
		k.warned = false
	}
	return changed, nil
}

// remove drops key from memberlist's keyring. memberlist's RemoveKey shifts
// the keys after it within the slice that memberlist's goroutines may be
// reading at that moment (GetKeys hands out the slice itself); only the last
// key is removed without writing to it. So the others are first brought in
// front of key, one UseKey at a time, which builds a new slice each time; the
// primary comes last, so it is the primary again before key goes.
func (k *localKeyring) remove(key []byte) error {
	keys := k.ml.GetKeys()
	var keep [][]byte
	for _, b := range keys {
		if !bytes.Equal(b, key) {
			keep = append(keep, b)
		}
	}
	if len(keep) == len(keys) {
		return nil
	}
	if !bytes.Equal(keys[len(keys)-1], key) {
		for i := len(keep) - 1; i >= 0; i-- {
			if err := k.ml.UseKey(keep[i]); err != nil {
				return err
			}
		}
	}
	return k.ml.RemoveKey(key)
}

// keyringLoop applies the state's gossip keyring to this node whenever it
// changes (or the state is restored), and at every reconcile interval in case
// an event was dropped.
func (a *Agent) keyringLoop(ctx context.Context) {
	events, stop := a.fsm.Subscribe(16)
	defer stop()
	ticker := time.NewTicker(a.cfg.ReconcileInterval)
	defer ticker.Stop()
	caughtUp := a.CaughtUpCh()
	for {
		a.syncKeyring()
		for wait := true; wait; {
			select {
			case <-ctx.Done():
				return
			case ev := <-events:
				wait = ev.Kind != "gossip-keyring" && ev.Kind != "restore"
			case <-caughtUp:
				caughtUp, wait = nil, false
			case <-ticker.C:
				wait = false
			}
		}
	}
}

// syncKeyring applies the state's keyring to memberlist when it differs from
// the one this node holds. While the node replays an older log after a
// restart, the state's keyring may be older than the one it saved: that one
// is kept until the state catches up (by index) or the node has caught up
// with the leader (then the state is the truth, whatever the indexes say).
func (a *Agent) syncKeyring() {
	want := a.fsm.GossipKeyring()
	if !want.Encrypted() {
		return // clear-text cluster, or the first leader has not recorded it yet
	}
	held := a.keys.current()
	if held.SameKeys(want) && held.Index == want.Index {
		return
	}
	if want.Index < held.Index && !a.CaughtUp() {
		return
	}
	changed, err := a.keys.set(want, a.logger)
	if err != nil {
		a.logger.Error("applying the gossip keyring", "error", err)
		return
	}
	if !changed {
		return
	}
	a.logger.Info("gossip keyring changed", "primary", fsm.KeyFingerprintOf(want.Primary), "keys", a.keys.fingerprints(), "index", want.Index)
	a.gossip.publishKeys(a.keys.fingerprints(), 5*time.Second)
}

// establishKeyring records this leader's keyring in a state that has none:
// the first leader of an encrypted cluster does it once.
func (a *Agent) establishKeyring() error {
	if a.fsm.GossipKeyring().Encrypted() {
		return nil
	}
	local := a.keys.current()
	if !local.Encrypted() {
		return nil // clear-text gossip: there is no keyring to record
	}
	_, err := a.applyLocal(&fsm.GossipKeyring{Op: fsm.KeyringInit, Key: local.Primary, Keys: local.Keys, At: time.Now().UTC()})
	return err
}

// LocalGossipKeyring is the keyring this node's memberlist holds now, for
// status pages and tests: its keys and the primary one it encrypts with.
func (a *Agent) LocalGossipKeyring() fsm.Keyring {
	k := a.keys
	k.mu.Lock()
	defer k.mu.Unlock()
	kr := fsm.Keyring{Index: k.held.Index}
	for i, b := range k.ml.GetKeys() {
		key := base64.StdEncoding.EncodeToString(b)
		if i == 0 {
			kr.Primary = key
		}
		kr.Keys = append(kr.Keys, key)
	}
	return kr
}
