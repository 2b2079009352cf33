// Package console carries a VM's serial console to whoever asks on any
// node: the VM's host attaches to the console through its hypervisor, and a
// node that does not run the VM reaches that host over the cluster's
// internal API (mutual TLS), as a WebSocket of binary messages. The same
// goes for the serial log libvirt keeps of each guest, read from an offset
// so a client can follow it.
package console

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/novacron/novacron/api/client"
)

// ErrNoConsoles: this node's hypervisor has no consoles (sim).
var ErrNoConsoles = errors.New("this host's hypervisor has no serial consoles")

// Local is a host's hypervisor, as far as consoles go (*libvirt.Driver).
type Local interface {
	OpenConsole(ctx context.Context, id string) (io.ReadWriteCloser, error)
	ConsoleLog(ctx context.Context, id string) (*os.File, error)
}

// Peers reaches another node's internal API (*cluster.Agent).
type Peers interface {
	PeerGet(ctx context.Context, nodeID, path string, header http.Header) (*http.Response, error)
	PeerURL(nodeID, path string) (string, *http.Client, error)
}

// dialTimeout bounds reaching the VM's host for its console.
const dialTimeout = 15 * time.Second

// MaxLogChunk bounds one read of a console log.
const MaxLogChunk = 1 << 20

// Router opens consoles and logs where the VM runs: here, or on its node.
type Router struct {
	// Self is this node's ID; Local its hypervisor (nil: no consoles here).
	Self  string
	Local Local
	Peers Peers
}

// internalPath is the internal route of a VM's console ("" suffix) or log.
func internalPath(vmID, suffix string) string {
	return "/internal/v1/vms/" + url.PathEscape(vmID) + "/console" + suffix
}

// Open attaches to the console of VM vmID, which runs on node.
func (r *Router) Open(ctx context.Context, node, vmID string) (io.ReadWriteCloser, error) {
	if node == r.Self {
		if r.Local == nil {
			return nil, ErrNoConsoles
		}
		return r.Local.OpenConsole(ctx, vmID)
	}
	target, client, err := r.Peers.PeerURL(node, internalPath(vmID, ""))
	if err != nil {
		return nil, err
	}
	target = "ws" + strings.TrimPrefix(target, "http")
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	c, resp, err := websocket.Dial(dctx, target, &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusConflict {
			return nil, fmt.Errorf("%w: node %s: the vm is not running there", ErrNotRunning, node)
		}
		return nil, fmt.Errorf("the vm's host %s: %w", node, err)
	}
	c.SetReadLimit(-1)
	// The dial's context only bounded the handshake: the console lives
	// until one side closes it.
	return websocket.NetConn(context.WithoutCancel(ctx), c, websocket.MessageBinary), nil
}

// ErrNotRunning: the VM runs on no host that could attach to it.
var ErrNotRunning = errors.New("vm not running on its host")

// Log reads VM vmID's console log on node from offset on, at most
// MaxLogChunk bytes, and returns the bytes and the log's size.
func (r *Router) Log(ctx context.Context, node, vmID string, offset int64) ([]byte, int64, error) {
	if node == r.Self {
		if r.Local == nil {
			return nil, 0, ErrNoConsoles
		}
		f, err := r.Local.ConsoleLog(ctx, vmID)
		if err != nil {
			return nil, 0, err
		}
		defer f.Close()
		return readFrom(f, offset)
	}
	resp, err := r.Peers.PeerGet(ctx, node, internalPath(vmID, "/log")+"?offset="+strconv.FormatInt(offset, 10), nil)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return nil, 0, fmt.Errorf("the vm's host %s: %s", node, strings.TrimSpace(string(b)))
	}
	size, _ := strconv.ParseInt(resp.Header.Get(LogSizeHeader), 10, 64)
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxLogChunk))
	return b, size, err
}

// LogSizeHeader carries a console log's size with a chunk of it.
const LogSizeHeader = "X-Novacron-Log-Size"

// readFrom reads f from offset (clamped to its size), MaxLogChunk at most.
func readFrom(f *os.File, offset int64) ([]byte, int64, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	size := st.Size()
	offset = min(max(offset, 0), size)
	b := make([]byte, min(size-offset, MaxLogChunk))
	n, err := f.ReadAt(b, offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, err
	}
	return b[:n], size, nil
}

// Accept upgrades an HTTP request to a WebSocket for a console. The HTTP
// server's read and write deadlines are lifted first: a console stays open
// as long as its user types.
func Accept(w http.ResponseWriter, r *http.Request) (*websocket.Conn, error) {
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Time{})
	rc.SetWriteDeadline(time.Time{})
	// A browser offers the dashboard's subprotocol (and its credential as
	// another, which is never echoed): the answer must name one it offered.
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{client.WebSocketProtocol}})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(64 << 10)
	return c, nil
}

// Bridge copies between a client's WebSocket and a console until either
// side ends, then closes both.
func Bridge(ctx context.Context, ws *websocket.Conn, con io.ReadWriteCloser) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	client := websocket.NetConn(ctx, ws, websocket.MessageBinary)
	done := make(chan struct{}, 2)
	go func() { io.Copy(con, client); done <- struct{}{} }()
	go func() { io.Copy(client, con); done <- struct{}{} }()
	<-done
	con.Close()
	ws.Close(websocket.StatusNormalClosure, "console closed")
	<-done
}

// Serve attaches the client's request, upgraded to a WebSocket, to the
// console of VM vmID on node. An error means nothing was written yet (the
// caller answers it); once upgraded, the session's end is no error.
func (r *Router) Serve(w http.ResponseWriter, req *http.Request, node, vmID string) error {
	con, err := r.Open(req.Context(), node, vmID)
	if err != nil {
		return err
	}
	ws, err := Accept(w, req)
	if err != nil {
		con.Close() // Accept answered the client itself
		return nil
	}
	Bridge(req.Context(), ws, con)
	return nil
}
