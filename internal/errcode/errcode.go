// Package errcode declares, once, every stable error code that crosses a wire:
// the "code" of the API's {"error":{"code":...,"message":...}} and of the
// internal answers of write forwarding. The rule:
//
//   - A code is written only here. Its users take the constant: fsm's
//     sentinels carry theirs, cluster's forwarding writes and reads them, the
//     API's error table maps errors to them, and api/client re-exports every
//     code the API can answer as client.CodeX, for users of the Go client
//     (who cannot import an internal package).
//   - The owner of an error still decides its meaning: the sentinel lives in
//     the package that raises it (fsm.ErrNotFound, cluster.ErrNoLeader), and
//     its code is declared here under the owner's heading.
//   - Codes are a contract with users' scripts: add new ones, never rename or
//     reuse one.
//
// The package imports nothing, so that any package may use it, fsm included
// (which otherwise imports only the standard library and raft's types).
package errcode

// Codes of the FSM's sentinel errors (package fsm), raised by commands and
// their validation.
const (
	NotFound         = "not_found"
	Conflict         = "conflict"
	Invalid          = "invalid"
	InvalidState     = "invalid_state"
	StaleGeneration  = "stale_generation"
	MalformedCommand = "malformed_command"
	// UpgradeRequired refuses a command that a node of the cluster is too old
	// to apply, until the rolling upgrade has finished.
	UpgradeRequired = "upgrade_required"
	// DuplicateRequest: a create with the same idempotency key was applied
	// before; the API answers with what it made instead.
	DuplicateRequest = "duplicate_request"
	// QuotaExceeded: the change would take a project past its quota.
	QuotaExceeded = "quota_exceeded"
)

// Codes of the distributed core (package cluster).
const (
	// NoLeader: no leader is known now; retrying later may succeed.
	NoLeader = "no_leader"
	// NotReady: the node has not caught up with the cluster yet.
	NotReady = "not_ready"
	// ShuttingDown: the agent is stopping.
	ShuttingDown = "shutting_down"
	// NotLeader is internal to write forwarding: the node asked is not the
	// leader, so the caller looks the leader up again and retries. It never
	// reaches an API client.
	NotLeader = "not_leader"
)

// Codes of authorisation (package authz's sentinels), raised by the API and
// by the leader, which authorises every write again (cluster). With TLS the
// internal API also answers Forbidden to a peer without a node certificate.
const (
	Unauthenticated = "unauthenticated"
	Forbidden       = "forbidden"
)

// Codes of the HTTP API itself (package api).
const (
	BodyTooLarge = "body_too_large"
	// TooManyRequests: logins from this address or for this user are held
	// back after failures; Retry-After says for how long.
	TooManyRequests      = "too_many_requests"
	BadJSON              = "bad_json"
	UnsupportedMediaType = "unsupported_media_type"
	IndexTimeout         = "index_timeout"
	MethodNotAllowed     = "method_not_allowed"
	Timeout              = "timeout"
	// Canceled: the client went away before the answer.
	Canceled = "canceled"
	// Internal is any error no table knows; its message is not shown.
	Internal = "internal"
)
