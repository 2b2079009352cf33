package authz

import (
	"errors"
	"slices"
	"strings"
	"testing"

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
		if r.User != (Perm{}) && !Allowed("admin", r.User) {
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

func TestAuthorizeUser(t *testing.T) {
	cases := []struct {
		role string
		cmd  fsm.Command
		want string // "" for allowed, else a part of the refusal
	}{
		{"operator", &fsm.CreateVM{}, ""},
		{"operator", fsm.VMAction{}, ""},
		{"operator", &fsm.CreateMigration{}, ""},
		{"operator", &fsm.SetMaintenance{}, ""},
		{"reader", &fsm.CreateVM{}, `role "reader" may not apply CreateVM: it needs permission to write vm`},
		{"operator", &fsm.CreateToken{}, `role "operator" may not apply CreateToken: it needs permission to write token`},
		{"operator", &fsm.RevokeToken{}, "write token"},
		{"operator", &fsm.SetSettings{}, "write settings"},
		{"admin", &fsm.CreateToken{}, ""},
		{"admin", &fsm.SetSettings{}, ""},
		{"nobody", &fsm.CreateVM{}, `role "nobody"`},
		// Written only by nodes: no token may send it, not even an admin's.
		{"admin", &fsm.ReportVM{}, "ReportVM is written only by the cluster's nodes"},
		{"admin", &fsm.InitCluster{}, "InitCluster"},
		{"operator", mustBatch(t, &fsm.CreateVM{}, &fsm.VMAction{}), ""},
		{"operator", mustBatch(t, &fsm.CreateVM{}, &fsm.SetSettings{}), "batch entry 1: role \"operator\" may not apply SetSettings"},
	}
	for _, c := range cases {
		err := AuthorizeUser(c.role, c.cmd)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s %s: refused: %v", c.role, c.cmd.Type(), err)
		case c.want != "" && (!errors.Is(err, ErrForbidden) || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s %s: %v, want forbidden with %q", c.role, c.cmd.Type(), err, c.want)
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
// allocation.
func TestAuthorize_NoAllocations(t *testing.T) {
	cmd := &fsm.CreateVM{}
	if n := testing.AllocsPerRun(100, func() {
		_ = AuthorizeUser("operator", cmd)
		_ = AuthorizeNode(fsm.ReportVM{})
	}); n != 0 {
		t.Fatalf("%v allocations per check, want 0", n)
	}
}
