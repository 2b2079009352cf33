package fsm

import (
	"errors"
	"fmt"
)

// Sentinel errors raised by commands and validation. Callers match them with
// errors.Is; the API maps them to HTTP status codes in one table. Each carries a
// stable code so an error can cross the wire (write forwarding) and be rebuilt.
var (
	ErrNotFound        = &sentinel{"not_found", "not found"}
	ErrConflict        = &sentinel{"conflict", "conflict"}
	ErrInvalid         = &sentinel{"invalid", "invalid"}
	ErrState           = &sentinel{"invalid_state", "not allowed in the current state"}
	ErrStaleGeneration = &sentinel{"stale_generation", "stale placement generation"}
	ErrMalformed       = &sentinel{"malformed_command", "malformed command"}
	// ErrUpgrade refuses, before Raft, a command that some node is too old to
	// apply (CheckVersions); it clears once the rolling upgrade is finished.
	ErrUpgrade = &sentinel{"upgrade_required", "a node is too old for this command: finish the rolling upgrade first"}
)

var sentinels = []*sentinel{ErrNotFound, ErrConflict, ErrInvalid, ErrState, ErrStaleGeneration, ErrMalformed, ErrUpgrade}

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
