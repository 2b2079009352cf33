package pgexport

import (
	"context"
	"log/slog"
	"time"

	"github.com/novacron/novacron/eventlog"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/storage/postgres"
)

// State is the FSM's read side the leader's export needs; *fsm.FSM is one.
// Every method returns copies, read under the FSM's read lock, as the API
// reads it.
type State interface {
	Cluster() fsm.ClusterInfo
	AppliedIndex() uint64
	VM(id string) (fsm.VM, error)
	VMs() []fsm.VM
	Node(id string) (fsm.Node, error)
	Nodes() []fsm.Node
	Migration(id string) (fsm.Migration, error)
	Migrations() []fsm.Migration
	Failover(id string) (fsm.Failover, error)
	Failovers() []fsm.Failover
	Project(name string) (fsm.Project, fsm.Usage, error)
	Projects() []fsm.Project
	User(name string) (fsm.User, error)
	Users() []fsm.User
	Token(id string) (fsm.Token, error)
	Tokens() []fsm.Token
	Volume(id string) (fsm.Volume, error)
	Volumes() []fsm.Volume
	VolumesOf(vmID string) []fsm.Volume
	Image(id string) (fsm.Image, error)
	Images() []fsm.Image
	Alert(id string) (fsm.Alert, error)
	Alerts() []fsm.Alert
	Audit(q fsm.AuditQuery) []fsm.AuditEntry
}

// Events is the node's event journal; *eventlog.Journal is one.
type Events interface {
	Frames(after uint64, max int) ([]eventlog.Frame, *eventlog.Gap, uint64, <-chan struct{})
}

// LeaderConfig is what a Leader needs. DB, Events and State are required.
type LeaderConfig struct {
	DB     *postgres.DB
	Events Events
	State  State
	// Catalog lists what PostgreSQL holds, for a resync to find the
	// objects removed while the journal could not tell (catalog.go). Nil
	// means DB (tests give another); a resync without one cannot mark
	// those objects removed, and its gap event says so.
	Catalog Catalog
	// Batch is how many frames one transaction takes at most (and about
	// how many events); default 500.
	Batch int
	// Retry caps the backoff between failed attempts (100 ms doubling);
	// default 30 s.
	Retry time.Duration
	// Poll is how often the export looks at the journal without being
	// woken: entries that change nothing the journal keeps (a host's
	// heartbeat) add no frame, and the high water mark passes them only
	// then; default 5 s.
	Poll   time.Duration
	Logger *slog.Logger
	// Now is the clock of statuses and resync times (tests set it).
	Now func() time.Time
}

// Defaults of LeaderConfig.
const (
	DefaultBatch = 500
	DefaultRetry = 30 * time.Second
	DefaultPoll  = 5 * time.Second
)

// resyncTimeout bounds a resync's transaction: it writes every object of
// the cluster, which at 100,000 VMs takes a while.
const resyncTimeout = 10 * time.Minute

// Leader exports the cluster's events and objects while this node leads.
type Leader struct {
	cfg LeaderConfig
	log *slog.Logger
	tr  *tracker
}

// NewLeader returns a Leader; Run drives it.
func NewLeader(cfg LeaderConfig) *Leader {
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Retry <= 0 {
		cfg.Retry = DefaultRetry
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Catalog == nil && cfg.DB != nil {
		cfg.Catalog = cfg.DB
	}
	log := cfg.Logger.With("component", "pgexport")
	return &Leader{cfg: cfg, log: log, tr: &tracker{log: log, now: cfg.Now}}
}

// Status is how the export stands.
func (l *Leader) Status() Status { return l.tr.status() }

// Run exports until ctx ends: run it while this node leads (a leader
// loop), one Run at a time. It resumes after the high water mark stored
// in PostgreSQL, whoever wrote it. It blocks nothing of the cluster's:
// while PostgreSQL fails it retries with backoff, and the journal holds
// what is still to export.
func (l *Leader) Run(ctx context.Context) {
	l.tr.update(func(s *Status) { s.Running = true })
	defer l.tr.update(func(s *Status) { s.Running = false })
	clusterID := l.clusterID(ctx)
	if clusterID == "" {
		return
	}
	bo := backoff{cap: l.cfg.Retry}
	var hw uint64
	for {
		var err error
		if hw, err = l.cfg.DB.HighWater(ctx, clusterID); err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		l.tr.failed("reading the high water mark", err)
		if !sleep(ctx, bo.wait()) {
			return
		}
	}
	l.tr.succeeded(false)
	l.log.Info("PostgreSQL export started", "cluster", clusterID, "high_water", hw)
	defer func() { l.log.Info("PostgreSQL export stopped", "high_water", hw) }()
	// Nothing exported yet: the objects that exist without a change event
	// (the default project) need a first full sync.
	needSync := hw == 0
	for ctx.Err() == nil {
		frames, gap, last, wake := l.cfg.Events.Frames(hw, l.cfg.Batch)
		l.tr.update(func(s *Status) { s.Applied, s.HighWater = last, hw })
		var (
			err  error
			what string
			more bool
		)
		if gap != nil || needSync {
			what = "resynchronising the objects"
			var mark uint64
			if mark, err = l.resync(ctx, clusterID, hw, gap); err == nil {
				hw, needSync, more = max(hw, mark), false, true
			}
		} else {
			n, upTo := l.take(frames, last, hw)
			if upTo > hw {
				what = "exporting events"
				if err = l.export(ctx, clusterID, frames[:n], upTo); err == nil {
					hw, more = upTo, n < len(frames) || len(frames) >= l.cfg.Batch
				}
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			l.tr.failed(what, err)
			sleep(ctx, bo.wait())
			continue
		}
		if what != "" {
			bo.reset()
			l.tr.succeeded(true)
			l.tr.update(func(s *Status) { s.HighWater = hw })
		}
		if more {
			continue
		}
		t := time.NewTimer(l.cfg.Poll)
		select {
		case <-ctx.Done():
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// take chooses the frames of one transaction, about Batch events (at
// least one frame), and the index the high water mark moves to: the last
// frame's, or, when every frame up to the journal's last index is taken,
// that index (the entries after the last frame changed nothing exported).
func (l *Leader) take(frames []eventlog.Frame, last, hw uint64) (int, uint64) {
	n, events := 0, 0
	for n < len(frames) && events < l.cfg.Batch {
		events += len(frames[n].Events)
		n++
	}
	upTo := hw
	if n > 0 {
		upTo = frames[n-1].Index
	}
	if n == len(frames) && len(frames) < l.cfg.Batch {
		upTo = max(upTo, last)
	}
	return n, upTo
}

// export writes frames' events, the current state of the objects they
// name, and the high water mark upTo, in one transaction.
func (l *Leader) export(ctx context.Context, clusterID string, frames []eventlog.Frame, upTo uint64) error {
	var (
		rows []postgres.EventRow
		c    = newCollector()
	)
	for _, f := range frames {
		for i, ev := range f.Events {
			rows = append(rows, eventRow(f, i, ev))
			c.add(f, ev)
		}
	}
	ops, err := c.ops(l.cfg.State, l.cfg.Now())
	if err != nil {
		return err
	}
	err = l.cfg.DB.WithTx(ctx, clusterID, func(tx *postgres.Tx) error {
		if err := ops.apply(ctx, tx); err != nil {
			return err
		}
		if err := tx.ExportEvents(ctx, rows); err != nil {
			return err
		}
		return tx.AdvanceHighWater(ctx, upTo)
	})
	if err == nil {
		l.tr.update(func(s *Status) { s.Exported += uint64(len(rows)) })
	}
	return err
}

// clusterID waits until the FSM knows the cluster's ID (the first leader
// sets it): every row is written under it. It returns "" when ctx ends.
func (l *Leader) clusterID(ctx context.Context) string {
	for {
		if id := l.cfg.State.Cluster().ID; id != "" {
			return id
		}
		if !sleep(ctx, l.cfg.Poll) {
			return ""
		}
	}
}

// sleep waits d or until ctx ends, and reports whether ctx is still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
