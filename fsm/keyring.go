package fsm

//msgp:tag json
//msgp:timezone utc

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"time"
)

// The gossip keyring lives in the replicated state so that every node,
// including one that was down during a rotation, converges on it: each node
// applies the state's keyring to its memberlist (package cluster) and keeps a
// copy in its data dir for its next start. Raft runs over mutual TLS when TLS
// is on, so the keys never cross the network in clear. Rotating follows
// Consul's keyring: install a new key everywhere, use it (encrypt with it)
// once every node holds it, then remove the old one.

// Keyring operations (GossipKeyring.Op).
const (
	// KeyringInit records the first leader's local keyring when the state
	// has none. Only the leader writes it (never forwarded).
	KeyringInit = "init"
	// KeyringInstall adds a key that nodes accept but do not encrypt with yet.
	KeyringInstall = "install"
	// KeyringUse makes an installed key the primary one, which nodes encrypt with.
	KeyringUse = "use"
	// KeyringRemove drops a key that is not the primary one.
	KeyringRemove = "remove"
)

// MaxGossipKeys bounds the keyring: a rotation needs two keys, and every node
// publishes a fingerprint of each in its gossip metadata (512 bytes at most).
const MaxGossipKeys = 8

// Keyring is the cluster's gossip keyring: base64 AES keys (16, 24 or 32
// bytes, in canonical standard encoding) and the primary one nodes encrypt
// with. The zero value (no keys) is a cluster whose gossip is clear text.
type Keyring struct {
	Primary string   `json:"primary"`
	Keys    []string `json:"keys,omitempty"`
	// Index is the log index of the last change. A node compares it with the
	// keyring it holds, so that while it replays an old log after a restart
	// it never goes back to an older keyring than the one it saved.
	Index uint64 `json:"index,omitempty"`
}

// Encrypted reports whether the keyring holds keys, that is whether gossip
// is encrypted.
func (k Keyring) Encrypted() bool { return len(k.Keys) > 0 }

// Has reports whether key (canonical base64) is installed.
func (k Keyring) Has(key string) bool { return slices.Contains(k.Keys, key) }

// Clone returns a copy that shares nothing with k.
func (k Keyring) Clone() Keyring {
	k.Keys = slices.Clone(k.Keys)
	return k
}

// SameKeys reports whether k and o hold the same keys and primary, whatever
// their order and index.
func (k Keyring) SameKeys(o Keyring) bool {
	if k.Primary != o.Primary || len(k.Keys) != len(o.Keys) {
		return false
	}
	for _, key := range k.Keys {
		if !o.Has(key) {
			return false
		}
	}
	return true
}

// Validate checks a whole keyring: between 1 and MaxGossipKeys distinct
// valid keys in canonical form, the primary among them. The zero keyring
// (clear text) is valid too.
func (k Keyring) Validate() error {
	if len(k.Keys) == 0 && k.Primary == "" {
		return nil
	}
	if len(k.Keys) > MaxGossipKeys {
		return errorf(ErrInvalid, "a gossip keyring holds at most %d keys, got %d", MaxGossipKeys, len(k.Keys))
	}
	seen := map[string]bool{}
	for _, key := range k.Keys {
		canon, err := CanonicalGossipKey(key)
		if err != nil {
			return err
		}
		if canon != key {
			return errorf(ErrInvalid, "gossip key %s is not in canonical base64", KeyFingerprintOf(key))
		}
		if seen[key] {
			return errorf(ErrInvalid, "gossip key %s is listed twice", KeyFingerprintOf(key))
		}
		seen[key] = true
	}
	if !seen[k.Primary] {
		return errorf(ErrInvalid, "the primary gossip key must be one of the keyring's keys")
	}
	return nil
}

// ParseGossipKey decodes a gossip key: standard base64 of 16, 24 or 32 bytes
// (memberlist's AES-128, -192 and -256). A malformed key is ErrInvalid; the
// message never repeats the key.
func ParseGossipKey(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errorf(ErrInvalid, "a gossip key must be standard base64 (as novacron operator gossip keygen prints it)")
	}
	if n := len(b); n != 16 && n != 24 && n != 32 {
		return nil, errorf(ErrInvalid, "a gossip key must be 16, 24 or 32 bytes, got %d", n)
	}
	return b, nil
}

// CanonicalGossipKey returns key in canonical standard base64, so that one
// key is never installed twice under two spellings.
func CanonicalGossipKey(key string) (string, error) {
	b, err := ParseGossipKey(key)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// KeyFingerprint names a raw gossip key without revealing it: the first 8
// hex digits of its SHA-256. Nodes publish the fingerprints of the keys they
// hold in gossip; the API and the CLI show them.
func KeyFingerprint(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:4])
}

// KeyFingerprintOf is KeyFingerprint of a base64 key; "" when it is empty
// or does not decode.
func KeyFingerprintOf(key string) string {
	b, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(b) == 0 {
		return ""
	}
	return KeyFingerprint(b)
}

// GossipKeyring changes the cluster's gossip keyring (Op is one of the
// Keyring* operations). Key is the key an operation names, in base64; for
// init it is the primary key and Keys the whole keyring.
type GossipKeyring struct {
	Op   string    `json:"op"`
	Key  string    `json:"key,omitempty"`
	Keys []string  `json:"keys,omitempty"`
	At   time.Time `json:"at"`
}

// Type implements Command.
func (GossipKeyring) Type() CommandType            { return CmdGossipKeyring }
func (c GossipKeyring) target() (string, string)   { return "gossip-keyring", "cluster" }
func (c GossipKeyring) leaderOnly() (bool, string) { return c.Op == KeyringInit, "GossipKeyring init" }

func init() { register(CmdGossipKeyring, "GossipKeyring", applyGossipKeyring) }

// applyGossipKeyring validates the operation completely, then replaces the
// keyring with a new value: the old one may be held by a snapshot being
// written.
func applyGossipKeyring(s *state, c *GossipKeyring, index uint64) error {
	next, changed, err := nextKeyring(s.keyring, c)
	if err != nil || !changed {
		return err
	}
	next.Index = index
	s.keyring = next
	return nil
}

// nextKeyring is the keyring c makes of cur, and whether it changed; a no-op
// (installing a key again, using the primary, a second init) is not an error.
func nextKeyring(cur Keyring, c *GossipKeyring) (Keyring, bool, error) {
	if c.Op == KeyringInit {
		if cur.Encrypted() {
			return cur, false, nil // recorded once; a racing second init is harmless
		}
		next := Keyring{Primary: c.Key, Keys: slices.Clone(c.Keys)}
		if len(next.Keys) == 0 {
			return cur, false, errorf(ErrInvalid, "gossip keyring init needs at least one key")
		}
		if err := next.Validate(); err != nil {
			return cur, false, err
		}
		return next, true, nil
	}
	switch c.Op {
	case KeyringInstall, KeyringUse, KeyringRemove:
	default:
		return cur, false, errorf(ErrInvalid, "gossip keyring op must be install, use or remove, got %q", c.Op)
	}
	key, err := CanonicalGossipKey(c.Key)
	if err != nil {
		return cur, false, err
	}
	fp := KeyFingerprintOf(key)
	if !cur.Encrypted() {
		return cur, false, errorf(ErrState, "gossip is not encrypted in this cluster (its nodes started without a gossip key), so it has no keyring to change; restart the nodes with --gossip-key-file to encrypt it")
	}
	next := cur.Clone()
	switch c.Op {
	case KeyringInstall:
		if cur.Has(key) {
			return cur, false, nil
		}
		if len(cur.Keys) >= MaxGossipKeys {
			return cur, false, errorf(ErrConflict, "the gossip keyring already holds %d keys, the most it may; remove one first", MaxGossipKeys)
		}
		next.Keys = append(next.Keys, key)
	case KeyringUse:
		if !cur.Has(key) {
			return cur, false, errorf(ErrNotFound, "gossip key %s is not installed; install it first", fp)
		}
		if cur.Primary == key {
			return cur, false, nil
		}
		next.Primary = key
	case KeyringRemove:
		if !cur.Has(key) {
			return cur, false, errorf(ErrNotFound, "gossip key %s is not installed", fp)
		}
		if cur.Primary == key {
			return cur, false, errorf(ErrConflict, "gossip key %s is the primary key; use another key first", fp)
		}
		next.Keys = slices.DeleteFunc(next.Keys, func(k string) bool { return k == key })
	}
	return next, true, nil
}

// CheckGossipKeyring says why Apply would refuse c on the current state, so
// the API refuses it before it reaches Raft; nil when it would pass.
func (f *FSM) CheckGossipKeyring(c GossipKeyring) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	_, _, err := nextKeyring(f.s.keyring, &c)
	return err
}

// GossipKeyring returns the cluster's gossip keyring (zero when gossip is
// clear text or the first leader has not recorded it yet).
func (f *FSM) GossipKeyring() Keyring {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.s.keyring.Clone()
}
