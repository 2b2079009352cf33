package host

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
)

// hostReconciler makes this node's hypervisor match the VMs the FSM assigns to it
// and reports what it sees. It reacts to FSM changes (one VM at a time), to driver
// events, and compares everything periodically as a safety net.
//
// It acts only once the local FSM has caught up with the leader (a read-index
// wait), so a node that restarts from an old log never starts or destroys a
// domain on the strength of stale state.
type hostReconciler struct {
	host *Host
	// nodeID is the node this reconciler runs: the agent's own, or one of its
	// simulated fleet hosts.
	nodeID string
	driver hypervisor.Driver
	logger *slog.Logger
	// events are the FSM's change events for this node; nil subscribes to all.
	events <-chan fsm.Event
	// caughtUp skips the catch-up wait (a fleet host's agent did it once for all).
	caughtUp bool
	// migrator does this host's part of migrations.
	migrator *migrator

	mu sync.Mutex
	// stopping holds the VMs whose shutdown runs in the background; stopped
	// receives each one when its shutdown ends.
	stopping map[string]bool
	stopped  chan string

	// outbox holds the reports of the passes driven by events, in order,
	// until flushAt fires (Config.ReportGather); lastQueued is each VM's
	// latest report in it.
	outbox     []*fsm.ReportVM
	lastQueued map[string]*fsm.ReportVM
	flushAt    <-chan time.Time
	// lastFlush is when the held reports last went out.
	lastFlush time.Time
}

// Config.ReportGather bounds how often a host sends the reports of its
// event-driven passes: at most one entry per ReportGather, so that the VMs
// started in a burst share one Raft entry. Sent at once, each report of a VM
// seen running cost an entry of its own, as many as the creates themselves:
// at one client that doubled the log's entries and raised a create's p50 by
// half (issue 12). A report after a quiet spell goes at once (the leading
// edge), so a lone event reaches the state without waiting; only those that
// follow within ReportGather are held (as Nomad's clients batch their
// allocation updates every 200 ms). Only what the host observed waits; what
// it does (starting, stopping, fencing) does not, and a full pass
// (reconcileAll) sends everything at once.

// maxOutbox sends the held reports at once when this many are waiting.
const maxOutbox = 512

// queueReports holds reports for the next flush and arms it. Every report
// is kept, in order (one may carry a crash that a later one of the same VM
// does not), except one the same as the VM's report already waiting.
func (h *hostReconciler) queueReports(ctx context.Context, reports []*fsm.ReportVM) {
	for _, r := range reports {
		if last, ok := h.lastQueued[r.ID]; ok && sameReport(last, r) {
			continue
		}
		h.outbox = append(h.outbox, r)
		h.lastQueued[r.ID] = r
	}
	if len(h.outbox) == 0 || h.flushAt != nil && len(h.outbox) < maxOutbox {
		return
	}
	wait := h.host.cfg.ReportGather - time.Since(h.lastFlush)
	if wait <= 0 || len(h.outbox) >= maxOutbox {
		h.flushReports(ctx)
		return
	}
	h.flushAt = time.After(wait)
}

// sameReport reports whether two reports of a VM say the same, whenever
// they were made.
func sameReport(a, b *fsm.ReportVM) bool {
	x, y := *a, *b
	x.At, y.At = time.Time{}, time.Time{}
	return x == y
}

// flushReports sends every held report, as one batch.
func (h *hostReconciler) flushReports(ctx context.Context) {
	reports := h.outbox
	h.outbox, h.flushAt = nil, nil
	if len(reports) == 0 {
		return
	}
	h.lastFlush = time.Now()
	clear(h.lastQueued)
	h.report(ctx, reports)
}

func newHostReconciler(host *Host, nodeID, nodeName string, driver hypervisor.Driver) *hostReconciler {
	logger := host.cfg.Logger.With("component", "host", "node", nodeName)
	return &hostReconciler{
		host: host, nodeID: nodeID, driver: driver, logger: logger,
		stopping: map[string]bool{}, stopped: make(chan string), lastQueued: map[string]*fsm.ReportVM{},
		migrator: newMigrator(host, nodeID, driver, logger),
	}
}

func (h *hostReconciler) run(ctx context.Context) {
	events := h.events
	if events == nil {
		sub, cancel := h.host.state.Subscribe(4096)
		defer cancel()
		events = sub
	}
	if !h.caughtUp && !h.host.cluster.WaitCaughtUp(ctx) {
		return
	}
	ticker := time.NewTicker(h.host.cfg.ResyncInterval)
	defer ticker.Stop()
	gained := h.host.lease.subscribe()
	h.reconcileAll(ctx)
	h.migrator.check(ctx)
	h.collectImages(ctx)
	for {
		select {
		case <-gained:
			// The lease was (re)gained: act on everything held back meanwhile.
			h.reconcileAll(ctx)
		case <-ctx.Done():
			return
		case ev := <-events:
			h.handleEvent(ctx, ev, events)
		case ev, ok := <-h.driver.Events():
			if !ok {
				return
			}
			if r := h.reconcileOne(ctx, ev.ID); r != nil {
				h.queueReports(ctx, []*fsm.ReportVM{r})
			}
		case id := <-h.stopped:
			if r := h.reconcileOne(ctx, id); r != nil {
				h.queueReports(ctx, []*fsm.ReportVM{r})
			}
		case <-h.flushAt:
			h.flushReports(ctx)
		case <-ticker.C:
			h.reconcileAll(ctx)
			h.migrator.check(ctx)
		}
	}
}

// handleEvent reconciles the VM an FSM event names, after draining events that
// piled up meanwhile so a burst of writes costs one pass per VM at most.
func (h *hostReconciler) handleEvent(ctx context.Context, first fsm.Event, events <-chan fsm.Event) {
	pending := map[string]bool{}
	full, migrations, pools := false, false, false
	volumes, images := map[string]bool{}, false
	add := func(ev fsm.Event) {
		switch ev.Kind {
		case "volume":
			volumes[ev.ID] = true
		case "image":
			images = images || ev.Type == fsm.CmdDeleteImage
		case "pool":
			// A new pool is realised and reported at once: the scheduler
			// places no volume on a host that has not reported it.
			pools = true
		case "vm":
			pending[ev.ID] = true
		case "migration":
			// A migration that ended hands the VM over: look at it again.
			pending[ev.VM], migrations = true, true
		case "restore", "failover":
			// A failover moves many VMs in one entry: look at everything.
			full = true
		}
	}
	add(first)
	for drained := false; !drained; {
		select {
		case ev := <-events:
			add(ev)
		default:
			drained = true
		}
	}
	if migrations || full {
		h.migrator.check(ctx)
	}
	if full {
		h.reconcileAll(ctx)
		return
	}
	if pools {
		h.reportForeign(ctx)
	}
	for id := range volumes {
		h.volumeChanged(ctx, id)
	}
	if images {
		h.collectImages(ctx)
	}
	var reports []*fsm.ReportVM
	for id := range pending {
		if r := h.reconcileOne(ctx, id); r != nil {
			reports = append(reports, r)
		}
	}
	h.queueReports(ctx, reports)
	h.confirmRemovals(ctx)
}

// reconcileAll compares every VM assigned here and every managed domain.
func (h *hostReconciler) reconcileAll(ctx context.Context) {
	domains, err := h.driver.List(ctx)
	if err != nil {
		h.logger.Warn("listing domains", "error", err)
		return
	}
	byID := map[string]*hypervisor.Domain{}
	for i := range domains {
		byID[domains[i].ID] = &domains[i]
	}
	var reports []*fsm.ReportVM
	add := func(r *fsm.ReportVM) {
		if r != nil {
			reports = append(reports, r)
		}
	}
	for _, vm := range h.host.state.VMsOnNode(h.nodeID) {
		add(h.reconcile(ctx, &vm, byID[vm.ID]))
		delete(byID, vm.ID)
	}
	for id, dom := range byID {
		vm, err := h.host.state.VM(id)
		if err != nil {
			add(h.reconcile(ctx, nil, dom))
		} else {
			add(h.reconcile(ctx, &vm, dom))
		}
	}
	h.queueReports(ctx, reports)
	h.flushReports(ctx)
	h.confirmRemovals(ctx)
	h.reportForeign(ctx)
	h.settleDetached(ctx, h.host.state.VolumesToSettle(h.nodeID))
}

// reportForeign records the domains this host's hypervisor runs that NovaCron
// does not manage, when they changed, so the API can show them. They are never
// touched.
func (h *hostReconciler) reportForeign(ctx context.Context) {
	foreign, err := h.driver.Foreign(ctx)
	if err != nil {
		h.logger.Debug("listing foreign domains", "error", err)
		return
	}
	if len(foreign) > fsm.MaxForeign {
		foreign = foreign[:fsm.MaxForeign]
	}
	slices.Sort(foreign)
	node, err := h.host.state.Node(h.nodeID)
	if err != nil {
		return
	}
	pools := h.reportPools(ctx, &node)
	if slices.Equal(node.Foreign, foreign) && slices.Equal(node.Pools, pools) {
		return
	}
	if _, err := h.host.cluster.Apply(ctx, &fsm.ReportHost{ID: h.nodeID, Foreign: foreign, Pools: pools}); err != nil && ctx.Err() == nil {
		h.logger.Debug("reporting foreign domains and pools", "error", err)
	}
}

// reconcileOne compares one VM with its domain on this host, if any, and returns
// the report to send, if any.
func (h *hostReconciler) reconcileOne(ctx context.Context, id string) *fsm.ReportVM {
	var vmp *fsm.VM
	if vm, err := h.host.state.VM(id); err == nil {
		vmp = &vm
	}
	var domp *hypervisor.Domain
	dom, err := h.driver.Inspect(ctx, id)
	switch {
	case err == nil:
		domp = &dom
	case !errors.Is(err, hypervisor.ErrNotFound):
		h.logger.Warn("inspecting domain", "vm", id, "error", err)
		return nil
	}
	if vmp == nil && domp == nil {
		return nil
	}
	if vmp != nil && vmp.Node != h.nodeID && domp == nil {
		return nil
	}
	return h.reconcile(ctx, vmp, domp)
}
