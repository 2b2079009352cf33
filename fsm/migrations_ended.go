package fsm

import "sync/atomic"

// migrationsEnded counts the migrations this node saw end, by final state,
// since it started: /metrics exports them as a counter
// (novacron_migrations_ended_total), so that an alert can ask for failed
// migrations in the last hour. Like the capacity epoch it is this node's
// own count, not replicated state; a restart starts it again at zero, which
// a Prometheus counter allows.
type migrationsEnded struct {
	completed, failed, cancelled atomic.Uint64
}

// note counts cmd's migration if cmd, applied without error to s, ended
// it: an update to a final state, or a cancel that ended it at once (a
// running migration's cancel only asks, and its update ends it).
func (e *migrationsEnded) note(s *state, cmd Command) {
	var id string
	switch c := cmd.(type) {
	case *UpdateMigration:
		if !c.State.Final() {
			return
		}
		id = c.ID
	case *CancelMigration:
		id = c.ID
	default:
		return
	}
	m, ok := s.migrations[id]
	if !ok || m.FinishedAt.IsZero() {
		return
	}
	switch m.State {
	case MigrationCompleted:
		e.completed.Add(1)
	case MigrationFailed:
		e.failed.Add(1)
	case MigrationCancelled:
		e.cancelled.Add(1)
	}
}

// MigrationsEnded returns how many migrations this node saw end since it
// started, by final state.
func (f *FSM) MigrationsEnded() map[MigrationState]uint64 {
	e := &f.migrationsEnded
	return map[MigrationState]uint64{
		MigrationCompleted: e.completed.Load(),
		MigrationFailed:    e.failed.Load(),
		MigrationCancelled: e.cancelled.Load(),
	}
}
