package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Error codes the API puts in {"error":{"code":...}}. They are a contract: match on
// them (or on Status), never on Message.
const (
	CodeNotFound        = "not_found"
	CodeConflict        = "conflict"
	CodeInvalid         = "invalid"
	CodeInvalidState    = "invalid_state"
	CodeStaleGeneration = "stale_generation"
	CodeUnauthenticated = "unauthenticated"
	CodeForbidden       = "forbidden"
	CodeNoLeader        = "no_leader"
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
