package api

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/ids"
)

// serveReal serves the env's API on a real loopback socket with cfg's bounds,
// as the agent does, and returns its address.
func (e *testEnv) serveReal(cfg Config) string {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	srv := cfg.HTTPServer(e.server.Handler())
	go srv.Serve(cfg.Listener(ln))
	e.t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A body trickled in is cut once ReadTimeout has passed since the request
// began, whether each byte comes late (every 2 s) or in time (every 250 ms):
// the bound is on the whole request, not on each read.
func TestHTTPServer_SlowBodyIsCut(t *testing.T) {
	for _, every := range []time.Duration{2 * time.Second, 250 * time.Millisecond} {
		t.Run(every.String(), func(t *testing.T) {
			e := newTestEnv(t)
			const readTimeout = time.Second
			addr := e.serveReal(Config{ReadTimeout: readTimeout})
			conn := dial(t, addr)
			start := time.Now()
			fmt.Fprintf(conn, "POST /api/v1/vms HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n", e.root)
			closed := make(chan time.Duration, 1)
			go func() {
				io.Copy(io.Discard, conn) // until the server closes the connection
				closed <- time.Since(start)
			}()
			tick := time.NewTicker(every)
			defer tick.Stop()
			never := time.After(10 * readTimeout)
			for {
				select {
				case d := <-closed:
					t.Logf("slow body (a byte every %s) cut after %s (ReadTimeout %s)", every, d.Round(time.Millisecond), readTimeout)
					if d > readTimeout+time.Second {
						t.Fatalf("cut after %s, want within about %s", d, readTimeout)
					}
					return
				case <-tick.C:
					conn.Write([]byte("{"))
				case <-never:
					t.Fatal("the slow body was never cut")
				}
			}
		})
	}
}

func TestHTTPServer_HeaderFloodGets431(t *testing.T) {
	e := newTestEnv(t)
	addr := e.serveReal(DefaultConfig())
	req, err := http.NewRequest("GET", "http://"+addr+"/api/v1/vms", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.root)
	for i := range 20 {
		req.Header.Set(fmt.Sprintf("X-Flood-%d", i), strings.Repeat("a", 8<<10))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("160 KiB of headers: status %d, want 431", resp.StatusCode)
	}
	// Headers within the limit pass.
	req.Header = http.Header{"Authorization": {"Bearer " + e.root}, "X-Some": {strings.Repeat("a", 32<<10)}}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("32 KiB of headers: status %d, want 200", resp.StatusCode)
	}
}

// With MaxConns connections open, the next is not served until one closes.
func TestHTTPServer_ConnectionLimitHolds(t *testing.T) {
	e := newTestEnv(t)
	addr := e.serveReal(Config{MaxConns: 2})
	get := "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	// Two keep-alive connections, each served once, stay open and hold the slots.
	held := []net.Conn{dial(t, addr), dial(t, addr)}
	for _, c := range held {
		io.WriteString(c, get)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("held connection: %v, %v", resp, err)
		}
		resp.Body.Close()
	}
	third := dial(t, addr)
	io.WriteString(third, get)
	r3 := bufio.NewReader(third)
	third.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := r3.ReadByte(); err == nil {
		t.Fatal("a third connection was served while two held the limit of 2")
	}
	held[0].Close()
	third.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(r3, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("third connection after one closed: %v, %v", resp, err)
	}
	resp.Body.Close()
}

// Eight clients that ask for the largest list page and then stop reading pin
// at most about MaxPageBytes each, not the whole list: the measured heap growth
// is logged beside what unbounded pages pin.
func TestListVMs_SlowReadersPinBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 20 MB list")
	}
	const readers, vms = 8, 1000
	measure := func(pageBytes int64) (listBytes int, growth int64) {
		e := newTestEnvWith(t, Config{NodeName: "node-1", MaxPageBytes: pageBytes}, nil)
		labels := map[string]string{}
		for i := range fsm.MaxLabels {
			labels[fmt.Sprintf("label-%02d", i)] = strings.Repeat("v", fsm.MaxLabelValueLen)
		}
		for i := range vms {
			req := validVM(fmt.Sprintf("big-%04d", i))
			req.Labels = labels
			e.cluster.mustApply(t, &fsm.CreateVM{ID: ids.New(), Spec: toFSMSpec(req), At: time.Now().UTC()})
		}
		addr := e.serveReal(Config{})
		before := heapAfterGC()
		conns := make([]net.Conn, readers)
		for i := range conns {
			conns[i] = dial(t, addr)
			fmt.Fprintf(conns[i], "GET /api/v1/vms?limit=5000 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", e.root)
		}
		for _, c := range conns {
			// One byte read says the handler has built its answer; the rest
			// stays unread.
			c.SetReadDeadline(time.Now().Add(2 * time.Minute))
			if _, err := c.Read(make([]byte, 1)); err != nil {
				t.Fatalf("slow reader: no answer: %v", err)
			}
		}
		growth = int64(heapAfterGC()) - int64(before)
		for _, c := range conns {
			c.Close()
		}
		var probe answer = e.do("GET", "/api/v1/vms?limit=5000", e.root, nil)
		n := len(probe.body)
		for next := nextLink(t, probe); next != ""; {
			a := e.do("GET", next, e.root, nil)
			n += len(a.body)
			next = nextLink(t, a)
		}
		return n, growth
	}
	const bound = 1 << 20
	total, bounded := measure(bound)
	_, unbounded := measure(1 << 40)
	t.Logf("%d slow readers of a %.1f MB list: heap grew %.1f MB with %d KiB pages, %.1f MB with unbounded pages",
		readers, float64(total)/1e6, float64(bounded)/1e6, bound>>10, float64(unbounded)/1e6)
	if limit := int64(readers * 3 * bound); bounded > limit {
		t.Fatalf("heap grew %d bytes with %d slow readers, want under %d", bounded, readers, limit)
	}
}

// heapAfterGC is the live heap after a collection.
func heapAfterGC() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
