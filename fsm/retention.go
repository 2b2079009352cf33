package fsm

//msgp:tag json
//msgp:timezone utc

import "time"

// RetentionSettings bound the history the cluster keeps. The leader's
// retention loop (package control) applies them: it names what is past them
// in a PurgeRecords or RemoveNode command, since Apply has no clock.
type RetentionSettings struct {
	// KeepFinished is how many finished migrations, and as many finished
	// failovers, are kept at most, newest first (default 1,000).
	KeepFinished int `json:"keep_finished,omitempty"`
	// FinishedMaxAgeSeconds: a finished migration or failover older than this
	// is removed whatever the count (default 30 days).
	FinishedMaxAgeSeconds int64 `json:"finished_max_age_seconds,omitempty"`
	// NodeReapSeconds: a node that left, or has been failed, for this long is
	// removed, unless VMs are still assigned to it (default 72 hours; Consul's
	// reconcile reap).
	NodeReapSeconds int64 `json:"node_reap_seconds,omitempty"`
	// AuditEntries is how many audit entries are kept, newest first
	// (default 50,000; audit.go).
	AuditEntries int `json:"audit_entries,omitempty"`
}

// FinishedMaxAge is FinishedMaxAgeSeconds as a duration.
func (r RetentionSettings) FinishedMaxAge() time.Duration {
	return time.Duration(r.FinishedMaxAgeSeconds) * time.Second
}

// NodeReap is NodeReapSeconds as a duration.
func (r RetentionSettings) NodeReap() time.Duration {
	return time.Duration(r.NodeReapSeconds) * time.Second
}

// Bounds of the retention settings.
const (
	MaxKeepFinished    = 1_000_000
	MaxAuditEntries    = 1_000_000
	minRetentionSecond = 60
	maxRetentionSecond = 10 * 365 * 24 * 3600
)

// validate checks retention settings after defaults.
func (r RetentionSettings) validate() error {
	switch {
	case r.KeepFinished < 1 || r.KeepFinished > MaxKeepFinished:
		return errorf(ErrInvalid, "retention.keep_finished must be between 1 and %d, got %d", MaxKeepFinished, r.KeepFinished)
	case r.FinishedMaxAgeSeconds < minRetentionSecond || r.FinishedMaxAgeSeconds > maxRetentionSecond:
		return errorf(ErrInvalid, "retention.finished_max_age_seconds must be between %d and %d, got %d", minRetentionSecond, maxRetentionSecond, r.FinishedMaxAgeSeconds)
	case r.AuditEntries < 100 || r.AuditEntries > MaxAuditEntries:
		return errorf(ErrInvalid, "retention.audit_entries must be between 100 and %d, got %d", MaxAuditEntries, r.AuditEntries)
	case r.NodeReapSeconds < minRetentionSecond || r.NodeReapSeconds > maxRetentionSecond:
		return errorf(ErrInvalid, "retention.node_reap_seconds must be between %d and %d, got %d", minRetentionSecond, maxRetentionSecond, r.NodeReapSeconds)
	}
	return nil
}

// MaxPurgeIDs bounds the IDs one PurgeRecords names, so its log entry stays small.
const MaxPurgeIDs = 1000

// PurgeRecords removes history the leader found past retention: the named
// migrations and failovers if they are finished, and the named tokens if they
// had expired at At. The leader decides what is past retention, by its clock;
// Apply only checks that each record is one that may go (a running migration
// or an unexpired token is kept) and skips IDs already gone, so a purge that
// races another write or a second purge is harmless.
type PurgeRecords struct {
	MigrationIDs []string  `json:"migration_ids,omitempty"`
	FailoverIDs  []string  `json:"failover_ids,omitempty"`
	TokenIDs     []string  `json:"token_ids,omitempty"`
	At           time.Time `json:"at"`
}

// Type implements Command.
func (PurgeRecords) Type() CommandType          { return CmdPurgeRecords }
func (c PurgeRecords) target() (string, string) { return "retention", "cluster" }

func init() { register(CmdPurgeRecords, "PurgeRecords", applyPurgeRecords) }

func applyPurgeRecords(s *state, c *PurgeRecords, _ uint64) error {
	n := len(c.MigrationIDs) + len(c.FailoverIDs) + len(c.TokenIDs)
	if n == 0 || n > MaxPurgeIDs {
		return errorf(ErrInvalid, "a purge names 1 to %d records, got %d", MaxPurgeIDs, n)
	}
	for _, id := range c.MigrationIDs {
		if m, ok := s.migrations[id]; ok && m.State.Final() {
			delete(s.migrations, id)
		}
	}
	for _, id := range c.FailoverIDs {
		if fo, ok := s.failovers[id]; ok && !fo.CompletedAt.IsZero() {
			delete(s.failovers, id)
		}
	}
	for _, id := range c.TokenIDs {
		if t, ok := s.tokens[id]; ok && !t.ExpiresAt.IsZero() && !t.ExpiresAt.After(c.At) {
			delete(s.tokenByHash, t.Hash)
			delete(s.tokens, id)
		}
	}
	return nil
}
