package client

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/coder/websocket"

	"github.com/novacron/novacron/internal/version"
)

// LogSizeHeader carries a console log's size with a chunk of it.
const LogSizeHeader = "X-Novacron-Log-Size"

// Console attaches to a running VM's serial console (GET
// /api/v1/vms/{id}/console, a WebSocket of binary messages). What is
// written to the connection is typed into the guest; what is read is its
// output. Close detaches. ctx bounds only the attach.
func (c *Client) Console(ctx context.Context, idOrName string) (net.Conn, error) {
	if err := requireID("vm", idOrName); err != nil {
		return nil, err
	}
	target := c.Address() + pathf(apiPrefix+"/vms/%s/console", idOrName)
	if c.project != "" {
		target += "?" + url.Values{"project": {c.project}}.Encode()
	}
	h := http.Header{"User-Agent": {"novacron-client/" + version.Version}}
	if c.token != "" {
		h.Set("Authorization", "Bearer "+c.token)
	}
	ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(target, "http"), &websocket.DialOptions{HTTPClient: c.http, HTTPHeader: h})
	if err != nil {
		if resp != nil && resp.StatusCode >= 400 {
			raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			return nil, parseAPIError(resp.StatusCode, raw)
		}
		return nil, fmt.Errorf("client: console of vm %s: %w", idOrName, err)
	}
	ws.SetReadLimit(-1)
	return websocket.NetConn(context.WithoutCancel(ctx), ws, websocket.MessageBinary), nil
}

// ConsoleLog reads a VM's serial log from offset on (at most 1 MiB) and
// returns it with the log's whole size: ask again from offset+len to
// follow it (GET /api/v1/vms/{id}/console/log?offset=N).
func (c *Client) ConsoleLog(ctx context.Context, idOrName string, offset int64) ([]byte, int64, error) {
	if err := requireID("vm", idOrName); err != nil {
		return nil, 0, err
	}
	var out []byte
	h, err := c.doHeader(ctx, http.MethodGet, pathf(apiPrefix+"/vms/%s/console/log", idOrName), url.Values{"offset": {strconv.FormatInt(offset, 10)}}, nil, &out)
	if err != nil {
		return nil, 0, err
	}
	size, _ := strconv.ParseInt(h.Get(LogSizeHeader), 10, 64)
	return out, size, nil
}
