package postgres

import (
	"log/slog"
	"time"
)

// Config tunes the connection pool and the time bounds of every call. The
// zero value of a field means its DefaultConfig value. Settings given in the
// DSN itself (pool_max_conns, statement_timeout, application_name) win: they
// are the operator's explicit choice.
type Config struct {
	// MaxConns bounds the pool. The exporter writes from one goroutine and
	// metric queries are rare, so a few connections are plenty, and a
	// database shared by several clusters must not be flooded.
	MaxConns int32
	// ConnectTimeout bounds one connection attempt: an unreachable database
	// must fail a call quickly, not hang it.
	ConnectTimeout time.Duration
	// StatementTimeout is the server-side bound of every statement (and
	// lock_timeout), so a stuck statement is ended by PostgreSQL even if the
	// client went away.
	StatementTimeout time.Duration
	// CallTimeout bounds a call whose context has no deadline of its own.
	CallTimeout time.Duration
	// MigrationTimeout bounds Open's schema migration, waiting for another
	// agent's migration included; DDL on a large table may take a while.
	MigrationTimeout time.Duration
	// Logger receives the package's logs, with component=postgres added.
	Logger *slog.Logger
}

// DefaultConfig is the configuration an agent runs with.
func DefaultConfig() Config {
	return Config{
		MaxConns:         4,
		ConnectTimeout:   5 * time.Second,
		StatementTimeout: 15 * time.Second,
		CallTimeout:      30 * time.Second,
		MigrationTimeout: 5 * time.Minute,
		Logger:           slog.Default(),
	}
}

// withDefaults fills the zero fields of c from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxConns <= 0 {
		c.MaxConns = d.MaxConns
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = d.ConnectTimeout
	}
	if c.StatementTimeout <= 0 {
		c.StatementTimeout = d.StatementTimeout
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = d.CallTimeout
	}
	if c.MigrationTimeout <= 0 {
		c.MigrationTimeout = d.MigrationTimeout
	}
	if c.Logger == nil {
		c.Logger = d.Logger
	}
	return c
}
