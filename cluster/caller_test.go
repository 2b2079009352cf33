package cluster

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/errcode"
	"github.com/novacron/novacron/internal/ids"
	"github.com/novacron/novacron/internal/testutil"
)

// addToken creates, through a (with no caller: the node's own write), a token
// of role that expires at expires (never when zero), and returns its ID.
func addToken(t *testing.T, a *Agent, role string, expires time.Time) string {
	t.Helper()
	id := ids.New()
	tok := fsm.Token{ID: id, Name: role + "-" + id[:8], Role: role, Hash: fsm.HashSecret("secret-" + id), CreatedAt: time.Now().UTC(), ExpiresAt: expires}
	if _, err := a.Apply(context.Background(), &fsm.CreateToken{Token: tok}); err != nil {
		t.Fatalf("creating a %s token: %v", role, err)
	}
	return id
}

// readyLeader waits until one of agents leads, has finished establishing its
// leadership and has initialised the cluster, and returns it.
func readyLeader(t *testing.T, agents []*Agent) *Agent {
	t.Helper()
	var leader *Agent
	testutil.WaitFor(t, 30*time.Second, "a ready leader that initialised the cluster", func() bool {
		for _, a := range agents {
			if a.IsLeader() && a.readyTerm.Load() == a.raft.CurrentTerm() && a.FSM().Cluster().ID != "" {
				leader = a
				return true
			}
		}
		return false
	})
	return leader
}

func newVM(name string) *fsm.CreateVM {
	return &fsm.CreateVM{ID: ids.New(), Spec: fsm.VMSpec{Name: name, VCPUs: 1, MemoryMiB: 64, DiskGiB: 1}, At: time.Now().UTC()}
}

// expectRefused checks that err is the authz sentinel want with a message
// holding part.
func expectRefused(t *testing.T, what string, err, want error, part string) {
	t.Helper()
	if !errors.Is(err, want) || !strings.Contains(err.Error(), part) {
		t.Fatalf("%s: %v, want %v with %q", what, err, want, part)
	}
	t.Logf("%s: refused: %v", what, err)
}

// The leader does not take a follower's word that a write is allowed: it
// checks the caller's token in its own state, over mutual TLS as in
// production. A follower forwarding for a reader, a revoked, an expired or
// an unknown token is refused whatever the follower decided; a command that
// only users cause is refused without a caller; the nodes' own commands pass
// without one. A write made on the leader itself is checked alike.
func TestForward_LeaderAuthorisesTheCaller(t *testing.T) {
	_, nodeTLS, _ := testPKI(t, 3)
	agents := startCore(t, 3, func(i int, cfg *Config) { cfg.TLS = nodeTLS(i) }, nil)
	leader := readyLeader(t, agents)
	var follower *Agent
	for _, a := range agents {
		if a != leader {
			follower = a
			break
		}
	}
	testutil.WaitFor(t, 30*time.Second, "the leader records the follower", func() bool {
		_, err := leader.FSM().Node(follower.ID())
		return err == nil
	})
	reader := addToken(t, leader, "reader", time.Time{})
	operator := addToken(t, leader, "operator", time.Time{})
	admin := addToken(t, leader, "admin", time.Time{})
	expired := addToken(t, leader, "admin", time.Now().Add(-time.Minute))
	revoked := addToken(t, leader, "admin", time.Time{})
	if _, err := leader.Apply(context.Background(), &fsm.RevokeToken{ID: revoked}); err != nil {
		t.Fatal(err)
	}
	as := func(tokenID string) context.Context { return WithCaller(context.Background(), tokenID) }

	for _, via := range []*Agent{follower, leader} {
		where := "forwarded"
		if via == leader {
			where = "on the leader"
		}
		_, err := via.Apply(as(reader), newVM("by-reader"))
		expectRefused(t, where+": reader CreateVM", err, authz.ErrForbidden, `CreateVM: role reader of key`)
		_, err = via.Apply(as(operator), &fsm.CreateToken{Token: fsm.Token{ID: ids.New(), Name: "escalate", Role: "admin", Hash: "h-" + where}})
		expectRefused(t, where+": operator CreateToken", err, authz.ErrForbidden, `CreateToken: role operator of key`)
		_, err = via.Apply(as(operator), &fsm.SetSettings{At: time.Now().UTC()})
		expectRefused(t, where+": operator SetSettings", err, authz.ErrForbidden, `SetSettings: role operator of key`)
		_, err = via.Apply(as(revoked), newVM("by-revoked"))
		expectRefused(t, where+": revoked token", err, authz.ErrUnauthenticated, "unknown or revoked")
		_, err = via.Apply(as(expired), newVM("by-expired"))
		expectRefused(t, where+": expired token", err, authz.ErrUnauthenticated, "expired")
		_, err = via.Apply(as(ids.New()), newVM("by-nobody"))
		expectRefused(t, where+": unknown token", err, authz.ErrUnauthenticated, "unknown or revoked")
		_, err = via.Apply(as(admin), &fsm.ReportHost{ID: follower.ID()})
		expectRefused(t, where+": a node's report for a token", err, authz.ErrForbidden, "ReportHost is written only by the cluster's nodes")

		vm := newVM("by-operator-" + strings.ReplaceAll(where, " ", "-"))
		if _, err := via.Apply(as(operator), vm); err != nil {
			t.Fatalf("%s: operator CreateVM: %v", where, err)
		}
		if _, err := leader.FSM().VM(vm.ID); err != nil {
			t.Fatalf("%s: operator's VM not created: %v", where, err)
		}
		if _, err := via.Apply(as(admin), &fsm.SetSettings{At: time.Now().UTC()}); err != nil {
			t.Fatalf("%s: admin SetSettings: %v", where, err)
		}
		if _, err := via.Apply(as(operator), &fsm.VMAction{ID: vm.ID, Action: fsm.ActionStop, At: time.Now().UTC()}); err != nil {
			t.Fatalf("%s: operator stops its VM: %v", where, err)
		}
	}

	// Without a caller, another node may send only what nodes write on their
	// own. (The leader's own writes without a caller are its loops', and pass:
	// addToken above.)
	ctx := context.Background()
	for _, c := range []fsm.Command{
		&fsm.CreateToken{Token: fsm.Token{ID: ids.New(), Name: "forged", Role: "admin", Hash: "forged"}},
		&fsm.SetSettings{At: time.Now().UTC()},
		&fsm.SetMaintenance{ID: follower.ID(), Maintenance: true, At: time.Now().UTC()},
		newVM("by-no-one"),
	} {
		_, err := follower.Apply(ctx, c)
		expectRefused(t, "no caller: "+c.Type().String(), err, authz.ErrForbidden, "a node may not apply it on its own")
	}
	smuggled, err := fsm.NewBatch(&fsm.ReportHost{ID: follower.ID()}, &fsm.RevokeToken{ID: admin})
	if err != nil {
		t.Fatal(err)
	}
	_, err = follower.Apply(ctx, smuggled)
	expectRefused(t, "no caller: a batch holding RevokeToken", err, authz.ErrForbidden, "batch entry 1: RevokeToken")
	if _, err := leader.FSM().Token(admin); err != nil {
		t.Fatalf("the smuggled revocation was applied: %v", err)
	}

	vm := newVM("for-reports")
	if _, err := leader.Apply(as(admin), vm); err != nil {
		t.Fatal(err)
	}
	reports, err := fsm.NewBatch(&fsm.ReportHost{ID: follower.ID(), Foreign: []string{"b"}}, &fsm.ReportHost{ID: follower.ID(), Foreign: []string{"c"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []fsm.Command{
		&fsm.ReportHost{ID: follower.ID(), Foreign: []string{"a"}},
		reports,
		&fsm.VMAction{ID: vm.ID, Action: fsm.ActionStop, At: time.Now().UTC()},
	} {
		if _, err := follower.Apply(ctx, c); err != nil {
			t.Fatalf("no caller: node-originated %s: %v", c.Type(), err)
		}
	}
	// ReportVM's own checks may refuse it (the VM is not placed); the leader
	// takes it, so the refusal is the FSM's, not authorisation's.
	_, err = follower.Apply(ctx, &fsm.ReportVM{ID: vm.ID, Node: follower.ID(), State: fsm.VMRunning, At: time.Now().UTC()})
	if errors.Is(err, authz.ErrForbidden) || errors.Is(err, authz.ErrUnauthenticated) || (err != nil && fsm.ErrorCode(err) == "") {
		t.Fatalf("no caller: ReportVM: %v, want it applied or refused by the FSM", err)
	}
}

// The leader's answers to the internal apply endpoint: refusals carry the
// API's codes and statuses (403 forbidden, 401 unauthenticated), so the
// follower rebuilds them; and a new leader that has not applied the previous
// terms' entries answers 503 not_ready for a caller, rather than refuse a
// token it merely has not seen yet or accept one already revoked.
func TestServeApply_AuthorisesTheCaller(t *testing.T) {
	a := startCore(t, 1, nil, nil)[0]
	readyLeader(t, []*Agent{a})
	reader := addToken(t, a, "reader", time.Time{})
	operator := addToken(t, a, "operator", time.Time{})

	status, ans := postApplyAs(t, a, mustEncode(t, newVM("by-reader")), reader)
	if status != http.StatusForbidden || ans.Error == nil || ans.Error.Code != errcode.Forbidden || !strings.Contains(ans.Error.Message, `CreateVM: role reader of key`) {
		t.Fatalf("reader CreateVM: HTTP %d %+v, want 403 forbidden naming the command and the role", status, ans.Error)
	}
	status, ans = postApplyAs(t, a, mustEncode(t, newVM("by-nobody")), ids.New())
	if status != http.StatusUnauthorized || ans.Error == nil || ans.Error.Code != errcode.Unauthenticated {
		t.Fatalf("unknown token: HTTP %d %+v, want 401 unauthenticated", status, ans.Error)
	}
	status, ans = postApply(t, a, mustEncode(t, &fsm.SetSettings{At: time.Now().UTC()}))
	if status != http.StatusForbidden || ans.Error == nil || ans.Error.Code != errcode.Forbidden {
		t.Fatalf("SetSettings without a caller: HTTP %d %+v, want 403 forbidden", status, ans.Error)
	}

	term := a.readyTerm.Load()
	a.readyTerm.Store(0) // as before the barrier of a new term
	status, ans = postApplyAs(t, a, mustEncode(t, newVM("too-early")), operator)
	if status != http.StatusServiceUnavailable || ans.Error == nil || ans.Error.Code != errcode.NotReady {
		t.Fatalf("caller before the barrier: HTTP %d %+v, want 503 not_ready", status, ans.Error)
	}
	// The nodes' own writes do not depend on a token, and go on meanwhile.
	if status, ans := postApply(t, a, mustEncode(t, &fsm.ReportHost{ID: a.ID()})); status != http.StatusOK || ans.Error != nil {
		t.Fatalf("ReportHost before the barrier: HTTP %d %+v", status, ans.Error)
	}
	a.readyTerm.Store(term)
	status, ans = postApplyAs(t, a, mustEncode(t, newVM("in-time")), operator)
	if status != http.StatusOK || ans.Error != nil || ans.Index == 0 {
		t.Fatalf("operator CreateVM: HTTP %d %+v", status, ans.Error)
	}
}

// The caller check costs the write path a token lookup by ID, a table
// lookup, and the principal: one small allocation for a key of the root
// user, as every benchmark's.
func TestAuthorize_NoAllocations(t *testing.T) {
	a := startCore(t, 1, nil, nil)[0]
	readyLeader(t, []*Agent{a})
	operator := addToken(t, a, "operator", time.Time{})
	cmd := newVM("x")
	if err := a.authorize(operator, true, cmd); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = a.authorize(operator, true, cmd) }); n > 1 {
		t.Fatalf("%v allocations per check, want at most 1", n)
	}
}

// A write made for a user's login session is authorised as the user's role,
// while the session is live and the user enabled.
func TestAuthorize_SessionCallersActAsTheirUser(t *testing.T) {
	a := startCore(t, 1, nil, nil)[0]
	readyLeader(t, []*Agent{a})
	ctx := context.Background()
	now := time.Now().UTC()
	must := func(cmd fsm.Command) {
		t.Helper()
		if _, err := a.Apply(ctx, cmd); err != nil {
			t.Fatal(err)
		}
	}
	must(&fsm.CreateUser{User: fsm.User{Name: "alice", Role: "operator", PasswordHash: "$argon2id$x", CreatedAt: now, UpdatedAt: now}})
	must(&fsm.CreateSession{Session: fsm.Session{ID: "ses-live", Hash: "h1", User: "alice", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}})
	must(&fsm.CreateSession{Session: fsm.Session{ID: "ses-old", Hash: "h2", User: "alice", CreatedAt: now, ExpiresAt: now.Add(-time.Minute)}})

	if err := a.authorize("ses-live", true, newVM("x")); err != nil {
		t.Fatalf("an operator's session creating a VM: %v", err)
	}
	expectRefused(t, "an operator's session changing settings", a.authorize("ses-live", true, &fsm.SetSettings{Settings: fsm.DefaultSettings(), At: now}), authz.ErrForbidden, "operator")
	expectRefused(t, "an expired session", a.authorize("ses-old", true, newVM("y")), authz.ErrUnauthenticated, "expired")
	off := true
	must(&fsm.UpdateUser{Name: "alice", Disabled: &off, At: now})
	expectRefused(t, "a disabled user's session", a.authorize("ses-live", true, newVM("z")), authz.ErrUnauthenticated, "unknown or revoked")
}
