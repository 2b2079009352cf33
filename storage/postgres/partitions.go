package postgres

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// metricTables are the tables partitioned by day.
var metricTables = []string{"vm_metrics", "node_metrics"}

// partitionLockKey is the advisory lock that serialises partition changes
// between agents (and within one), so that two never create the same
// partition at once. "nova" followed by 2; see migrationLockKey.
const partitionLockKey int64 = 0x6e6f7661_00000002

// maxEnsureDays bounds one EnsurePartitions call: a range of years is a
// mistake (a zero time somewhere), not a plan.
const maxEnsureDays = 400

// partitionRE matches the partitions this package makes, and only them: the
// retention never drops a table it did not create.
var partitionRE = regexp.MustCompile(`^(vm_metrics|node_metrics)_p(\d{8})$`)

// partitionCache remembers the days whose partitions exist, so that a COPY
// of the current day costs no catalog query.
type partitionCache struct {
	mu   sync.Mutex
	days map[time.Time]bool
}

func (c *partitionCache) missing(days []time.Time) []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []time.Time
	for _, d := range days {
		if !c.days[d] {
			out = append(out, d)
		}
	}
	return out
}

func (c *partitionCache) add(days []time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.days == nil {
		c.days = map[time.Time]bool{}
	}
	for _, d := range days {
		c.days[d] = true
	}
}

// forget empties the cache: after a drop here or possibly elsewhere.
func (c *partitionCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.days = nil
}

// utcDay is the start of t's UTC day: partitions are UTC days whatever the
// host's or the server's time zone.
func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func partitionName(table string, day time.Time) string {
	return table + "_p" + day.Format("20060102")
}

// EnsurePartitions creates the missing daily partitions of vm_metrics and
// node_metrics for every UTC day from from's to to's, both included. It is
// idempotent and safe to call from several agents at once. The agent calls
// it ahead of time (today and the next days), so that the COPY of a new day
// rarely has to create one; CopyMetrics calls it for its rows' days anyway.
func (db *DB) EnsurePartitions(ctx context.Context, from, to time.Time) error {
	from, to = utcDay(from), utcDay(to)
	if to.Before(from) || to.Sub(from) > maxEnsureDays*24*time.Hour {
		return fmt.Errorf("%w: partitions from %s to %s (at most %d days at once)", ErrInvalidRange, from.Format(time.DateOnly), to.Format(time.DateOnly), maxEnsureDays)
	}
	var days []time.Time
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		days = append(days, d)
	}
	ctx, cancel := db.callCtx(ctx)
	defer cancel()
	return db.ensureDays(ctx, days)
}

// ensureDays creates the partitions of days that the cache does not know.
// Under the advisory lock it reads which exist, creates each missing one as a
// plain table and attaches it: ATTACH takes a lock on the parent that does
// not stop COPYs and queries running meanwhile, where CREATE TABLE ...
// PARTITION OF would take one that does.
func (db *DB) ensureDays(ctx context.Context, days []time.Time) error {
	days = db.parts.missing(days)
	if len(days) == 0 {
		return nil
	}
	var created []string
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", partitionLockKey); err != nil {
			return err
		}
		have, err := attachedPartitions(ctx, tx)
		if err != nil {
			return err
		}
		for _, day := range days {
			for _, table := range metricTables {
				name := partitionName(table, day)
				if have[name] {
					continue
				}
				next := day.AddDate(0, 0, 1)
				sql := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %[1]s (LIKE %[2]s INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE %[2]s ATTACH PARTITION %[1]s FOR VALUES FROM ('%[3]s') TO ('%[4]s')`,
					name, table, day.Format(time.RFC3339), next.Format(time.RFC3339))
				if _, err := tx.Exec(ctx, sql); err != nil {
					return fmt.Errorf("create partition %s: %w", name, err)
				}
				created = append(created, name)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: ensure partitions: %w", err)
	}
	if len(created) > 0 {
		db.log.Info("created metric partitions", "partitions", created)
	}
	db.parts.add(days)
	return nil
}

// attachedPartitions names the partitions attached to the metric tables.
func attachedPartitions(ctx context.Context, tx pgx.Tx) (map[string]bool, error) {
	rows, _ := tx.Query(ctx, `SELECT c.relname FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid
		JOIN pg_class p ON p.oid = i.inhparent
		WHERE p.relname = ANY($1) AND p.relnamespace = current_schema()::regnamespace`, metricTables)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	have := make(map[string]bool, len(names))
	for _, n := range names {
		have[n] = true
	}
	return have, nil
}

// DropPartitionsBefore is the retention of metric samples: it drops every
// daily partition whose whole day lies before t, and returns their names.
// Dropping a partition is instant and leaves no dead rows behind, unlike a
// DELETE.
func (db *DB) DropPartitionsBefore(ctx context.Context, t time.Time) ([]string, error) {
	ctx, cancel := db.callCtx(ctx)
	defer cancel()
	var dropped []string
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", partitionLockKey); err != nil {
			return err
		}
		have, err := attachedPartitions(ctx, tx)
		if err != nil {
			return err
		}
		for name := range have {
			m := partitionRE.FindStringSubmatch(name)
			if m == nil {
				continue
			}
			day, err := time.Parse("20060102", m[2])
			if err != nil || day.AddDate(0, 0, 1).After(t) {
				continue
			}
			dropped = append(dropped, name)
		}
		slices.Sort(dropped)
		for _, name := range dropped {
			if _, err := tx.Exec(ctx, "DROP TABLE "+pgx.Identifier{name}.Sanitize()); err != nil {
				return fmt.Errorf("drop partition %s: %w", name, err)
			}
		}
		return nil
	})
	db.parts.forget()
	if err != nil {
		return nil, fmt.Errorf("postgres: drop partitions: %w", err)
	}
	if len(dropped) > 0 {
		db.log.Info("dropped metric partitions", "before", t, "partitions", dropped)
	}
	return dropped, nil
}
