package fsm

import (
	"testing"
	"time"
)

func testUser(name string) User {
	return User{Name: name, Role: "operator", PasswordHash: "$argon2id$hash-of-" + name, CreatedAt: t0, UpdatedAt: t0}
}

// Sessions belong to a live, enabled user: a new password, a disabled user
// or a deleted one ends them; a session's expiry only moves forward.
func TestSessions_EndWithTheirUser(t *testing.T) {
	f := newTestFSM(t)
	f.must(CreateUser{User: testUser("alice")})
	f.refuse(CreateUser{User: testUser("alice")}, ErrConflict)
	f.refuse(CreateSession{Session: Session{ID: "s0", Hash: "h0", User: "bob", CreatedAt: t0}}, ErrNotFound)
	f.must(CreateSession{Session: Session{ID: "s1", Hash: "h1", User: "alice", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}})
	f.refuse(CreateSession{Session: Session{ID: "s2", Hash: "h1", User: "alice", CreatedAt: t0}}, ErrConflict)

	f.must(RefreshSession{ID: "s1", ExpiresAt: t0.Add(2 * time.Hour)})
	f.must(RefreshSession{ID: "s1", ExpiresAt: t0.Add(30 * time.Minute)}) // never back
	if s, _ := f.SessionByHash("h1"); !s.ExpiresAt.Equal(t0.Add(2 * time.Hour)) {
		t.Fatalf("expiry %v, want the later one", s.ExpiresAt)
	}

	f.must(UpdateUser{Name: "alice", Role: "reader", At: t0}) // a role change keeps the session
	if _, err := f.Session("s1"); err != nil {
		t.Fatalf("a role change ended the session: %v", err)
	}
	f.must(UpdateUser{Name: "alice", PasswordHash: "$argon2id$new", At: t0})
	if _, err := f.SessionByHash("h1"); err == nil {
		t.Fatal("a new password kept the old session")
	}
	f.must(CreateSession{Session: Session{ID: "s3", Hash: "h3", User: "alice", CreatedAt: t0}})
	f.must(UpdateUser{Name: "alice", Disabled: ptr(true), At: t0})
	if _, err := f.Session("s3"); err == nil {
		t.Fatal("disabling the user kept its session")
	}
	f.refuse(CreateSession{Session: Session{ID: "s4", Hash: "h4", User: "alice", CreatedAt: t0}}, ErrState)
	f.must(UpdateUser{Name: "alice", Disabled: ptr(false), At: t0})
	f.must(CreateSession{Session: Session{ID: "s5", Hash: "h5", User: "alice", CreatedAt: t0}})
	f.must(DeleteUser{Name: "alice"})
	if len(f.Sessions("")) != 0 || len(f.Users()) != 0 {
		t.Fatalf("after the delete: %v sessions, %v users", f.Sessions(""), f.Users())
	}
}

// A user's sessions are bounded: past the bound the oldest ends.
func TestSessions_BoundedPerUser(t *testing.T) {
	f := newTestFSM(t)
	f.must(CreateUser{User: testUser("bot")})
	for i := range MaxSessionsPerUser + 1 {
		f.must(CreateSession{Session: Session{ID: numbered("s", i), Hash: numbered("h", i), User: "bot", CreatedAt: t0.Add(time.Duration(i) * time.Second)}})
	}
	got := f.Sessions("bot")
	if len(got) != MaxSessionsPerUser || got[0].ID != "s-1" {
		t.Fatalf("%d sessions, the oldest %s; want %d, the first one ended", len(got), got[0].ID, MaxSessionsPerUser)
	}
	if _, err := f.SessionByHash("h-0"); err == nil {
		t.Fatal("the ended session's secret still finds it")
	}
	g := New()
	if err := restoreBytes(g, snapshotBytes(t, f.FSM)); err != nil {
		t.Fatal(err)
	}
	assertSameState(t, dump(f.FSM), dump(g))
	if s, err := g.SessionByHash("h-5"); err != nil || s.User != "bot" {
		t.Fatalf("after a restore: %+v, %v", s, err)
	}
}
