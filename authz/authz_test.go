package authz

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
)

func TestRoles_Table(t *testing.T) {
	if got, want := Roles(), []string{"admin", "operator", "reader"}; !slices.Equal(got, want) {
		t.Fatalf("Roles() = %v, want %v", got, want)
	}
	if ValidRole("root") || !ValidRole("reader") || !ValidRole(DefaultRole) {
		t.Fatal("ValidRole disagrees with the table")
	}
	if DefaultRole != "reader" {
		t.Fatalf("DefaultRole = %q, want the weakest role, reader", DefaultRole)
	}
	cases := []struct {
		role string
		p    Perm
		want bool
	}{
		{"admin", Perm{"token", "write"}, true},
		{"admin", Perm{"vm", "write"}, true},
		{"operator", Perm{"vm", "write"}, true},
		{"operator", Perm{"node", "write"}, true},
		{"operator", Perm{"cluster", "write"}, false},
		{"operator", Perm{"token", "read"}, false},
		{"reader", Perm{"vm", "read"}, true},
		{"reader", Perm{"vm", "write"}, false},
		{"reader", Perm{"node", "write"}, false},
		{"reader", Perm{"migration", "read"}, true},
		{"reader", Perm{"migration", "write"}, false},
		{"reader", Perm{"settings", "read"}, true},
		{"operator", Perm{"migration", "write"}, true},
		{"operator", Perm{"settings", "read"}, true},
		{"operator", Perm{"settings", "write"}, false},
		{"admin", Perm{"settings", "write"}, true},
		{"nobody", Perm{"vm", "read"}, false},
		{"", Perm{"vm", "read"}, false},
	}
	for _, c := range cases {
		if got := Allowed(c.role, c.p); got != c.want {
			t.Errorf("Allowed(%s, %v) = %v, want %v", c.role, c.p, got, c.want)
		}
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
