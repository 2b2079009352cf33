package pgexport

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/novacron/novacron/metricstore"
	"github.com/novacron/novacron/storage/postgres"
)

// Series is the host's metrics history; *metricstore.Store is one.
type Series interface {
	Keys() []string
	Query(key string, from, to time.Time, step time.Duration) (metricstore.Result, error)
}

// HostConfig is what a Host needs. DB, Store, NodeID and ClusterID are
// required.
type HostConfig struct {
	DB    *postgres.DB
	Store Series
	// NodeID is this host's: the node of every row, and the object of its
	// own series' rows.
	NodeID string
	// ClusterID reads the cluster's ID (from the FSM); a round is skipped
	// while it is empty.
	ClusterID func() string
	// Interval is the time between rounds; default 1 min.
	Interval time.Duration
	// StateDir holds the file of the last exported time of each series
	// (pgexport-metrics.json), so that a restarted agent goes on where it
	// stopped. Empty keeps the marks in memory only: after a restart the
	// last 6 hours are copied again.
	StateDir string
	Logger   *slog.Logger
	// Now is the clock (tests set it with the Store's).
	Now func() time.Time
}

// DefaultInterval is HostConfig.Interval's default.
const DefaultInterval = time.Minute

const (
	// step is the resolution of the finest tier, the one exported.
	step = 10 * time.Second
	// tierSpan is how far back the 10 s tier reaches; the export reads no
	// further, and a margin keeps the query in that tier however long it
	// takes to run.
	tierSpan   = 6 * time.Hour
	spanMargin = time.Minute
	// settle leaves the newest bucket alone until its sample surely is in.
	settle = 5 * time.Second
	// copyRows is about how many rows one COPY sends: it bounds the
	// memory of a round after a long outage.
	copyRows = 50_000
)

// Host copies this node's metrics history into PostgreSQL every
// Interval: for each series, the 10 s points since the last exported time,
// by COPY, moving the series' mark only once the COPY succeeded.
//
// The history on the host's disk is the backlog: while PostgreSQL is down
// the marks stay, and the first round after it is back copies everything
// since (a bigger COPY, nothing buffered in memory meanwhile). The 10 s
// tier reaches back 6 hours, and that bounds it: points of an outage
// longer than that are not exported. Nothing here waits on the sampler
// beyond a series' read, which holds the series' lock for one file read.
type Host struct {
	cfg   HostConfig
	log   *slog.Logger
	tr    *tracker
	marks *marks
}

// NewHost returns a Host with the marks saved in StateDir; Run drives it.
func NewHost(cfg HostConfig) *Host {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger.With("component", "pgexport", "export", "metrics")
	h := &Host{cfg: cfg, log: log, tr: &tracker{log: log, now: cfg.Now}, marks: newMarks(cfg.StateDir)}
	if err := h.marks.load(); err != nil {
		log.Warn("the metrics export's marks cannot be read; starting from 6 hours back", "error", err)
	}
	return h
}

// Status is how the export stands.
func (h *Host) Status() Status { return h.tr.status() }

// Run exports a round at once and then every Interval until ctx ends.
func (h *Host) Run(ctx context.Context) {
	h.tr.update(func(s *Status) { s.Running = true })
	defer h.tr.update(func(s *Status) { s.Running = false })
	t := time.NewTicker(h.cfg.Interval)
	defer t.Stop()
	for {
		h.Round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Round exports what is new in every series once; Run calls it every
// Interval. It reports whether every COPY succeeded.
func (h *Host) Round(ctx context.Context) bool {
	clusterID := h.cfg.ClusterID()
	if clusterID == "" {
		return false
	}
	now := h.cfg.Now()
	to := now.Add(-settle).Truncate(step)
	floor := now.Add(-tierSpan + spanMargin).Truncate(step).Add(step)
	keys := h.cfg.Store.Keys()
	h.marks.keepOnly(keys)
	vm := &batch[postgres.VMMetricRow]{copy: h.cfg.DB.CopyMetrics}
	node := &batch[postgres.NodeMetricRow]{copy: h.cfg.DB.CopyNodeMetrics}
	ok, late := true, 0
	for _, key := range keys {
		kind, id, found := strings.Cut(key, "/")
		if !found || id == "" || (kind != "vm" && kind != "node") {
			continue
		}
		from := h.marks.get(key)
		if from.Before(floor) {
			if !from.IsZero() {
				late++
			}
			from = floor
		}
		if !from.Before(to) {
			continue
		}
		res, err := h.cfg.Store.Query(key, from, to, step)
		if errors.Is(err, metricstore.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil || res.Step != step {
			h.log.Warn("reading a series to export", "series", key, "error", err, "step", res.Step)
			continue
		}
		if kind == "vm" {
			vm.add(key, to, vmRows(res, clusterID, id, h.cfg.NodeID))
			if len(vm.rows) >= copyRows {
				ok = h.flush(ctx, vm) && ok
			}
		} else {
			node.add(key, to, nodeRows(res, clusterID, id, h.cfg.NodeID))
			if len(node.rows) >= copyRows {
				ok = h.flush(ctx, node) && ok
			}
		}
	}
	ok = h.flush(ctx, vm) && ok
	ok = h.flush(ctx, node) && ok
	if late > 0 {
		h.log.Warn("metrics older than the 6 hours the host keeps at 10 s were not exported", "series", late)
	}
	return ok
}

// flusher is a batch of either table's rows.
type flusher interface {
	flush(ctx context.Context) (rows int, marks map[string]time.Time, err error)
}

// flush copies b and, once that succeeded, moves its series' marks and
// saves them.
func (h *Host) flush(ctx context.Context, b flusher) bool {
	n, marks, err := b.flush(ctx)
	if err != nil {
		h.tr.failed("copying metrics", err)
		return false
	}
	if len(marks) == 0 {
		return true
	}
	h.marks.set(marks)
	if err := h.marks.save(); err != nil {
		h.log.Warn("saving the metrics export's marks; a restart will copy these points again", "error", err)
	}
	if n > 0 {
		h.tr.succeeded(true)
		h.tr.update(func(s *Status) { s.Exported += uint64(n) })
	}
	return true
}

// batch is rows of several series on their way to one COPY, and the mark
// each series moves to once they are in.
type batch[R any] struct {
	copy  func(context.Context, []R) error
	rows  []R
	marks map[string]time.Time
}

func (b *batch[R]) add(key string, to time.Time, rows []R) {
	if b.marks == nil {
		b.marks = map[string]time.Time{}
	}
	b.rows = append(b.rows, rows...)
	b.marks[key] = to
}

func (b *batch[R]) flush(ctx context.Context) (int, map[string]time.Time, error) {
	rows, marks := b.rows, b.marks
	b.rows, b.marks = nil, nil
	if err := b.copy(ctx, rows); err != nil {
		return 0, nil, err
	}
	return len(rows), marks, nil
}
