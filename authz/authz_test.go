package authz

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
)

// The FSM keeps the built-in role names (a binding to one needs no custom
// role) and authz what they grant: the two lists are the same.
func TestBuiltinRoles_MatchFSM(t *testing.T) {
	if got := BuiltinRoles(); !slices.Equal(got, fsm.BuiltinRoles) {
		t.Fatalf("authz.BuiltinRoles() = %v, fsm.BuiltinRoles = %v", got, fsm.BuiltinRoles)
	}
	if DefaultRole != "viewer" {
		t.Fatalf("DefaultRole = %q, want the weakest role, viewer", DefaultRole)
	}
	for _, r := range BuiltinRoles() {
		if _, ok := RolePerms(nil, r); !ok {
			t.Errorf("built-in role %q grants nothing", r)
		}
	}
	// Issue 11's names keep their meaning.
	admin, _ := RolePerms(nil, "admin")
	clusterAdmin, _ := RolePerms(nil, "cluster-admin")
	reader, _ := RolePerms(nil, "reader")
	viewer, _ := RolePerms(nil, "viewer")
	if !slices.Equal(admin, clusterAdmin) || !slices.Equal(reader, viewer) {
		t.Fatal("admin is not cluster-admin, or reader is not viewer")
	}
	if grants(viewer, Write("vm")) || !grants(viewer, Read("vm")) || grants(viewer, Read("token")) {
		t.Fatal("viewer grants a write, or lacks vm:read, or reads keys")
	}
	if c, _ := RolePerms(nil, "cluster-reader"); grants(c, Read("operator")) || grants(c, Write("vm")) {
		t.Fatal("cluster-reader reads the gossip keys or writes")
	}
	if p, _ := RolePerms(nil, "project-admin"); !grants(p, Write("member")) || grants(p, Write("project")) {
		t.Fatal("project-admin cannot bind members, or may change its own quota")
	}
}

func TestParsePerm(t *testing.T) {
	for _, ok := range []string{"vm:read", "vm:write", "vm:*", "*:read", "*:*", "audit:read"} {
		if _, err := ParsePerm(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"vm", "vm:", ":read", "vms:read", "vm:delete", "vm:read:x"} {
		if _, err := ParsePerm(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
	if err := CheckCustomRole(fsm.Role{Name: "viewer", Permissions: []string{"vm:read"}}); err == nil {
		t.Error("a custom role took a built-in name")
	}
	if err := CheckCustomRole(fsm.Role{Name: "starter", Permissions: []string{"vm:read", "nodes:write"}}); err == nil {
		t.Error("a custom role named an unknown resource")
	}
}

func TestExpired(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		expires time.Time
		want    bool
	}{
		{time.Time{}, false},
		{now.Add(time.Second), false},
		{now, true},
		{now.Add(-time.Second), true},
	}
	for _, c := range cases {
		if got := Expired(fsm.Token{ExpiresAt: c.expires}, now); got != c.want {
			t.Errorf("expires %v: Expired = %v, want %v", c.expires, got, c.want)
		}
	}
}

func TestErrorf_MatchesItsSentinelAndReadsAsTheMessage(t *testing.T) {
	err := Errorf(ErrForbidden, "role %q may not", "reader")
	if !errors.Is(err, ErrForbidden) || errors.Is(err, ErrUnauthenticated) || err.Error() != `role "reader" may not` {
		t.Fatalf("Errorf: %v", err)
	}
}
