package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/pki"
	"github.com/novacron/novacron/internal/testutil"
)

// eventsConn is a WebSocket to one agent's event stream whose TCP
// connection the test can cut without a goodbye, as a network that fails
// does.
type eventsConn struct {
	ws  *websocket.Conn
	mu  sync.Mutex
	raw net.Conn
}

func dialEvents(t *testing.T, ctx context.Context, a *agent, token, query string) *eventsConn {
	t.Helper()
	tlsCfg, err := pki.ClientConfig(pki.Files{CA: testCAFile(t)})
	if err != nil {
		t.Fatal(err)
	}
	ec := &eventsConn{}
	tr := &http.Transport{DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		raw, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		ec.mu.Lock()
		ec.raw = raw
		ec.mu.Unlock()
		cfg := tlsCfg.Clone()
		cfg.ServerName, _, _ = net.SplitHostPort(addr)
		c := tls.Client(raw, cfg)
		return c, c.HandshakeContext(ctx)
	}}
	url := "wss" + strings.TrimPrefix(a.addr(), "https") + "/api/v1/events" + query
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr},
		HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	ws.SetReadLimit(1 << 20)
	return ec.withWS(ws)
}

func (ec *eventsConn) withWS(ws *websocket.Conn) *eventsConn { ec.ws = ws; return ec }

// cut closes the TCP connection under the WebSocket.
func (ec *eventsConn) cut() {
	ec.mu.Lock()
	defer ec.mu.Unlock()
	ec.raw.Close()
}

// next reads the next frame, heartbeats included.
func (ec *eventsConn) next(ctx context.Context) (client.EventFrame, error) {
	var f client.EventFrame
	_, b, err := ec.ws.Read(ctx)
	if err == nil {
		err = json.Unmarshal(b, &f)
	}
	return f, err
}

// The event stream on a real 3-agent cluster (issue 16): a WebSocket
// client of a follower, cut off by force in the middle of a burst of
// changes, resumes with ?after and receives every change once and in
// order; a user of project a, following the same node, never receives an
// event of project b; a client resuming from further back than the node
// keeps receives an explicit gap.
func TestE2E_EventStreamResumesExactlyAndKeepsToItsProject(t *testing.T) {
	requireBinary(t)
	t.Parallel()
	c := startCluster(t, 3, func(_ int, cfg *agentConfig) { cfg.extra = append(cfg.extra, "--event-history", "15s") })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	leader := c.leader()
	follower := c.followers(leader)[0]
	root := leader.client(c.token)
	for _, p := range []string{"a", "b"} {
		if _, err := root.CreateProject(ctx, client.ProjectRequest{Name: p}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := root.CreateUser(ctx, client.UserRequest{Name: "alice", Password: "alice password"}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.SetMember(ctx, "a", client.ProjectMember{User: "alice", Role: "operator"}); err != nil {
		t.Fatal(err)
	}
	login, err := follower.client("").Login(ctx, "alice", "alice password")
	if err != nil {
		t.Fatal(err)
	}

	all := dialEvents(t, ctx, follower, c.token, "?type=vm")
	alice := dialEvents(t, ctx, follower, login.Token, "")
	defer all.ws.CloseNow()
	defer alice.ws.CloseNow()
	start, err := all.next(ctx) // the first heartbeat: where the stream starts
	if err != nil {
		t.Fatal(err)
	}

	// Twenty VMs, half in each project, written through the leader while
	// the follower's client reads; its connection is cut after the fifth.
	const n = 20
	want := map[string]bool{}
	writeErr := make(chan error, 1)
	go func() {
		for i := range n {
			project := []string{"a", "b"}[i%2]
			vm, err := root.WithProject(project).CreateVM(ctx, client.VMRequest{Name: fmt.Sprintf("ev-%02d", i), VCPUs: 1, MemoryMiB: 64, DiskGiB: 1})
			if err != nil {
				writeErr <- err
				return
			}
			want[vm.ID] = true // read only after writeErr says the writer is done
		}
		writeErr <- nil
	}()
	var indexes []uint64
	created := map[string]int{}
	read := func(ec *eventsConn, until func() bool) error {
		for !until() {
			f, err := ec.next(ctx)
			if err != nil {
				return err
			}
			if len(f.Events) == 0 {
				continue
			}
			indexes = append(indexes, f.Index)
			for _, ev := range f.Events {
				if ev.Action == "create_vm" {
					created[ev.ID]++
				}
			}
		}
		return nil
	}
	if err := read(all, func() bool { return len(created) >= 5 }); err != nil {
		t.Fatal(err)
	}
	all.cut() // what it had buffered is lost with it: the resume sends it again
	if err := <-writeErr; err != nil {
		t.Fatal(err)
	}
	resumed := dialEvents(t, ctx, follower, c.token, "?type=vm&after="+strconv.FormatUint(indexes[len(indexes)-1], 10))
	defer resumed.ws.CloseNow()
	if err := read(resumed, func() bool { return len(created) >= n }); err != nil {
		t.Fatalf("after resuming, %d of %d creates: %v", len(created), n, err)
	}
	for i := 1; i < len(indexes); i++ {
		if indexes[i] <= indexes[i-1] {
			t.Fatalf("frames out of order or twice across the cut: %v", indexes)
		}
	}
	for id := range want {
		if created[id] != 1 {
			t.Errorf("vm %s created %d times in the stream, want once", id, created[id])
		}
	}
	if len(created) != n {
		t.Errorf("%d creates in the stream, want %d", len(created), n)
	}

	// alice follows everything she may read: project a's VMs, no b's. She
	// has read all of a's once her stream shows the last VM of a.
	seenA := 0
	for seenA < n/2 {
		f, err := alice.next(ctx)
		if err != nil {
			t.Fatalf("alice's stream after %d of a's VMs: %v", seenA, err)
		}
		for _, ev := range f.Events {
			if ev.Project != "a" {
				t.Fatalf("alice (project a) received %+v", ev)
			}
			if ev.Action == "create_vm" {
				seenA++
			}
		}
	}

	// Once the node no longer keeps the first change, resuming from before
	// it gives a gap, then what is kept.
	testutil.Eventually(t, time.Minute, "a gap for a resume from the stream's start", func() error {
		var first client.EventFrame
		err := follower.client(c.token).Events(ctx, client.EventsRequest{After: &start.Index, Limit: 1}, func(f client.EventFrame) error {
			first = f
			return nil
		})
		if err != nil {
			return err
		}
		if len(first.Events) == 0 || first.Events[0].Type != "gap" {
			return fmt.Errorf("first frame %+v", first)
		}
		if !strings.Contains(first.Events[0].Message, "no longer kept") || first.Index <= start.Index {
			return fmt.Errorf("gap %+v", first)
		}
		return nil
	})
}
