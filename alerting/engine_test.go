package alerting

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
)

// fsmCluster applies commands straight to an FSM, as Raft would.
type fsmCluster struct {
	mu    sync.Mutex
	f     *fsm.FSM
	index uint64
}

func (c *fsmCluster) Apply(_ context.Context, cmd fsm.Command) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.index++
	return c.index, c.f.ApplyCommand(cmd, c.index)
}

func (c *fsmCluster) must(t *testing.T, cmd fsm.Command) {
	t.Helper()
	if _, err := c.Apply(context.Background(), cmd); err != nil {
		t.Fatalf("%T: %v", cmd, err)
	}
}

type testClock struct{ now time.Time }

func (c *testClock) Now() time.Time { return c.now }

func newEngine(t *testing.T, latest *Latest) (*Engine, *fsmCluster, *testClock) {
	t.Helper()
	c := &fsmCluster{f: fsm.New()}
	clk := &testClock{now: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	cfg := Config{State: c.f, Cluster: c, Now: clk.Now, ClusterID: func() string { return "c1" }}
	if latest != nil {
		cfg.Latest = func(context.Context) (Latest, error) { return *latest, nil }
	}
	return New(cfg), c, clk
}

func alertState(t *testing.T, f *fsm.FSM, id string) fsm.AlertState {
	t.Helper()
	a, err := f.Alert(id)
	if err != nil {
		return ""
	}
	return a.State
}

// A failed host fires the built-in host_failed at once; acknowledged, it
// stays so; the host back alive resolves it.
func TestEngine_HostFailedFiresAndResolves(t *testing.T) {
	e, c, clk := newEngine(t, nil)
	n := fsm.Node{ID: "n1", Name: "host-1", Status: fsm.NodeAlive, Capacity: fsm.Capacity{VCPUs: 4, MemoryMiB: 4096, DiskGiB: 10}}
	c.must(t, &fsm.RegisterNode{Node: n, At: clk.now})
	ctx := context.Background()
	e.Round(ctx)
	if len(c.f.Alerts()) != 0 {
		t.Fatalf("alerts on a healthy cluster: %+v", c.f.Alerts())
	}
	c.must(t, &fsm.SetNodeStatus{ID: "n1", Status: fsm.NodeFailed, Cause: "no lease renewal", At: clk.now})
	e.Round(ctx)
	id := "host_failed:node:n1"
	if s := alertState(t, c.f, id); s != fsm.AlertFiring {
		t.Fatalf("host_failed is %q, want firing", s)
	}
	c.must(t, &fsm.AckAlert{ID: id, By: "alice", At: clk.now})
	clk.now = clk.now.Add(10 * time.Second)
	e.Round(ctx)
	if s := alertState(t, c.f, id); s != fsm.AlertAcknowledged {
		t.Fatalf("after a round, host_failed is %q, want acknowledged", s)
	}
	c.must(t, &fsm.SetNodeStatus{ID: "n1", Status: fsm.NodeAlive, At: clk.now})
	e.Round(ctx)
	if s := alertState(t, c.f, id); s != fsm.AlertResolved {
		t.Fatalf("with the host back, host_failed is %q, want resolved", s)
	}
	clk.now = clk.now.Add(25 * time.Hour)
	e.Round(ctx)
	if _, err := c.f.Alert(id); err == nil {
		t.Fatal("a day-old resolved alert is still listed")
	}
}

// A metric rule fires only after its duration, and with hysteresis: a
// value between the clear level and the threshold changes nothing.
func TestEngine_MetricRuleDurationAndHysteresis(t *testing.T) {
	latest := Latest{}
	e, c, clk := newEngine(t, &latest)
	c.must(t, &fsm.RegisterNode{Node: fsm.Node{ID: "n1", Name: "host-1", Status: fsm.NodeAlive, Capacity: fsm.Capacity{VCPUs: 4, MemoryMiB: 4096, DiskGiB: 10}}, At: clk.now})
	c.must(t, &fsm.CreateVM{ID: "vm-1", Spec: fsm.VMSpec{Name: "web", VCPUs: 1, MemoryMiB: 64, DiskGiB: 1}, At: clk.now})
	id := "vm_cpu_high:vm:vm-1"
	ctx := context.Background()
	step := func(cpu float64, d time.Duration) fsm.AlertState {
		latest["vm/vm-1"] = map[string]float64{"cpu_percent": cpu}
		clk.now = clk.now.Add(d)
		e.Round(ctx)
		return alertState(t, c.f, id)
	}
	if s := step(95, 0); s != fsm.AlertPending {
		t.Fatalf("over 90%%: %q, want pending", s)
	}
	if s := step(85, time.Minute); s != fsm.AlertPending {
		t.Fatalf("between 80 and 90: %q, want it kept pending", s)
	}
	if s := step(97, 4*time.Minute+time.Second); s != fsm.AlertFiring {
		t.Fatalf("over 90%% for 5 minutes: %q, want firing", s)
	}
	if s := step(82, time.Minute); s != fsm.AlertFiring {
		t.Fatalf("at 82%% (above the clear level): %q, want still firing", s)
	}
	if s := step(50, time.Minute); s != fsm.AlertResolved {
		t.Fatalf("at 50%%: %q, want resolved", s)
	}
	// A short spike opens a new pending alert that never fires, and
	// leaves nothing behind.
	if s := step(99, time.Minute); s != fsm.AlertPending {
		t.Fatalf("a new spike: %q, want pending", s)
	}
	if s := step(10, time.Minute); s != "" {
		t.Fatalf("after a short spike: %q, want no alert", s)
	}
}

// A webhook target gets the firing notice once, signed; a failed send is
// tried again after its back-off; a silence mutes it.
func TestEngine_WebhookSignedRetriedAndSilenced(t *testing.T) {
	var mu sync.Mutex
	var got []Notice
	fail := 1
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get(TimestampHeader), 10, 64)
		if r.Header.Get(SignatureHeader) != Sign("s3cret", ts, body) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if fail > 0 {
			fail--
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		var n Notice
		json.Unmarshal(body, &n)
		got = append(got, n)
	}))
	defer srv.Close()
	e, c, clk := newEngine(t, nil)
	c.must(t, &fsm.PutAlertTarget{Target: fsm.AlertTarget{Name: "ops", Kind: "webhook", URL: srv.URL, Secret: "s3cret", Severities: []string{fsm.SeverityCritical}}})
	c.must(t, &fsm.RegisterNode{Node: fsm.Node{ID: "n1", Name: "host-1", Status: fsm.NodeAlive, Capacity: fsm.Capacity{VCPUs: 4, MemoryMiB: 4096, DiskGiB: 10}}, At: clk.now})
	c.must(t, &fsm.SetNodeStatus{ID: "n1", Status: fsm.NodeFailed, At: clk.now})
	ctx := context.Background()
	e.Round(ctx) // fires; the first send fails
	e.Round(ctx) // too early to try again
	clk.now = clk.now.Add(2 * time.Second)
	e.Round(ctx) // sent
	e.Round(ctx) // told already
	mu.Lock()
	if len(got) != 1 || got[0].State != "firing" || got[0].Alert.ObjectName != "host-1" || got[0].Cluster != "c1" {
		t.Fatalf("notices %+v, want one firing notice of host-1", got)
	}
	mu.Unlock()
	if a, _ := c.f.Alert("host_failed:node:n1"); a.Notified["ops"] != fsm.AlertFiring {
		t.Fatalf("the notice is not recorded: %+v", a.Notified)
	}
	// Silenced, the resolution is not sent.
	c.must(t, &fsm.CreateSilence{Silence: fsm.Silence{ID: "s1", Rule: "host_failed", StartsAt: clk.now, EndsAt: clk.now.Add(time.Hour)}, At: clk.now})
	c.must(t, &fsm.SetNodeStatus{ID: "n1", Status: fsm.NodeAlive, At: clk.now})
	e.Round(ctx)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("a silenced alert was notified: %+v", got)
	}
}
