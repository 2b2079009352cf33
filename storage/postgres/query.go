package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// maxPoints bounds the buckets one query returns: a year at a one-second
// step is a mistake, and its answer would not fit in a response anyway.
const maxPoints = 10_000

// MetricPoint is one bucket of a VM's metric series: its start, how many
// samples fell in it, and the average and the maximum of each field over
// them. A field that no sample of the bucket knew (NULL) reads 0.
type MetricPoint struct {
	Time    time.Time `json:"time"`
	Samples int       `json:"samples"`
	Avg     VMMetrics `json:"avg"`
	Max     VMMetrics `json:"max"`
}

// NodeMetricPoint is MetricPoint for a host's series.
type NodeMetricPoint struct {
	Time    time.Time   `json:"time"`
	Samples int         `json:"samples"`
	Avg     NodeMetrics `json:"avg"`
	Max     NodeMetrics `json:"max"`
}

// bucketSQL is the query of one table's series: samples of one object in
// [from, to) grouped by date_bin (PostgreSQL's time_bucket) into buckets of
// step aligned on the Unix epoch, so that the same step gives the same
// bucket edges whatever range is asked.
func bucketSQL(table string, cols []string) string {
	var b strings.Builder
	b.WriteString("SELECT date_bin($3::bigint * interval '1 microsecond', time, timestamptz '1970-01-01 00:00:00+00') AS bucket, count(*)")
	for _, c := range cols {
		fmt.Fprintf(&b, ", coalesce(avg(%s), 0)", c)
	}
	for _, c := range cols {
		fmt.Fprintf(&b, ", coalesce(max(%s), 0)", c)
	}
	fmt.Fprintf(&b, " FROM %s WHERE cluster_id = $1 AND object_id = $2 AND time >= $4 AND time < $5 GROUP BY bucket ORDER BY bucket", table)
	return b.String()
}

var (
	vmBucketSQL   = bucketSQL("vm_metrics", vmMetricColumns)
	nodeBucketSQL = bucketSQL("node_metrics", nodeMetricColumns)
)

// QueryVMMetrics reads VM vmID's samples in [from, to) in buckets of step,
// for the history older than a host keeps locally. Buckets without a sample
// are absent, not zero.
func (db *DB) QueryVMMetrics(ctx context.Context, clusterID, vmID string, from, to time.Time, step time.Duration) ([]MetricPoint, error) {
	var out []MetricPoint
	err := db.queryBuckets(ctx, vmBucketSQL, clusterID, vmID, from, to, step, func() { out = nil }, func(scan func(...any) error) error {
		var p MetricPoint
		targets := []any{&p.Time, &p.Samples}
		for _, f := range p.Avg.fields() {
			targets = append(targets, f)
		}
		for _, f := range p.Max.fields() {
			targets = append(targets, f)
		}
		if err := scan(targets...); err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	return out, err
}

// QueryNodeMetrics is QueryVMMetrics for host nodeID.
func (db *DB) QueryNodeMetrics(ctx context.Context, clusterID, nodeID string, from, to time.Time, step time.Duration) ([]NodeMetricPoint, error) {
	var out []NodeMetricPoint
	err := db.queryBuckets(ctx, nodeBucketSQL, clusterID, nodeID, from, to, step, func() { out = nil }, func(scan func(...any) error) error {
		var p NodeMetricPoint
		targets := []any{&p.Time, &p.Samples}
		for _, f := range p.Avg.fields() {
			targets = append(targets, f)
		}
		for _, f := range p.Max.fields() {
			targets = append(targets, f)
		}
		if err := scan(targets...); err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	return out, err
}

// queryBuckets checks the range, runs sql and hands each row to add
// (after reset, again when a broken connection made it start over).
func (db *DB) queryBuckets(ctx context.Context, sql, clusterID, objectID string, from, to time.Time, step time.Duration,
	reset func(), add func(scan func(...any) error) error) error {
	if !to.After(from) || step < time.Microsecond {
		return fmt.Errorf("%w: from %s to %s by %s", ErrInvalidRange, from, to, step)
	}
	if n := to.Sub(from) / step; n > maxPoints {
		return fmt.Errorf("%w: %d points from %s to %s by %s, at most %d", ErrInvalidRange, n, from, to, step, maxPoints)
	}
	ctx, cancel := db.callCtx(ctx)
	defer cancel()
	err := db.read(ctx, func() error {
		reset()
		rows, err := db.pool.Query(ctx, sql, clusterID, objectID, step.Microseconds(), from, to)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := add(rows.Scan); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	if err != nil {
		return fmt.Errorf("postgres: query metrics: %w", err)
	}
	return nil
}
