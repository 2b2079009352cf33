package control

import (
	"context"
	"net/http"
	"sort"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/scheduler"
)

// Dry runs: decisions the API shows or acts on but the leader makes, so that a
// follower whose state lags never picks a migration target or judges a drain
// from stale state. Each asks the leader through the internal API (or answers
// at once on the leader) and changes nothing.

// MigrationQuery asks where a VM would migrate: to Target (checked), or, when
// Target is empty, to the node the scheduler chooses among all but its own.
type MigrationQuery struct {
	VMID   string `json:"vm_id"`
	Mode   string `json:"mode"`
	Target string `json:"target,omitempty"`
}

// MigrationAnswer is the target node's ID.
type MigrationAnswer struct {
	Target string `json:"target"`
}

// NodeQuery names a node for a drain preview or failover plan.
type NodeQuery struct {
	NodeID string `json:"node_id"`
}

// MigrationTarget returns the node a migration of vmID in mode goes to, as
// the leader decides it now: target (a node ID) once checked, or the
// scheduler's choice when target is empty; or the reason it cannot go (an fsm
// sentinel: ErrState, ErrNotFound, ...).
func (c *Controller) MigrationTarget(ctx context.Context, vmID, mode, target string) (string, error) {
	q := MigrationQuery{VMID: vmID, Mode: mode, Target: target}
	if c.cluster.IsLeader() {
		return c.migrationTarget(q)
	}
	var ans MigrationAnswer
	err := c.cluster.CallLeader(ctx, "POST", "/internal/v1/plan/migration", q, &ans)
	return ans.Target, err
}

// DrainPreview lists the VMs on a node, without a migration under way, that
// no other node could take now, each with the scheduler's reason.
func (c *Controller) DrainPreview(ctx context.Context, nodeID string) ([]fsm.PlannedMove, error) {
	if c.cluster.IsLeader() {
		return c.drainPreview(nodeID)
	}
	var out []fsm.PlannedMove
	err := c.cluster.CallLeader(ctx, "POST", "/internal/v1/plan/drain", NodeQuery{NodeID: nodeID}, &out)
	return out, err
}

// FailoverPlan answers "if this node died now, where would each of its VMs go,
// and which would not fit".
func (c *Controller) FailoverPlan(ctx context.Context, nodeID string) (fsm.FailoverPlan, error) {
	if c.cluster.IsLeader() {
		return scheduler.FromState(c.state).FailoverPlan(nodeID, time.Now().UTC())
	}
	var out fsm.FailoverPlan
	err := c.cluster.CallLeader(ctx, "POST", "/internal/v1/plan/failover", NodeQuery{NodeID: nodeID}, &out)
	return out, err
}

func (c *Controller) migrationTarget(q MigrationQuery) (string, error) {
	vm, err := c.state.VM(q.VMID)
	if err != nil {
		return "", err
	}
	if q.Target != "" {
		n, err := c.state.Node(q.Target)
		if err != nil {
			return "", err
		}
		if err := c.state.CheckMigration(vm.ID, q.Mode, n.ID); err != nil {
			return "", err
		}
		if why := scheduler.FromState(c.state).Check(&vm, n.ID); why != "" {
			return "", fsm.Errorf(fsm.ErrState, "vm %q cannot go to node %q: %s", vm.Spec.Name, n.Name, why)
		}
		if why := c.unfitTarget(n, q.Mode); why != "" {
			return "", fsm.Errorf(fsm.ErrState, "vm %q cannot go to node %q: %s", vm.Spec.Name, n.Name, why)
		}
		return n.ID, nil
	}
	// The VM's own checks first (already migrating, stopped, ...): they say
	// more than "no node fits".
	if err := c.state.CheckMovable(vm.ID, q.Mode); err != nil {
		return "", err
	}
	opts := scheduler.Options{Exclude: map[string]bool{vm.Node: true}, At: time.Now().UTC()}
	if q.Mode != fsm.MigrateCold {
		opts.Unfit = c.unfitTargets()
	}
	d := scheduler.FromState(c.state).Place(&vm, opts)
	if !d.OK() {
		return "", fsm.Errorf(fsm.ErrState, "no other node can take vm %q: %s", vm.Spec.Name, d.Reason)
	}
	if err := c.state.CheckMigration(vm.ID, q.Mode, d.Node); err != nil {
		return "", err
	}
	return d.Node, nil
}

func (c *Controller) drainPreview(nodeID string) ([]fsm.PlannedMove, error) {
	n, err := c.state.Node(nodeID)
	if err != nil {
		return nil, err
	}
	vms := c.state.VMsOnNode(n.ID)
	sort.Slice(vms, func(i, j int) bool { return vms[i].Spec.Name < vms[j].Spec.Name })
	var sched *scheduler.Cluster // built once, only if some VM needs it
	var unfit map[string]string
	now := time.Now().UTC()
	out := []fsm.PlannedMove{}
	for i := range vms {
		vm := &vms[i]
		if vm.Migration != "" {
			continue
		}
		if err := c.state.CheckMovable(vm.ID, moveMode(vm)); err != nil {
			out = append(out, fsm.PlannedMove{VMID: vm.ID, VMName: vm.Spec.Name, Decision: fsm.Decision{Reason: err.Error(), At: now}})
			continue
		}
		if sched == nil {
			sched, unfit = scheduler.FromState(c.state), c.unfitTargets()
		}
		opts := scheduler.Options{Exclude: map[string]bool{n.ID: true}, At: now}
		if moveMode(vm) != fsm.MigrateCold {
			opts.Unfit = unfit
		}
		if d := sched.Place(vm, opts); !d.OK() {
			out = append(out, fsm.PlannedMove{VMID: vm.ID, VMName: vm.Spec.Name, Decision: d})
		}
	}
	return out, nil
}

func (c *Controller) serveMigrationTarget(r *http.Request) (any, error) {
	var q MigrationQuery
	if err := decodeBody(r, &q); err != nil {
		return nil, err
	}
	target, err := c.migrationTarget(q)
	return MigrationAnswer{Target: target}, err
}

func (c *Controller) serveDrainPreview(r *http.Request) (any, error) {
	var q NodeQuery
	if err := decodeBody(r, &q); err != nil {
		return nil, err
	}
	return c.drainPreview(q.NodeID)
}

func (c *Controller) serveFailoverPlan(r *http.Request) (any, error) {
	var q NodeQuery
	if err := decodeBody(r, &q); err != nil {
		return nil, err
	}
	return scheduler.FromState(c.state).FailoverPlan(q.NodeID, time.Now().UTC())
}
