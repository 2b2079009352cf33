package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/novacron/novacron/internal/errcode"
)

// Error codes the API puts in {"error":{"code":...}}: every one it can answer
// (the server's error table uses the same constants, see internal/errcode).
// They are a contract: match on them (or on Status), never on Message.
const (
	// The request names something that does not exist (404).
	CodeNotFound = errcode.NotFound
	// The request conflicts with the state, such as a name already taken (409).
	CodeConflict = errcode.Conflict
	// A field of the request is invalid; the message names it (400).
	CodeInvalid = errcode.Invalid
	// Not allowed in the entity's current state, such as resuming a running VM (409).
	CodeInvalidState = errcode.InvalidState
	// A host order carried an older placement generation than the VM's (409).
	CodeStaleGeneration = errcode.StaleGeneration
	// A command could not be decoded (400).
	CodeMalformedCommand = errcode.MalformedCommand
	// A node is too old for this request: finish the rolling upgrade (409).
	CodeUpgradeRequired = errcode.UpgradeRequired
	// CodeDuplicateRequest: a create with the same Idempotency-Key was made
	// before (the API normally answers with that VM instead).
	CodeDuplicateRequest = errcode.DuplicateRequest
	// The change would take a project past its quota; the message names
	// the limit, what the request asks and what is left (403).
	CodeQuotaExceeded = errcode.QuotaExceeded
	// Logins are held back after failures; the Retry-After header says how
	// long (429).
	CodeTooManyRequests = errcode.TooManyRequests
	// No leader is known now; retry later (503).
	CodeNoLeader = errcode.NoLeader
	// The node is catching up with the cluster; retry shortly (503).
	CodeNotReady = errcode.NotReady
	// The node is stopping (503).
	CodeShuttingDown = errcode.ShuttingDown
	// No valid token (401); the token's role does not allow it (403).
	CodeUnauthenticated = errcode.Unauthenticated
	CodeForbidden       = errcode.Forbidden
	// The body is too large (413), not JSON (400), not application/json (415).
	CodeBodyTooLarge         = errcode.BodyTooLarge
	CodeBadJSON              = errcode.BadJSON
	CodeUnsupportedMediaType = errcode.UnsupportedMediaType
	// ?index=N was not applied in time (504).
	CodeIndexTimeout = errcode.IndexTimeout
	// The route does not take this method (405).
	CodeMethodNotAllowed = errcode.MethodNotAllowed
	// The request took too long (504); the client went away (499).
	CodeTimeout  = errcode.Timeout
	CodeCanceled = errcode.Canceled
	// Anything else (500); the message says no more.
	CodeInternal = errcode.Internal
)

// APIError is an answer of status 400 or more. Code and Message come from the JSON
// error body; when the body is not one (a proxy's HTML page, a plain-text panic),
// Code is empty and Message is the body's text or the status text.
type APIError struct {
	Status  int
	Code    string
	Message string
}

// Error reads like "vm name \"web-1\" is taken (HTTP 409 conflict)".
func (e *APIError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("%s (HTTP %d %s)", e.Message, e.Status, e.Code)
	}
	return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status)
}

// IsNotFound reports whether err is an APIError for something that does not exist.
func IsNotFound(err error) bool {
	var e *APIError
	return errors.As(err, &e) && (e.Code == CodeNotFound || e.Status == http.StatusNotFound)
}

// ErrorCode returns the API error code carried by err, or "" when err is not an
// APIError or the answer had no code.
func ErrorCode(err error) string {
	var e *APIError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// parseAPIError turns an error answer into an *APIError.
func parseAPIError(status int, raw []byte) *APIError {
	e := &APIError{Status: status}
	var body ErrorBody
	if json.Unmarshal(raw, &body) == nil && (body.Error.Code != "" || body.Error.Message != "") {
		e.Code = body.Error.Code
		e.Message = body.Error.Message
	} else {
		e.Message = textOf(raw)
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	if e.Message == "" {
		e.Message = "request failed"
	}
	return e
}

// textOf returns the first line-folded, bounded part of a non-JSON body, or "" when
// it is empty or not text.
func textOf(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || !utf8.Valid(raw) {
		return ""
	}
	s := strings.Join(strings.Fields(string(raw)), " ")
	if len(s) > maxErrorBody {
		cut := maxErrorBody
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}
