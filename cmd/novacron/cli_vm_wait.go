package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

// waitFlags are --wait and --timeout, which every command that changes a
// VM's state takes.
type waitFlags struct {
	wait    bool
	timeout time.Duration
}

func (w *waitFlags) register(cmd *cobra.Command, until string) {
	cmd.Flags().BoolVar(&w.wait, "wait", false, "wait "+until)
	cmd.Flags().DurationVar(&w.timeout, "timeout", 60*time.Second, "how long --wait waits")
}

func (w *waitFlags) check() error {
	if w.wait && w.timeout <= 0 {
		return usagef("--timeout must be positive, got %s", w.timeout)
	}
	return nil
}

// vmGoal is what a --wait waits for: the VM in state, and not restarting
// when restart is set.
type vmGoal struct {
	state   string
	restart bool
	// what completes "waiting for it ...".
	what string
}

func (g vmGoal) describe() string {
	if g.restart {
		return "the VM restarted and running"
	}
	return "the VM " + g.state
}

func (g vmGoal) reached(vm *client.VM) bool {
	return vm.State == g.state && (!g.restart || !vm.Restarting)
}

// actionGoals is what each VM action's --wait waits for.
var actionGoals = map[string]vmGoal{
	client.ActionStart:   {state: client.StateRunning, what: "to run"},
	client.ActionStop:    {state: client.StateStopped, what: "to stop"},
	client.ActionRestart: {state: client.StateRunning, restart: true, what: "to restart"},
	client.ActionPause:   {state: client.StatePaused, what: "to pause"},
	client.ActionResume:  {state: client.StateRunning, what: "to resume"},
}

// waitForVM polls vm until it reaches goal, showing each state it passes
// through. It fails at once when the VM is in the error state or fits on no
// node (pending with a reason: waiting would only wait out the timeout), when
// a read fails, or when timeout passes. The first read waits for the index of
// the write that returned vm, so a follower that has not applied it yet
// cannot answer "not found".
func (a *app) waitForVM(ctx context.Context, c *client.Client, vm *client.VM, goal vmGoal, timeout time.Duration) (*client.VM, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rc := c.WithReadOptions(client.ReadOptions{WaitIndex: c.LastIndex()})
	p := &progressLine{w: a.stdout, redraw: a.terminal, quiet: a.json()}
	defer p.end()
	ticker := time.NewTicker(a.pollInterval)
	defer ticker.Stop()
	last := vm
	for {
		cur, err := rc.VM(ctx, vm.ID)
		switch {
		case err == nil:
			last = cur
			if goal.reached(cur) {
				return cur, nil
			}
			p.show("  " + describeState(cur))
			if cur.State == client.StateError {
				return cur, fmt.Errorf("vm %s is in the error state: %s", cur.Name, orDash(cur.Error))
			}
			if cur.State == client.StatePending && cur.PlacementReason != "" {
				return cur, fmt.Errorf("vm %s is pending: %s; it stays pending until a node fits (novacron vm show %s)",
					cur.Name, cur.PlacementReason, cur.Name)
			}
		case ctx.Err() == nil:
			return nil, err
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return last, fmt.Errorf("timed out after %s waiting for vm %s %s (state: %s)",
					timeout, vm.Name, goal.what, describeState(last))
			}
			return last, ctx.Err()
		case <-ticker.C:
		}
	}
}

// waitForCreate waits until a new VM runs, at most timeout: it follows the
// VM's creation (its operation) until a host has reported the VM, failing
// at once when no node fits it (the VM stays pending: waiting would only
// wait out the timeout), then reads the VM until it runs, as waitForVM
// does (failing if it reached the error state).
func (a *app) waitForCreate(ctx context.Context, c *client.Client, vm *client.VM, timeout time.Duration) (*client.VM, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rc := c.WithReadOptions(client.ReadOptions{WaitIndex: c.LastIndex()})
	p := a.newOpProgress("creating " + vm.Name)
	stage := "pending"
	_, err := a.followOperation(ctx, rc, vm.ID, p, func(op *client.Operation) error {
		switch {
		case op.State == client.OperationPending && op.Error != "":
			return fmt.Errorf("vm %s is pending: %s; it stays pending until a node fits (novacron vm show %s)", vm.Name, op.Error, vm.Name)
		case op.State == client.OperationRunning:
			stage = "scheduled, not running yet"
		}
		return nil
	})
	p.end()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return vm, fmt.Errorf("timed out after %s waiting for vm %s to run (state: %s)", timeout, vm.Name, stage)
	}
	if err != nil {
		return vm, err
	}
	return a.waitForVM(ctx, c, vm, vmGoal{state: client.StateRunning, what: "to run"}, timeout)
}

// waitForRemoval polls the removal of a deleted VM until its host confirms
// the domain gone (the removal is not found). It fails at once when the host
// is failed or has left: nothing will confirm until it comes back. The first
// read waits for the delete's index, so a follower that has not applied the
// delete cannot answer "not found" too early.
func (a *app) waitForRemoval(ctx context.Context, c *client.Client, vm *client.VM, timeout time.Duration) error {
	if vm.Node == "" {
		return nil // never placed: no host has anything to remove
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rc := c.WithReadOptions(client.ReadOptions{WaitIndex: c.LastIndex()})
	p := &progressLine{w: a.stdout, redraw: a.terminal, quiet: a.json()}
	defer p.end()
	ticker := time.NewTicker(a.pollInterval)
	defer ticker.Stop()
	host := orDash(nameAndID(vm.NodeName, vm.Node))
	for {
		rm, err := rc.Removal(ctx, vm.ID)
		switch {
		case client.IsNotFound(err):
			if !a.json() {
				p.end()
				printf(a.stdout, "Host %s removed the domain of VM %s.\n", host, vm.Name)
			}
			return nil
		case err == nil:
			if rm.NodeStatus == "failed" || rm.NodeStatus == "left" {
				return fmt.Errorf("vm %s is deleted, but its host %s is %s: its domain goes when the host fences itself or comes back",
					vm.Name, host, rm.NodeStatus)
			}
			p.show("  the host " + host + " is removing the domain")
		case ctx.Err() == nil:
			return err
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("timed out after %s waiting for host %s to remove the domain of vm %s", timeout, host, vm.Name)
			}
			return ctx.Err()
		case <-ticker.C:
		}
	}
}
