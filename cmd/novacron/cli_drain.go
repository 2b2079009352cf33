package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

func newNodeDrainCommand(a *app) *cobra.Command {
	var reason string
	var noWait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "drain ID|NAME",
		Short: "Put a node in maintenance and move its VMs away",
		Long: `Put a node in maintenance: it gets no new VMs, and the leader live-migrates its
VMs to other nodes, a few at a time. The command shows the progress (VMs left,
migrations under way, VMs that no other node can take, with the reason) until
the node is empty. It fails when the VMs left can go nowhere; the node stays in
maintenance, and running the command again watches the drain again.

'novacron node undrain' takes the node out of maintenance.`,
		Example: `  novacron node drain node-3 --reason "kernel upgrade"`,
		Args:    exactArgs("ID|NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
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
			if noWait {
				if a.json() {
					return a.printData(st)
				}
				fmt.Fprintln(a.stdout, safe(drainLine(st)))
				a.printUnmovable(st.Unmovable)
				return nil
			}
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			return a.watchDrain(ctx, c, st)
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the node is drained (shown with the node)")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the node is in maintenance")
	cmd.Flags().Bool("wait", true, "wait until the node is empty (the default; --no-wait returns at once)")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "stop watching after this long (the drain goes on; default: no limit)")
	return cmd
}

// watchDrain polls a node's drain until no VM is left on it, printing a line
// whenever the picture changes and the unmovable VMs whenever they change. It
// gives up when every VM left is unmovable and none is migrating.
func (a *app) watchDrain(ctx context.Context, c *client.Client, st *client.DrainStatus) error {
	rc := c.WithReadOptions(client.ReadOptions{WaitIndex: c.LastIndex()})
	ticker := time.NewTicker(a.pollInterval)
	defer ticker.Stop()
	line := progressLine{w: a.stdout, redraw: a.terminal, quiet: a.json()}
	defer line.end()
	lastStuck := ""
	for {
		if !a.json() && !st.Done {
			line.show(drainLine(st))
			if stuck := describeUnmovable(st.Unmovable); stuck != lastStuck {
				lastStuck = stuck
				line.end()
				a.printUnmovable(st.Unmovable)
			}
		}
		if st.Done {
			line.end()
			if a.json() {
				return a.printData(st)
			}
			printf(a.stdout, "Node %s is drained: no VMs left.\n", st.NodeName)
			return nil
		}
		if !st.Maintenance {
			return fmt.Errorf("node %s left maintenance before it was empty (undrained meanwhile?)", st.NodeName)
		}
		if migrating(st) == 0 && len(st.VMs) > 0 && len(st.Unmovable) == len(st.VMs) {
			if a.json() {
				_ = a.printData(st)
			}
			return fmt.Errorf("drain of node %s is stuck: %d VM(s) can go nowhere (%s); the node stays in maintenance",
				st.NodeName, len(st.Unmovable), describeUnmovable(st.Unmovable))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped watching the drain of node %s (%w); it goes on: run 'novacron node drain %s' to watch it again",
				st.NodeName, ctx.Err(), st.NodeName)
		case <-ticker.C:
		}
		next, err := rc.DrainStatus(ctx, st.NodeID)
		if err != nil {
			if ctx.Err() != nil {
				continue // reported by the select above
			}
			return err
		}
		st = next
	}
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

// migrating counts the VMs of a drain with a migration under way.
func migrating(st *client.DrainStatus) int {
	n := 0
	for _, vm := range st.VMs {
		if vm.Migration != nil {
			n++
		}
	}
	return n
}

// describeUnmovable lists unmovable VMs with their reasons on one line.
func describeUnmovable(vms []client.UnmovableVM) string {
	parts := make([]string, len(vms))
	for i, u := range vms {
		parts[i] = u.VMName + ": " + u.Reason
	}
	return strings.Join(parts, "; ")
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
