package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/novacron/novacron/alerting"
	"github.com/novacron/novacron/cluster"
	"github.com/novacron/novacron/metricstore"
	"github.com/novacron/novacron/pgexport"
	"github.com/novacron/novacron/sampler"
	"github.com/novacron/novacron/storage/postgres"
)

// pgExport keeps PostgreSQL up to date (--postgres-dsn): the leader exports
// the event stream and the objects, every host its metrics. PostgreSQL is
// never waited for: the node opens it in the background, retrying while it
// is away, and the exports start once it answers; until then the journal
// (an hour) and each host's local history (6 hours at 10 s) hold what is
// to be exported.
type pgExport struct {
	dsn       string
	clusterID func() string
	log       *slog.Logger
	ready     chan struct{} // closed once the exporters exist
	db        *postgres.DB
	lead      *pgexport.Leader
	host      *pgexport.Host
	set       *metrics.Set

	mu         sync.Mutex
	laggingFor time.Time // when the export began to lag
}

// startPGExport opens PostgreSQL in the background until ctx ends, then
// builds the exporters; the leader's loop waits for them.
func startPGExport(ctx context.Context, wg *sync.WaitGroup, dsn, nodeID string, agent *cluster.Agent, store *metricstore.Store, stateDir string, log *slog.Logger) *pgExport {
	p := &pgExport{dsn: dsn, log: log.With("component", "postgres"), ready: make(chan struct{}),
		clusterID: func() string { return agent.FSM().Cluster().ID }}
	wg.Add(1)
	go func() {
		defer wg.Done()
		db := p.open(ctx)
		if db == nil {
			return
		}
		p.db = db
		p.lead = pgexport.NewLeader(pgexport.LeaderConfig{DB: db, Events: agent.Events(), State: agent.FSM(), Logger: log})
		if store != nil {
			p.host = pgexport.NewHost(pgexport.HostConfig{DB: db, Store: store, NodeID: nodeID,
				ClusterID: func() string { return agent.FSM().Cluster().ID }, StateDir: stateDir, Logger: log})
		}
		p.registerMetrics()
		close(p.ready)
		if p.host != nil {
			p.host.Run(ctx)
		}
	}()
	return p
}

// open connects and migrates the schema, trying again with back-off.
func (p *pgExport) open(ctx context.Context) *postgres.DB {
	wait := time.Second
	for {
		octx, cancel := context.WithTimeout(ctx, time.Minute)
		db, err := postgres.Open(octx, p.dsn, postgres.Config{Logger: p.log})
		cancel()
		if err == nil {
			p.log.Info("PostgreSQL export connected")
			return db
		}
		p.log.Warn("opening PostgreSQL; trying again", "in", wait, "error", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Minute)
	}
}

// runLeader exports while this node leads, once PostgreSQL was opened.
func (p *pgExport) runLeader(ctx context.Context) {
	select {
	case <-ctx.Done():
		return
	case <-p.ready:
	}
	p.lead.Run(ctx)
}

// status is the alert rules' view of the leader's export.
func (p *pgExport) status() *alerting.ExportStatus {
	now := time.Now()
	select {
	case <-p.ready:
	default:
		return p.lagging(now, true, "PostgreSQL has not been reachable since this node started")
	}
	st := p.lead.Status()
	if !st.Running {
		return nil
	}
	switch {
	case st.LastError != "":
		return p.lagging(now, true, st.LastError)
	case st.Lag > 1000:
		return p.lagging(now, true, "1000+ Raft entries behind")
	}
	return p.lagging(now, false, "")
}

func (p *pgExport) lagging(now time.Time, lagging bool, detail string) *alerting.ExportStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !lagging {
		p.laggingFor = time.Time{}
		return &alerting.ExportStatus{}
	}
	if p.laggingFor.IsZero() {
		p.laggingFor = now
	}
	return &alerting.ExportStatus{Lagging: true, Since: p.laggingFor, Detail: detail}
}

// registerMetrics shows the exports on /metrics.
func (p *pgExport) registerMetrics() {
	p.set = metrics.NewSet()
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	p.set.NewGauge("novacron_postgres_export_lag_entries", func() float64 { return float64(p.lead.Status().Lag) })
	p.set.NewGauge("novacron_postgres_export_leading", func() float64 { return b(p.lead.Status().Running) })
	p.set.NewGauge("novacron_postgres_export_connected", func() float64 {
		if p.host != nil {
			return b(p.host.Status().Connected)
		}
		return b(p.lead.Status().Connected)
	})
	p.set.NewGauge("novacron_postgres_export_last_success_timestamp_seconds", func() float64 {
		t := p.lead.Status().LastExportAt
		if p.host != nil && p.host.Status().LastExportAt.After(t) {
			t = p.host.Status().LastExportAt
		}
		if t.IsZero() {
			return 0
		}
		return float64(t.Unix())
	})
	metrics.RegisterSet(p.set)
}

// close releases the connections, once the loops have stopped.
func (p *pgExport) close() {
	select {
	case <-p.ready:
	default:
		return
	}
	metrics.UnregisterSet(p.set, true)
	p.db.Close()
}

// QueryOld reads key's samples ("vm/<id>" or "node/<id>") in [from, to)
// from PostgreSQL, in the history's fields (api.OldMetrics); the figures
// PostgreSQL does not keep (cpu_cores, mem_max_bytes) are missing.
func (p *pgExport) QueryOld(ctx context.Context, key string, from, to time.Time, step time.Duration) (metricstore.Result, error) {
	select {
	case <-p.ready:
	default:
		return metricstore.Result{}, errors.New("PostgreSQL has not been reachable")
	}
	if step <= 0 {
		step = max(to.Sub(from)/500, 10*time.Second).Truncate(10 * time.Second)
	}
	kind, id, _ := strings.Cut(key, "/")
	res := metricstore.Result{Step: step}
	nan := math.NaN()
	switch kind {
	case "vm":
		pts, err := p.db.QueryVMMetrics(ctx, p.clusterID(), id, from, to, step)
		if err != nil {
			return res, err
		}
		res.Fields = sampler.VMFields
		row := func(m postgres.VMMetrics) []float64 {
			return []float64{m.CPUPercent, nan, m.MemUsedBytes, nan, m.MemBalloonBytes, m.DiskReadBytesPerS, m.DiskWriteBytesPerS,
				m.DiskReadOpsPerS, m.DiskWriteOpsPerS, m.NetRxBytesPerS, m.NetTxBytesPerS, m.NetRxPacketsPerS, m.NetTxPacketsPerS}
		}
		for _, pt := range pts {
			res.Points = append(res.Points, metricstore.Point{At: pt.Time.UTC(), Avg: row(pt.Avg), Max: row(pt.Max)})
		}
	case "node":
		pts, err := p.db.QueryNodeMetrics(ctx, p.clusterID(), id, from, to, step)
		if err != nil {
			return res, err
		}
		res.Fields = sampler.NodeFields
		row := func(m postgres.NodeMetrics) []float64 {
			return []float64{m.CPUPercent, m.MemUsedBytes, m.MemTotalBytes, m.Load1, m.Load5, m.Load15, m.DiskUsedBytes, m.DiskTotalBytes}
		}
		for _, pt := range pts {
			res.Points = append(res.Points, metricstore.Point{At: pt.Time.UTC(), Avg: row(pt.Avg), Max: row(pt.Max)})
		}
	default:
		return res, fmt.Errorf("%w: %q", metricstore.ErrBadKey, key)
	}
	return res, nil
}
