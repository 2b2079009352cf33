package cluster

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/novacron/novacron/fsm"
)

// handler serves the node-to-node endpoints: write forwarding, read index,
// load reports, lease heartbeats and the rebalancer's status. All need the
// cluster secret and are answered by the leader only; none is part of the
// public API.
func (f *forwarder) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /internal/v1/apply", f.leaderOnly(f.serveApply))
	mux.HandleFunc("GET /internal/v1/read-index", f.leaderOnly(f.serveReadIndex))
	mux.HandleFunc("POST /internal/v1/load", f.leaderOnly(f.serveLoad))
	mux.HandleFunc("POST /internal/v1/heartbeat", f.leaderOnly(f.serveHeartbeat))
	mux.HandleFunc("GET /internal/v1/rebalance", f.leaderOnly(f.serveRebalance))
	return f.authenticate(mux)
}

// leaderOnly answers 421 not_leader on a node that does not lead, so the
// caller asks the leader it knows again.
func (f *forwarder) leaderOnly(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !f.a.IsLeader() {
			writeAnswer(w, http.StatusMisdirectedRequest, wireAnswer{Error: &wireError{codeNotLeader, "this node is not the leader"}})
			return
		}
		next(w, r)
	}
}

func (f *forwarder) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret := f.a.fsm.Cluster().Secret
		if secret == "" {
			writeAnswer(w, http.StatusServiceUnavailable, wireAnswer{Error: &wireError{codeNotReady, "this node has not caught up with the cluster yet"}})
			return
		}
		got := r.Header.Get(secretHeader)
		if subtle.ConstantTimeCompare([]byte(got), []byte(secret)) != 1 {
			writeAnswer(w, http.StatusUnauthorized, wireAnswer{Error: &wireError{"unauthenticated", "missing or wrong cluster secret"}})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (f *forwarder) serveApply(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxForwardBody+1))
	if err != nil || len(body) > maxForwardBody {
		writeAnswer(w, http.StatusBadRequest, wireAnswer{Error: &wireError{fsm.ErrorCode(fsm.ErrMalformed), "command unreadable or too large"}})
		return
	}
	cmd, err := fsm.Decode(body)
	if err != nil {
		writeAnswer(w, http.StatusBadRequest, wireAnswer{Error: &wireError{fsm.ErrorCode(fsm.ErrMalformed), err.Error()}})
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
	var retry errRetry
	switch {
	case err == nil:
		writeAnswer(w, http.StatusOK, wireAnswer{Index: idx})
	case errors.As(err, &retry):
		writeAnswer(w, http.StatusMisdirectedRequest, wireAnswer{Error: &wireError{codeNotLeader, err.Error()}})
	case errors.Is(err, ErrNoLeader), errors.Is(err, ErrShutdown):
		writeAnswer(w, http.StatusServiceUnavailable, wireAnswer{Error: &wireError{codeNoLeader, err.Error()}})
	default:
		code := fsm.ErrorCode(err)
		if code == "" {
			code = "internal"
		}
		writeAnswer(w, http.StatusOK, wireAnswer{Index: idx, Error: &wireError{code, err.Error()}})
	}
}

func writeAnswer(w http.ResponseWriter, status int, ans wireAnswer) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(ans)
}

// serveLoad takes a host's load report (leader only; kept in memory).
func (f *forwarder) serveLoad(w http.ResponseWriter, r *http.Request) {
	var rep loadReport
	dec := json.NewDecoder(io.LimitReader(r.Body, maxForwardBody))
	if err := dec.Decode(&rep); err != nil || rep.Node == "" {
		writeAnswer(w, http.StatusBadRequest, wireAnswer{Error: &wireError{fsm.ErrorCode(fsm.ErrMalformed), "load report unreadable"}})
		return
	}
	if _, err := f.a.fsm.Node(rep.Node); err != nil {
		writeAnswer(w, http.StatusNotFound, wireAnswer{Error: &wireError{fsm.ErrorCode(fsm.ErrNotFound), err.Error()}})
		return
	}
	f.a.loads.record(rep, time.Now())
	writeAnswer(w, http.StatusOK, wireAnswer{})
}

// serveRebalance answers the leader's rebalancer status.
func (f *forwarder) serveRebalance(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(f.a.rebalancer.status())
}

// serveHeartbeat renews a host's lease (leader only; kept in memory).
func (f *forwarder) serveHeartbeat(w http.ResponseWriter, r *http.Request) {
	var hb heartbeat
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&hb); err != nil || hb.Node == "" {
		writeAnswer(w, http.StatusBadRequest, wireAnswer{Error: &wireError{fsm.ErrorCode(fsm.ErrMalformed), "heartbeat unreadable"}})
		return
	}
	// Only nodes of the cluster hold leases: anything else would only pile up
	// in the leader's memory.
	if _, err := f.a.fsm.Node(hb.Node); err != nil {
		writeAnswer(w, http.StatusNotFound, wireAnswer{Error: &wireError{fsm.ErrorCode(fsm.ErrNotFound), err.Error()}})
		return
	}
	f.a.leases.renew(hb.Node, time.Now())
	writeAnswer(w, http.StatusOK, wireAnswer{})
}
