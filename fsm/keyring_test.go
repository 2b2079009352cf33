package fsm

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// testKey is a valid 32-byte gossip key, different for each n.
func testKey(n byte) string {
	return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{n}, 32))
}

func keyringOp(op, key string) GossipKeyring { return GossipKeyring{Op: op, Key: key, At: t0} }

func TestGossipKeyring_Rotation(t *testing.T) {
	f := newTestFSM(t)
	old, next := testKey(1), testKey(2)
	f.must(GossipKeyring{Op: KeyringInit, Key: old, Keys: []string{old}, At: t0})
	initAt := f.index
	if kr := f.GossipKeyring(); kr.Primary != old || len(kr.Keys) != 1 || kr.Index != initAt {
		t.Fatalf("after init: %+v", kr)
	}
	f.must(keyringOp(KeyringInstall, next))
	if kr := f.GossipKeyring(); kr.Primary != old || !kr.Has(next) || kr.Index != f.index {
		t.Fatalf("after install: %+v", kr)
	}
	f.refuse(keyringOp(KeyringRemove, old), ErrConflict) // still the primary
	f.must(keyringOp(KeyringUse, next))
	f.must(keyringOp(KeyringRemove, old))
	kr := f.GossipKeyring()
	if want := (Keyring{Primary: next, Keys: []string{next}, Index: f.index}); kr.Primary != want.Primary || !kr.SameKeys(want) || kr.Index != want.Index {
		t.Fatalf("after the rotation: %+v, want %+v", kr, want)
	}
}

func TestGossipKeyring_InitOnceAndNoOps(t *testing.T) {
	f := newTestFSM(t)
	a, b := testKey(1), testKey(2)
	f.must(GossipKeyring{Op: KeyringInit, Key: a, Keys: []string{a, b}, At: t0})
	want := f.GossipKeyring()
	// A second leader's init (a race) changes nothing, nor do repeats.
	f.must(GossipKeyring{Op: KeyringInit, Key: testKey(3), Keys: []string{testKey(3)}, At: t0})
	f.must(keyringOp(KeyringInstall, b))
	f.must(keyringOp(KeyringUse, a))
	if got := f.GossipKeyring(); got.Primary != want.Primary || !got.SameKeys(want) || got.Index != want.Index {
		t.Fatalf("no-ops changed the keyring: %+v, want %+v", got, want)
	}
	// The same key spelt without padding is refused, not installed twice.
	f.refuse(keyringOp(KeyringInstall, strings.TrimRight(b, "=")), ErrInvalid)
}

func TestGossipKeyring_Refusals(t *testing.T) {
	f := newTestFSM(t)
	k := testKey(1)
	// Clear-text cluster: nothing to rotate.
	err := f.refuse(keyringOp(KeyringInstall, k), ErrState)
	if !strings.Contains(err.Error(), "not encrypted") {
		t.Errorf("install on a clear-text cluster: %v", err)
	}
	f.refuse(GossipKeyring{Op: KeyringInit, At: t0}, ErrInvalid)
	f.refuse(GossipKeyring{Op: KeyringInit, Key: testKey(9), Keys: []string{k}, At: t0}, ErrInvalid)
	f.refuse(GossipKeyring{Op: KeyringInit, Key: k, Keys: []string{k, k}, At: t0}, ErrInvalid)
	many := []string{}
	for i := range MaxGossipKeys + 1 {
		many = append(many, testKey(byte(10+i)))
	}
	f.refuse(GossipKeyring{Op: KeyringInit, Key: many[0], Keys: many, At: t0}, ErrInvalid)
	f.must(GossipKeyring{Op: KeyringInit, Key: k, Keys: []string{k}, At: t0})

	short := base64.StdEncoding.EncodeToString([]byte("sixteen-bytes!!"))
	for name, c := range map[string]GossipKeyring{
		"not base64":  keyringOp(KeyringInstall, "%%%"),
		"15 bytes":    keyringOp(KeyringInstall, short),
		"empty":       keyringOp(KeyringInstall, ""),
		"unknown op":  keyringOp("rotate", testKey(2)),
		"no op":       keyringOp("", testKey(2)),
		"raw encoded": keyringOp(KeyringInstall, base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))),
	} {
		if err := f.apply(c); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
		if err := f.apply(c); err != nil && strings.Contains(err.Error(), c.Key) && c.Key != "" {
			t.Errorf("%s: the error repeats the key: %v", name, err)
		}
	}
	f.refuse(keyringOp(KeyringUse, testKey(2)), ErrNotFound)
	f.refuse(keyringOp(KeyringRemove, testKey(2)), ErrNotFound)
	f.refuse(keyringOp(KeyringRemove, k), ErrConflict)
	for i := 2; i <= MaxGossipKeys; i++ {
		f.must(keyringOp(KeyringInstall, testKey(byte(i))))
	}
	f.refuse(keyringOp(KeyringInstall, testKey(99)), ErrConflict)
	if n := len(f.GossipKeyring().Keys); n != MaxGossipKeys {
		t.Fatalf("%d keys, want %d", n, MaxGossipKeys)
	}
}

// The keyring survives a snapshot, and a damaged one fails the restore.
func TestGossipKeyring_Snapshot(t *testing.T) {
	src := newTestFSM(t)
	src.must(GossipKeyring{Op: KeyringInit, Key: testKey(1), Keys: []string{testKey(1)}, At: t0})
	src.must(keyringOp(KeyringInstall, testKey(2)))
	b := snapshotBytes(t, src.FSM)
	dst := newTestFSM(t)
	if err := restoreBytes(dst.FSM, b); err != nil {
		t.Fatal(err)
	}
	assertSameState(t, dump(src.FSM), dump(dst.FSM))

	bad := bytes.Replace(b, []byte(testKey(2)), []byte("not-a-key"), 1)
	if err := restoreBytes(dst.FSM, bad); err == nil || !strings.Contains(err.Error(), "gossip keyring") {
		t.Fatalf("restore of a damaged keyring: %v", err)
	}
	assertSameState(t, dump(src.FSM), dump(dst.FSM))
}

// Snapshots share the keyring with the state: changes after Snapshot never
// reach one being written.
func TestGossipKeyring_SnapshotIsPointInTime(t *testing.T) {
	f := newTestFSM(t)
	f.must(GossipKeyring{Op: KeyringInit, Key: testKey(1), Keys: []string{testKey(1)}, At: t0})
	f.must(keyringOp(KeyringInstall, testKey(2)))
	f.must(keyringOp(KeyringInstall, testKey(3)))
	want := dump(f.FSM)
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	f.must(keyringOp(KeyringRemove, testKey(2)))
	f.must(keyringOp(KeyringInstall, testKey(4)))
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	dst := New()
	if err := restoreBytes(dst, sink.Bytes()); err != nil {
		t.Fatal(err)
	}
	assertSameState(t, want, dump(dst))
}

func TestGossipKeyring_InitIsNotForwardable(t *testing.T) {
	init := GossipKeyring{Op: KeyringInit, Key: testKey(1), Keys: []string{testKey(1)}, At: t0}
	if err := Forwardable(init); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "GossipKeyring init") {
		t.Fatalf("init: %v, want ErrMalformed naming it", err)
	}
	if err := Forwardable(&init); !errors.Is(err, ErrMalformed) {
		t.Fatalf("*init: %v, want ErrMalformed", err)
	}
	b, _ := NewBatch(ReportVM{ID: "vm-a"}, init)
	if err := Forwardable(b); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "batch entry 1") {
		t.Fatalf("batch holding init: %v, want ErrMalformed naming entry 1", err)
	}
	for _, op := range []string{KeyringInstall, KeyringUse, KeyringRemove} {
		c := keyringOp(op, testKey(2))
		if err := Forwardable(c); err != nil {
			t.Errorf("%s: %v", op, err)
		}
		b, _ := NewBatch(c)
		if err := Forwardable(b); err != nil {
			t.Errorf("batch of %s: %v", op, err)
		}
	}
}

func TestKeyFingerprint(t *testing.T) {
	a, b := KeyFingerprintOf(testKey(1)), KeyFingerprintOf(testKey(2))
	if len(a) != 8 || a == b || strings.Contains(testKey(1), a) {
		t.Fatalf("fingerprints %q, %q", a, b)
	}
	if KeyFingerprintOf("%%%") != "" {
		t.Fatal("fingerprint of a non-key")
	}
}
