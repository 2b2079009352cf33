package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/errcode"
	"github.com/novacron/novacron/internal/latency"
)

// Writes reach Raft only on the leader. A follower forwards the encoded command to
// the leader's /internal/v1/apply, with the API token it writes for, if any
// (callerHeader), and gets back the index or the command's error. With TLS the
// call is authenticated by the node certificates on both ends; without TLS
// (--insecure) it is not authenticated at all.

// An internal answer's error carries a code from internal/errcode: the
// core's own (not_leader and not_ready are worth asking again; no_leader is
// not), authz's (the leader refused the caller: unauthenticated, forbidden),
// else an fsm sentinel's, so that the forwarding node rebuilds the very error
// the leader raised (answerError).

const maxForwardBody = 2 << 20

var raftApplyDuration = latency.Histogram("novacron_raft_apply_duration_seconds")

// errRetry marks a failure after which the command surely was not applied, so
// sending it again is safe.
type errRetry struct{ err error }

func (e errRetry) Error() string { return e.err.Error() }
func (e errRetry) Unwrap() error { return e.err }

// Apply proposes cmd and returns the Raft index it was applied at, or the
// command's own error (an fsm sentinel). On a follower it forwards to the leader,
// retrying while no leader is known, until ctx or the apply timeout ends. When
// ctx names the API token the write is made for (WithCaller), the leader
// checks that the token may make it (an authz sentinel otherwise), here or
// after forwarding alike.
func (a *Agent) Apply(ctx context.Context, cmd fsm.Command) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.ApplyTimeout)
	defer cancel()
	caller := CallerOf(ctx)
	for {
		var idx uint64
		var err error
		if a.IsLeader() {
			if err = a.authorize(caller, false, cmd); err == nil {
				idx, err = a.applyLocal(cmd)
			}
		} else {
			idx, err = a.forwarder.apply(ctx, cmd)
		}
		var retry errRetry
		if !errors.As(err, &retry) {
			// Leadership lost with the write in flight: it may or may not
			// have been applied. A command the FSM refuses to apply twice
			// (an idempotent create) is proposed again; any other is not.
			if !errors.Is(err, ErrNoLeader) || !fsm.SafeToRetry(cmd) {
				return idx, err
			}
			retry = errRetry{err}
		}
		select {
		case <-ctx.Done():
			return 0, retry.err
		case <-a.ctx.Done():
			return 0, ErrShutdown
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// applyLocal runs cmd through Raft on the leader, coalesced with concurrent
// writes by the batcher.
func (a *Agent) applyLocal(cmd fsm.Command) (uint64, error) {
	if err := a.checkVersions(cmd); err != nil {
		return 0, err
	}
	return a.batcher.submit(a.ctx, cmd)
}

// ConsistentIndex returns an index that, once applied locally, makes a read
// linearizable: the leader confirms it still leads, then answers with its applied
// index, which covers every write acknowledged so far (read-index).
func (a *Agent) ConsistentIndex(ctx context.Context) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.ApplyTimeout)
	defer cancel()
	for {
		var idx uint64
		var err error
		if a.IsLeader() {
			idx, err = a.readIndexLocal()
		} else {
			idx, err = a.forwarder.readIndex(ctx)
		}
		var retry errRetry
		if !errors.As(err, &retry) {
			return idx, err
		}
		select {
		case <-ctx.Done():
			return 0, retry.err
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// readIndexLocal answers a read index on the leader: its applied index, once
// it has confirmed it still leads. A new leader answers only after its barrier
// in the current term: before that, entries committed under the previous
// leader (and acknowledged to clients) may not be applied here yet, and a read
// at this applied index would miss them.
func (a *Agent) readIndexLocal() (uint64, error) {
	if a.readyTerm.Load() != a.raft.CurrentTerm() {
		return 0, errRetry{fmt.Errorf("%w: the new leader has not applied the previous term's entries yet", ErrNotReady)}
	}
	if err := a.verifyLeader(); err != nil {
		return 0, errRetry{fmt.Errorf("%w: %v", ErrNoLeader, err)}
	}
	return a.fsm.AppliedIndex(), nil
}

// verifyLeader confirms with a quorum that this node still leads. raft's
// future can stay unanswered when leadership and shutdown race, so the wait
// is bounded by the heartbeat timeout and the agent's life.
func (a *Agent) verifyLeader() error {
	f := a.raft.VerifyLeader()
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-time.After(2 * a.cfg.HeartbeatTimeout):
		return errors.New("leadership not confirmed in time")
	case <-a.ctx.Done():
		return ErrShutdown
	}
}

// forwarder sends writes and read-index requests to the leader's API address.
type forwarder struct {
	a      *Agent
	client *http.Client
	// mux holds the internal routes this node answers as leader.
	mux *http.ServeMux
}

func newForwarder(a *Agent) *forwarder {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     90 * time.Second,
	}
	if a.cfg.TLS != nil {
		tr.TLSClientConfig = a.cfg.TLS.Clone()
	}
	f := &forwarder{a: a, client: &http.Client{Transport: tr}, mux: http.NewServeMux()}
	f.routes()
	return f
}

func (f *forwarder) close() { f.client.CloseIdleConnections() }

// wireAnswer is the body of every internal answer.
type wireAnswer struct {
	Index uint64     `json:"index,omitempty"`
	Error *wireError `json:"error,omitempty"`
}

type wireError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// leaderURL finds the leader's API address through gossip metadata.
func (f *forwarder) leaderURL(path string) (string, error) {
	_, id := f.a.raft.LeaderWithID()
	if id == "" {
		return "", errRetry{ErrNoLeader}
	}
	m, ok := f.a.gossip.memberByID(string(id))
	if !ok || m.Meta.API == "" {
		return "", errRetry{fmt.Errorf("%w: leader %s not known to gossip yet", ErrNoLeader, id)}
	}
	scheme := "http://"
	if f.a.cfg.TLS != nil {
		scheme = "https://"
	}
	return scheme + m.Meta.API + path, nil
}

func (f *forwarder) apply(ctx context.Context, cmd fsm.Command) (uint64, error) {
	b, err := fsm.Encode(cmd)
	if err != nil {
		return 0, err
	}
	return f.call(ctx, http.MethodPost, "/internal/v1/apply", b)
}

func (f *forwarder) readIndex(ctx context.Context) (uint64, error) {
	return f.call(ctx, http.MethodGet, "/internal/v1/read-index", nil)
}

// call sends a forwarded command or read-index request to the leader and
// returns the index it answers with, or the error it carries.
func (f *forwarder) call(ctx context.Context, method, path string, body []byte) (uint64, error) {
	resp, err := f.send(ctx, method, path, "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var ans wireAnswer
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxForwardBody)).Decode(&ans); err != nil {
		return 0, fmt.Errorf("%w: unreadable answer from leader (HTTP %d): %v", ErrNoLeader, resp.StatusCode, err)
	}
	if ans.Error == nil {
		return ans.Index, nil
	}
	return ans.Index, answerError(ans.Error)
}

// callJSON sends a JSON body (nil for none) to the leader's internal path and
// decodes a JSON answer into out (nil to ignore it). Errors come back as call's
// do.
func (f *forwarder) callJSON(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	resp, err := f.send(ctx, method, path, "application/json", rd)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var ans wireAnswer
		if json.NewDecoder(io.LimitReader(resp.Body, maxForwardBody)).Decode(&ans) == nil && ans.Error != nil {
			return answerError(ans.Error)
		}
		return fmt.Errorf("%w: leader answered HTTP %d", ErrNoLeader, resp.StatusCode)
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(io.LimitReader(resp.Body, maxForwardBody)).Decode(out)
}

// send makes one request to the leader's internal path, naming the API token
// ctx carries (WithCaller), if any. A leader that cannot be dialled is worth
// asking again (errRetry).
func (f *forwarder) send(ctx context.Context, method, path, contentType string, body io.Reader) (*http.Response, error) {
	target, err := f.leaderURL(path)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	if caller := CallerOf(ctx); caller != "" {
		req.Header.Set(callerHeader, caller)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := f.client.Do(req)
	if err != nil {
		// The user sees this message: name the failure, not the internal
		// route it happened on (*url.Error carries the URL).
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return nil, errRetry{fmt.Errorf("%w: the leader cannot be reached: %v", ErrNoLeader, err)}
		}
		return nil, fmt.Errorf("%w: the leader stopped answering (a write may or may not have been applied): %v", ErrNoLeader, err)
	}
	return resp, nil
}

// answerError rebuilds the error an internal answer carries: the cluster's
// own codes (not_leader and not_ready are worth asking again), the leader's
// refusals of the caller (authz's), else the FSM's.
func answerError(e *wireError) error {
	switch e.Code {
	case errcode.NotLeader:
		return errRetry{fmt.Errorf("%w: %s", ErrNoLeader, e.Message)}
	case errcode.NoLeader:
		return fmt.Errorf("%w: %s", ErrNoLeader, e.Message)
	case errcode.NotReady:
		return errRetry{fmt.Errorf("%w: %s", ErrNotReady, e.Message)}
	case errcode.Unauthenticated:
		return authz.Errorf(authz.ErrUnauthenticated, "%s", e.Message)
	case errcode.Forbidden:
		return authz.Errorf(authz.ErrForbidden, "%s", e.Message)
	}
	return fsm.ErrorFromCode(e.Code, e.Message)
}
