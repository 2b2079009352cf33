package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/errcode"
	"github.com/novacron/novacron/internal/pki"
)

// handler serves the node-to-node endpoints: write forwarding, read index,
// lease heartbeats, and the routes other packages add with HandleInternal
// (the leader's load reports, rebalancer status and dry runs). With TLS all
// need a node certificate; all are answered by the leader only; none is part
// of the public API.
func (f *forwarder) handler() http.Handler { return f.authenticate(f.mux) }

// routes registers the core's own internal routes.
func (f *forwarder) routes() {
	f.mux.HandleFunc("POST /internal/v1/apply", f.leaderOnly(f.serveApply))
	f.mux.HandleFunc("GET /internal/v1/read-index", f.leaderOnly(f.serveReadIndex))
	f.mux.HandleFunc("POST /internal/v1/heartbeat", f.leaderOnly(f.serveHeartbeat))
}

// InternalFunc answers one internal JSON call on the leader: the decoded
// answer, or an error (an fsm sentinel travels back as itself).
type InternalFunc func(r *http.Request) (any, error)

// HandleInternal adds a leader-only route to the internal API, such as
// "POST /internal/v1/load". The caller reaches it with CallLeader. Register
// routes before the node serves InternalHandler.
func (a *Agent) HandleInternal(pattern string, fn InternalFunc) {
	a.forwarder.mux.HandleFunc(pattern, a.forwarder.leaderOnly(func(w http.ResponseWriter, r *http.Request) {
		out, err := fn(r)
		if err != nil {
			// A JSON answer is 200 only on success (see callJSON).
			status, ans := resultAnswer(0, err)
			if status == http.StatusOK {
				status = http.StatusUnprocessableEntity
			}
			writeAnswer(w, status, ans)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	}))
}

// DecodeInternal reads an internal call's JSON body (at most maxForwardBody
// bytes) into v; an unreadable body is fsm.ErrMalformed.
func DecodeInternal(r *http.Request, v any) error {
	if err := json.NewDecoder(io.LimitReader(r.Body, maxForwardBody)).Decode(v); err != nil {
		return fmt.Errorf("%w: unreadable body: %v", fsm.ErrMalformed, err)
	}
	return nil
}

// CallLeader makes an internal JSON call to the leader's route (body nil for
// none; out nil to ignore the answer). Errors come back as the leader raised
// them; ErrNoLeader while none is known.
func (a *Agent) CallLeader(ctx context.Context, method, path string, body, out any) error {
	return a.forwarder.callJSON(ctx, method, path, body, out)
}

// leaderOnly answers 421 not_leader on a node that does not lead, so the
// caller asks the leader it knows again.
func (f *forwarder) leaderOnly(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !f.a.IsLeader() {
			writeAnswer(w, http.StatusMisdirectedRequest, wireAnswer{Error: &wireError{errcode.NotLeader, "this node is not the leader"}})
			return
		}
		next(w, r)
	}
}

// authenticate lets only the cluster's nodes call: with TLS, a peer must
// present a node certificate of the cluster's CA. Without TLS (--insecure)
// nothing authenticates the internal API, and whoever reaches the port may
// call it as a node could (docs/SECURITY.md).
func (f *forwarder) authenticate(next http.Handler) http.Handler {
	if f.a.cfg.TLS == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := peerNode(r); !ok {
			writeAnswer(w, http.StatusForbidden, wireAnswer{Error: &wireError{errcode.Forbidden, "the internal API needs a node certificate of this cluster"}})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// serveApply applies a command another node forwards. The leader checks it
// again as if the write were its own: a command carrying the caller's token
// (callerHeader) needs a token this leader knows, unexpired, whose role
// grants it; one without needs to be a type nodes write on their own.
func (f *forwarder) serveApply(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxForwardBody+1))
	if err != nil || len(body) > maxForwardBody {
		writeAnswer(w, http.StatusBadRequest, wireAnswer{Error: &wireError{errcode.MalformedCommand, "command unreadable or too large"}})
		return
	}
	// Decode checks every entry of a batch too; Forwardable takes only the
	// types that followers forward, so the leader-only InitCluster (the
	// cluster's identity) never comes from the network.
	cmd, err := fsm.Decode(body)
	if err == nil {
		err = fsm.Forwardable(cmd)
	}
	if err != nil {
		writeAnswer(w, http.StatusBadRequest, wireAnswer{Error: &wireError{errcode.MalformedCommand, err.Error()}})
		return
	}
	if err := f.a.authorize(r.Header.Get(callerHeader), true, cmd); err != nil {
		writeResult(w, 0, err)
		return
	}
	idx, err := f.a.applyLocal(cmd)
	writeResult(w, idx, err)
}

func (f *forwarder) serveReadIndex(w http.ResponseWriter, r *http.Request) {
	idx, err := f.a.readIndexLocal()
	writeResult(w, idx, err)
}

// writeResult encodes an apply outcome so the forwarding node can rebuild the
// same error.
func writeResult(w http.ResponseWriter, idx uint64, err error) {
	status, ans := resultAnswer(idx, err)
	writeAnswer(w, status, ans)
}

// resultAnswer is the status and body of an outcome. A command's own error
// comes with 200 and the index it was applied at; the cluster's errors with
// their status, so the caller knows whether to ask again. A leader that is
// not ready (its barrier is not done) says so, so the caller waits for it
// rather than for another leader; a leader that is stopping looks to the
// caller like no leader.
func resultAnswer(idx uint64, err error) (int, wireAnswer) {
	var retry errRetry
	switch {
	case err == nil:
		return http.StatusOK, wireAnswer{Index: idx}
	case errors.Is(err, ErrNotReady):
		return http.StatusServiceUnavailable, wireAnswer{Error: &wireError{errcode.NotReady, err.Error()}}
	case errors.As(err, &retry):
		return http.StatusMisdirectedRequest, wireAnswer{Error: &wireError{errcode.NotLeader, err.Error()}}
	case errors.Is(err, ErrNoLeader), errors.Is(err, ErrShutdown):
		return http.StatusServiceUnavailable, wireAnswer{Error: &wireError{errcode.NoLeader, err.Error()}}
	case errors.Is(err, authz.ErrUnauthenticated):
		return http.StatusUnauthorized, wireAnswer{Error: &wireError{errcode.Unauthenticated, err.Error()}}
	case errors.Is(err, authz.ErrForbidden):
		return http.StatusForbidden, wireAnswer{Error: &wireError{errcode.Forbidden, err.Error()}}
	default:
		code := fsm.ErrorCode(err)
		if code == "" {
			code = errcode.Internal
		}
		return http.StatusOK, wireAnswer{Index: idx, Error: &wireError{code, err.Error()}}
	}
}

func writeAnswer(w http.ResponseWriter, status int, ans wireAnswer) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(ans)
}

// serveHeartbeat renews a host's lease (leader only; kept in memory).
func (f *forwarder) serveHeartbeat(w http.ResponseWriter, r *http.Request) {
	var hb heartbeat
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&hb); err != nil || hb.Node == "" {
		writeAnswer(w, http.StatusBadRequest, wireAnswer{Error: &wireError{errcode.MalformedCommand, "heartbeat unreadable"}})
		return
	}
	// Only nodes of the cluster hold leases: anything else would only pile up
	// in the leader's memory.
	n, err := f.a.fsm.Node(hb.Node)
	if err != nil {
		writeAnswer(w, http.StatusNotFound, wireAnswer{Error: &wireError{errcode.NotFound, err.Error()}})
		return
	}
	// With TLS a node renews only its own lease: the name in its certificate
	// is its identity.
	if name, ok := peerNode(r); f.a.cfg.TLS != nil && (!ok || name != n.Name) {
		writeAnswer(w, http.StatusForbidden, wireAnswer{Error: &wireError{errcode.Forbidden,
			fmt.Sprintf("node %q cannot renew the lease of node %q", name, n.Name)}})
		return
	}
	f.a.leases.renew(hb.Node, time.Now())
	// A suspect or failed host renewing again is alive if gossip agrees:
	// reconcile now rather than at the next tick (10 s), so placement does
	// not pass it over for seconds.
	if n.Status == fsm.NodeSuspect || n.Status == fsm.NodeFailed {
		f.a.gossip.signal()
	}
	writeAnswer(w, http.StatusOK, wireAnswer{})
}

// peerNode is the node a request's verified client certificate names, if the
// request came over TLS with a node certificate of this cluster's CA.
func peerNode(r *http.Request) (string, bool) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
		return "", false
	}
	return pki.NodeName(r.TLS.VerifiedChains[0][0])
}
