package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// IdempotencyKeyHeader names the header that makes a create safe to retry:
// the server makes the VM at most once per key (and token), and answers a
// retry with the VM it made.
const IdempotencyKeyHeader = "Idempotency-Key"

// DefaultRetryFor bounds how long a request is retried, unless WithRetry says
// otherwise: long enough for the cluster to elect a new leader (a few
// seconds), short enough that a script notices a cluster that is down.
const DefaultRetryFor = 15 * time.Second

// unreachableRounds is how many times each agent of the list is tried when
// none answers.
const unreachableRounds = 3

// WithRetry bounds how long the Client retries a request that may be retried
// safely (see send); zero or less turns retries off.
func WithRetry(d time.Duration) Option {
	return func(c *Client) { c.retryFor = d }
}

// send makes req, retrying with back-off while it is safe and useful:
//   - when the agent could not be reached at all (nothing was sent), any
//     request, on the next address of the list;
//   - when no answer came back, or the answer was 503 (no leader, not ready,
//     stopping), a read or a request that carries an idempotency key.
//
// Other writes are never sent twice: their first try may have been applied.
func (c *Client) send(ctx context.Context, req request) (http.Header, error) {
	var body []byte
	if req.in != nil {
		var err error
		if body, err = json.Marshal(req.in); err != nil {
			return nil, fmt.Errorf("client: encode %s %s: %w", req.method, req.path, err)
		}
	}
	deadline := time.Now().Add(c.retryFor)
	wait := 100 * time.Millisecond
	var unreachable []string
	for {
		at := c.current.Load()
		base := c.bases[int(at)%len(c.bases)]
		h, answered, err := c.once(ctx, base, req, body)
		if err == nil {
			return h, nil
		}
		if !answered {
			unreachable = append(unreachable, fmt.Sprintf("%s (%s)", base, reachError(err)))
			c.current.CompareAndSwap(at, at+1) // try the next agent
		}
		// An agent that does not answer is tried again only a few times
		// (a restart); one that answers 503 is waited for up to retryFor
		// (a leader election).
		tooMany := len(unreachable) >= unreachableRounds*len(c.bases)
		if ctx.Err() != nil || tooMany || !retryable(req, answered, err) || time.Now().Add(wait).After(deadline) {
			if !answered {
				return nil, unreachableError{tried: unreachable, err: err, several: len(c.bases) > 1}
			}
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// retryable says whether req may be sent again after err.
func retryable(req request, answered bool, err error) bool {
	safe := req.method == http.MethodGet || req.method == http.MethodHead || req.idempotencyKey != ""
	if !answered {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return true // the request never left
		}
		return safe
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusServiceUnavailable {
		return false
	}
	switch apiErr.Code {
	case CodeNoLeader, CodeNotReady, CodeShuttingDown:
		return safe
	}
	return false
}

// reachError says why an agent gave no answer, without the URL (the
// message names the agent already).
func reachError(err error) string {
	var op *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer in time"
	case errors.As(err, &op):
		return op.Err.Error()
	}
	return err.Error()
}

// unreachableError is the error of a request that no agent answered. It
// names each agent tried and says how to reach another; errors.As still finds
// the last *url.Error inside.
type unreachableError struct {
	tried   []string
	err     error
	several bool
}

func (e unreachableError) Error() string {
	hint := "give the address of another agent with --address or NOVACRON_ADDR (several, comma-separated, are tried in turn)"
	if e.several {
		return fmt.Sprintf("no agent could be reached: %s; %s", strings.Join(dedupe(e.tried), ", "), hint)
	}
	return fmt.Sprintf("%s could not be reached; %s", strings.Join(dedupe(e.tried), ", "), hint)
}

func (e unreachableError) Unwrap() error { return e.err }

// dedupe keeps the first of repeated entries, in order.
func dedupe(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// newIdempotencyKey returns a random key for one create and its retries.
func newIdempotencyKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
