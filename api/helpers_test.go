package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/cluster"
	"github.com/novacron/novacron/control"
	"github.com/novacron/novacron/eventlog"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/ids"
)

// The real FSM is the State the agent wires in.
var _ State = (*fsm.FSM)(nil)

// fakeCluster applies commands straight to a real FSM at increasing indexes, as
// a one-node Raft would, and counts the calls so tests can prove that bad input
// never reached it. It places nothing: new VMs stay pending.
type fakeCluster struct {
	fsm *fsm.FSM

	mu              sync.Mutex
	index           uint64
	applyCalls      int
	consistentCalls int
	// consistentIndex, when set, is what ConsistentIndex answers instead of the
	// last index.
	consistentIndex uint64
	applyErr        error
	status          cluster.Status
	// behind makes the node say it has not caught up with the leader yet.
	behind bool
	// placeOn, when set, is where CreateVM places new VMs, as the real leader
	// does by completing the command it is handed (so it must get a pointer).
	placeOn string
	// lastContact, when set, is when this node last heard from the leader;
	// readIndex, when set, answers ConsistentIndex (a leader's read index).
	lastContact time.Time
	readIndex   func() (uint64, error)
	// prepare, when set, completes each command as the real leader's
	// batcher does (control.Controller.PrepareWrites).
	prepare func([]fsm.Command) (done func())
	// lastCaller is the token ID the last Apply was made for ("" for none).
	lastCaller string
	// rebalance and rebalanceErr are what Rebalance answers.
	rebalance    fsm.RebalanceStatus
	rebalanceErr error
}

func (c *fakeCluster) Apply(ctx context.Context, cmd fsm.Command) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.applyCalls++
	if c.applyErr != nil {
		return 0, c.applyErr
	}
	// Authorise a write that names its caller as the leader does, against
	// the token in the state.
	c.lastCaller = cluster.CallerOf(ctx)
	if c.lastCaller != "" {
		p, err := authz.ForCredential(c.fsm, c.lastCaller, time.Now())
		if err != nil {
			return 0, err
		}
		if err := authz.AuthorizeUser(p, cmd, c.fsm); err != nil {
			return 0, err
		}
	}
	if cv, ok := cmd.(*fsm.CreateVM); ok && c.placeOn != "" && cv.Node == "" {
		cv.Node, cv.Reason = c.placeOn, "fake leader placement"
	}
	if c.prepare != nil {
		if done := c.prepare([]fsm.Command{cmd}); done != nil {
			defer done()
		}
	}
	c.index++
	if err := c.fsm.ApplyCommand(cmd, c.index); err != nil {
		return 0, err
	}
	return c.index, nil
}

func (c *fakeCluster) ConsistentIndex(context.Context) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.consistentCalls++
	if c.readIndex != nil {
		return c.readIndex()
	}
	if c.consistentIndex != 0 {
		return c.consistentIndex, nil
	}
	return c.index, nil
}

// CredentialIndex is 0 (the local copy is trusted) unless the test made the
// node lose touch (lastContact): then it asks ConsistentIndex, as a real
// follower asks the leader.
func (c *fakeCluster) CredentialIndex(ctx context.Context, maxStale time.Duration) (uint64, error) {
	c.mu.Lock()
	stale := !c.lastContact.IsZero() && time.Since(c.lastContact) > maxStale
	c.mu.Unlock()
	if !stale {
		return 0, nil
	}
	return c.ConsistentIndex(ctx)
}

func (c *fakeCluster) CaughtUp() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.behind
}

func (c *fakeCluster) Status() cluster.Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.status
	st.AppliedIndex = c.fsm.AppliedIndex()
	return st
}

// fakeControl answers the API's dry runs with a real control.Controller that
// leads the fake cluster (so decisions are the leader's real ones over the
// test's state), and the rebalancer status the test set on the cluster.
type fakeControl struct {
	*control.Controller
	cluster *fakeCluster
}

func (c fakeControl) Rebalance(context.Context) (fsm.RebalanceStatus, error) {
	c.cluster.mu.Lock()
	defer c.cluster.mu.Unlock()
	return c.cluster.rebalance, c.cluster.rebalanceErr
}

// The fake cluster leads, so control never calls the leader.
func (c *fakeCluster) IsLeader() bool { return true }
func (c *fakeCluster) ApplyInBatches(ctx context.Context, cmds []fsm.Command) {
	for _, cmd := range cmds {
		c.Apply(ctx, cmd)
	}
}
func (c *fakeCluster) LeaseSeen(string) (time.Time, time.Time) { return time.Now(), time.Now() }
func (c *fakeCluster) CallLeader(context.Context, string, string, any, any) error {
	return errors.New("the fake cluster leads: nothing to call")
}

// caller returns the token ID the last Apply was made for ("" for none).
func (c *fakeCluster) caller() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastCaller
}

// applies returns how many times Apply was called.
func (c *fakeCluster) applies() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.applyCalls
}

// consistents returns how many times ConsistentIndex was called.
func (c *fakeCluster) consistents() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.consistentCalls
}

// failApplies makes every later Apply fail with err.
func (c *fakeCluster) failApplies(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.applyErr = err
}

// mustApply applies a command the test needs, outside the API.
func (c *fakeCluster) mustApply(t testing.TB, cmd fsm.Command) uint64 {
	t.Helper()
	idx, err := c.Apply(context.Background(), cmd)
	if err != nil {
		t.Fatalf("apply %T: %v", cmd, err)
	}
	c.mu.Lock()
	c.applyCalls-- // setup does not count as a call from the API
	c.mu.Unlock()
	return idx
}

// testEnv is one API server over a fake cluster, with a root (admin) token.
type testEnv struct {
	t       testing.TB
	fsm     *fsm.FSM
	cluster *fakeCluster
	server  *Server
	http    *httptest.Server
	root    string
	nodes   []fsm.Node
}

// newTestEnv starts an API server over a fake cluster of two registered nodes.
func newTestEnv(t testing.TB) *testEnv {
	return newTestEnvWith(t, Config{NodeName: "node-1"}, nil)
}

// newTestEnvWith is newTestEnv with a config, and a function that may wrap the
// State the server reads.
func newTestEnvWith(t testing.TB, cfg Config, wrap func(*fsm.FSM) State) *testEnv {
	t.Helper()
	if cfg.PlacementWait == 0 {
		cfg.PlacementWait = -1 // no placement loop runs here: answer creates at once
	}
	if cfg.KeyUseEvery == 0 {
		cfg.KeyUseEvery = -1 // tests count writes: record no key use
	}
	if cfg.AuditQueue == 0 {
		cfg.AuditQueue = -1 // nor audit entries
	}
	f := fsm.New()
	if cfg.Events == nil {
		// The event stream, as an agent wires it: the journal hears the FSM.
		j := eventlog.New(eventlog.Config{})
		f.SetObserver(j)
		cfg.Events = j
	}
	fc := &fakeCluster{fsm: f}
	e := &testEnv{t: t, fsm: f, cluster: fc, root: ids.Secret("nvc_", 24)}
	now := time.Now().UTC()
	for i, name := range []string{"node-1", "node-2"} {
		n := fsm.Node{ID: ids.New(), Name: name, RaftAddr: "127.0.0.1:700" + string(rune('1'+i)),
			Capacity: fsm.Capacity{VCPUs: 8, MemoryMiB: 16384, DiskGiB: 100}, Status: fsm.NodeAlive,
			Hypervisor: fsm.HypervisorInfo{Driver: "sim", URI: "sim://" + name}}
		fc.mustApply(t, fsm.RegisterNode{Node: n, At: now})
		e.nodes = append(e.nodes, n)
	}
	fc.mustApply(t, fsm.BootstrapToken{Token: fsm.Token{ID: ids.New(), Name: "root", Role: "admin",
		Hash: fsm.HashSecret(e.root), CreatedAt: now}})
	fc.status = cluster.Status{
		ClusterID: "c1", LeaderID: e.nodes[0].ID, LeaderName: "node-1", LocalID: e.nodes[0].ID, LocalName: "node-1",
		Members: []cluster.MemberStatus{
			{ID: e.nodes[0].ID, Name: "node-1", Status: "alive", RaftRole: "voter", Leader: true},
			{ID: e.nodes[1].ID, Name: "node-2", Status: "suspect", RaftRole: "voter"},
		},
		CommitIndex: 3, Term: 2,
	}
	var st State = f
	if wrap != nil {
		st = wrap(f)
	}
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctl, err := control.New(control.DefaultConfig(), fc, f)
	if err != nil {
		t.Fatal(err)
	}
	e.server = New(cfg, fc, fakeControl{Controller: ctl, cluster: fc}, st, logger)
	e.http = httptest.NewServer(e.server.Handler())
	t.Cleanup(e.http.Close)
	checkOpenAPI(t, e.http) // every request the test sends is checked against the document
	return e
}

// testWriter sends the server's log lines to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// tokenFor creates a token with role through the fake cluster and returns its secret.
func (e *testEnv) tokenFor(role string) string {
	secret := ids.Secret("nvc_", 24)
	e.cluster.mustApply(e.t, fsm.CreateToken{Token: fsm.Token{ID: ids.New(), Name: role + "-tok", Role: role,
		Hash: fsm.HashSecret(secret), CreatedAt: time.Now().UTC()}})
	return secret
}

// answer is a response read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request with secret as bearer token ("" for none). body is sent as
// is when it is a string or []byte, and JSON-encoded otherwise.
func (e *testEnv) do(method, path, secret string, body any) answer {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, e.http.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.http.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	return readAnswer(e.t, resp)
}

// readAnswer reads and closes a response.
func readAnswer(t testing.TB, resp *http.Response) answer {
	t.Helper()
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: raw}
}

// expect fails the test unless the answer has status; it decodes the body into
// out when out is not nil.
func (a answer) expect(t testing.TB, status int, out any) answer {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d; body: %s", a.status, status, a.body)
	}
	if out != nil {
		if err := json.Unmarshal(a.body, out); err != nil {
			t.Fatalf("decoding %s: %v", a.body, err)
		}
	}
	return a
}

// expectError checks an error answer: its status, its code, and that its
// message contains msg.
func (a answer) expectError(t testing.TB, status int, code, msg string) client.ErrorDetail {
	t.Helper()
	var body client.ErrorBody
	a.expect(t, status, &body)
	if body.Error.Code != code {
		t.Fatalf("error code %q, want %q; body: %s", body.Error.Code, code, a.body)
	}
	if !strings.Contains(body.Error.Message, msg) {
		t.Fatalf("error message %q does not contain %q", body.Error.Message, msg)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type %q, want application/json", ct)
	}
	return body.Error
}

// validVM is a request the API accepts.
func validVM(name string) client.VMRequest {
	return client.VMRequest{Name: name, VCPUs: 2, MemoryMiB: 1024, DiskGiB: 10}
}

// createVM creates a VM through the API as root.
func (e *testEnv) createVM(name string) client.VM {
	e.t.Helper()
	var vm client.VM
	e.do("POST", "/api/v1/vms", e.root, validVM(name)).expect(e.t, http.StatusCreated, &vm)
	return vm
}
