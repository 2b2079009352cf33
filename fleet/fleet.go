// Package fleet simulates many hosts in one agent, so placement, migration
// and rebalancing can be exercised at 1,000 or 10,000 hosts on one machine.
package fleet

import (
	"context"
	"fmt"
	"log/slog"
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

// Label marks fleet nodes, for people and for node selectors.
const Label = "novacron.fleet"

// Config says how many hosts to simulate and how.
type Config struct {
	// Size is the number of simulated hosts; 0 for none.
	Size int
	// Driver makes each fleet host's driver (a sim driver named name).
	Driver func(name string) hypervisor.Driver
	// NodeID, NodeName and Version are the agent's that runs the fleet: its
	// hosts are named after it and follow its status.
	NodeID, NodeName, Version string
	Logger                    *slog.Logger
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.Size < 0 {
		return fmt.Errorf("sim fleet size must not be negative, got %d", c.Size)
	}
	if c.Size > 0 && c.Driver == nil {
		return fmt.Errorf("sim fleet of %d hosts needs a driver", c.Size)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Cluster is what the fleet needs from the consensus core (*cluster.Agent).
type Cluster interface {
	ApplyInBatches(ctx context.Context, cmds []fsm.Command)
	CatchUp(ctx context.Context, timeout time.Duration) error
	// CaughtUpCh is closed once the agent has caught up after it started.
	CaughtUpCh() <-chan struct{}
}

// State is the read side of the local state; *fsm.FSM implements it.
type State interface {
	Subscribe(buffer int) (<-chan fsm.Event, func())
	Node(id string) (fsm.Node, error)
	VM(id string) (fsm.VM, error)
	Migration(id string) (fsm.Migration, error)
	Failover(id string) (fsm.Failover, error)
	Removal(vmID string) (fsm.Removal, bool)
}

// Hosts runs a fleet host's reconciler (*host.Host).
type Hosts interface {
	RunFleetHost(nodeID, name string, driver hypervisor.Driver, events <-chan fsm.Event)
}

// Run registers the fleet's nodes and runs a host reconciler for each, fed by
// one subscription that routes each change to the host it concerns, until ctx
// ends.
func Run(ctx context.Context, cfg Config, cl Cluster, st State, hosts Hosts) {
	if cfg.Size == 0 {
		return
	}
	f := &fleet{cfg: cfg, cluster: cl, state: st, hosts: hosts, logger: cfg.Logger.With("component", "fleet", "node", cfg.NodeName)}
	f.run(ctx)
}

type fleet struct {
	cfg     Config
	cluster Cluster
	state   State
	hosts   Hosts
	logger  *slog.Logger
}

// run registers the fleet's nodes and runs their reconcilers.
func (f *fleet) run(ctx context.Context) {
	select { // the agent's own host reconciler catches up for all
	case <-f.cluster.CaughtUpCh():
	case <-ctx.Done():
		return
	}
	events, cancel := f.state.Subscribe(1 << 16)
	defer cancel()
	members := map[string]chan fsm.Event{}
	var nodes []fsm.Command
	for i := 1; i <= f.cfg.Size; i++ {
		id, name := fmt.Sprintf("%s-sim-%05d", f.cfg.NodeID, i), fmt.Sprintf("%s-sim-%05d", f.cfg.NodeName, i)
		driver := f.cfg.Driver(name)
		capa, err := driver.Capacity(ctx)
		if err != nil {
			f.logger.Error("fleet host capacity", "host", name, "error", err)
			return
		}
		labels := driver.Labels()
		labels[Label] = f.cfg.NodeName
		nodes = append(nodes, &fsm.RegisterNode{At: time.Now().UTC(), Node: fsm.Node{
			ID: id, Name: name, Version: f.cfg.Version, Fleet: f.cfg.NodeID, Status: fsm.NodeAlive,
			Capacity:   fsm.Capacity{VCPUs: capa.VCPUs, MemoryMiB: capa.MemoryMiB, DiskGiB: capa.DiskGiB},
			Labels:     labels,
			Hypervisor: fsm.HypervisorInfo{Driver: driver.Name(), URI: driver.URI()},
			Networks:   capa.Networks,
		}})
		ch := make(chan fsm.Event, 256)
		members[id] = ch
		f.hosts.RunFleetHost(id, name, driver, ch)
	}
	// Register until every node is in the state: a batch lost to an election
	// would leave reconcilers running for nodes nobody knows.
	for len(nodes) > 0 {
		f.cluster.ApplyInBatches(ctx, nodes)
		_ = f.cluster.CatchUp(ctx, 5*time.Second) // look at the state the writes reached
		nodes = slices.DeleteFunc(nodes, func(c fsm.Command) bool {
			_, err := f.state.Node(c.(*fsm.RegisterNode).Node.ID)
			return err == nil
		})
		if len(nodes) == 0 {
			break
		}
		f.logger.Warn("sim fleet hosts not registered yet; trying again", "missing", len(nodes))
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
	f.logger.Info("sim fleet registered", "hosts", f.cfg.Size)
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-events:
			f.route(ev, members)
		}
	}
}

// route hands an FSM change to the fleet hosts it concerns. A full
// channel drops it: every host also compares everything periodically.
func (f *fleet) route(ev fsm.Event, members map[string]chan fsm.Event) {
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
		if vm, err := f.state.VM(ev.ID); err == nil {
			send(vm.Node)
		} else if r, ok := f.state.Removal(ev.ID); ok {
			send(r.Node) // deleted: its host removes the domain
		}
	case "migration":
		if m, err := f.state.Migration(ev.ID); err == nil {
			send(m.Source)
			send(m.Target)
		}
	case "failover":
		if fo, err := f.state.Failover(ev.ID); err == nil {
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
