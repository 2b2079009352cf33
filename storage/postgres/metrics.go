package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// VMMetrics are one VM's measurements at one time: rates are per second over
// the host's sampling interval, sizes in bytes. A NaN or infinite value (the
// host could not measure it) is stored as NULL, which averages skip.
type VMMetrics struct {
	CPUPercent         float64 `json:"cpu_percent"`
	MemUsedBytes       float64 `json:"mem_used_bytes"`
	MemBalloonBytes    float64 `json:"mem_balloon_bytes"`
	DiskReadBytesPerS  float64 `json:"disk_read_bytes_per_s"`
	DiskWriteBytesPerS float64 `json:"disk_write_bytes_per_s"`
	DiskReadOpsPerS    float64 `json:"disk_read_ops_per_s"`
	DiskWriteOpsPerS   float64 `json:"disk_write_ops_per_s"`
	NetRxBytesPerS     float64 `json:"net_rx_bytes_per_s"`
	NetTxBytesPerS     float64 `json:"net_tx_bytes_per_s"`
	NetRxPacketsPerS   float64 `json:"net_rx_packets_per_s"`
	NetTxPacketsPerS   float64 `json:"net_tx_packets_per_s"`
}

// vmMetricColumns are vm_metrics' metric columns, in the order of
// VMMetrics.fields.
var vmMetricColumns = []string{
	"cpu_percent", "mem_used_bytes", "mem_balloon_bytes",
	"disk_read_bytes_per_s", "disk_write_bytes_per_s", "disk_read_ops_per_s", "disk_write_ops_per_s",
	"net_rx_bytes_per_s", "net_tx_bytes_per_s", "net_rx_packets_per_s", "net_tx_packets_per_s",
}

func (m *VMMetrics) fields() []*float64 {
	return []*float64{
		&m.CPUPercent, &m.MemUsedBytes, &m.MemBalloonBytes,
		&m.DiskReadBytesPerS, &m.DiskWriteBytesPerS, &m.DiskReadOpsPerS, &m.DiskWriteOpsPerS,
		&m.NetRxBytesPerS, &m.NetTxBytesPerS, &m.NetRxPacketsPerS, &m.NetTxPacketsPerS,
	}
}

// NodeMetrics are one host's measurements at one time.
type NodeMetrics struct {
	CPUPercent     float64 `json:"cpu_percent"`
	MemUsedBytes   float64 `json:"mem_used_bytes"`
	MemTotalBytes  float64 `json:"mem_total_bytes"`
	Load1          float64 `json:"load1"`
	Load5          float64 `json:"load5"`
	Load15         float64 `json:"load15"`
	DiskUsedBytes  float64 `json:"disk_used_bytes"`
	DiskTotalBytes float64 `json:"disk_total_bytes"`
}

// nodeMetricColumns are node_metrics' metric columns, in the order of
// NodeMetrics.fields.
var nodeMetricColumns = []string{
	"cpu_percent", "mem_used_bytes", "mem_total_bytes",
	"load1", "load5", "load15", "disk_used_bytes", "disk_total_bytes",
}

func (m *NodeMetrics) fields() []*float64 {
	return []*float64{
		&m.CPUPercent, &m.MemUsedBytes, &m.MemTotalBytes,
		&m.Load1, &m.Load5, &m.Load15, &m.DiskUsedBytes, &m.DiskTotalBytes,
	}
}

// VMMetricRow is one sample of one VM: where it ran (NodeID) and when.
type VMMetricRow struct {
	ClusterID string
	VMID      string
	NodeID    string
	Time      time.Time
	VMMetrics
}

// NodeMetricRow is one sample of one host.
type NodeMetricRow struct {
	ClusterID string
	NodeID    string
	Time      time.Time
	NodeMetrics
}

// copyChunk is how many rows one COPY statement carries: a call with more
// sends several, in one transaction, so that no single statement nears the
// statement timeout while the whole call stays all-or-nothing (a retried
// call must not duplicate the half that went in).
const copyChunk = 50_000

// CopyMetrics stores VM samples with the COPY protocol, creating the
// partitions of their days first. It is all-or-nothing.
func (db *DB) CopyMetrics(ctx context.Context, rows []VMMetricRow) error {
	return copyRows(ctx, db, "vm_metrics", vmMetricColumns, rows, func(r *VMMetricRow) (string, string, string, time.Time, []*float64) {
		return r.ClusterID, r.VMID, r.NodeID, r.Time, r.VMMetrics.fields()
	})
}

// CopyNodeMetrics stores host samples as CopyMetrics does VM samples.
func (db *DB) CopyNodeMetrics(ctx context.Context, rows []NodeMetricRow) error {
	return copyRows(ctx, db, "node_metrics", nodeMetricColumns, rows, func(r *NodeMetricRow) (string, string, string, time.Time, []*float64) {
		return r.ClusterID, r.NodeID, r.NodeID, r.Time, r.NodeMetrics.fields()
	})
}

// copyRows is CopyMetrics for either table: key gives a row's cluster,
// object, node, time and metric fields in the order of cols.
func copyRows[R any](ctx context.Context, db *DB, table string, cols []string, rows []R,
	key func(*R) (cluster, object, node string, t time.Time, fields []*float64)) error {
	if len(rows) == 0 {
		return nil
	}
	seen := map[time.Time]bool{}
	var days []time.Time
	for i := range rows {
		cluster, object, _, t, _ := key(&rows[i])
		if cluster == "" || object == "" || t.IsZero() {
			return fmt.Errorf("%w: %s row %d has no cluster, object or time", ErrInvalidRow, table, i)
		}
		if d := utcDay(t); !seen[d] {
			seen[d] = true
			days = append(days, d)
		}
	}
	ctx, cancel := db.callCtx(ctx)
	defer cancel()
	columns := append([]string{"cluster_id", "object_id", "node_id", "time"}, cols...)
	copyAll := func() error {
		if err := db.ensureDays(ctx, days); err != nil {
			return err
		}
		return db.inTx(ctx, func(tx pgx.Tx) error {
			for start := 0; start < len(rows); start += copyChunk {
				src := &metricSource[R]{rows: rows[start:min(start+copyChunk, len(rows))], key: key, i: -1,
					vals: make([]any, len(columns))}
				if _, err := tx.CopyFrom(ctx, pgx.Identifier{table}, columns, src); err != nil {
					return err
				}
			}
			return nil
		})
	}
	err := copyAll()
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23514" {
		// No partition for a row: another agent's retention dropped a day
		// this cache still knew. Look again and retry once.
		db.parts.forget()
		err = copyAll()
	}
	if err != nil {
		return fmt.Errorf("postgres: copy %d rows into %s: %w", len(rows), table, err)
	}
	return nil
}

// metricSource feeds rows to COPY, reusing one value slice: pgx encodes
// each row before it asks for the next.
type metricSource[R any] struct {
	rows []R
	key  func(*R) (string, string, string, time.Time, []*float64)
	i    int
	vals []any
}

func (s *metricSource[R]) Next() bool { s.i++; return s.i < len(s.rows) }
func (s *metricSource[R]) Err() error { return nil }

func (s *metricSource[R]) Values() ([]any, error) {
	cluster, object, node, t, fields := s.key(&s.rows[s.i])
	s.vals[0], s.vals[1], s.vals[2], s.vals[3] = cluster, object, node, t
	for j, f := range fields {
		if math.IsNaN(*f) || math.IsInf(*f, 0) {
			s.vals[4+j] = nil
		} else {
			s.vals[4+j] = *f
		}
	}
	return s.vals, nil
}
