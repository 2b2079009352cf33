package fsm

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
)

func TestCreateToken(t *testing.T) {
	f := newTestFSM(t)
	tok := testToken("tok-1", "ci", "secret-1")
	f.must(CreateToken{Token: tok})
	if got, err := f.Token("tok-1"); err != nil || got != tok {
		t.Fatalf("Token: %+v %v", got, err)
	}
	if got, err := f.TokenByHash(HashSecret("secret-1")); err != nil || got.ID != "tok-1" {
		t.Fatalf("TokenByHash: %+v %v", got, err)
	}
	if _, err := f.TokenByHash(HashSecret("secret-2")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("TokenByHash of an unknown secret: %v", err)
	}
	f.refuse(CreateToken{Token: testToken("tok-1", "other", "secret-2")}, ErrConflict)
	f.refuse(CreateToken{Token: testToken("tok-2", "other", "secret-1")}, ErrConflict)
	f.refuse(CreateToken{Token: Token{ID: "tok-2", Name: "x", Role: "admin"}}, ErrInvalid)
	f.refuse(CreateToken{Token: Token{ID: "tok-2", Name: "x", Hash: "h"}}, ErrInvalid)
	f.refuse(CreateToken{Token: Token{Name: "x", Role: "admin", Hash: "h"}}, ErrInvalid)
	f.refuse(CreateToken{Token: testToken("tok-2", "bad name", "secret-2")}, ErrInvalid)
	later := testToken("tok-0", "later", "secret-3")
	later.CreatedAt = t0.Add(1)
	f.must(CreateToken{Token: later})
	// Sorted by creation time, then ID.
	if toks := f.Tokens(); len(toks) != 2 || toks[0].ID != "tok-1" || toks[1].ID != "tok-0" {
		t.Fatalf("tokens %+v", toks)
	}
}

func TestRevokeToken(t *testing.T) {
	f := newTestFSM(t)
	f.must(CreateToken{Token: testToken("tok-1", "ci", "secret-1")})
	f.must(RevokeToken{ID: "tok-1"})
	if _, err := f.Token("tok-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoked token: %v", err)
	}
	if _, err := f.TokenByHash(HashSecret("secret-1")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoked token still authenticates: %v", err)
	}
	f.refuse(RevokeToken{ID: "tok-1"}, ErrNotFound)
	// The secret may be used again by a new token.
	f.must(CreateToken{Token: testToken("tok-2", "ci", "secret-1")})
}

func TestInitCluster_OnlyOnce(t *testing.T) {
	f := newTestFSM(t)
	f.refuse(InitCluster{ClusterID: "", At: t0}, ErrInvalid)
	if c := f.Cluster(); c != (ClusterInfo{}) {
		t.Fatalf("refused init was applied: %+v", c)
	}
	f.must(InitCluster{ClusterID: "c1", At: t0})
	want := ClusterInfo{ID: "c1"}
	if c := f.Cluster(); c != want {
		t.Fatalf("cluster %+v", c)
	}
	// A racing second init from another leader is a no-op, not an error.
	f.must(InitCluster{ClusterID: "c2", At: t0})
	if c := f.Cluster(); c != want {
		t.Fatalf("second init changed the cluster: %+v", c)
	}
}

// Builds before the cluster secret was removed wrote it in InitCluster and in
// the snapshot header's cluster info. Decoding ignores the field (decodeJSON),
// so such a log entry still applies and such a snapshot still restores; the
// secret is dropped, and nothing reads it any more.
func TestInitCluster_OldSecretFieldIgnored(t *testing.T) {
	f := newTestFSM(t)
	entry := append([]byte{byte(CmdInitCluster)}, `{"cluster_id":"c1","secret":"`+strings.Repeat("s", 32)+`","at":"2024-01-01T00:00:00Z"}`...)
	if res := f.Apply(&raft.Log{Index: 1, Type: raft.LogCommand, Data: entry}); res.(Result).Err != nil {
		t.Fatalf("old InitCluster entry: %v", res.(Result).Err)
	}
	if c := f.Cluster(); c != (ClusterInfo{ID: "c1"}) {
		t.Fatalf("cluster %+v", c)
	}
	snap := snapshotBytes(t, f.FSM)
	old := bytes.Replace(snap, []byte(`"cluster":{"id":"c1"`), []byte(`"cluster":{"id":"c1","secret":"`+strings.Repeat("s", 32)+`"`), 1)
	if bytes.Equal(old, snap) {
		t.Fatalf("snapshot header has no cluster info to add the old field to:\n%s", snap)
	}
	dst := New()
	if err := restoreBytes(dst, old); err != nil {
		t.Fatalf("snapshot with the old secret field: %v", err)
	}
	if c := dst.Cluster(); c != (ClusterInfo{ID: "c1"}) {
		t.Fatalf("restored cluster %+v", c)
	}
}

func TestBootstrapToken_OnlyOnceEver(t *testing.T) {
	f := newTestFSM(t)
	f.refuse(BootstrapToken{Token: Token{ID: "root"}}, ErrInvalid)
	if f.Cluster().TokenBootstrapped {
		t.Fatal("a refused bootstrap marked the cluster bootstrapped")
	}
	root := testToken("root", "root", "root-secret")
	f.must(BootstrapToken{Token: root})
	if !f.Cluster().TokenBootstrapped {
		t.Fatal("cluster not marked bootstrapped")
	}
	if got, err := f.TokenByHash(HashSecret("root-secret")); err != nil || got.ID != "root" {
		t.Fatalf("root token: %+v %v", got, err)
	}
	f.refuse(BootstrapToken{Token: testToken("root-2", "root", "other")}, ErrConflict)
	f.must(RevokeToken{ID: "root"})
	// A node restarting with the same --bootstrap-token must not bring it back.
	f.refuse(BootstrapToken{Token: root}, ErrConflict)
	if _, err := f.Token("root"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoked root token came back: %v", err)
	}
	// InitCluster after bootstrapping keeps the flag.
	f.must(InitCluster{ClusterID: "c1", At: t0})
	if c := f.Cluster(); !c.TokenBootstrapped || c.ID != "c1" {
		t.Fatalf("cluster %+v", c)
	}
}

func TestHashSecret(t *testing.T) {
	// Known SHA-256 of "abc", so stored hashes stay valid across releases.
	if got := HashSecret("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("HashSecret(abc) = %s", got)
	}
}
