package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

func newNodeDrainCommand(a *app) *cobra.Command {
	var reason string
	var w longWait
	cmd := &cobra.Command{
		Use:   "drain ID|NAME",
		Short: "Put a node in maintenance and move its VMs away",
		Long: `Put a node in maintenance: it gets no new VMs, and the leader live-migrates its
VMs to other nodes, a few at a time. The command waits until the node is
empty, showing the drain's progress (the share of its VMs moved away) and the
VMs that no other node can take, with the reason. It fails when the VMs left
can go nowhere; the node stays in maintenance, and running the command again
watches the drain again. --no-wait returns once the node is in maintenance.

The drain is an operation ('novacron operation show drain:NODE'); cancelling
it, or 'novacron node undrain', takes the node out of maintenance.`,
		Example: `  novacron node drain node-3 --reason "kernel upgrade"`,
		Args:    exactArgs("ID|NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := w.check(); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := c.DrainNode(ctx, args[0], reason)
			if client.ErrorCode(err) == client.CodeInvalidState {
				// Already in maintenance: watch the drain under way.
				cur, serr := c.DrainStatus(ctx, args[0])
				if serr != nil || !cur.Maintenance {
					return err
				}
				st, err = cur, nil
				if !a.json() {
					printf(a.stdout, "Node %s is already in maintenance; watching its drain.\n", st.NodeName)
				}
			} else if err == nil && !a.json() {
				printf(a.stdout, "Node %s is in maintenance; its VMs move away.\n", st.NodeName)
			}
			if err != nil {
				return err
			}
			if w.noWait {
				if a.json() {
					return a.printData(st)
				}
				fmt.Fprintln(a.stdout, safe(drainLine(st)))
				a.printUnmovable(st.Unmovable)
				return nil
			}
			ctx, cancel := w.context(ctx)
			defer cancel()
			return a.watchDrain(ctx, c, st)
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the node is drained (shown with the node)")
	w.flags(cmd, "until the node is empty", 0)
	return cmd
}

// watchDrain follows a node's drain operation until no VM is left on the
// node, showing its progress and, whenever they change, the VMs that
// cannot move. It fails when every VM left is one that cannot move (the
// operation failed), or when the node leaves maintenance first.
func (a *app) watchDrain(ctx context.Context, c *client.Client, st *client.DrainStatus) error {
	rc := c.WithReadOptions(client.ReadOptions{WaitIndex: c.LastIndex()})
	id := st.Operation
	if id == "" {
		id = "drain:" + st.NodeID
	}
	p := a.newOpProgress("draining " + st.NodeName)
	op, err := a.followOperation(ctx, rc, id, p, nil)
	p.end()
	if ctx.Err() != nil {
		return fmt.Errorf("stopped watching the drain of node %s (%w); it goes on: run 'novacron node drain %s' to watch it again",
			st.NodeName, ctx.Err(), st.NodeName)
	}
	if err != nil {
		return err
	}
	if op == nil {
		// No drain: the node left maintenance, unless this agent does not
		// follow drains as operations (an older version).
		if cur, err := rc.DrainStatus(ctx, st.NodeID); err == nil && cur.Maintenance {
			return fmt.Errorf("node %s is in maintenance, but the agent has no operation for its drain (an older version?): 'novacron node drain %s --no-wait' shows it",
				st.NodeName, st.NodeName)
		}
	}
	if op == nil || op.State == client.OperationCancelled {
		return fmt.Errorf("node %s left maintenance before it was empty (undrained meanwhile?)", st.NodeName)
	}
	if a.json() {
		final, err := rc.DrainStatus(ctx, st.NodeID)
		if err != nil {
			return err
		}
		if err := a.printData(final); err != nil {
			return err
		}
	}
	if op.State == client.OperationFailed {
		return fmt.Errorf("drain of node %s is stuck: %s; the node stays in maintenance", st.NodeName, orDash(op.Error))
	}
	if !a.json() {
		printf(a.stdout, "Node %s is drained: no VMs left.\n", st.NodeName)
	}
	return nil
}

// printUnmovable lists the VMs that can go nowhere, with the reasons.
func (a *app) printUnmovable(vms []client.UnmovableVM) {
	for _, u := range vms {
		printf(a.stdout, "  cannot move %s: %s\n", u.VMName, u.Reason)
	}
}

// drainLine summarizes a drain: "node-1: 3 VMs left, 1 migrating (web-1 live 45%), 1 unmovable".
func drainLine(st *client.DrainStatus) string {
	var moving []string
	for _, vm := range st.VMs {
		if m := vm.Migration; m != nil {
			moving = append(moving, fmt.Sprintf("%s %s %.0f%%", vm.Name, m.State, m.Percent))
		}
	}
	s := fmt.Sprintf("%s: %s left, %d migrating", st.NodeName, plural(len(st.VMs), "VM"), len(moving))
	if len(moving) > 0 {
		s += " (" + strings.Join(moving, ", ") + ")"
	}
	if len(st.Unmovable) > 0 {
		s += fmt.Sprintf(", %d unmovable", len(st.Unmovable))
	}
	return s
}

func newNodeUndrainCommand(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "undrain ID|NAME",
		Short: "Take a node out of maintenance",
		Long: `Take a node out of maintenance: it takes VMs again from the answer on, so
--wait (accepted as on every command that changes state) has nothing to wait for.`,
		Args: exactArgs("ID|NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			n, err := c.UndrainNode(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(n)
			}
			printf(a.stdout, "Node %s is out of maintenance: it takes VMs again.\n", n.Name)
			return nil
		},
	}
	cmd.Flags().Bool("wait", true, "the change is done when the command returns")
	cmd.Flags().Duration("timeout", 0, "accepted for symmetry with drain; nothing to wait for")
	return cmd
}

func newNodeFailoverPlanCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "failover-plan ID|NAME",
		Short: "Show where a node's VMs would go if it died now",
		Long: `Show where each VM of a node would restart if the node died now, as the
leader would place them one after the other, and which VMs would fit nowhere.
Nothing changes.`,
		Args: exactArgs("ID|NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			plan, err := c.FailoverPlan(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(plan)
			}
			return a.printFailoverPlan(plan)
		},
	}
}

// printFailoverPlan writes the moves, then the VMs that would not fit.
func (a *app) printFailoverPlan(plan *client.FailoverPlan) error {
	printf(a.stdout, "If %s died now: %d VM(s) would restart elsewhere, %d would fit nowhere.\n",
		nameOr(plan.NodeName, plan.NodeID), len(plan.Moves), len(plan.NotFit))
	if len(plan.Moves) > 0 {
		fmt.Fprintln(a.stdout)
		t := newTable(a.stdout, "VM", "TO", "REASON")
		for _, m := range plan.Moves {
			t.row(m.VMName, nameOr(m.NodeName, m.Node), m.Decision.Reason)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if len(plan.NotFit) > 0 {
		fmt.Fprintln(a.stdout)
		notFit := append([]client.PlannedMove(nil), plan.NotFit...)
		sort.SliceStable(notFit, func(i, j int) bool { return notFit[i].VMName < notFit[j].VMName })
		t := newTable(a.stdout, "NOT FIT", "REASON")
		for _, m := range notFit {
			t.row(m.VMName, m.Decision.Reason)
		}
		return t.flush()
	}
	return nil
}
