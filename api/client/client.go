package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/novacron/novacron/internal/version"
)

// IndexHeader is the response header that carries the answering node's applied Raft
// index (for reads) or the commit index of the change (for writes).
const IndexHeader = "X-Novacron-Index"

// DefaultTimeout bounds one try of a read, including reading its answer,
// unless WithTimeout says otherwise: an agent that does not answer in that
// time is given up for the next address.
const DefaultTimeout = 10 * time.Second

// DefaultWriteTimeout bounds one try of a write: an agent may wait up to 10
// s for a new leader before it proposes a write, so a write gets longer.
const DefaultWriteTimeout = 20 * time.Second

// apiPrefix is where every route of the API lives.
const apiPrefix = "/api/v1"

// maxErrorBody bounds how much of a non-JSON error body ends up in an APIError.
const maxErrorBody = 512

// Client talks to one NovaCron node's HTTP API. It is safe for concurrent use.
// A Client derived with WithReadOptions shares its HTTP client and its last index
// with the Client it came from.
type Client struct {
	// bases are the agents' addresses, scheme://host[:port][/prefix] with no
	// trailing slash; current indexes the one in use, which moves on when
	// an agent cannot be reached (shared by the Clients derived from this one).
	bases   []string
	current *atomic.Int32
	token   string
	http    *http.Client
	timeout time.Duration
	// writeTimeout bounds a try of a write (DefaultWriteTimeout).
	writeTimeout time.Duration
	// retryFor bounds how long a request is retried (see retry.go).
	retryFor time.Duration
	read     ReadOptions
	index    *atomic.Uint64
	// project, when set, is sent as ?project= with every request that
	// names none (WithProject).
	project string
}

// Option changes how New builds a Client.
type Option func(*Client)

// WithHTTPClient makes the Client send its requests through hc (for TLS settings,
// proxies or a test transport). A nil hc keeps the default.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.http = hc
		}
	}
}

// WithTLS makes the Client reach an https:// address trusting cfg's RootCAs
// and presenting its certificates (an agent started with --tls-*), over
// kept-alive connections so the TLS handshake is paid once per connection.
func WithTLS(cfg *tls.Config) Option {
	return func(c *Client) {
		c.http = &http.Client{Transport: &http.Transport{
			TLSClientConfig: cfg, MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second,
		}}
	}
}

// WithTimeout bounds each try of a request, read or write, from sending it to
// reading the whole answer. Zero or a negative value means no bound other
// than the caller's context.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) { c.timeout, c.writeTimeout = d, d }
}

// ReadOptions tune how a node answers a read. The zero value reads the answering
// node's local state as it is.
type ReadOptions struct {
	// WaitIndex makes the node wait until it has applied at least this Raft index
	// before it answers (?index=N): pass LastIndex() after a write to read your own
	// write on any node.
	WaitIndex uint64
	// Consistent makes the read go through the leader after it has confirmed its
	// leadership (?consistent), so it reflects every committed write.
	Consistent bool
}

// New returns a Client for the API at address (https://host:port; a trailing
// slash is fine, and host:port alone means https) that authenticates with token.
// address may list several agents, comma-separated: the Client uses the first
// and moves on to the next when one cannot be reached. An empty token sends no
// Authorization header, which only unauthenticated routes such as Health accept.
func New(address, token string, opts ...Option) (*Client, error) {
	var bases []string
	for _, a := range strings.Split(address, ",") {
		if strings.TrimSpace(a) == "" && strings.Contains(address, ",") {
			continue
		}
		base, err := parseAddress(a)
		if err != nil {
			return nil, err
		}
		bases = append(bases, base)
	}
	if len(bases) > maxAddresses {
		return nil, fmt.Errorf("client: %d API addresses, at most %d", len(bases), maxAddresses)
	}
	c := &Client{
		bases:        bases,
		current:      new(atomic.Int32),
		token:        token,
		http:         &http.Client{},
		timeout:      DefaultTimeout,
		writeTimeout: DefaultWriteTimeout,
		retryFor:     DefaultRetryFor,
		index:        new(atomic.Uint64),
	}
	for _, opt := range opts {
		opt(c)
	}
	return c, nil
}

// parseAddress checks that address is an absolute http(s) URL without query or
// fragment and returns it without its trailing slashes.
func parseAddress(address string) (string, error) {
	address = strings.TrimSpace(address)
	if address == "" {
		return "", errors.New("client: empty API address")
	}
	if !strings.Contains(address, "://") {
		address = "https://" + address // agents serve HTTPS unless told otherwise
	}
	u, err := url.Parse(address)
	if err != nil {
		return "", fmt.Errorf("client: invalid API address %q: %w", address, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("client: invalid API address %q: want http://host:port or https://host:port", address)
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("client: invalid API address %q: no host", address)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", fmt.Errorf("client: invalid API address %q: only scheme, host, port and path are allowed", address)
	}
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), nil
}

// maxAddresses bounds the agents one Client lists.
const maxAddresses = 16

// Address is the base address the Client sends its requests to now.
func (c *Client) Address() string { return c.bases[int(c.current.Load())%len(c.bases)] }

// LastIndex is the index carried by the X-Novacron-Index header of the last
// response that had one, 0 before any. After a write it is the write's commit
// index: pass it as ReadOptions.WaitIndex to read your own write.
func (c *Client) LastIndex() uint64 { return c.index.Load() }

// WithReadOptions returns a Client whose reads carry o. Writes ignore read options.
// The returned Client shares the HTTP client and LastIndex with c.
func (c *Client) WithReadOptions(o ReadOptions) *Client {
	d := *c
	d.read = o
	return &d
}

// WithProject returns a Client whose requests work in project (?project=):
// VMs are created in it, found by name in it and listed from it. Routes
// outside projects (nodes, settings) ignore it. The returned Client shares
// the HTTP client and LastIndex with c.
func (c *Client) WithProject(project string) *Client {
	d := *c
	d.project = project
	return &d
}

// WithToken returns a Client that sends token instead (a login's session,
// a key just made). The returned Client shares the HTTP client and
// LastIndex with c.
func (c *Client) WithToken(token string) *Client {
	d := *c
	d.token = token
	return &d
}

// readQuery returns the query parameters of a read: the ReadOptions plus extra.
func (c *Client) readQuery(extra url.Values) url.Values {
	q := url.Values{}
	for k, v := range extra {
		q[k] = v
	}
	if c.read.WaitIndex > 0 {
		q.Set("index", strconv.FormatUint(c.read.WaitIndex, 10))
	}
	if c.read.Consistent {
		q.Set("consistent", "true")
	}
	return q
}

// get sends a read with the Client's ReadOptions and decodes the answer into out.
func (c *Client) get(ctx context.Context, path string, query url.Values, out any) error {
	return c.do(ctx, http.MethodGet, path, c.readQuery(query), nil, out)
}

// do sends one request to path (below the base address) and decodes a successful JSON answer into
// out (when out is non-nil and the answer has a body). An answer of status 400 or
// more becomes an *APIError. path must already be escaped (see pathf).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	_, err := c.doHeader(ctx, method, path, query, in, out)
	return err
}

// doHeader is do, and returns the answer's headers too.
func (c *Client) doHeader(ctx context.Context, method, path string, query url.Values, in, out any) (http.Header, error) {
	return c.send(ctx, request{method: method, path: path, query: query, in: in, out: out})
}

// request is one API call as send makes it, possibly several times.
type request struct {
	method, path string
	query        url.Values
	in, out      any
	// idempotencyKey, when set, is sent as Idempotency-Key: the server
	// makes the write at most once, so it may be retried whatever happened.
	idempotencyKey string
}

// once sends req to base and reads the answer, within the Client's timeout.
// answered is false when no HTTP answer came back (err says why).
func (c *Client) once(ctx context.Context, base string, req request, body []byte) (_ http.Header, answered bool, _ error) {
	timeout := c.timeout
	if req.method != http.MethodGet && req.method != http.MethodHead {
		timeout = c.writeTimeout
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	target := base + req.path
	query := req.query
	if c.project != "" && !query.Has("project") && !query.Has("all-projects") {
		query = url.Values{"project": {c.project}}
		for k, v := range req.query {
			query[k] = v
		}
	}
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, target, rd)
	if err != nil {
		return nil, false, fmt.Errorf("client: build %s %s: %w", req.method, req.path, err)
	}
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("User-Agent", "novacron-client/"+version.Version)
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		hr.Header.Set("Authorization", "Bearer "+c.token)
	}
	if req.idempotencyKey != "" {
		hr.Header.Set(IdempotencyKeyHeader, req.idempotencyKey)
	}
	resp, err := c.http.Do(hr)
	if err != nil {
		return nil, false, err
	}
	h, err := c.decodeAnswer(resp, req)
	return h, true, err
}

// decodeAnswer reads resp into req.out, or into an *APIError for a status of
// 400 or more.
func (c *Client) decodeAnswer(resp *http.Response, req request) (http.Header, error) {
	defer resp.Body.Close()
	c.recordIndex(resp.Header)
	if resp.StatusCode >= 400 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, parseAPIError(resp.StatusCode, raw)
	}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("client: read answer of %s %s: %w", req.method, req.path, err)
	}
	if b, ok := req.out.(*[]byte); ok {
		*b = raw // an answer that is no JSON (a console log), as it came
		return resp.Header, nil
	}
	if req.out == nil || len(bytes.TrimSpace(raw)) == 0 {
		return resp.Header, nil
	}
	if err := json.Unmarshal(raw, req.out); err != nil {
		return nil, fmt.Errorf("client: decode answer of %s %s: %w", req.method, req.path, err)
	}
	return resp.Header, nil
}

// recordIndex keeps the index header of a response, if it has a valid one.
func (c *Client) recordIndex(h http.Header) {
	v := h.Get(IndexHeader)
	if v == "" {
		return
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		c.index.Store(n)
	}
}

// pathf builds a route from a format with %s verbs, escaping each segment so that
// an ID or name can never change the route ("a/b" becomes "a%2Fb").
func pathf(format string, segments ...string) string {
	args := make([]any, len(segments))
	for i, s := range segments {
		args[i] = url.PathEscape(s)
	}
	return fmt.Sprintf(format, args...)
}

// requireID refuses an empty ID or name before it turns into a list route.
func requireID(what, idOrName string) error {
	if strings.TrimSpace(idOrName) == "" {
		return fmt.Errorf("client: empty %s ID or name", what)
	}
	return nil
}
