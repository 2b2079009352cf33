package guard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/novacron/novacron/hypervisor"
)

// Fencer stops domains on this host. The libvirt driver (hypervisor/libvirt)
// is one, on a connection of the guard's own. Both calls must be idempotent: a
// failed fence is tried again. An error wrapping hypervisor.ErrNotFound counts
// as done.
type Fencer interface {
	// Destroy stops the domain at once.
	Destroy(ctx context.Context, id string) error
	// Suspend pauses the domain's vCPUs.
	Suspend(ctx context.Context, id string) error
}

// Lister is a Fencer that can also list the host's managed domains: the guard
// then destroys the running ones that the agent's side file does not name.
type Lister interface {
	List(ctx context.Context) ([]hypervisor.Domain, error)
}

// Config is what Run needs. Zero durations take DefaultConfig's values.
type Config struct {
	// LeasePath is the lease file the agent made with OpenLease.
	LeasePath string
	// Fencer stops the domains.
	Fencer Fencer
	// Watchdog is the watchdog device to pet ("" for none), e.g. /dev/watchdog.
	Watchdog string
	// Interval is how often the guard writes its heartbeat, checks the
	// deadline and pets the watchdog.
	Interval time.Duration
	// ActionTimeout bounds one destroy or suspend; a fence that runs longer
	// has failed (and the watchdog is not petted meanwhile).
	ActionTimeout time.Duration
	// RetryInterval is the wait before a failed fence is tried again.
	RetryInterval time.Duration
	// GiveUp is how long after a lapsed deadline a guard whose agent is dead
	// keeps retrying a fence that fails (libvirt gone with the host's other
	// daemons) before it exits: nobody will renew, and a guard must not
	// outlive its host's hypervisor for ever. The hardware watchdog, left
	// armed, covers what it could not fence.
	GiveUp time.Duration
	// Logger receives the guard's logs, with component=guard.
	Logger *slog.Logger
}

// DefaultConfig is a 100 ms interval, 30 s per action, 1 s between retries.
func DefaultConfig() Config {
	return Config{Interval: 100 * time.Millisecond, ActionTimeout: 30 * time.Second,
		RetryInterval: time.Second, GiveUp: time.Minute, Logger: slog.Default()}
}

func (cfg Config) withDefaults() Config {
	def := DefaultConfig()
	if cfg.Interval <= 0 {
		cfg.Interval = def.Interval
	}
	if cfg.ActionTimeout <= 0 {
		cfg.ActionTimeout = def.ActionTimeout
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = def.RetryInterval
	}
	if cfg.GiveUp <= 0 {
		cfg.GiveUp = def.GiveUp
	}
	if cfg.Logger == nil {
		cfg.Logger = def.Logger
	}
	return cfg
}

// Why Run returned without error.
var (
	// ErrDisarmed: the agent stopped cleanly.
	ErrDisarmed = errors.New("guard disarmed by the agent")
	// ErrSuperseded: another agent or another guard took the lease file over.
	ErrSuperseded = errors.New("guard superseded")
	// ErrOwnerGone: the agent is dead and nothing is left to guard (fenced,
	// or never armed).
	ErrOwnerGone = errors.New("agent gone and nothing left to guard")
)

// Run guards the lease file until the agent disarms it, another agent or
// guard takes it over, the agent is dead with nothing left to guard, or ctx
// ends. It returns the reason (ErrDisarmed, ErrSuperseded, ErrOwnerGone, or
// ctx's error), or an error opening the file or the watchdog.
func Run(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	if cfg.Fencer == nil {
		return errors.New("guard: no Fencer")
	}
	l, err := openGuardLease(cfg.LeasePath)
	if err != nil {
		return err
	}
	defer l.Close()
	wd, err := OpenWatchdog(cfg.Watchdog)
	if err != nil {
		return fmt.Errorf("guard: watchdog %s: %w", cfg.Watchdog, err)
	}
	g := &guard{cfg: cfg, l: l, logger: cfg.Logger.With("component", "guard"),
		pid: int64(os.Getpid()), owner: l.load(offOwnerPID), badGen: -1, done: make(chan fenceResult, 1)}
	l.store(offGuardPID, g.pid)
	g.logger.Info("guard started", "lease", cfg.LeasePath, "owner", g.owner, "watchdog", cfg.Watchdog)
	err = g.loop(ctx, wd)
	if g.running {
		g.logger.Warn("waiting for the fence under way before exiting")
		g.finish(<-g.done)
	}
	if g.safe(MonotonicNow()) || errors.Is(err, ErrDisarmed) {
		wd.Disarm()
	} else {
		wd.Abandon() // still armed: the kernel resets the host unless a new guard pets it
	}
	g.logger.Info("guard stopped", "reason", err)
	return err
}

// guard is Run's state; only its goroutine touches it.
type guard struct {
	cfg    Config
	l      *Lease
	logger *slog.Logger
	pid    int64
	owner  int64 // the agent that owned the file when the guard started

	domains    map[string]Domain
	domainsGen int64
	domainsOK  bool
	badGen     int64 // the generation whose file could not be read

	running   bool // a fence goroutine is under way
	done      chan fenceResult
	lastFail  int64 // monotonic ns of the last failed fence, 0 = none since a success
	failedFor int64 // the deadline that fence was for
}

func (g *guard) loop(ctx context.Context, wd *Watchdog) error {
	ticker := time.NewTicker(g.cfg.Interval)
	defer ticker.Stop()
	for {
		now := MonotonicNow()
		g.l.store(offHeartbeat, now)
		if err := g.exitReason(); err != nil {
			return err
		}
		g.refreshDomains()
		g.maybeFence(ctx, now)
		wd.Pet(g.safe(now))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case r := <-g.done:
			g.finish(r)
			wd.Pet(g.safe(MonotonicNow()))
		case <-ticker.C:
		}
	}
}

// exitReason says why the guard should stop now, or nil.
func (g *guard) exitReason() error {
	if g.l.load(offDisarm) != 0 {
		return ErrDisarmed
	}
	if gp := g.l.load(offGuardPID); gp != g.pid {
		return fmt.Errorf("%w: guard %d serves the lease now", ErrSuperseded, gp)
	}
	owner := g.l.load(offOwnerPID)
	alive := pidAlive(owner)
	if owner != g.owner && alive {
		return fmt.Errorf("%w: agent %d owns the lease now", ErrSuperseded, owner)
	}
	if !alive {
		deadline := g.l.load(offDeadline)
		if deadline == 0 || (!g.running && g.l.load(offFencedDeadline) == deadline) {
			return fmt.Errorf("%w: agent %d", ErrOwnerGone, owner)
		}
		if !g.running && MonotonicNow()-deadline > int64(g.cfg.GiveUp) {
			return fmt.Errorf("%w: agent %d, and the fence still fails %s after the deadline", ErrOwnerGone, owner, g.cfg.GiveUp)
		}
	}
	return nil
}

// safe reports whether the watchdog may be petted: the lease was never armed,
// still holds, or its lapse has been fenced.
func (g *guard) safe(now int64) bool {
	deadline := g.l.load(offDeadline)
	return deadline == 0 || now < deadline || g.l.load(offFencedDeadline) == deadline
}

// refreshDomains re-reads the side file when the agent has replaced it. A
// file that cannot be read keeps the last good list.
func (g *guard) refreshDomains() {
	gen := g.l.load(offDomainsGen)
	if g.domainsOK && gen == g.domainsGen {
		return
	}
	doms, err := readDomains(g.cfg.LeasePath)
	if err != nil {
		if gen != g.badGen {
			g.logger.Error("cannot read the domains file; keeping the last list", "error", err)
		}
		g.badGen = gen
		return
	}
	g.domains, g.domainsGen, g.domainsOK = doms, gen, true
}
