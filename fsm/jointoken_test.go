package fsm

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func testJoinToken(id, secret string, uses int) JoinToken {
	return JoinToken{ID: id, Hash: HashSecret(secret), UsesLeft: uses, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
}

// A token enrolls as many hosts as it has uses, then is gone; a wrong secret,
// an expired token or a revoked one enrolls nobody.
func TestJoinToken_UsesExpiryAndRevocation(t *testing.T) {
	f := newTestFSM(t)
	f.must(CreateJoinToken{Token: testJoinToken("j1", "s1", 2)})
	f.refuse(UseJoinToken{ID: "j1", Hash: HashSecret("wrong"), Node: "n2", At: t0}, ErrState)
	f.must(UseJoinToken{ID: "j1", Hash: HashSecret("s1"), Node: "n2", At: t0.Add(time.Minute)})
	if tok, err := f.JoinToken("j1"); err != nil || tok.UsesLeft != 1 || strings.Join(tok.Enrolled, ",") != "n2" {
		t.Fatalf("after one use: %+v %v", tok, err)
	}
	f.must(UseJoinToken{ID: "j1", Hash: HashSecret("s1"), Node: "n3", At: t0.Add(time.Minute)})
	if err := f.refuse(UseJoinToken{ID: "j1", Hash: HashSecret("s1"), Node: "n4", At: t0.Add(time.Minute)}, ErrState); !strings.Contains(err.Error(), "used up") {
		t.Fatalf("a used-up token: %v", err)
	}
	if len(f.JoinTokens()) != 0 {
		t.Fatalf("a used-up token is kept: %+v", f.JoinTokens())
	}

	f.must(CreateJoinToken{Token: testJoinToken("j2", "s2", 1)})
	if err := f.refuse(UseJoinToken{ID: "j2", Hash: HashSecret("s2"), Node: "n5", At: t0.Add(time.Hour)}, ErrState); !strings.Contains(err.Error(), "expired") {
		t.Fatalf("an expired token: %v", err)
	}
	f.must(CreateJoinToken{Token: testJoinToken("j3", "s3", 1)})
	f.must(RevokeJoinToken{ID: "j3"})
	f.refuse(UseJoinToken{ID: "j3", Hash: HashSecret("s3"), Node: "n6", At: t0}, ErrState)
	f.refuse(RevokeJoinToken{ID: "j3"}, ErrNotFound)
	f.must(CreateJoinToken{Token: testJoinToken("j4", "s4", 1)})
	f.refuse(UseJoinToken{ID: "j4", Hash: HashSecret("s4"), Node: "bad name", At: t0}, ErrInvalid)
}

func TestJoinToken_CreateChecksAndBounds(t *testing.T) {
	f := newTestFSM(t)
	bad := testJoinToken("j", "s", 0)
	f.refuse(CreateJoinToken{Token: bad}, ErrInvalid)
	bad = testJoinToken("j", "s", MaxJoinTokenUses+1)
	f.refuse(CreateJoinToken{Token: bad}, ErrInvalid)
	bad = testJoinToken("j", "s", 1)
	bad.ExpiresAt = bad.CreatedAt
	f.refuse(CreateJoinToken{Token: bad}, ErrInvalid)
	f.refuse(CreateJoinToken{Token: JoinToken{ID: "j", Hash: "short", UsesLeft: 1, CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}}, ErrInvalid)
	for i := range MaxJoinTokens {
		f.must(CreateJoinToken{Token: testJoinToken(fmt.Sprintf("j%d", i), fmt.Sprintf("s%d", i), 1)})
	}
	f.refuse(CreateJoinToken{Token: testJoinToken("j0", "x", 1)}, ErrConflict)
	if err := f.refuse(CreateJoinToken{Token: testJoinToken("one-more", "x", 1)}, ErrConflict); !strings.Contains(err.Error(), "outstanding") {
		t.Fatalf("past the bound: %v", err)
	}
	// Tokens that expired by the time a new one is made make room for it.
	later := testJoinToken("later", "x", 1)
	later.CreatedAt, later.ExpiresAt = t0.Add(2*time.Hour), t0.Add(3*time.Hour)
	f.must(CreateJoinToken{Token: later})
	if n := len(f.JoinTokens()); n != 1 {
		t.Fatalf("%d join tokens after the expired ones were dropped, want 1", n)
	}
}

// The cluster CA is set once, and both it and the join tokens survive a
// snapshot.
func TestJoinToken_ClusterCAAndSnapshot(t *testing.T) {
	f := newTestFSM(t)
	f.refuse(SetClusterCA{CertPEM: "cert"}, ErrInvalid)
	f.must(SetClusterCA{CertPEM: "cert", KeyPEM: "key"})
	f.must(SetClusterCA{CertPEM: "other", KeyPEM: "other"})
	if c := f.Cluster(); c.CACert != "cert" || c.CAKey != "key" {
		t.Fatalf("cluster CA %q %q, want the first one kept", c.CACert, c.CAKey)
	}
	f.must(CreateJoinToken{Token: testJoinToken("j1", "s1", 3)})
	f.must(UseJoinToken{ID: "j1", Hash: HashSecret("s1"), Node: "n2", At: t0})
	g := New()
	if err := restoreBytes(g, snapshotBytes(t, f.FSM)); err != nil {
		t.Fatal(err)
	}
	tok, err := g.JoinToken("j1")
	if err != nil || tok.UsesLeft != 2 || len(tok.Enrolled) != 1 || g.Cluster().CAKey != "key" {
		t.Fatalf("restored: %+v %v, CA key %q", tok, err, g.Cluster().CAKey)
	}
}
