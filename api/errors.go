package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/cluster"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/errcode"
)

// Errors raised by the API itself. Like the fsm, cluster and authz sentinels
// they are mapped to a status code in errorTable.
var (
	errBodyTooLarge         = errors.New("request body is too large")
	errBadJSON              = errors.New("malformed JSON")
	errUnsupportedMediaType = errors.New("unsupported media type")
	errIndexTimeout         = errors.New("index not applied in time")
	errRouteNotFound        = errors.New("no such API route")
	errMethodNotAllowed     = errors.New("method not allowed on this route")
	errPanic                = errors.New("internal error")
	errTooManyRequests      = errors.New("too many requests")
)

// errorTable maps every known error to a status code and a stable code (from
// internal/errcode, which api/client re-exports). It is searched in order with
// errors.Is; the first match wins.
var errorTable = []struct {
	err    error
	status int
	code   string
}{
	{fsm.ErrNotFound, http.StatusNotFound, errcode.NotFound},
	{fsm.ErrConflict, http.StatusConflict, errcode.Conflict},
	{fsm.ErrInvalid, http.StatusBadRequest, errcode.Invalid},
	{fsm.ErrState, http.StatusConflict, errcode.InvalidState},
	{fsm.ErrStaleGeneration, http.StatusConflict, errcode.StaleGeneration},
	{fsm.ErrMalformed, http.StatusBadRequest, errcode.MalformedCommand},
	{fsm.ErrUpgrade, http.StatusConflict, errcode.UpgradeRequired},
	{fsm.ErrDuplicateRequest, http.StatusConflict, errcode.DuplicateRequest},
	{fsm.ErrQuota, http.StatusForbidden, errcode.QuotaExceeded},
	{cluster.ErrNoLeader, http.StatusServiceUnavailable, errcode.NoLeader},
	{cluster.ErrNotReady, http.StatusServiceUnavailable, errcode.NotReady},
	{cluster.ErrShutdown, http.StatusServiceUnavailable, errcode.ShuttingDown},
	// Raised by the API, or by the leader when it authorises a write again.
	{authz.ErrUnauthenticated, http.StatusUnauthorized, errcode.Unauthenticated},
	{authz.ErrForbidden, http.StatusForbidden, errcode.Forbidden},
	{errBodyTooLarge, http.StatusRequestEntityTooLarge, errcode.BodyTooLarge},
	{errTooManyRequests, http.StatusTooManyRequests, errcode.TooManyRequests},
	{errBadJSON, http.StatusBadRequest, errcode.BadJSON},
	{errUnsupportedMediaType, http.StatusUnsupportedMediaType, errcode.UnsupportedMediaType},
	{errIndexTimeout, http.StatusGatewayTimeout, errcode.IndexTimeout},
	{errRouteNotFound, http.StatusNotFound, errcode.NotFound},
	{errMethodNotAllowed, http.StatusMethodNotAllowed, errcode.MethodNotAllowed},
	{context.DeadlineExceeded, http.StatusGatewayTimeout, errcode.Timeout},
	// The client went away; 499 (as nginx) keeps it out of the 5xx alarms.
	{context.Canceled, 499, errcode.Canceled},
}

// classify returns the status code and stable code for err, or 500 "internal".
func classify(err error) (int, string, bool) {
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			return e.status, e.code, true
		}
	}
	return http.StatusInternalServerError, errcode.Internal, false
}

// writeError writes err as {"error":{"code":...,"message":...}}. An unknown error
// is logged and answered with a generic message, so internals never leak.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code, known := classify(err)
	msg := err.Error()
	if !known {
		msg = "internal error"
	}
	switch {
	case errors.Is(err, cluster.ErrNotReady):
		// Every request to a node that is catching up after a restart gets it,
		// for a second or so: expected, and at ERROR it would flood the log.
		s.log.Debug("request refused while catching up", "method", r.Method, "path", r.URL.Path)
	case status >= 500:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", status, "code", code, "error", err)
	}
	if info, ok := r.Context().Value(reqInfoKey{}).(*reqInfo); ok {
		info.message = msg
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="novacron"`)
	}
	var wait *retryAfter
	if errors.As(err, &wait) {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.after.Seconds()))))
	}
	s.writeJSON(w, status, 0, errorBody(code, msg))
}

func errorBody(code, msg string) client.ErrorBody {
	return client.ErrorBody{Error: client.ErrorDetail{Code: code, Message: msg}}
}

// detailedError is a sentinel with a message for people: it matches the sentinel
// with errors.Is and reads as the message alone.
type detailedError struct {
	kind error
	msg  string
}

func (e *detailedError) Error() string { return e.msg }
func (e *detailedError) Unwrap() error { return e.kind }

// errorf wraps a sentinel with a message that names the field or entity at fault.
func errorf(kind error, format string, args ...any) error {
	return &detailedError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// invalidf is a 400 "invalid" error for input the API checks itself.
func invalidf(format string, args ...any) error {
	return errorf(fsm.ErrInvalid, format, args...)
}

// retryAfter is an error whose answer tells the client when to try again
// (the Retry-After header, in whole seconds).
type retryAfter struct {
	error
	after time.Duration
}

func (e *retryAfter) Unwrap() error { return e.error }
