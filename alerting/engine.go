package alerting

import (
	"context"
	"log/slog"
	"time"

	"github.com/novacron/novacron/fsm"
)

// Applier writes through Raft (cluster.Agent).
type Applier interface {
	Apply(ctx context.Context, cmd fsm.Command) (uint64, error)
}

// Config is what an Engine needs.
type Config struct {
	State   State
	Cluster Applier
	// Latest reads the hosts' newest samples; nil leaves the metric rules
	// out.
	Latest func(ctx context.Context) (Latest, error)
	// Export says how the PostgreSQL export does; nil when none runs.
	Export func() *ExportStatus
	// ClusterID names the cluster in notices.
	ClusterID func() string
	Mail      Mail
	// Interval is how often the rules are evaluated (DefaultInterval).
	Interval time.Duration
	Logger   *slog.Logger
	Now      func() time.Time
}

// DefaultInterval: a rule's state is at most this old.
const DefaultInterval = 5 * time.Second

// sendsPerRound bounds the notifications one round sends.
const sendsPerRound = 50

// Engine evaluates the rules and sends the notifications, on the leader.
type Engine struct {
	cfg    Config
	log    *slog.Logger
	sender *sender
	// retries are the sends that failed, by alert, target and state.
	retries map[string]retry
}

type retry struct {
	next     time.Time
	attempts int
}

// New returns an Engine; Run drives it while the node leads.
func New(cfg Config) *Engine {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ClusterID == nil {
		cfg.ClusterID = func() string { return "" }
	}
	return &Engine{cfg: cfg, log: cfg.Logger.With("component", "alerting"), sender: newSender(cfg.Mail), retries: map[string]retry{}}
}

// Run evaluates every Interval until ctx ends (leadership lost).
func (e *Engine) Run(ctx context.Context) {
	tick := time.NewTicker(e.cfg.Interval)
	defer tick.Stop()
	for {
		e.Round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Round evaluates the rules once and sends what is due.
func (e *Engine) Round(ctx context.Context) {
	now := e.cfg.Now().UTC()
	st := e.cfg.State
	latest, metricsRead := Latest{}, false
	if e.cfg.Latest != nil {
		rctx, cancel := context.WithTimeout(ctx, e.cfg.Interval)
		l, err := e.cfg.Latest(rctx)
		cancel()
		if err != nil {
			e.log.Warn("reading the hosts' samples for the metric rules", "error", err)
		} else {
			latest, metricsRead = l, true
		}
	}
	var export *ExportStatus
	if e.cfg.Export != nil {
		export = e.cfg.Export()
	}
	rules := Rules(st.AlertRules())
	obs := observe(now, rules, st, latest, export)
	current := st.Alerts()
	if !metricsRead {
		// Samples that could not be read resolve nothing.
		obs = append(obs, keepMetricAlerts(rules, current)...)
	}
	upserts, remove := decide(now, current, obs)
	for len(upserts)+len(remove) > 0 {
		n := min(len(upserts), fsm.MaxAlertUpdate)
		m := min(len(remove), fsm.MaxAlertUpdate-n)
		if _, err := e.cfg.Cluster.Apply(ctx, &fsm.UpdateAlerts{Upserts: upserts[:n], Remove: remove[:m], At: now}); err != nil {
			e.log.Warn("recording the alerts", "error", err)
			return
		}
		upserts, remove = upserts[n:], remove[m:]
	}
	e.notify(ctx, now)
}

// keepMetricAlerts observes the open alerts of metric rules as they are.
func keepMetricAlerts(rules []fsm.AlertRule, current []fsm.Alert) []observation {
	metric := map[string]fsm.AlertRule{}
	for _, r := range rules {
		if r.Kind == fsm.AlertRuleMetric && !r.Disabled {
			metric[r.Name] = r
		}
	}
	var out []observation
	for _, a := range current {
		if r, ok := metric[a.Rule]; ok {
			out = append(out, observation{rule: r, objectType: a.ObjectType, objectID: a.ObjectID, objectName: a.ObjectName,
				project: a.Project, value: a.Value, verdict: keep})
		}
	}
	return out
}

// notify sends each target the alert states it has not been told, and
// records those it was.
func (e *Engine) notify(ctx context.Context, now time.Time) {
	st := e.cfg.State
	targets, silences := st.AlertTargets(), st.Silences()
	if len(targets) == 0 {
		return
	}
	descriptions := map[string]string{}
	for _, r := range Rules(st.AlertRules()) {
		descriptions[r.Name] = r.Description
	}
	var told []fsm.AlertNotice
	sends := 0
	for _, a := range st.Alerts() {
		if a.State == fsm.AlertPending || Silenced(now, silences, a) {
			continue
		}
		for _, t := range targets {
			last := a.Notified[t.Name]
			if last == a.State || !matches(t, a) || (a.State != fsm.AlertFiring && last == "") {
				continue // told, not its, or it never heard of the alert firing
			}
			key := a.ID + "|" + t.Name + "|" + string(a.State)
			r := e.retries[key]
			if now.Before(r.next) || sends >= sendsPerRound {
				continue
			}
			sends++
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := e.sender.send(sctx, t, Notice{Cluster: e.cfg.ClusterID(), Target: t.Name, State: string(a.State), Alert: a,
				Rule: descriptions[a.Rule], SentAt: now})
			cancel()
			if err != nil {
				r.attempts++
				r.next = now.Add(min(time.Second<<min(r.attempts-1, 9), 5*time.Minute))
				e.retries[key] = r
				e.log.Warn("notifying an alert", "alert", a.ID, "target", t.Name, "state", a.State, "attempt", r.attempts, "error", err)
				continue
			}
			delete(e.retries, key)
			told = append(told, fsm.AlertNotice{ID: a.ID, Target: t.Name, State: a.State})
		}
	}
	if len(told) > 0 {
		if _, err := e.cfg.Cluster.Apply(ctx, &fsm.UpdateAlerts{Notified: told, At: now}); err != nil {
			e.log.Warn("recording the notifications sent", "error", err)
		}
	}
}
