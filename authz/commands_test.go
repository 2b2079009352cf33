package authz

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
)

// origins parses who applies a command type, as fsm.ForwardedBy words it:
// "api; host: why" is {"api", "host"}.
func origins(by string) []string {
	var out []string
	for _, part := range strings.Split(by, ";") {
		name, _, _ := strings.Cut(strings.TrimSpace(part), ":")
		out = append(out, strings.TrimSpace(name))
	}
	return out
}

// Every command type the leader takes from other nodes says who may cause
// it, and agrees with fsm's record of who applies it: a type the API applies
// needs a user permission, a type nodes apply on their own (host, cluster,
// control, fleet) is node-originated, and some are both (VMAction: users and
// hosts; CreateMigration: users and the leader's loops).
func TestCommands_EveryForwardableTypeClassified(t *testing.T) {
	by := fsm.ForwardedBy()
	if len(by) == 0 {
		t.Fatal("fsm forwards no command type")
	}
	for typ, who := range by {
		r, ok := CommandRule(typ)
		if !ok {
			t.Errorf("%s: forwardable but not classified; add it to authz's commands table", typ)
			continue
		}
		src := origins(who)
		for _, o := range src {
			if !slices.Contains([]string{"api", "host", "cluster", "control", "fleet", "login"}, o) {
				t.Errorf("%s: fsm says it is applied by %q, which authz does not know (%q)", typ, o, who)
			}
		}
		user := slices.Contains(src, "api")
		node := slices.ContainsFunc(src, func(o string) bool { return o != "api" })
		if hasUser := r.User != (Perm{}); hasUser != user {
			t.Errorf("%s: user permission %v, but fsm says it is applied by %q", typ, r.User, who)
		}
		if r.Node != node {
			t.Errorf("%s: node-originated %v, but fsm says it is applied by %q", typ, r.Node, who)
		}
		if r.User == (Perm{}) && !r.Node {
			t.Errorf("%s: neither a user nor a node may cause it", typ)
		}
		if r.User != (Perm{}) && r.User != self && !grants(builtin["cluster-admin"].perms, r.User) {
			t.Errorf("%s: needs %v, which no role grants", typ, r.User)
		}
	}
	for typ := range commands {
		if _, ok := by[typ]; !ok {
			t.Errorf("%s is classified but the leader never takes it from another node", typ)
		}
	}
	if _, ok := CommandRule(fsm.CmdInitCluster); ok {
		t.Error("InitCluster, written by the leader itself, is classified")
	}
}

func mustBatch(t *testing.T, cmds ...fsm.Command) *fsm.Batch {
	t.Helper()
	b, err := fsm.NewBatch(cmds...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The leader's check of each command a user causes: the permission in the
// command's own project (the VM's, never one the request names), and the
// escalation checks.
func TestAuthorizeUser(t *testing.T) {
	s := newTenants(t)
	alice, bob, carol, erin := s.user("alice"), s.user("bob"), s.user("carol"), s.user("erin")
	root := s.key("", "admin", "")
	now := time.Now().UTC()
	cases := []struct {
		what string
		p    *Principal
		cmd  fsm.Command
		want string // "" for allowed, else a part of the refusal
	}{
		{"operator creates in its project", alice, &fsm.CreateVM{Project: "prod"}, ""},
		{"operator creates in a project it only views", alice, &fsm.CreateVM{Project: "dev"}, "role viewer in project dev lacks vm:write"},
		{"a create without a project goes to default", alice, &fsm.CreateVM{}, "no role in project default"},
		{"operator stops its project's VM", alice, fsm.VMAction{ID: "vm-prod", Action: "stop"}, ""},
		{"operator deletes another project's VM", alice, &fsm.DeleteVM{ID: "vm-dev"}, "lacks vm:write"},
		{"viewer updates", bob, &fsm.UpdateVM{ID: "vm-prod"}, "role viewer in project prod lacks vm:write"},
		{"a VM that is gone: Apply answers", bob, &fsm.DeleteVM{ID: "gone"}, ""},
		{"operator migrates its VM", alice, &fsm.CreateMigration{VMID: "vm-prod"}, ""},
		{"operator drains a node", alice, &fsm.SetMaintenance{}, "lacks node:write"},
		{"project admin binds an operator", carol, &fsm.SetMember{Project: "prod", User: "erin", Role: "operator"}, ""},
		{"project admin makes a cluster admin", carol, &fsm.SetMember{Project: "prod", User: "erin", Role: "cluster-admin"}, "SetMember: role cluster-admin grants"},
		{"project admin binds in another project", carol, &fsm.SetMember{Project: "dev", User: "erin", Role: "viewer"}, "lacks member:write"},
		{"operator binds a role", alice, &fsm.SetMember{Project: "prod", User: "erin", Role: "viewer"}, "role operator in project prod lacks member:write"},
		{"project admin changes its quota", carol, &fsm.UpdateProject{Name: "prod"}, "lacks project:write"},
		{"project admin touches settings", carol, &fsm.SetSettings{}, "lacks settings:write"},
		{"a user changes its own role", erin, &fsm.UpdateUser{Name: "erin", Role: "cluster-admin"}, "lacks user:write"},
		{"a user makes its own key", alice, &fsm.CreateToken{Token: fsm.Token{User: "alice", Role: "viewer", Project: "prod"}}, ""},
		{"a key stronger than its user", alice, &fsm.CreateToken{Token: fsm.Token{User: "alice", Role: "operator", Project: "dev"}}, "a key may not be stronger than its user"},
		{"a key for someone else", alice, &fsm.CreateToken{Token: fsm.Token{User: "bob", Role: "viewer"}}, "may not make one for bob"},
		{"root makes an admin key", root, &fsm.CreateToken{Token: fsm.Token{User: "root", Role: "admin"}}, ""},
		{"a custom role with a built-in name", root, &fsm.CreateRole{Role: fsm.Role{Name: "viewer", Permissions: []string{"vm:read"}, CreatedAt: now}}, "built in"},
		// Written only by nodes: no user may send it, not even root.
		{"root reports a VM", root, &fsm.ReportVM{}, "ReportVM is written only by the cluster's nodes"},
		{"root sends a batch", root, mustBatch(t, &fsm.CreateVM{}), "Batch is written only by the cluster's nodes"},
	}
	for _, c := range cases {
		err := AuthorizeUser(c.p, c.cmd, s.f)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused: %v", c.what, err)
		case c.want != "" && (!errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want forbidden with %q", c.what, err, c.want)
		}
	}
	// An image import and an alert are their project's: a viewer there
	// cancels or acknowledges neither, an operator both.
	s.apply(&fsm.CreateImage{Image: fsm.Image{ID: "img-dev", Project: "dev", Name: "d", Source: "/images/d.qcow2", Importer: "n1", CreatedAt: now}})
	s.apply(&fsm.UpdateAlerts{Upserts: []fsm.Alert{{ID: "vm_crashed:vm:vm-dev", Rule: "vm_crashed", Project: "dev", State: fsm.AlertFiring}}, At: now})
	for _, cmd := range []fsm.Command{&fsm.CancelImageImport{ID: "img-dev"}, &fsm.AckAlert{ID: "vm_crashed:vm:vm-dev"}} {
		if err := AuthorizeUser(alice, cmd, s.f); !errors.Is(err, ErrForbidden) {
			t.Errorf("a viewer of dev: %T allowed (%v)", cmd, err)
		}
		if err := AuthorizeUser(root, cmd, s.f); err != nil {
			t.Errorf("root: %T refused: %v", cmd, err)
		}
	}
	// A key is revoked by its user, or by whoever holds token:write.
	s.apply(&fsm.CreateToken{Token: fsm.Token{ID: "k-bob", Name: "bobs", User: "bob", Role: "viewer", Hash: "h"}})
	if err := AuthorizeUser(alice, &fsm.RevokeToken{ID: "k-bob"}, s.f); !errors.Is(err, ErrForbidden) {
		t.Errorf("alice revoking bob's key: %v", err)
	}
	for _, p := range []*Principal{s.user("bob"), root} {
		if err := AuthorizeUser(p, &fsm.RevokeToken{ID: "k-bob"}, s.f); err != nil {
			t.Errorf("%s revoking bob's key: %v", p.User, err)
		}
	}
}

func TestAuthorizeNode(t *testing.T) {
	for _, c := range []fsm.Command{&fsm.ReportVM{}, fsm.ReportHost{}, &fsm.VMAction{}, &fsm.CreateMigration{},
		&fsm.UpdateMigration{}, &fsm.RegisterNode{}, &fsm.BootstrapToken{}, mustBatch(t, &fsm.ReportVM{}, &fsm.ReportVM{})} {
		if err := AuthorizeNode(c); err != nil {
			t.Errorf("%s: %v", c.Type(), err)
		}
	}
	for _, c := range []fsm.Command{&fsm.CreateVM{}, &fsm.CreateToken{}, &fsm.SetSettings{}, &fsm.SetMaintenance{},
		&fsm.CancelMigration{}, &fsm.InitCluster{}, mustBatch(t, &fsm.ReportVM{}, &fsm.CreateToken{})} {
		err := AuthorizeNode(c)
		if !errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), "a node may not apply it on its own") {
			t.Errorf("%s: %v, want forbidden", c.Type(), err)
		}
	}
}

// The checks sit on the write path: a lone command costs map lookups and no
// allocation once the principal is built.
func TestAuthorize_NoAllocations(t *testing.T) {
	s := newTenants(t)
	root := s.key("", "admin", "")
	cmd := &fsm.CreateVM{Project: "prod"}
	if n := testing.AllocsPerRun(100, func() {
		_ = AuthorizeUser(root, cmd, s.f)
		_ = AuthorizeNode(fsm.ReportVM{})
	}); n != 0 {
		t.Fatalf("%v allocations per check, want 0", n)
	}
}
