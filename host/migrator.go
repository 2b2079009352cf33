package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/internal/peeruri"
)

// migrator carries out, on one host, the migrations the FSM gives it: as the
// destination it prepares (checks it can take the guest and says so); as the
// source it runs the hypervisor's migration, reports progress, and records the
// outcome. The record always ends saying where the guest really runs: the source
// retries the final write until it lands, and after an agent restart it asks
// both hypervisors (settle).
type migrator struct {
	host   *Host
	nodeID string
	driver hypervisor.Driver
	logger *slog.Logger

	mu sync.Mutex
	// jobs holds the migrations this host is running as source, with the
	// function that aborts each.
	jobs map[string]context.CancelFunc
	// incoming holds the migrations this host made volumes for as their
	// destination, so it removes them if the guest does not arrive.
	incoming map[string]incomingVM
}

func newMigrator(host *Host, nodeID string, driver hypervisor.Driver, logger *slog.Logger) *migrator {
	return &migrator{host: host, nodeID: nodeID, driver: driver, logger: logger.With("component", "migration"), jobs: map[string]context.CancelFunc{}, incoming: map[string]incomingVM{}}
}

// check looks at every active migration this host takes part in and does its
// part of the next step. It never blocks on a copy.
func (m *migrator) check(ctx context.Context) {
	now := time.Now()
	m.dropIncoming(ctx)
	for _, mig := range m.host.state.ActiveMigrations() {
		switch {
		case mig.Target == m.nodeID && m.sourceSurelyFenced(mig, now):
			m.settleForDeadSource(ctx, mig)
		case mig.Target == m.nodeID && mig.State == fsm.MigrationPreparing && !mig.TargetReady:
			m.prepare(ctx, mig)
		case mig.Target == m.nodeID && mig.SourceStopped && !mig.DisksCopied && mig.State == fsm.MigrationRunning:
			m.pullDisks(mig)
		case mig.Source == m.nodeID:
			m.drive(ctx, mig)
		}
	}
}

// prepare checks, as the destination, that this host can take the guest now:
// the hypervisor answers, has the memory free and the VM's networks.
func (m *migrator) prepare(ctx context.Context, mig fsm.Migration) {
	vm, err := m.host.state.VM(mig.VMID)
	if err != nil {
		return
	}
	update := &fsm.UpdateMigration{ID: mig.ID, State: fsm.MigrationPreparing, TargetReady: true, At: time.Now().UTC()}
	err = m.canTake(ctx, vm.Spec)
	if err == nil {
		update.TargetPoolDir, err = m.prepareVolumes(ctx, mig, &vm)
	}
	if err != nil {
		update = &fsm.UpdateMigration{ID: mig.ID, State: fsm.MigrationFailed, Error: "destination not ready: " + err.Error(), At: time.Now().UTC()}
		m.logger.Warn("cannot take incoming migration", "migration", mig.ID, "vm", vm.Spec.Name, "error", err)
	}
	if _, err := m.host.cluster.Apply(ctx, update); err != nil && ctx.Err() == nil {
		m.logger.Debug("recording migration preparation", "migration", mig.ID, "error", err)
	}
}

func (m *migrator) canTake(ctx context.Context, spec fsm.VMSpec) error {
	capa, err := m.driver.Capacity(ctx)
	if err != nil {
		return fmt.Errorf("hypervisor: %w", err)
	}
	if capa.FreeMemoryMiB < spec.MemoryMiB {
		return fmt.Errorf("%d MiB of memory free on the host, the guest needs %d", capa.FreeMemoryMiB, spec.MemoryMiB)
	}
	for _, nic := range spec.NICs {
		if nic.Network == "" {
			continue
		}
		found := false
		for _, n := range capa.Networks {
			found = found || n == nic.Network
		}
		if !found {
			return fmt.Errorf("network %q is not active on the host", nic.Network)
		}
	}
	return nil
}

// drive does the source's part: start the copy once the destination is ready,
// abort it when a cancel is requested, and settle a running migration that no
// job of this process runs (the agent restarted mid-way).
func (m *migrator) drive(ctx context.Context, mig fsm.Migration) {
	m.mu.Lock()
	cancel, running := m.jobs[mig.ID]
	m.mu.Unlock()
	switch {
	case running && mig.CancelRequested:
		cancel()
	case running:
	case mig.State == fsm.MigrationPreparing && mig.TargetReady:
		m.start(mig)
	case mig.State == fsm.MigrationRunning:
		m.settle(ctx, mig)
	}
}

// start runs the migration in the background.
func (m *migrator) start(mig fsm.Migration) {
	jctx, cancel := context.WithCancel(m.host.ctx)
	m.mu.Lock()
	m.jobs[mig.ID] = cancel
	m.mu.Unlock()
	go func() {
		defer func() {
			cancel()
			m.mu.Lock()
			delete(m.jobs, mig.ID)
			m.mu.Unlock()
		}()
		final := m.run(jctx, mig)
		m.afterColdMove(mig, m.record(final))
	}()
}

// run carries the migration out and returns the record of its outcome.
func (m *migrator) run(ctx context.Context, mig fsm.Migration) *fsm.UpdateMigration {
	logger := m.logger.With("migration", mig.ID, "vm", mig.VMName, "mode", mig.Mode)
	failed := func(err error) *fsm.UpdateMigration {
		state := fsm.MigrationFailed
		if errors.Is(err, context.Canceled) && m.host.ctx.Err() == nil {
			state, err = fsm.MigrationCancelled, errors.New("cancelled; the guest still runs on the source")
		}
		logger.Warn("migration did not complete", "state", state, "error", err)
		return &fsm.UpdateMigration{ID: mig.ID, State: state, Error: err.Error(), At: time.Now().UTC()}
	}
	var target fsm.Node
	if mig.Mode != fsm.MigrateCold {
		var err error
		if target, err = m.host.state.Node(mig.Target); err != nil {
			return failed(err)
		}
		// Before the record says running: the guest never left.
		if err := m.checkTarget(target); err != nil {
			return failed(err)
		}
	}
	if _, err := m.host.cluster.Apply(ctx, &fsm.UpdateMigration{ID: mig.ID, State: fsm.MigrationRunning, At: time.Now().UTC()}); err != nil {
		return failed(fmt.Errorf("recording the start: %w", err))
	}
	if mig.Mode == fsm.MigrateCold {
		return m.runCold(ctx, mig, failed)
	}
	opts := hypervisor.MigrateOptions{
		DestURI: target.Hypervisor.URI, MigrateURI: target.Hypervisor.MigrateURI,
		Live: mig.Mode == fsm.MigrateLive, Generation: mig.FromGeneration + 1,
		MaxDowntime:    time.Duration(mig.Options.MaxDowntimeMs) * time.Millisecond,
		BandwidthMiBps: mig.Options.BandwidthMiBps, AutoConverge: mig.Options.AutoConverge,
		PostCopy: mig.Options.PostCopy, Parallel: mig.Options.Parallel, Compression: mig.Options.Compression,
	}
	vm, verr := m.host.state.VM(mig.VMID)
	data := m.host.state.VolumesOf(mig.VMID)
	if verr == nil {
		m.copyOptions(mig, &vm, &opts)
	}
	logger.Info("migrating", "to", target.Name, "uri", opts.DestURI)
	res, err := m.driver.Migrate(ctx, mig.VMID, opts, m.progressReporter(ctx, mig.ID))
	if err != nil {
		return failed(err)
	}
	logger.Info("migration completed", "to", target.Name, "total", res.Total, "downtime", res.Downtime)
	if verr == nil {
		// The guest runs on the destination now: what it left here goes.
		m.removeLocalVolumes(&vm, data)
	}
	return &fsm.UpdateMigration{ID: mig.ID, State: fsm.MigrationCompleted, At: time.Now().UTC(),
		Progress: &fsm.MigrationProgress{Percent: 100, DataTotal: res.DataTotal, DataProcessed: res.DataTransferred},
		Result: &fsm.MigrationResult{TotalMs: res.Total.Milliseconds(), DowntimeMs: res.Downtime.Milliseconds(),
			DataTransferred: res.DataTransferred, Iterations: res.Iterations}}
}

// checkTarget says why this host must not hand the target node's published
// URIs to its hypervisor, or nil. Any gossip member can publish any URI, and
// libvirt opens the destination URI as root (qemu+ext:// or ?command= run a
// program), so they pass this host's peer URI policy first (package
// peeruri). A cold migration uses no URI and is not checked.
func (m *migrator) checkTarget(target fsm.Node) error {
	if target.Hypervisor.Driver != m.driver.Name() {
		return fmt.Errorf("%w: node %q runs the %q hypervisor driver and this host %q: no live migration between them",
			peeruri.ErrRefused, target.Name, target.Hypervisor.Driver, m.driver.Name())
	}
	return m.host.cfg.PeerURIs.Check(target)
}

// runCold shuts the guest down on the source; once the record completes, the
// destination's reconciler starts it there.
func (m *migrator) runCold(ctx context.Context, mig fsm.Migration, failed func(error) *fsm.UpdateMigration) *fsm.UpdateMigration {
	start := time.Now()
	dom, err := m.driver.Inspect(ctx, mig.VMID)
	switch {
	case errors.Is(err, hypervisor.ErrNotFound):
	case err != nil:
		return failed(err)
	case dom.State == hypervisor.StateRunning || dom.State == hypervisor.StatePaused:
		if err := m.driver.Shutdown(ctx, mig.VMID, m.host.cfg.StopTimeout); err != nil {
			return failed(fmt.Errorf("shutting the guest down: %w", err))
		}
	}
	if err := m.handOverDisks(ctx, mig); err != nil {
		return failed(err)
	}
	total := time.Since(start).Milliseconds()
	return &fsm.UpdateMigration{ID: mig.ID, State: fsm.MigrationCompleted, At: time.Now().UTC(),
		Progress: &fsm.MigrationProgress{Percent: 100},
		Result:   &fsm.MigrationResult{TotalMs: total, DowntimeMs: total}}
}

// progressReporter returns the callback the driver calls while copying. It
// writes progress to Raft at most once per MigrationProgressInterval and never
// blocks the copy: a write still in flight makes it skip.
func (m *migrator) progressReporter(ctx context.Context, id string) func(hypervisor.MigrateProgress) {
	var last time.Time
	inFlight := make(chan struct{}, 1)
	return func(p hypervisor.MigrateProgress) {
		if time.Since(last) < m.host.cfg.MigrationProgressInterval {
			return
		}
		select {
		case inFlight <- struct{}{}:
		default:
			return
		}
		last = time.Now()
		pct := 0.0
		if p.DataTotal > 0 {
			pct = 100 * float64(p.DataProcessed) / float64(p.DataTotal)
			if pct > 99 {
				pct = 99 // 100 means completed
			}
		}
		up := &fsm.UpdateMigration{ID: id, State: fsm.MigrationRunning, At: time.Now().UTC(), Progress: &fsm.MigrationProgress{
			Percent: pct, DataTotal: p.DataTotal, DataProcessed: p.DataProcessed, DataRemaining: p.DataRemaining,
			DirtyRate: p.DirtyRate, Iteration: p.Iteration}}
		go func() {
			defer func() { <-inFlight }()
			m.host.cluster.Apply(ctx, up)
		}()
	}
}

// record writes a migration's outcome, retrying until it lands or the record
// is already final: the record must end saying where the guest runs.
func (m *migrator) record(up *fsm.UpdateMigration) uint64 {
	for attempt := 0; ; attempt++ {
		idx, err := m.host.cluster.Apply(m.host.ctx, up)
		if err == nil || errors.Is(err, fsm.ErrState) || errors.Is(err, fsm.ErrNotFound) {
			return idx
		}
		m.logger.Warn("recording migration outcome; retrying", "migration", up.ID, "state", up.State, "error", err)
		select {
		case <-m.host.ctx.Done():
			return 0 // the next agent settles it from both hypervisors
		case <-time.After(min(time.Duration(attempt+1)*200*time.Millisecond, 2*time.Second)):
		}
	}
}

// decide writes an outcome that the host's checks found, once: they run in the
// host reconciler's loop, which must not block while there is no leader, and
// the next check finds the same outcome again if this write did not land.
func (m *migrator) decide(ctx context.Context, up *fsm.UpdateMigration) {
	if _, err := m.host.cluster.Apply(ctx, up); err != nil && !errors.Is(err, fsm.ErrState) && !errors.Is(err, fsm.ErrNotFound) {
		m.logger.Warn("recording migration outcome; the next check tries again", "migration", up.ID, "state", up.State, "error", err)
	}
}

// settle decides a running migration that no job here runs, after an agent
// restart: where does the guest really run? On the destination at the new
// generation: completed. Only here, and not paused for a copy: failed. On the
// destination still paused (libvirt may still be copying): look again later.
func (m *migrator) settle(ctx context.Context, mig fsm.Migration) {
	if mig.Mode == fsm.MigrateCold {
		m.start(mig) // shutting down again is harmless
		return
	}
	target, err := m.host.state.Node(mig.Target)
	if err != nil {
		m.decide(ctx, &fsm.UpdateMigration{ID: mig.ID, State: fsm.MigrationFailed, Error: "destination node is gone", At: time.Now().UTC()})
		return
	}
	if err := m.checkTarget(target); err != nil {
		// Not asking is not knowing: deciding could leave two copies, so the
		// record waits until the URI is fixed (or the operator steps in).
		m.logger.Warn("cannot settle migration: the destination's URIs are refused", "migration", mig.ID, "vm", mig.VMName, "error", err)
		return
	}
	remote, rerr := m.driver.InspectRemote(ctx, target.Hypervisor.URI, mig.VMID)
	local, lerr := m.driver.Inspect(ctx, mig.VMID)
	localUp := lerr == nil && (local.State == hypervisor.StateRunning || local.State == hypervisor.StatePaused)
	remoteGone := errors.Is(rerr, hypervisor.ErrNotFound)
	now := time.Now().UTC()
	switch {
	case rerr == nil && remote.State == hypervisor.StatePaused:
		return // the destination is still receiving: look again later
	case rerr == nil && remote.Generation == mig.FromGeneration+1 && !localUp:
		m.logger.Info("settled migration after restart: the guest runs on the destination", "migration", mig.ID, "vm", mig.VMName)
		m.decide(ctx, &fsm.UpdateMigration{ID: mig.ID, State: fsm.MigrationCompleted, Error: "settled after an agent restart; libvirt's figures were lost", At: now,
			Progress: &fsm.MigrationProgress{Percent: 100}})
	case remoteGone && localUp:
		m.logger.Info("settled migration after restart: the guest still runs on the source", "migration", mig.ID, "vm", mig.VMName)
		m.decide(ctx, &fsm.UpdateMigration{ID: mig.ID, State: fsm.MigrationFailed, Error: "the source agent restarted mid-migration; the guest still runs on the source", At: now})
	case remoteGone && errors.Is(lerr, hypervisor.ErrNotFound):
		m.decide(ctx, &fsm.UpdateMigration{ID: mig.ID, State: fsm.MigrationFailed, Error: "the guest runs on neither host; the source restarts it per its restart policy", At: now})
	default:
		// A hypervisor did not answer: deciding now could leave two copies.
		m.logger.Debug("cannot settle migration yet", "migration", mig.ID, "local", lerr, "remote", rerr)
	}
}
