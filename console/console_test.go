package console

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// echoLocal is a host whose one VM's console answers each line with the
// line in upper case, and whose log is a file.
type echoLocal struct {
	logPath string
}

func (e *echoLocal) OpenConsole(_ context.Context, id string) (io.ReadWriteCloser, error) {
	if id != "vm-1" {
		return nil, errors.New("domain not found")
	}
	host, guest := net.Pipe()
	go func() {
		buf := make([]byte, 256)
		for {
			n, err := guest.Read(buf)
			if err != nil {
				return
			}
			guest.Write(bytes.ToUpper(buf[:n]))
		}
	}()
	return host, nil
}

func (e *echoLocal) ConsoleLog(_ context.Context, id string) (*os.File, error) {
	return os.Open(e.logPath)
}

// peers sends every internal call to one node's Handler.
type peers struct{ srv *httptest.Server }

func (p peers) PeerGet(ctx context.Context, _, path string, _ http.Header) (*http.Response, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.srv.URL+path, nil)
	return p.srv.Client().Do(req)
}

func (p peers) PeerURL(_, path string) (string, *http.Client, error) {
	return p.srv.URL + path, p.srv.Client(), nil
}

func newHost(t *testing.T) (*echoLocal, peers) {
	t.Helper()
	local := &echoLocal{logPath: filepath.Join(t.TempDir(), "serial.log")}
	if err := os.WriteFile(local.logPath, []byte("tick 1\ntick 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, p := range Routes() {
		mux.Handle(p, &Handler{Local: local})
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return local, peers{srv}
}

// typeLine writes line and reads until want comes back.
func typeLine(t *testing.T, con io.ReadWriter, line, want string) {
	t.Helper()
	if _, err := con.Write([]byte(line)); err != nil {
		t.Fatal(err)
	}
	if c, ok := con.(net.Conn); ok {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
	}
	var got []byte
	buf := make([]byte, 256)
	for !strings.Contains(string(got), want) {
		n, err := con.Read(buf)
		if err != nil {
			t.Fatalf("reading the console after %q: %v (got %q)", line, err, got)
		}
		got = append(got, buf[:n]...)
	}
}

func TestRouter_LocalAndProxied(t *testing.T) {
	local, p := newHost(t)
	ctx := context.Background()

	here := &Router{Self: "n1", Local: local, Peers: p}
	con, err := here.Open(ctx, "n1", "vm-1")
	if err != nil {
		t.Fatal(err)
	}
	typeLine(t, con, "echo here\n", "ECHO HERE")
	con.Close()

	// Another node, without consoles of its own, reaches n2's through the
	// internal route, as a WebSocket.
	elsewhere := &Router{Self: "n1", Peers: p}
	con, err = elsewhere.Open(ctx, "n2", "vm-1")
	if err != nil {
		t.Fatal(err)
	}
	typeLine(t, con, "echo proxied\n", "ECHO PROXIED")
	con.Close()
	if _, err := elsewhere.Open(ctx, "n2", "vm-9"); err == nil {
		t.Fatal("a console of an unknown vm opened")
	}
	if _, err := elsewhere.Open(ctx, "n1", "vm-1"); !errors.Is(err, ErrNoConsoles) {
		t.Fatalf("a node without consoles: %v", err)
	}
}

func TestRouter_LogFromAnOffset(t *testing.T) {
	local, p := newHost(t)
	for _, r := range []*Router{{Self: "n1", Local: local, Peers: p}, {Self: "n0", Peers: p}} {
		b, size, err := r.Log(context.Background(), "n1", "vm-1", 7)
		if err != nil || string(b) != "tick 2\n" || size != 14 {
			t.Fatalf("log from 7: %q, size %d, %v", b, size, err)
		}
		b, size, err = r.Log(context.Background(), "n1", "vm-1", 100)
		if err != nil || len(b) != 0 || size != 14 {
			t.Fatalf("log past its end: %q, size %d, %v", b, size, err)
		}
	}
}

// TestServe_BridgesAClientWebSocket: the API's side, a client's WebSocket
// attached to the console until it hangs up.
func TestServe_BridgesAClientWebSocket(t *testing.T) {
	local, p := newHost(t)
	r := &Router{Self: "n1", Local: local, Peers: p}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if err := r.Serve(w, req, "n1", req.URL.Query().Get("vm")); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
		}
	}))
	defer api.Close()
	ctx := context.Background()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(api.URL, "http")+"?vm=vm-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	con := websocket.NetConn(ctx, ws, websocket.MessageBinary)
	typeLine(t, con, "uname\n", "UNAME")
	con.Close()
	resp, err := http.Get(api.URL + "?vm=vm-9")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("unknown vm: HTTP %d, want 409 before any upgrade", resp.StatusCode)
	}
}
