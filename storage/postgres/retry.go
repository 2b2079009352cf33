package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// After PostgreSQL restarts, every idle connection in the pool is dead, and
// each is found dead only by using it (the pool pings only connections idle
// for more than a second). So a transaction whose BEGIN fails on a broken
// connection, or a read that fails on one, is tried again, on the next
// connection, until a new one is made: at most MaxConns+1 times. A write is
// retried only when BEGIN failed, before any of it ran.

// attempts is how many connections a call may try.
func (db *DB) attempts() int { return int(db.cfg.MaxConns) + 1 }

// isConnError reports whether err says the connection broke, not that the
// statement was wrong: nothing was sent, the server is shutting down or
// starting (SQLSTATE class 57P), a connection exception (class 08), or the
// socket failed. Failing to connect at all is not one: the database is away,
// and trying again at once would only wait as long again.
func isConnError(err error) bool {
	var connectErr *pgconn.ConnectError
	if err == nil || errors.As(err, &connectErr) {
		return false // no new connection could be made: another try would wait as long again
	}
	if pgconn.SafeToRetry(err) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return strings.HasPrefix(pgErr.Code, "57P") || strings.HasPrefix(pgErr.Code, "08")
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}

// beginner is the pool with a BEGIN that moves past broken connections;
// pgx.BeginFunc takes it in place of the pool.
type beginner struct{ db *DB }

func (b beginner) Begin(ctx context.Context) (pgx.Tx, error) {
	var err error
	for i := 0; i < b.db.attempts(); i++ {
		var tx pgx.Tx
		tx, err = b.db.pool.Begin(ctx)
		if err == nil || !isConnError(err) || ctx.Err() != nil {
			return tx, err
		}
		b.db.log.Debug("begin failed on a broken connection; trying another", "err", err)
	}
	return nil, err
}

// inTx runs fn in a transaction and commits it when fn returns nil.
func (db *DB) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, beginner{db}, fn)
}

// read runs a read-only fn, again on a broken connection: fn must start
// from scratch each time.
func (db *DB) read(ctx context.Context, fn func() error) error {
	var err error
	for i := 0; i < db.attempts(); i++ {
		if err = fn(); !isConnError(err) || ctx.Err() != nil {
			return err
		}
		db.log.Debug("read failed on a broken connection; trying another", "err", err)
	}
	return err
}
