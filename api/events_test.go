package api

import (
	"bufio"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/eventlog"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/metricstore"
)

// frames reads an NDJSON stream that ends (follow=false).
func (e *testEnv) frames(path, secret string) []eventlog.Frame {
	e.t.Helper()
	a := e.do("GET", path, secret, nil)
	if a.status != http.StatusOK || a.header.Get("Content-Type") != "application/x-ndjson" {
		e.t.Fatalf("GET %s: %d %s %s", path, a.status, a.header.Get("Content-Type"), a.body)
	}
	var out []eventlog.Frame
	sc := bufio.NewScanner(strings.NewReader(string(a.body)))
	for sc.Scan() {
		var f eventlog.Frame
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			e.t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, f)
	}
	return out
}

// hasEvent reports whether frames hold an event of object id.
func hasEvent(frames []eventlog.Frame, id string) bool {
	for _, f := range frames {
		for _, ev := range f.Events {
			if ev.ID == id {
				return true
			}
		}
	}
	return false
}

// Each caller reads the events of what it may read: root sees project b's
// VM; a viewer of project a sees a's and never b's, whatever it asks.
func TestEvents_RightsAndFilters(t *testing.T) {
	w := newTenantWorld(t, Config{})
	all := w.frames("/api/v1/events?after=0&follow=false&limit=10000", w.root)
	if !hasEvent(all, w.vmB.ID) || !hasEvent(all, w.vmA.ID) {
		t.Fatalf("root's events lack a's or b's VM: %+v", all)
	}
	viewer := w.sessions["u-viewer"]
	mine := w.frames("/api/v1/events?after=0&follow=false&limit=10000", viewer)
	if hasEvent(mine, w.vmB.ID) || !hasEvent(mine, w.vmA.ID) {
		t.Fatalf("a viewer of a: b's VM shown %v, a's shown %v", hasEvent(mine, w.vmB.ID), hasEvent(mine, w.vmA.ID))
	}
	for _, f := range mine {
		for _, ev := range f.Events {
			if ev.Project != "a" {
				t.Errorf("a viewer of a got an event of project %q: %+v", ev.Project, ev)
			}
		}
	}
	// Filters: one VM's events, by name within its project, and by type.
	vmOnly := w.frames("/api/v1/events?after=0&follow=false&object="+w.vmA.ID, w.root)
	if len(vmOnly) == 0 {
		t.Fatal("no event of a's VM by its ID")
	}
	for _, f := range vmOnly {
		for _, ev := range f.Events {
			if ev.ID != w.vmA.ID {
				t.Errorf("object filter let %+v through", ev)
			}
		}
	}
	for _, f := range w.frames("/api/v1/events?after=0&follow=false&type=node,project", w.root) {
		for _, ev := range f.Events {
			if ev.Type != "node" && ev.Type != "project" {
				t.Errorf("type filter let %+v through", ev)
			}
		}
	}
	// Bad input names the parameter.
	w.do("GET", "/api/v1/events?after=x", w.root, nil).expectError(t, http.StatusBadRequest, client.CodeInvalid, "after")
	w.do("GET", "/api/v1/events?type=vms", w.root, nil).expectError(t, http.StatusBadRequest, client.CodeInvalid, `"vms" is not an event type`)
	w.do("GET", "/api/v1/events?limit=0", w.root, nil).expectError(t, http.StatusBadRequest, client.CodeInvalid, "limit")
	w.do("GET", "/api/v1/events?follow=maybe", w.root, nil).expectError(t, http.StatusBadRequest, client.CodeInvalid, "follow")
	w.do("GET", "/api/v1/events", "", nil).expectError(t, http.StatusUnauthorized, "unauthenticated", "Authorization")
}

// Over a WebSocket the stream follows: a change made after the client
// connected arrives, and resuming after its index gets only what came next.
func TestEvents_WebSocketFollowsAndResumes(t *testing.T) {
	e := newTestEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dial := func(query string) *websocket.Conn {
		t.Helper()
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.http.URL, "http")+"/api/v1/events"+query,
			&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + e.root}}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	next := func(c *websocket.Conn) eventlog.Frame {
		t.Helper()
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var f eventlog.Frame
			if err := json.Unmarshal(b, &f); err != nil {
				t.Fatal(err)
			}
			if len(f.Events) > 0 {
				return f
			}
		}
	}
	c := dial("?type=vm")
	// The upgrade is answered before the stream has read where it starts:
	// its first frame, a heartbeat, says where, and only a change made
	// after it is sure to come.
	if _, _, err := c.Read(ctx); err != nil {
		t.Fatal(err)
	}
	var vm client.VM
	e.do("POST", "/api/v1/vms", e.root, validVM("web")).expect(t, http.StatusCreated, &vm)
	f := next(c)
	if ev := f.Events[0]; ev.Type != "vm" || ev.Action != "create_vm" || ev.ID != vm.ID || ev.Name != "web" || ev.Project != fsm.DefaultProject {
		t.Fatalf("first event %+v", ev)
	}
	c.CloseNow()
	e.do("POST", "/api/v1/vms/web/stop", e.root, nil).expect(t, http.StatusOK, nil)
	c = dial("?type=vm&after=" + strconv.FormatUint(f.Index, 10))
	defer c.CloseNow()
	if g := next(c); g.Index <= f.Index || g.Events[0].Action != "vm_action" {
		t.Fatalf("resumed after %d: %+v, want the stop after it", f.Index, g)
	}
}

// fakeHistory answers each node's samples of one key: node-1 holds the
// first minute, node-2 the next, as a VM that moved between them.
type fakeHistory struct {
	mu            sync.Mutex
	asked         []string
	start         time.Time
	first, second string
	// latest is each node's newest samples: node → key → field → value.
	latest map[string]map[string]map[string]float64
}

func (f *fakeHistory) Latest(_ context.Context, node string) (map[string]map[string]float64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.latest[node], nil
}

func (f *fakeHistory) Query(_ context.Context, node, key string, from, to time.Time, step time.Duration) (metricstore.Result, error) {
	f.mu.Lock()
	f.asked = append(f.asked, node+" "+key)
	f.mu.Unlock()
	if step == 0 {
		step = 10 * time.Second
	}
	res := metricstore.Result{Fields: []string{"cpu_percent"}, Step: step}
	for i := range 12 {
		at := f.start.Add(time.Duration(i) * step)
		v := math.NaN()
		if (node == f.first && i < 6) || (node == f.second && i >= 6) {
			v = float64(i)
		}
		res.Points = append(res.Points, metricstore.Point{At: at, Avg: []float64{v}, Max: []float64{v}})
	}
	return res, nil
}

// A VM's history is stitched from every host that ran it; the window's
// parameters are checked.
func TestMetrics_VMHistoryStitchedFromItsHosts(t *testing.T) {
	hist := &fakeHistory{start: time.Now().Add(-2 * time.Minute).Truncate(10 * time.Second)}
	e := newTestEnvWith(t, Config{Metrics: hist}, nil)
	hist.first, hist.second = e.nodes[0].ID, e.nodes[1].ID
	vm := e.runningVM("web", e.nodes[0])
	e.do("POST", "/api/v1/vms/web/migrate", e.root, client.MigrateRequest{Target: "node-2"}).expect(t, http.StatusAccepted, nil)
	var res struct {
		Fields []string `json:"fields"`
		Points []struct {
			Avg []*float64 `json:"avg"`
		} `json:"points"`
	}
	e.do("GET", "/api/v1/vms/"+vm.ID+"/metrics?since=5m", e.root, nil).expect(t, http.StatusOK, &res)
	if len(res.Points) != 12 {
		t.Fatalf("%d points, want 12 stitched: %+v", len(res.Points), res)
	}
	for i, p := range res.Points {
		if p.Avg[0] == nil || *p.Avg[0] != float64(i) {
			t.Fatalf("point %d: %v, want %d from whichever host ran the VM then", i, p.Avg[0], i)
		}
	}
	hist.mu.Lock()
	asked := strings.Join(hist.asked, ",")
	hist.mu.Unlock()
	if !strings.Contains(asked, e.nodes[0].ID+" vm/"+vm.ID) || !strings.Contains(asked, e.nodes[1].ID+" vm/"+vm.ID) {
		t.Fatalf("asked %s, want both hosts of the VM", asked)
	}
	e.do("GET", "/api/v1/nodes/node-1/metrics", e.root, nil).expect(t, http.StatusOK, nil)
	for q, says := range map[string]string{"since=forever": "since", "step=1s": "step", "from=yesterday": "from", "from=2000000000&to=1000000000": "forwards"} {
		e.do("GET", "/api/v1/vms/web/metrics?"+q, e.root, nil).expectError(t, http.StatusBadRequest, client.CodeInvalid, says)
	}
}

// noHistory is hosts that hold nothing of what is asked.
type noHistory struct{}

func (noHistory) Query(context.Context, string, string, time.Time, time.Time, time.Duration) (metricstore.Result, error) {
	return metricstore.Result{}, metricstore.ErrNotFound
}

func (noHistory) Latest(context.Context, string) (map[string]map[string]float64, error) {
	return nil, nil
}

// oldHistory is PostgreSQL's record: one point, and the window it was
// asked for.
type oldHistory struct {
	mu       sync.Mutex
	from, to time.Time
}

func (o *oldHistory) QueryOld(_ context.Context, _ string, from, to time.Time, step time.Duration) (metricstore.Result, error) {
	o.mu.Lock()
	o.from, o.to = from, to
	o.mu.Unlock()
	v := 42.0
	return metricstore.Result{Fields: []string{"cpu_percent"}, Step: step, Points: []metricstore.Point{{At: from, Avg: []float64{v}, Max: []float64{v}}}}, nil
}

// What the hosts no longer have is read from PostgreSQL when it is
// configured: here the hosts have nothing of the VM.
func TestMetrics_OlderHistoryFromPostgres(t *testing.T) {
	old := &oldHistory{}
	e := newTestEnvWith(t, Config{Metrics: noHistory{}, OldMetrics: old}, nil)
	vm := e.runningVM("web", e.nodes[0])
	var res struct {
		Points []struct {
			Avg []*float64 `json:"avg"`
		} `json:"points"`
	}
	e.do("GET", "/api/v1/vms/"+vm.ID+"/metrics?since=24h&step=1h", e.root, nil).expect(t, http.StatusOK, &res)
	if len(res.Points) != 1 || res.Points[0].Avg[0] == nil || *res.Points[0].Avg[0] != 42 {
		t.Fatalf("points %+v, want PostgreSQL's", res.Points)
	}
	old.mu.Lock()
	defer old.mu.Unlock()
	if time.Since(old.to) > time.Minute || time.Since(old.from) < 23*time.Hour {
		t.Fatalf("PostgreSQL asked for %s to %s, want the last day", old.from, old.to)
	}
}

// A browser's WebSocket carries its credential as a subprotocol: the
// stream opens with it, answers the dashboard's protocol (never the one
// holding the secret), and the same header on a plain request, or a wrong
// secret, authenticates nothing.
func TestEvents_BrowserCredentialAsSubprotocol(t *testing.T) {
	e := newTestEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(e.http.URL, "http") + "/api/v1/events"
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		Subprotocols: []string{client.WebSocketProtocol, client.BearerProtocolPrefix + e.root}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if got := c.Subprotocol(); got != client.WebSocketProtocol {
		t.Fatalf("server chose subprotocol %q, want %q", got, client.WebSocketProtocol)
	}
	if _, _, err := c.Read(ctx); err != nil { // the first heartbeat
		t.Fatal(err)
	}

	_, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		Subprotocols: []string{client.WebSocketProtocol, client.BearerProtocolPrefix + "nvs_wrong"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a wrong secret: %v, %v; want 401", err, resp)
	}
	req, _ := http.NewRequest("GET", e.http.URL+"/api/v1/vms", nil)
	req.Header.Set("Sec-WebSocket-Protocol", client.BearerProtocolPrefix+e.root)
	plain, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	plain.Body.Close()
	if plain.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the subprotocol header on a plain request: %d, want 401", plain.StatusCode)
	}
}

// The newest samples answer in one request, each caller's own: a viewer of
// project a sees a's VM and not b's, nor the hosts; root sees them all,
// with the list's fields only.
func TestMetrics_LatestKeepsToTheCallersProjects(t *testing.T) {
	hist := &fakeHistory{}
	w := newTenantWorld(t, Config{Metrics: hist})
	hist.mu.Lock()
	hist.latest = map[string]map[string]map[string]float64{}
	nodeOf := map[string]string{}
	for _, ref := range []client.VM{w.vmA, w.vmB} {
		vm, err := w.fsm.VM(ref.ID)
		if err != nil || vm.Node == "" {
			t.Fatalf("vm %s is not placed: %v", ref.Name, err)
		}
		nodeOf[vm.ID] = vm.Node
		if hist.latest[vm.Node] == nil {
			hist.latest[vm.Node] = map[string]map[string]float64{"node/" + vm.Node: {"cpu_percent": 10, "load15": 1}}
		}
		hist.latest[vm.Node]["vm/"+vm.ID] = map[string]float64{"cpu_percent": 42, "mem_used_bytes": 1 << 20, "disk_read_bytes": 7}
	}
	hist.mu.Unlock()
	var all LatestMetrics
	w.do("GET", "/api/v1/metrics/latest", w.root, nil).expect(t, http.StatusOK, &all)
	if all.VMs[w.vmA.ID]["cpu_percent"] != 42 || all.VMs[w.vmB.ID]["cpu_percent"] != 42 || all.Nodes[nodeOf[w.vmA.ID]]["cpu_percent"] != 10 {
		t.Fatalf("root's latest samples: %+v", all)
	}
	if _, ok := all.VMs[w.vmA.ID]["disk_read_bytes"]; ok {
		t.Errorf("a field the lists do not show was answered: %+v", all.VMs[w.vmA.ID])
	}
	var mine LatestMetrics
	w.do("GET", "/api/v1/metrics/latest", w.sessions["u-viewer"], nil).expect(t, http.StatusOK, &mine)
	if _, ok := mine.VMs[w.vmB.ID]; ok || mine.VMs[w.vmA.ID] == nil || len(mine.Nodes) != 0 {
		t.Fatalf("a viewer of a got %+v: want a's VM only", mine)
	}
}
