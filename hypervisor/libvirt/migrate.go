package libvirt

import (
	"context"
	"fmt"
	"time"

	golibvirt "libvirt.org/go/libvirt"

	"github.com/novacron/novacron/hypervisor"
)

// Timing of a migration's supervision.
const (
	// migratePoll is how often a running migration's job stats are read and
	// reported.
	migratePoll = 500 * time.Millisecond
	// migrateFirstPoll brings the first report forward: a small idle guest
	// moves in well under a second.
	migrateFirstPoll = 200 * time.Millisecond
	// downtimePoll is how often setting the maximum downtime is tried until
	// the job is there to take it.
	downtimePoll = 50 * time.Millisecond
	// postCopyAfter: with PostCopy, a job still copying in this pre-copy
	// iteration does not converge and is switched to post-copy.
	postCopyAfter = 3
	// completedEventWait bounds the wait, after MigrateToURI3 returned, for
	// the job-completed event that carries the final figures.
	completedEventWait = 2 * time.Second
	// resultTimeout bounds reading the final figures on the destination.
	resultTimeout = 10 * time.Second
)

// migration is one Migrate call's plan and its two connections.
//
// A migration opens two connections of its own to this host's libvirt and
// leaves the driver's main connection alone. That one carries one call at a
// time (maxInFlight: the libvirt 9.0 crash workaround), so a MigrateToURI3
// blocking on it for the whole copy would stall every other call on the host,
// this migration's own polling and abort included. The polling may not share
// MigrateToURI3's connection either: two calls waiting on one connection is
// the very crash case. Nor does it go through the main connection: libvirtd
// holds the domain's lock for seconds during a migration (stopping the source
// QEMU at the end takes about 2 s under TCG), and a poll waiting for it there
// would hold up the calls about every other domain. So MigrateToURI3 runs
// alone on run, and the job calls (GetJobStats, MigrateSetMaxDowntime,
// MigrateStartPostCopy, AbortJob), which act on the domain's job whichever
// connection started it, run one after the other on sup.
type migration struct {
	id, name string
	opts     hypervisor.MigrateOptions
	flags    golibvirt.DomainMigrateFlags
	params   *golibvirt.DomainMigrateParameters

	run, sup  conn
	cbID      int
	hasCB     bool
	completed chan *golibvirt.DomainJobInfo
}

// conn is a connection of the migration's own and the domain on it.
type conn struct {
	c   *golibvirt.Connect
	dom *golibvirt.Domain
}

// Migrate moves the running or paused domain id to the libvirt at
// opts.DestURI: a peer-to-peer managed migration (the source libvirtd opens
// the connection to the destination itself), persistent there and undefined
// here once it succeeds. The destination's definition, live and persistent,
// carries opts.Generation in its NovaCron metadata (0 keeps the generation).
// The migration runs on connections of its own (see migration), so the
// host's other calls go on meanwhile.
//
// progress, when not nil, is called from Migrate's goroutine with the job's
// figures 200 ms after the start and then every 500 ms while the job runs;
// the first reports of a short migration come before any data moved.
// Cancelling ctx aborts the job: the error then wraps ctx.Err(), unless the
// job had already completed, which is a success. On an error the domain is
// still here (libvirt resumes it), with two exceptions: when the connection
// to this host's libvirtd broke mid-way, the error wraps ErrDisconnected
// (hypervisor.ErrUnavailable) and the outcome is unknown (InspectRemote on
// the destination tells); and a failure after the switch to post-copy leaves
// the guest paused ("post-copy failed") on both hosts, which this driver does
// not recover.
//
// The result holds libvirt's own figures for the completed job (time elapsed,
// downtime, data, iterations), from the job-completed event on the source or
// else from the destination's completed job stats. For a warm migration
// libvirt's downtime counts only the final switch-over, although the guest is
// paused for the whole copy.
//
// Errors: option mistakes wrap hypervisor.ErrInvalidSpec, and so do options
// this libvirt refuses; an unknown domain hypervisor.ErrNotFound; a stopped or
// crashed one ErrState; a hypervisor that cannot migrate peer-to-peer
// (libvirt's test driver) hypervisor.ErrMigrationUnsupported. Failures at the
// destination (unreachable, refusing) come back with libvirt's message.
//
// Events: the source reports the domain paused "migrated", then stopped
// "migrated" (or, when the resync sees it gone first, stopped "undefined"),
// never crashed; the destination reports it running "migrated" as it arrives
// (its state reads paused "migrating" until the switch-over), and a failed
// arrival as stopped "incoming migration failed" (see incomingFailed).
func (d *Driver) Migrate(ctx context.Context, id string, opts hypervisor.MigrateOptions, progress func(hypervisor.MigrateProgress)) (hypervisor.MigrateResult, error) {
	if err := opts.Check(d.cfg.URI); err != nil {
		return hypervisor.MigrateResult{}, err
	}
	if progress == nil {
		progress = func(hypervisor.MigrateProgress) {}
	}
	mig, err := d.planMigration(ctx, id, opts)
	if err != nil {
		return hypervisor.MigrateResult{}, err
	}
	if err := d.openMigration(ctx, mig); err != nil {
		d.closeMigration(mig)
		return hypervisor.MigrateResult{}, err
	}
	defer d.closeMigration(mig)
	log := d.logger.With("id", mig.id, "vm", mig.name, "dest", opts.DestURI)
	log.Info("migrating domain", "live", opts.Live, "generation", opts.Generation,
		"bandwidth_mibps", opts.BandwidthMiBps, "post_copy", opts.PostCopy, "parallel", opts.Parallel)
	done := make(chan error, 1)
	go func() { done <- mig.run.dom.MigrateToURI3(opts.DestURI, mig.params, mig.flags) }()
	last, err := d.superviseMigration(ctx, mig, done, progress)
	if err != nil {
		switch {
		case !alive(mig.run.c):
			err = fmt.Errorf("%w: %s: connection lost during the migration of domain %s; whether it moved is unknown: %w",
				ErrDisconnected, d.cfg.URI, mig.id, err)
		case ctx.Err() != nil:
			err = fmt.Errorf("migrate domain %s to %s: aborted: %w (libvirt: %v)", mig.id, opts.DestURI, ctx.Err(), err)
		default:
			err = migrateError(mig.id, opts.DestURI, err)
		}
		log.Warn("migration failed; the domain stays here", "error", err)
		return hypervisor.MigrateResult{}, err
	}
	res := d.migrationResult(mig, last)
	log.Info("domain migrated", "total", res.Total, "downtime", res.Downtime,
		"data_transferred", res.DataTransferred, "iterations", res.Iterations)
	return res, nil
}

// planMigration checks the domain and builds the migration's flags and
// parameters, with the destination XML (live and persistent) carrying the
// new generation.
func (d *Driver) planMigration(ctx context.Context, id string, opts hypervisor.MigrateOptions) (*migration, error) {
	var live, inactive string
	var meta vmMeta
	err := d.onDomain(ctx, id, func(dom *golibvirt.Domain, m vmMeta, st golibvirt.DomainState, reason int) error {
		switch st {
		case golibvirt.DOMAIN_RUNNING, golibvirt.DOMAIN_BLOCKED, golibvirt.DOMAIN_PAUSED:
		default:
			have, word := classify(st, reason, m.StopRequested)
			return fmt.Errorf("%w: cannot migrate domain %s (vm %q): it is %s (%s); only a running or paused domain migrates",
				ErrState, m.ID, m.Name, have, word)
		}
		meta = m
		var err error
		if live, err = dom.GetXMLDesc(golibvirt.DOMAIN_XML_MIGRATABLE); err != nil {
			return fmt.Errorf("read migratable xml of domain %s: %w", m.ID, err)
		}
		if persistent, err := dom.IsPersistent(); err != nil || !persistent {
			return err
		}
		if inactive, err = dom.GetXMLDesc(golibvirt.DOMAIN_XML_MIGRATABLE | golibvirt.DOMAIN_XML_INACTIVE); err != nil {
			return fmt.Errorf("read persistent xml of domain %s: %w", m.ID, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	next := vmMeta{ID: meta.ID, Name: meta.Name, Generation: meta.Generation}
	if opts.Generation != 0 {
		next.Generation = opts.Generation
	}
	destXML, err := withMeta(live, next)
	if err != nil {
		return nil, fmt.Errorf("destination xml of domain %s: %w", meta.ID, err)
	}
	destXML = movePaths(destXML, opts.DestPaths)
	persistXML := ""
	if inactive != "" {
		if persistXML, err = withMeta(inactive, next); err != nil {
			return nil, fmt.Errorf("destination persistent xml of domain %s: %w", meta.ID, err)
		}
		persistXML = movePaths(persistXML, opts.DestPaths)
	}
	return &migration{
		id: meta.ID, name: meta.Name, opts: opts,
		flags: migrateFlags(opts), params: migrateParams(opts, destXML, persistXML),
	}, nil
}

// openMigration opens the migration's two connections, finds the domain on
// each and asks for its job-completed event. The caller closes them, also
// after an error.
func (d *Driver) openMigration(ctx context.Context, mig *migration) error {
	for _, cn := range []*conn{&mig.run, &mig.sup} {
		c, err := d.dialOwn(ctx, d.cfg.URI)
		if err != nil {
			return fmt.Errorf("open a connection for the migration of domain %s: %w", mig.id, err)
		}
		cn.c = c
		if cn.dom, _, err = d.lookupOn(c, d.cfg.URI, mig.id); err != nil {
			return err
		}
	}
	mig.completed = make(chan *golibvirt.DomainJobInfo, 1)
	cb := func(_ *golibvirt.Connect, _ *golibvirt.Domain, ev *golibvirt.DomainEventJobCompleted) {
		select {
		case mig.completed <- &ev.Info:
		default:
		}
	}
	// Events arrive through the event loop, not as calls: the callback does
	// not add a call to either connection.
	if id, err := mig.sup.c.DomainEventJobCompletedRegister(mig.sup.dom, cb); err == nil {
		mig.cbID, mig.hasCB = id, true
	} else {
		d.logger.Debug("job-completed events not available", "error", err)
	}
	return nil
}

func (d *Driver) closeMigration(mig *migration) {
	if mig.hasCB {
		_ = mig.sup.c.DomainEventDeregister(mig.cbID)
		mig.hasCB = false
	}
	for _, cn := range []*conn{&mig.run, &mig.sup} {
		if cn.dom != nil {
			cn.dom.Free()
			cn.dom = nil
		}
		if cn.c != nil {
			if _, err := cn.c.Close(); err != nil {
				d.logger.Debug("closing a migration connection", "error", err)
			}
			cn.c = nil
		}
	}
}

// superviseMigration waits for MigrateToURI3 (done) while it reports the
// job's progress, sets the maximum downtime once the job runs, switches to
// post-copy when the job does not converge, and aborts the job when ctx ends.
// It returns MigrateToURI3's error and the last progress seen.
func (d *Driver) superviseMigration(ctx context.Context, mig *migration, done <-chan error,
	progress func(hypervisor.MigrateProgress)) (hypervisor.MigrateProgress, error) {
	var last hypervisor.MigrateProgress
	report := time.NewTimer(migrateFirstPoll)
	defer report.Stop()
	var downtime <-chan time.Time
	if mig.opts.MaxDowntime > 0 {
		tick := time.NewTicker(downtimePoll)
		defer tick.Stop()
		downtime = tick.C
	}
	cancelled := ctx.Done()
	abortPending, postCopied := false, false
	for {
		select {
		case err := <-done:
			return last, err
		case <-cancelled:
			cancelled = nil
			abortPending = !d.abortMigration(mig)
		case <-downtime:
			if d.setMaxDowntime(mig) {
				downtime = nil
			}
		case <-report.C:
			if abortPending {
				abortPending = !d.abortMigration(mig)
			}
			if info, ok := d.migrationJob(mig); ok {
				last = progressFrom(info)
				progress(last)
				if mig.opts.PostCopy && !postCopied && !abortPending && cancelled != nil && info.MemIteration >= postCopyAfter {
					postCopied = d.startPostCopy(mig, info.MemIteration)
				}
			}
			report.Reset(migratePoll)
		}
	}
}

// migrationJob reads the running job's stats; ok is false when there is no
// active job (not started yet, or over) or the stats cannot be read.
func (d *Driver) migrationJob(mig *migration) (*golibvirt.DomainJobInfo, bool) {
	info, err := mig.sup.dom.GetJobStats(0)
	if err != nil {
		d.logger.Debug("reading migration job stats", "id", mig.id, "error", err)
		return nil, false
	}
	return info, info.Type == golibvirt.DOMAIN_JOB_BOUNDED || info.Type == golibvirt.DOMAIN_JOB_UNBOUNDED
}

// setMaxDowntime sets the job's maximum downtime; libvirt has no migration
// parameter for it, and takes it only once the job runs. It reports whether
// there is nothing more to try.
func (d *Driver) setMaxDowntime(mig *migration) bool {
	ms := uint64(mig.opts.MaxDowntime / time.Millisecond)
	err := mig.sup.dom.MigrateSetMaxDowntime(max(ms, 1), 0)
	switch {
	case err == nil:
		d.logger.Debug("max downtime set", "id", mig.id, "max_downtime", mig.opts.MaxDowntime)
		return true
	case libvirtCode(err) == golibvirt.ERR_OPERATION_INVALID:
		return false // no migration job yet
	}
	d.logger.Warn("setting the migration's max downtime", "id", mig.id, "error", err)
	return true
}

// startPostCopy switches a job that does not converge to post-copy: the guest
// then runs on the destination, which pulls the pages it still lacks. It
// reports whether the switch was made.
func (d *Driver) startPostCopy(mig *migration, iteration uint64) bool {
	if err := mig.sup.dom.MigrateStartPostCopy(0); err != nil {
		d.logger.Warn("switching the migration to post-copy", "id", mig.id, "iteration", iteration, "error", err)
		return false
	}
	d.logger.Info("migration does not converge; switched to post-copy", "id", mig.id, "iteration", iteration)
	return true
}

// abortMigration asks libvirt to cancel the job; it reports whether libvirt
// took the request. It fails before the job has started and in post-copy,
// which cannot be undone; the caller retries at the next report.
func (d *Driver) abortMigration(mig *migration) bool {
	if err := mig.sup.dom.AbortJob(); err != nil {
		d.logger.Info("aborting the migration (will retry)", "id", mig.id, "error", err)
		return false
	}
	d.logger.Info("migration abort requested", "id", mig.id)
	return true
}

// migrationResult finds the completed job's figures: from the job-completed
// event, else from the destination. Without either, it returns what the last
// progress report knew, with no times, and says so in the log.
func (d *Driver) migrationResult(mig *migration, last hypervisor.MigrateProgress) hypervisor.MigrateResult {
	if mig.hasCB {
		select {
		case info := <-mig.completed:
			d.logger.Debug("migration figures from the job-completed event", "id", mig.id)
			return resultFrom(info)
		case <-time.After(completedEventWait):
		}
	}
	ctx, cancel := context.WithTimeout(d.bg, resultTimeout)
	defer cancel()
	info, err := d.completedOn(ctx, mig.opts.DestURI, mig.id)
	if err == nil {
		d.logger.Debug("migration figures from the destination's completed job", "id", mig.id)
		return resultFrom(info)
	}
	d.logger.Warn("migration done, but its final figures are not available", "id", mig.id, "error", err)
	return hypervisor.MigrateResult{DataTransferred: last.DataProcessed, DataTotal: last.DataTotal, Iterations: last.Iteration}
}

// alive reports whether c still reaches its daemon. Migrate asks it instead
// of connectionLost: an RPC error in MigrateToURI3 may come from the source
// daemon's own connection to the destination.
func alive(c *golibvirt.Connect) bool {
	ok, err := c.IsAlive()
	return err != nil || ok
}
