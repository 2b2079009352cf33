package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/eventlog"
	"github.com/novacron/novacron/fsm"
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
