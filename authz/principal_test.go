package authz

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
)

// tenants is a real state with two projects and their people:
//
//	prod: alice operator, bob viewer, carol project-admin
//	dev:  alice viewer, group devs operator
//	dave: cluster-reader, erin: no role anywhere, root: the built-in admin
//
// and a VM in each project, keys of alice's and the root user's.
type tenants struct {
	f   *fsm.FSM
	idx uint64
	t   *testing.T
}

func newTenants(t *testing.T) *tenants {
	t.Helper()
	s := &tenants{f: fsm.New(), t: t}
	now := time.Now().UTC()
	s.apply(&fsm.CreateProject{Project: fsm.Project{Name: "prod", CreatedAt: now}})
	s.apply(&fsm.CreateProject{Project: fsm.Project{Name: "dev", CreatedAt: now}})
	for name, role := range map[string]string{"alice": "", "bob": "", "carol": "", "dave": "cluster-reader", "erin": ""} {
		s.apply(&fsm.CreateUser{User: fsm.User{Name: name, Role: role, PasswordHash: "$argon2id$x", CreatedAt: now}})
	}
	s.apply(&fsm.SetMember{Project: "prod", User: "alice", Role: "operator"})
	s.apply(&fsm.SetMember{Project: "prod", User: "bob", Role: "viewer"})
	s.apply(&fsm.SetMember{Project: "prod", User: "carol", Role: "project-admin"})
	s.apply(&fsm.SetMember{Project: "dev", User: "alice", Role: "viewer"})
	s.apply(&fsm.SetMember{Project: "dev", Group: "devs", Role: "operator"})
	for _, vm := range []struct{ id, project string }{{"vm-prod", "prod"}, {"vm-dev", "dev"}} {
		s.apply(&fsm.CreateVM{ID: vm.id, Project: vm.project, Spec: fsm.VMSpec{Name: "web", VCPUs: 1, MemoryMiB: 256, DiskGiB: 1}, At: now})
	}
	return s
}

func (s *tenants) apply(cmd fsm.Command) {
	s.t.Helper()
	s.idx++
	if err := s.f.ApplyCommand(cmd, s.idx); err != nil {
		s.t.Fatalf("%s: %v", cmd.Type(), err)
	}
}

func (s *tenants) user(name string, groups ...string) *Principal {
	s.t.Helper()
	ses := fsm.Session{ID: "ses-" + name, User: name}
	if len(groups) > 0 {
		ses = fsm.Session{ID: "ses-" + name, User: "oidc:" + name, Provider: fsm.ProviderOIDC, Groups: groups}
	}
	p, err := ForSession(s.f, ses)
	if err != nil {
		s.t.Fatal(err)
	}
	return p
}

func (s *tenants) key(user, role, project string) *Principal {
	s.t.Helper()
	p, err := ForKey(s.f, fsm.Token{ID: "key-" + user, Name: user + "-key", User: user, Role: role, Project: project})
	if err != nil {
		s.t.Fatal(err)
	}
	return p
}

func TestPrincipal_ProjectRolesHoldOnlyInTheirProject(t *testing.T) {
	s := newTenants(t)
	alice, bob, carol, dave, erin := s.user("alice"), s.user("bob"), s.user("carol"), s.user("dave"), s.user("erin")
	root := s.key("", "admin", "")
	cases := []struct {
		p       *Principal
		project string
		perm    Perm
		want    bool
	}{
		{alice, "prod", Write("vm"), true},
		{alice, "dev", Write("vm"), false},
		{alice, "dev", Read("vm"), true},
		{alice, "other", Read("vm"), false},
		{alice, "", Read("vm"), false}, // a project role is no cluster grant
		{alice, "prod", Write("node"), false},
		{alice, "prod", Write("project"), false},
		{bob, "prod", Read("vm"), true},
		{bob, "prod", Write("vm"), false},
		{carol, "prod", Write("member"), true},
		{carol, "dev", Write("member"), false},
		{carol, "prod", Write("settings"), false},
		{dave, "prod", Read("vm"), true},
		{dave, "", Read("user"), true},
		{dave, "prod", Write("vm"), false},
		{dave, "", Read("operator"), false},
		{erin, "prod", Read("vm"), false},
		{erin, "default", Read("vm"), false},
		{root, "", Write("settings"), true},
		{root, "prod", Write("vm"), true},
		{s.user("erin", "devs"), "dev", Write("vm"), true},
		{s.user("erin", "devs"), "prod", Read("vm"), false},
	}
	for _, c := range cases {
		if got := c.p.Allowed(c.project, c.perm); got != c.want {
			t.Errorf("%s %s in %q: Allowed = %v, want %v", c.p.User, c.perm, c.project, got, c.want)
		}
	}
	if got := bob.Explain("prod", Write("vm")); got != "role viewer in project prod lacks vm:write" {
		t.Errorf("bob's refusal reads %q", got)
	}
	if got := erin.Explain("prod", Read("vm")); got != "user erin has no role in project prod, so lacks vm:read" {
		t.Errorf("erin's refusal reads %q", got)
	}
	if got, all := alice.Projects(Read("vm")); all || strings.Join(got, ",") != "dev,prod" {
		t.Errorf("alice reads VMs in %v (all %v), want dev and prod", got, all)
	}
	if _, all := dave.Projects(Read("vm")); !all {
		t.Error("a cluster reader does not read every project")
	}
}

// A key does what both its role, in its scope, and its user allow.
func TestPrincipal_AKeyIsTheIntersectionOfItsRoleAndItsUser(t *testing.T) {
	s := newTenants(t)
	viewerKey := s.key("alice", "viewer", "prod")
	if viewerKey.Allowed("prod", Write("vm")) || !viewerKey.Allowed("prod", Read("vm")) {
		t.Error("alice's viewer key in prod: wrong rights in prod")
	}
	if viewerKey.Allowed("dev", Read("vm")) {
		t.Error("a key scoped to prod reads dev, where its user may")
	}
	// An admin role on a key does not lift its user.
	adminKey := s.key("alice", "cluster-admin", "")
	if adminKey.Allowed("", Write("settings")) || adminKey.Allowed("dev", Write("vm")) || !adminKey.Allowed("prod", Write("vm")) {
		t.Error("alice's cluster-admin key is not bounded by alice")
	}
	if got := viewerKey.Explain("prod", Write("vm")); got != `role viewer of key "alice-key", scoped to project prod, lacks vm:write in project prod` {
		t.Errorf("the key's refusal reads %q", got)
	}
	if viewerKey.ManagesOwnKeys("write") || !s.user("alice").ManagesOwnKeys("write") {
		t.Error("a viewer key manages its user's keys, or a session does not")
	}
}

// A principal can hand on only what it has: a key or a binding stronger
// than its maker is refused, naming the permission.
func TestPrincipal_WithinRefusesEscalation(t *testing.T) {
	s := newTenants(t)
	carol, alice := s.user("carol"), s.user("alice")
	for _, c := range []struct {
		p             *Principal
		role, project string
		want          string // "" allowed
	}{
		{carol, "operator", "prod", ""},
		{carol, "project-admin", "prod", ""},
		{carol, "viewer", "dev", "no role in project dev"},
		{carol, "cluster-admin", "", "lacks"},
		{alice, "operator", "prod", ""},
		{alice, "viewer", "", "lacks"},
		{alice, "project-admin", "prod", "role operator in project prod lacks"},
	} {
		err := c.p.Within(s.f, c.role, c.project)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s giving %s in %q: %v", c.p.User, c.role, c.project, err)
		case c.want != "" && (!errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s giving %s in %q: %v, want forbidden with %q", c.p.User, c.role, c.project, err, c.want)
		}
	}
}
