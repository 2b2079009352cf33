package fsm

import (
	"testing"
	"time"
)

func tenantFSM(t *testing.T) *testFSM {
	t.Helper()
	f := newTestFSM(t)
	now := time.Now().UTC()
	f.must(&CreateProject{Project: Project{Name: "prod", CreatedAt: now}})
	f.must(&CreateUser{User: User{Name: "alice", PasswordHash: "$argon2id$x", CreatedAt: now}})
	f.must(&CreateRole{Role: Role{Name: "starter", Permissions: []string{"vm:read"}, CreatedAt: now}})
	return f
}

// Members bind users and groups to roles in a project; the compiled lookup
// follows every change, a restore, and the deletion of the user or project.
func TestSetMember_BindsAndTheLookupFollows(t *testing.T) {
	f := tenantFSM(t)
	f.must(&SetMember{Project: "prod", User: "alice", Role: "operator"})
	f.must(&SetMember{Project: "prod", Group: "devs", Role: "starter"})
	if got := f.Bindings("alice", []string{"devs"}); len(got["prod"]) != 2 || got["prod"][0] != "operator" || got["prod"][1] != "starter" {
		t.Fatalf("alice's bindings = %v", got)
	}
	f.must(&SetMember{Project: "prod", User: "alice", Role: "viewer"}) // replaces
	if got := f.Bindings("alice", nil); len(got["prod"]) != 1 || got["prod"][0] != "viewer" {
		t.Fatalf("after the change: %v", got)
	}
	for _, bad := range []struct {
		cmd  SetMember
		kind error
	}{
		{SetMember{Project: "prod", User: "alice", Group: "devs", Role: "viewer"}, ErrInvalid},
		{SetMember{Project: "prod", Role: "viewer"}, ErrInvalid},
		{SetMember{Project: "nope", User: "alice", Role: "viewer"}, ErrNotFound},
		{SetMember{Project: "prod", User: "bob", Role: "viewer"}, ErrNotFound},
		{SetMember{Project: "prod", User: "alice", Role: "king"}, ErrNotFound},
		{SetMember{Project: "prod", User: "carol"}, ErrNotFound}, // removing who is not there
	} {
		f.refuse(&bad.cmd, bad.kind)
	}
	f.refuse(&DeleteRole{Name: "starter"}, ErrState) // still bound to devs

	restored := New()
	if err := restoreBytes(restored, snapshotBytes(t, f.FSM)); err != nil {
		t.Fatal(err)
	}
	if got := restored.Bindings("alice", []string{"devs"}); len(got["prod"]) != 2 {
		t.Fatalf("restored bindings = %v", got)
	}
	if r, err := restored.Role("starter"); err != nil || r.Permissions[0] != "vm:read" {
		t.Fatalf("restored role = %+v, %v", r, err)
	}

	f.must(&DeleteUser{Name: "alice"})
	if p, _, _ := f.Project("prod"); len(p.Members) != 1 || len(f.Bindings("alice", nil)) != 0 {
		t.Fatalf("after the user went: members %+v, bindings %v", p.Members, f.Bindings("alice", nil))
	}
	f.must(&SetMember{Project: "prod", Group: "devs"}) // removal
	f.must(&DeleteRole{Name: "starter"})
	f.refuse(&CreateRole{Role: Role{Name: "viewer", Permissions: []string{"vm:read"}}}, ErrConflict) // a built-in name
	// Nobody can become the built-in root user, whose keys are cluster admins.
	f.refuse(&CreateUser{User: User{Name: RootUser, PasswordHash: "$argon2id$x"}}, ErrConflict)
}

// The audit ring keeps the newest entries up to the setting, numbers them
// in order, survives a snapshot, and answers queries newest first.
func TestRecordAudit_RingIsBoundedAndOrdered(t *testing.T) {
	f := newTestFSM(t)
	set := DefaultSettings()
	set.Retention.AuditEntries = 100
	f.must(&SetSettings{Settings: set})
	t0 := time.Now().UTC()
	for i := range 3 {
		batch := make([]AuditEntry, 0, 50)
		for j := range 50 {
			batch = append(batch, AuditEntry{At: t0.Add(time.Duration(i*50+j) * time.Second), Actor: "alice", Action: "POST /api/v1/vms", Project: []string{"a", "b"}[j%2], Status: 201})
		}
		f.must(&RecordAudit{Entries: batch})
	}
	all := f.Audit(AuditQuery{Max: 1000})
	if len(all) != 100 || all[0].Seq != 150 || all[99].Seq != 51 {
		t.Fatalf("%d entries, newest %d, oldest %d; want 100, 150, 51", len(all), all[0].Seq, all[99].Seq)
	}
	if got := f.Audit(AuditQuery{Project: "a", Max: 1000, Before: 100}); len(got) != 25 || got[0].Seq != 99 {
		t.Fatalf("project a before 100: %d entries, first %d", len(got), got[0].Seq)
	}
	if got := f.Audit(AuditQuery{Since: t0.Add(140 * time.Second), Max: 1000}); len(got) != 10 {
		t.Fatalf("since: %d entries, want 10", len(got))
	}
	restored := New()
	if err := restoreBytes(restored, snapshotBytes(t, f.FSM)); err != nil {
		t.Fatal(err)
	}
	if got := restored.Audit(AuditQuery{Max: 1000}); len(got) != 100 || got[0].Seq != 150 {
		t.Fatalf("restored: %d entries, newest %d", len(got), got[0].Seq)
	}
	long := AuditEntry{Action: string(make([]byte, 5000)), Message: string(make([]byte, 5000))}
	f.must(&RecordAudit{Entries: []AuditEntry{long}})
	if e := f.Audit(AuditQuery{Max: 1})[0]; len(e.Action) > maxAuditField || len(e.Message) > maxAuditMessage {
		t.Fatalf("an entry kept %d and %d bytes", len(e.Action), len(e.Message))
	}
	f.refuse(&RecordAudit{Entries: make([]AuditEntry, MaxAuditBatch+1)}, ErrInvalid)
}
