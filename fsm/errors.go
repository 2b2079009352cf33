package fsm

import (
	"errors"
	"fmt"

	"github.com/novacron/novacron/internal/errcode"
)

// Sentinel errors raised by commands and validation. Callers match them with
// errors.Is; the API maps them to HTTP status codes in one table. Each carries a
// stable code (declared in internal/errcode) so an error can cross the wire
// (write forwarding) and be rebuilt.
var (
	ErrNotFound        = &sentinel{errcode.NotFound, "not found"}
	ErrConflict        = &sentinel{errcode.Conflict, "conflict"}
	ErrInvalid         = &sentinel{errcode.Invalid, "invalid"}
	ErrState           = &sentinel{errcode.InvalidState, "not allowed in the current state"}
	ErrStaleGeneration = &sentinel{errcode.StaleGeneration, "stale placement generation"}
	ErrMalformed       = &sentinel{errcode.MalformedCommand, "malformed command"}
	// ErrUpgrade refuses, before Raft, a command that some node is too old to
	// apply (CheckVersions); it clears once the rolling upgrade is finished.
	ErrUpgrade = &sentinel{errcode.UpgradeRequired, "a node is too old for this command: finish the rolling upgrade first"}
	// ErrDuplicateRequest refuses a create already applied under the same
	// request ID (CreateVM.RequestID): the API answers the VM it made.
	ErrDuplicateRequest = &sentinel{errcode.DuplicateRequest, "request already done"}
	// ErrQuota refuses a change that would take a project past its quota.
	ErrQuota = &sentinel{errcode.QuotaExceeded, "quota exceeded"}
)

var sentinels = []*sentinel{ErrNotFound, ErrConflict, ErrInvalid, ErrState, ErrStaleGeneration, ErrMalformed, ErrUpgrade, ErrDuplicateRequest, ErrQuota}

// Sentinels returns every sentinel error, for tests that check each crosses a
// wire as itself.
func Sentinels() []error {
	out := make([]error, len(sentinels))
	for i, s := range sentinels {
		out[i] = s
	}
	return out
}

type sentinel struct{ code, msg string }

func (s *sentinel) Error() string { return s.msg }

// Code is the stable machine-readable name of the error.
func (s *sentinel) Code() string { return s.code }

// errorf wraps a sentinel with a message that names the field or entity at fault.
func errorf(kind error, format string, args ...any) error {
	return &detailed{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// detailed is a sentinel plus a message for people. Its text is the message alone,
// so API errors read "vm name \"web-1\" is taken", not "conflict: ...".
type detailed struct {
	kind error
	msg  string
}

func (d *detailed) Error() string { return d.msg }
func (d *detailed) Unwrap() error { return d.kind }

// ErrorCode returns the stable code of the sentinel err wraps, or "" if none.
func ErrorCode(err error) string {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s.code
		}
	}
	return ""
}

// ErrorFromCode rebuilds an error sent over the wire: it matches the sentinel named
// by code with errors.Is and reads as msg. An unknown code gives a plain error.
func ErrorFromCode(code, msg string) error {
	for _, s := range sentinels {
		if s.code == code {
			return &detailed{kind: s, msg: msg}
		}
	}
	return errors.New(msg)
}
