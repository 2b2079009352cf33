package control

import (
	"context"
	"time"

	"github.com/novacron/novacron/fsm"
)

// fleetLoop makes every sim fleet node's status follow the agent that runs it
// (see package fleet): they live and die together, since a fleet host has no
// gossip member of its own.
func (c *Controller) fleetLoop(ctx context.Context) {
	events, cancel := c.state.Subscribe(256)
	defer cancel()
	ticker := time.NewTicker(c.cfg.ResyncInterval)
	defer ticker.Stop()
	c.followFleets(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-events:
			// Only a node's change can change what its fleet should show.
			if !nodeChange(ev, events) {
				continue
			}
		case <-ticker.C:
		}
		c.followFleets(ctx)
	}
}

// followFleets sets each fleet node's status to its owner's.
func (c *Controller) followFleets(ctx context.Context) {
	var cmds []fsm.Command
	now := time.Now().UTC()
	owners := map[string]fsm.NodeStatus{}
	for _, n := range c.state.Nodes() {
		if n.Fleet == "" {
			continue
		}
		want, ok := owners[n.Fleet]
		if !ok {
			want = fsm.NodeFailed
			if owner, err := c.state.Node(n.Fleet); err == nil {
				want = owner.Status
			}
			owners[n.Fleet] = want
		}
		if n.Status != want {
			cmds = append(cmds, &fsm.SetNodeStatus{ID: n.ID, Status: want, Cause: "fleet: follows its agent", At: now})
		}
	}
	c.cluster.ApplyInBatches(ctx, cmds)
}

// nodeChange drains the events that piled up and reports whether any of them
// (first among them) concerns a node or restores the whole state.
func nodeChange(first fsm.Event, events <-chan fsm.Event) bool {
	hit := first.Kind == "node" || first.Kind == "restore"
	for {
		select {
		case ev := <-events:
			hit = hit || ev.Kind == "node" || ev.Kind == "restore"
		default:
			return hit
		}
	}
}
