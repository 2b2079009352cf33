package cluster

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
)

// A sim fleet is many simulated hosts run by one agent, so placement, migration
// and rebalancing can be exercised at 1,000 or 10,000 hosts on one machine. Each
// fleet host is a real node of the cluster (registered through Raft, placed on
// by the scheduler, reconciled by its own host reconciler over its own sim
// driver); only its liveness is borrowed from the agent that runs it, since it
// has no gossip member of its own.

// fleetLabel marks fleet nodes, for people and for node selectors.
const fleetLabel = "novacron.fleet"

// fleetLoop registers the fleet's nodes and runs a host reconciler for each,
// fed by one FSM subscription that routes each change to the host it concerns.
func (a *Agent) fleetLoop(ctx context.Context) {
	select { // the agent's own host reconciler catches up for all
	case <-a.caughtUpCh:
	case <-ctx.Done():
		return
	}
	events, cancel := a.fsm.Subscribe(1 << 16)
	defer cancel()
	members := map[string]chan fsm.Event{}
	var nodes []fsm.Command
	for i := 1; i <= a.cfg.SimFleet; i++ {
		id, name := fmt.Sprintf("%s-sim-%05d", a.cfg.NodeID, i), fmt.Sprintf("%s-sim-%05d", a.cfg.NodeName, i)
		driver := a.cfg.FleetDriver(name)
		capa, err := driver.Capacity(ctx)
		if err != nil {
			a.logger.Error("fleet host capacity", "host", name, "error", err)
			return
		}
		labels := driver.Labels()
		labels[fleetLabel] = a.cfg.NodeName
		nodes = append(nodes, &fsm.RegisterNode{At: time.Now().UTC(), Node: fsm.Node{
			ID: id, Name: name, Version: a.cfg.Version, Fleet: a.cfg.NodeID, Status: fsm.NodeAlive,
			Capacity:   fsm.Capacity{VCPUs: capa.VCPUs, MemoryMiB: capa.MemoryMiB, DiskGiB: capa.DiskGiB},
			Labels:     labels,
			Hypervisor: fsm.HypervisorInfo{Driver: driver.Name(), URI: driver.URI()},
			Networks:   capa.Networks,
		}})
		ch := make(chan fsm.Event, 256)
		members[id] = ch
		h := a.addHost(newHostReconciler(a, id, name, driver))
		h.events, h.caughtUp = ch, true
		a.goLoop(h.run)
	}
	// Register until every node is in the state: a batch lost to an election
	// would leave reconcilers running for nodes nobody knows.
	for len(nodes) > 0 {
		a.applyInBatches(ctx, nodes)
		_ = a.catchUp(ctx, 5*time.Second) // look at the state the writes reached
		nodes = slices.DeleteFunc(nodes, func(c fsm.Command) bool {
			_, err := a.fsm.Node(c.(*fsm.RegisterNode).Node.ID)
			return err == nil
		})
		if len(nodes) == 0 {
			break
		}
		a.logger.Warn("sim fleet hosts not registered yet; trying again", "missing", len(nodes))
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	a.logger.Info("sim fleet registered", "hosts", a.cfg.SimFleet)
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-events:
			a.routeFleetEvent(ev, members)
		}
	}
}

// routeFleetEvent hands an FSM change to the fleet hosts it concerns. A full
// channel drops it: every host also compares everything periodically.
func (a *Agent) routeFleetEvent(ev fsm.Event, members map[string]chan fsm.Event) {
	send := func(node string) {
		if ch, ok := members[node]; ok {
			select {
			case ch <- ev:
			default:
			}
		}
	}
	switch ev.Kind {
	case "vm":
		if vm, err := a.fsm.VM(ev.ID); err == nil {
			send(vm.Node)
		}
	case "migration":
		if m, err := a.fsm.Migration(ev.ID); err == nil {
			send(m.Source)
			send(m.Target)
		}
	case "failover":
		if fo, err := a.fsm.Failover(ev.ID); err == nil {
			for _, v := range fo.VMs {
				send(v.Node)
			}
		}
	case "restore":
		for id := range members {
			send(id)
		}
	}
}

// reconcileFleets, on the leader, makes every fleet node's status follow the
// agent that runs it: they live and die together.
func (a *Agent) reconcileFleets(ctx context.Context) {
	var cmds []fsm.Command
	now := time.Now().UTC()
	owners := map[string]fsm.NodeStatus{}
	for _, n := range a.fsm.Nodes() {
		if n.Fleet == "" {
			continue
		}
		want, ok := owners[n.Fleet]
		if !ok {
			want = fsm.NodeFailed
			if owner, err := a.fsm.Node(n.Fleet); err == nil {
				want = owner.Status
			}
			owners[n.Fleet] = want
		}
		if n.Status != want {
			cmds = append(cmds, &fsm.SetNodeStatus{ID: n.ID, Status: want, Cause: "fleet: follows its agent", At: now})
		}
	}
	a.applyInBatches(ctx, cmds)
}

// fleetDriverCheck keeps the FleetDriver field honest at start-up.
func (c *Config) fleetDriverCheck() error {
	if c.SimFleet > 0 && c.FleetDriver == nil {
		return fmt.Errorf("sim fleet of %d hosts needs a FleetDriver", c.SimFleet)
	}
	return nil
}

// FleetDriverFunc makes the driver of one simulated fleet host.
type FleetDriverFunc func(name string) hypervisor.Driver
