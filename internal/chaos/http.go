package chaos

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/novacron/novacron/api/client"
)

// HTTPTarget reaches one node through its HTTP API, as users' scripts do:
// writes are PUT /api/v1/vms/{id}, reads GET /api/v1/vms/{id}?consistent.
type HTTPTarget struct {
	name     string
	c, reads *client.Client // reads carries ?consistent
	spec     func(key int, value int64) client.VMRequest
}

// httpTimeout bounds one request: long enough for a write that waits out an
// election, short enough that clients stuck on a cut-off node come back.
const httpTimeout = 5 * time.Second

// NewHTTPTarget returns a target for the node called name whose API is at
// addr, trusting tlsCfg's CA for https (nil for a plain-HTTP --insecure
// node). spec builds register key's full spec holding value (the VM's other
// fields must stay what they were at creation).
func NewHTTPTarget(name, addr, token string, tlsCfg *tls.Config, spec func(key int, value int64) client.VMRequest) (*HTTPTarget, error) {
	// Own connections, enough of them for every client of a run, and a short
	// dial timeout: a cut-off node drops the SYN and would hold a client for
	// the whole request timeout before it could try another node.
	hc := &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
		MaxIdleConnsPerHost: 128,
		TLSClientConfig:     tlsCfg,
	}}
	c, err := client.New(addr, token, client.WithHTTPClient(hc), client.WithTimeout(httpTimeout))
	if err != nil {
		return nil, err
	}
	return &HTTPTarget{
		name: name, c: c, spec: spec,
		reads: c.WithReadOptions(client.ReadOptions{Consistent: true}),
	}, nil
}

func (t *HTTPTarget) Name() string { return t.name }

// Write replaces the register's spec. A 4xx answer means the write was refused
// before Raft or committed as a no-op, except the statuses that only say "not
// now" (408, 421, 429, 499), which leave it unknown, as any other failure does.
func (t *HTTPTarget) Write(ctx context.Context, key int, id string, value int64) (uint64, error) {
	_, err := t.c.UpdateVM(ctx, id, t.spec(key, value))
	var apiErr *client.APIError
	if errors.As(err, &apiErr) && apiErr.Status >= 400 && apiErr.Status < 500 {
		switch apiErr.Status {
		case http.StatusRequestTimeout, http.StatusMisdirectedRequest, http.StatusTooManyRequests, 499:
		default:
			return 0, fmt.Errorf("%w: %w", ErrRefused, err)
		}
	}
	return 0, err
}

// Read is a consistent read: the node answers once it has applied the
// leader's read index.
func (t *HTTPTarget) Read(ctx context.Context, id string) (string, bool, uint64, error) {
	vm, err := t.reads.VM(ctx, id)
	if client.IsNotFound(err) {
		return "", false, 0, nil
	}
	if err != nil {
		return "", false, 0, err
	}
	return vm.Labels["v"], true, 0, nil
}

// Leading asks the node for its own view of the cluster.
func (t *HTTPTarget) Leading(ctx context.Context) (bool, uint64) {
	cl, err := t.c.Cluster(ctx)
	if err != nil || cl.Leader == "" {
		return false, 0
	}
	return cl.Leader == cl.Node, cl.Term
}
