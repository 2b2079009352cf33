package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/internal/errcode"
)

// handlerFunc is what every API handler is: it returns the value to encode as
// JSON (or a *response choosing status and index) and an error for the one table.
type handlerFunc func(r *http.Request, ps httprouter.Params) (any, error)

// response lets a handler choose the status code and, after a write, the index
// stamped in the index header. A list page (paginate) comes already encoded in
// raw, with the Link header to its next page.
type response struct {
	status int
	body   any
	index  uint64
	raw    []byte
	link   string
}

// created answers 201 with the entity a write at index created.
func created(body any, index uint64) *response {
	return &response{status: http.StatusCreated, body: body, index: index}
}

// written answers 200 with the result of a write at index.
func written(body any, index uint64) *response {
	return &response{status: http.StatusOK, body: body, index: index}
}

// accepted answers 202 with the record a write at index started: the work it
// asked for (a migration, a drain) goes on after the answer.
func accepted(body any, index uint64) *response {
	return &response{status: http.StatusAccepted, body: body, index: index}
}

// public registers a route that needs no token.
func (s *Server) public(method, pattern string, h handlerFunc) {
	s.router.Handle(method, pattern, s.named(pattern, func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
		defer cancel()
		s.serve(w, r.WithContext(ctx), ps, h)
	}))
}

// serve runs a handler and writes its answer or its error.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, ps httprouter.Params, h handlerFunc) {
	v, err := h(r, ps)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	resp, ok := v.(*response)
	if !ok {
		resp = &response{status: http.StatusOK, body: v}
	}
	if resp.link != "" {
		w.Header().Set("Link", resp.link)
	}
	if resp.raw != nil {
		s.writeBytes(w, resp.status, resp.index, resp.raw)
		return
	}
	s.writeJSON(w, resp.status, resp.index, resp.body)
}

// writeJSON writes body with status. index is the write's index, or 0 for the
// applied index at the time of writing, which is at least what the body reflects.
func (s *Server) writeJSON(w http.ResponseWriter, status int, index uint64, body any) {
	if index == 0 {
		index = s.state.AppliedIndex()
	}
	b, err := encodeJSON(body)
	if err != nil {
		s.log.Error("encoding response", "error", err)
		status = http.StatusInternalServerError
		b, _ = encodeJSON(errorBody(errcode.Internal, "internal error"))
	}
	s.writeBytes(w, status, index, b)
}

// writeBytes writes an encoded JSON answer with status; index is as for writeJSON.
func (s *Server) writeBytes(w http.ResponseWriter, status int, index uint64, b []byte) {
	if index == 0 {
		index = s.state.AppliedIndex()
	}
	h := w.Header()
	h.Set(IndexHeader, formatIndex(index))
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// encodeJSON encodes v on one line, without escaping <, > and & (messages such
// as "Bearer <token>" stay readable; the answers are never HTML).
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// waitForRead makes a GET wait until the local state is recent enough:
// ?index=N waits for index N, ?consistent for the leader's read index. Either wait
// is bounded by MaxIndexWait, or by ?wait=DURATION when that is shorter.
func (s *Server) waitForRead(r *http.Request) error {
	q := r.URL.Query()
	if !q.Has("index") && !q.Has("consistent") {
		return nil
	}
	wait := s.cfg.MaxIndexWait
	if q.Has("wait") {
		d, err := time.ParseDuration(q.Get("wait"))
		if err != nil || d <= 0 {
			return invalidf("query parameter wait: %q is not a positive duration such as 500ms or 5s", q.Get("wait"))
		}
		wait = min(d, wait)
	}
	var index uint64
	if q.Has("index") {
		n, err := strconv.ParseUint(q.Get("index"), 10, 64)
		if err != nil {
			return invalidf("query parameter index: %q is not a non-negative integer", q.Get("index"))
		}
		index = n
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait)
	defer cancel()
	if q.Has("consistent") {
		ci, err := s.cluster.ConsistentIndex(ctx)
		if err != nil {
			return err
		}
		index = max(index, ci)
	}
	if err := s.state.WaitForIndex(ctx, index); err != nil {
		if errors.Is(err, context.DeadlineExceeded) && r.Context().Err() == nil {
			return errorf(errIndexTimeout, "index %d was not applied within %s (applied: %d)", index, wait, s.state.AppliedIndex())
		}
		return err
	}
	return nil
}

// applied waits until the local state has applied a write at index, so the
// answer shows the write even when the leader applied it first.
func (s *Server) applied(ctx context.Context, index uint64) error {
	return s.state.WaitForIndex(ctx, index)
}

func formatIndex(i uint64) string { return strconv.FormatUint(i, 10) }
