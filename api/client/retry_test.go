package client

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// closedAddress is an address where nothing listens.
func closedAddress(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// An agent that is down is skipped for the next one on the list, and the
// Client stays with the one that answered.
func TestClient_FailsOverBetweenAddresses(t *testing.T) {
	f := newFakeAPI(t, 200, `{"id":"c1"}`)
	down := closedAddress(t)
	c, err := New(down+","+f.srv.URL, "t")
	if err != nil {
		t.Fatal(err)
	}
	cl, err := c.Cluster(context.Background())
	if err != nil || cl.ID != "c1" {
		t.Fatalf("cluster %+v, err %v", cl, err)
	}
	if c.Address() != f.srv.URL {
		t.Errorf("address now %s, want the agent that answered %s", c.Address(), f.srv.URL)
	}
}

// A frozen agent (no answer within the timeout) is given up for the next.
func TestClient_FrozenAgentTimesOutToTheNext(t *testing.T) {
	release := make(chan struct{})
	frozen := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer frozen.Close()
	defer close(release)
	f := newFakeAPI(t, 200, `{"id":"c1"}`)
	c, err := New(frozen.URL+","+f.srv.URL, "t", WithTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if cl, err := c.Cluster(context.Background()); err != nil || cl.ID != "c1" {
		t.Fatalf("cluster %+v, err %v", cl, err)
	}
}

// When no agent answers, the error names each and says what to do, and
// still holds the network error.
func TestClient_NoAgentReachableSaysWhichAndWhatToDo(t *testing.T) {
	a, b := closedAddress(t), closedAddress(t)
	c, err := New(a+","+b, "t")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Cluster(context.Background())
	for _, want := range []string{"no agent could be reached", a, b, "connection refused", "NOVACRON_ADDR"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
	var op *net.OpError
	if !errors.As(err, &op) {
		t.Errorf("error %v does not hold the *net.OpError", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("gave up after %v: agents that refuse are retried only a few times", d)
	}
	if strings.Contains(err.Error(), "/api/v1") {
		t.Errorf("error %v shows the route", err)
	}
}

// A create answered 503 (no leader yet) is sent again with the same
// idempotency key until it is made; a VM action, which carries no key, is
// not sent twice.
func TestClient_RetriesOnlyWhatIsSafe(t *testing.T) {
	var mu sync.Mutex
	var keys []string
	answers := []int{503, 503, 201}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		keys = append(keys, r.Header.Get(IdempotencyKeyHeader))
		status := http.StatusServiceUnavailable
		if len(answers) > 0 {
			status, answers = answers[0], answers[1:]
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if status == 503 {
			w.Write([]byte(`{"error":{"code":"no_leader","message":"no cluster leader"}}`))
			return
		}
		w.Write([]byte(`{"id":"vm-1","name":"web-1"}`))
	}))
	defer srv.Close()
	c, err := New(srv.URL, "t")
	if err != nil {
		t.Fatal(err)
	}
	vm, err := c.CreateVM(context.Background(), VMRequest{Name: "web-1"})
	if err != nil || vm.ID != "vm-1" {
		t.Fatalf("create after two 503s: %+v, %v", vm, err)
	}
	mu.Lock()
	if len(keys) != 3 || keys[0] == "" || keys[0] != keys[1] || keys[1] != keys[2] {
		t.Errorf("idempotency keys sent %q: want one key, the same on every try", keys)
	}
	keys = nil
	mu.Unlock()

	_, err = c.VMAction(context.Background(), "web-1", "start")
	if ErrorCode(err) != CodeNoLeader {
		t.Fatalf("start: %v, want the 503 as it came", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keys) != 1 {
		t.Errorf("a start was sent %d times; a write without a key is sent once", len(keys))
	}
}
