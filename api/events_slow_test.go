package api

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/novacron/novacron/eventlog"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/testutil"
)

// A reader that stops reading is dropped once its frames have waited
// EventWriteLimit to leave, over either transport, instead of holding its
// stream, and what the node keeps for it, for ever; the node counts it.
func TestEvents_AReaderThatStopsReadingIsDropped(t *testing.T) {
	for _, transport := range []string{"ws", "ndjson"} {
		t.Run(transport, func(t *testing.T) {
			journal := eventlog.New(eventlog.Config{})
			e := newTestEnvWith(t, Config{NodeName: "node-1", Events: journal, EventWriteLimit: 200 * time.Millisecond}, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			// A client whose socket takes little, so that the node's
			// writes block soon.
			hc := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
				return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
			}}).DialContext}}
			url := e.http.URL + "/api/v1/events"
			if transport == "ws" {
				c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http"), &websocket.DialOptions{
					HTTPClient: hc, HTTPHeader: http.Header{"Authorization": {"Bearer " + e.root}}})
				if err != nil {
					t.Fatal(err)
				}
				defer c.CloseNow()
				if _, _, err := c.Read(ctx); err != nil { // the first heartbeat: the stream runs
					t.Fatal(err)
				}
			} else {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				req.Header.Set("Authorization", "Bearer "+e.root)
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if _, err := bufio.NewReader(resp.Body).ReadSlice('\n'); err != nil {
					t.Fatal(err)
				}
			}
			if n := e.metric("novacron_event_streams"); n != 1 {
				t.Fatalf("novacron_event_streams = %v with one reader", n)
			}
			// 32 MB of changes, which no socket buffer holds, and then
			// the client reads nothing more.
			big := strings.Repeat("x", 32<<10)
			for i := range 1024 {
				journal.Applied(uint64(100+i), []fsm.Event{{Type: fsm.CmdCreateVM, Kind: "vm", ID: fmt.Sprint(i), Name: big}})
			}
			testutil.Eventually(t, 10*time.Second, "the node to drop the reader", func() error {
				dropped, open := e.metric("novacron_event_readers_dropped_total"), e.metric("novacron_event_streams")
				if dropped != 1 || open != 0 {
					return fmt.Errorf("%v readers dropped, %v streams open; want 1 and 0", dropped, open)
				}
				return nil
			})
		})
	}
}

// metric is the value of an unlabelled series of this node's /metrics.
func (e *testEnv) metric(name string) float64 {
	e.t.Helper()
	a := e.do("GET", "/metrics", "", nil)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(a.body)
	if m == nil {
		e.t.Fatalf("/metrics has no %s", name)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}
