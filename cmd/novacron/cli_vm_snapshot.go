package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

// snapshotTimeout is how long a snapshot command follows the VM's host by
// default: a snapshot of a running guest saves its memory, which takes a
// while for a large one.
const snapshotTimeout = 10 * time.Minute

// newVMSnapshotCommand builds `novacron vm snapshot`: named snapshots of a
// VM's disks (and memory), kept inside its disks on its host.
func newVMSnapshotCommand(a *app) *cobra.Command {
	list := &cobra.Command{
		Use:     "list VM",
		Aliases: []string{"ls"},
		Short:   "List a VM's snapshots, oldest first",
		Args:    exactArgs("VM"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			snaps, err := c.VMSnapshots(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(snaps)
			}
			t := newTable(a.stdout, "NAME", "STATE", "MEMORY", "CREATED", "ERROR")
			for _, sn := range snaps {
				t.row(sn.Name, sn.State, yesNo(sn.Memory), formatTime(sn.CreatedAt), sn.Error)
			}
			return t.flush()
		},
	}
	cmd := newGroupCommand("snapshot", "Take, list, revert to and delete a VM's snapshots",
		newVMSnapshotCreateCommand(a), list, newVMSnapshotRevertCommand(a), newVMSnapshotDeleteCommand(a))
	cmd.Long = `A snapshot holds every disk of a VM (its root disk and its data volumes) as
they were at one instant, and, taken of a running guest, its memory too. It is
kept inside the VM's disk files on its host: while a VM has snapshots it does
not migrate and its volumes are neither attached nor detached; delete them
first. One snapshot action at a time per VM; create, revert and delete wait
until the VM's host has done it (at most --timeout; --no-wait returns at once)
and exit 1 with the host's error if it could not.`
	for _, c := range cmd.Commands() {
		c.ValidArgsFunction = a.completeVMs
	}
	return cmd
}

func newVMSnapshotCreateCommand(a *app) *cobra.Command {
	var req client.SnapshotRequest
	var w hostWait
	cmd := &cobra.Command{
		Use:   "create VM NAME [--memory]",
		Short: "Take a snapshot of a VM's disks (and memory)",
		Long: `Take a snapshot NAME of every disk of a VM, on its host, consistent across
them: a running guest is paused for the instant, and its memory is saved too.
--memory (a running or paused VM only) makes a revert resume the guest from
that instant; without it a revert restarts the guest from its disks as they
were. At most 32 snapshots a VM.`,
		Example: `  novacron vm snapshot create web before-upgrade --memory
  novacron vm snapshot create db nightly --no-wait`,
		Args: exactArgs("VM", "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := w.check(); err != nil {
				return err
			}
			req.Name = args[1]
			c, err := a.client()
			if err != nil {
				return err
			}
			sn, err := c.CreateVMSnapshot(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			return a.followSnapshot(cmd.Context(), c, args[0], sn, w, snapshotCreateGoal(args[0]))
		},
	}
	cmd.Flags().BoolVar(&req.Memory, "memory", false, "a revert resumes the guest from this instant (a running or paused VM)")
	w.flags(cmd, "take it", snapshotTimeout)
	return cmd
}

func newVMSnapshotRevertCommand(a *app) *cobra.Command {
	var w hostWait
	cmd := &cobra.Command{
		Use:   "revert VM NAME",
		Short: "Return a VM to a snapshot",
		Long: `Return every disk of a VM to snapshot NAME; what was written since is lost.
A snapshot taken with --memory resumes the guest from the instant it was
taken; any other restarts the guest from its disks as they were (a VM meant
to be stopped stays stopped). The snapshot stays, to revert to again.`,
		Example: `  novacron vm snapshot revert web before-upgrade`,
		Args:    exactArgs("VM", "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := w.check(); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			sn, err := c.RevertVMSnapshot(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			return a.followSnapshot(cmd.Context(), c, args[0], sn, w, snapshotRevertGoal(args[0]))
		},
	}
	w.flags(cmd, "revert it", snapshotTimeout)
	return cmd
}

func newVMSnapshotDeleteCommand(a *app) *cobra.Command {
	var w hostWait
	cmd := &cobra.Command{
		Use:     "delete VM NAME",
		Aliases: []string{"rm"},
		Short:   "Delete a VM's snapshot",
		Long: `Delete snapshot NAME of a VM: its host removes it from the VM's disks; the VM
and its disks as they are now stay. A failed snapshot goes at once.`,
		Example: `  novacron vm snapshot delete web before-upgrade`,
		Args:    exactArgs("VM", "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := w.check(); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			sn, err := c.DeleteVMSnapshot(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			return a.followSnapshot(cmd.Context(), c, args[0], sn, w, snapshotDeleteGoal(args[0]))
		},
	}
	w.flags(cmd, "remove it", snapshotTimeout)
	return cmd
}

// snapshotGoal is what a snapshot command waits for the VM's host to do.
type snapshotGoal = hostGoal[client.VMSnapshot]

// snapshotCreateGoal waits until a snapshot of vm is taken.
func snapshotCreateGoal(vm string) snapshotGoal {
	return snapshotGoal{
		doing: "creating",
		outcome: func(sn *client.VMSnapshot) (bool, error) {
			switch {
			case sn == nil:
				return false, fmt.Errorf("the snapshot of vm %s is gone", vm)
			case sn.State == client.SnapshotFailed:
				return false, fmt.Errorf("snapshot %s of vm %s failed: %s", sn.Name, vm, orDash(sn.Error))
			}
			return sn.State == client.SnapshotReady, nil
		},
		report: func(sn *client.VMSnapshot) string {
			what := "disks"
			if sn.Memory {
				what = "disks and memory"
			}
			return fmt.Sprintf("Created snapshot %s of vm %s (%s).", sn.Name, vm, what)
		},
	}
}

// snapshotRevertGoal waits until vm is back at a snapshot: ready again,
// with the host's error if it could not.
func snapshotRevertGoal(vm string) snapshotGoal {
	return snapshotGoal{
		doing: "reverting",
		outcome: func(sn *client.VMSnapshot) (bool, error) {
			switch {
			case sn == nil:
				return false, fmt.Errorf("the snapshot of vm %s is gone", vm)
			case sn.State == client.SnapshotReady && sn.Error != "":
				return false, fmt.Errorf("vm %s was not reverted to snapshot %s: %s", vm, sn.Name, sn.Error)
			}
			return sn.State == client.SnapshotReady, nil
		},
		report: func(sn *client.VMSnapshot) string { return fmt.Sprintf("Reverted vm %s to snapshot %s.", vm, sn.Name) },
	}
}

// snapshotDeleteGoal waits until a snapshot of vm is gone: a failed one
// goes at once (the answer shows it as it was), any other once its host
// removed it; it is ready again, with the host's error, if it could not.
func snapshotDeleteGoal(vm string) snapshotGoal {
	return snapshotGoal{
		doing: "deleting",
		outcome: func(sn *client.VMSnapshot) (bool, error) {
			switch {
			case sn == nil || sn.State == client.SnapshotFailed:
				return true, nil
			case sn.State == client.SnapshotReady && sn.Error != "":
				return false, fmt.Errorf("snapshot %s of vm %s is not deleted: its host could not remove it: %s", sn.Name, vm, sn.Error)
			}
			return false, nil
		},
		report: func(sn *client.VMSnapshot) string { return fmt.Sprintf("Deleted snapshot %s of vm %s.", sn.Name, vm) },
	}
}

// followSnapshot follows sn, the write's answer about a snapshot of vm,
// until the VM's host has done what goal waits for, as followVolume does
// for a volume.
func (a *app) followSnapshot(ctx context.Context, c *client.Client, vm string, sn *client.VMSnapshot, w hostWait, goal snapshotGoal) error {
	follow := fmt.Sprintf("novacron vm snapshot list %s", vm)
	if done, failed := goal.outcome(sn); w.noWait && !done && failed == nil {
		if a.json() {
			return a.printData(sn)
		}
		printf(a.stdout, "Snapshot %s of vm %s is %s; follow it with '%s'.\n", sn.Name, vm, goal.doing, follow)
		return nil
	}
	rc := c.WithReadOptions(client.ReadOptions{WaitIndex: c.LastIndex()})
	// A snapshot's operation has its VM's ID and its name.
	op := hostOp{rc: rc, doing: goal.doing + " snapshot " + sn.Name + " of " + vm, id: func(ctx context.Context) (string, error) {
		v, err := rc.VM(ctx, vm)
		if err != nil {
			return "", err
		}
		return v.ID + ":" + sn.Name, nil
	}}
	last, failed, err := waitForHost(ctx, a, w.timeout, sn, goal, op, readOrGone(func(ctx context.Context) (*client.VMSnapshot, error) {
		return rc.VMSnapshot(ctx, vm, sn.Name)
	}))
	if errors.Is(err, errHostTimeout) {
		return fmt.Errorf("timed out after %s waiting for vm %s's host (snapshot %s still %s); it goes on: follow it with '%s'",
			w.timeout, vm, sn.Name, goal.doing, follow)
	}
	if err != nil {
		return err
	}
	return finishHost(a, last, failed, goal)
}

// describeSnapshots shows a VM's snapshots on one line, oldest first:
// "before-upgrade (memory), nightly, broken (failed)".
func describeSnapshots(snaps []client.VMSnapshot) string {
	parts := make([]string, 0, len(snaps))
	for _, sn := range snaps {
		var detail []string
		if sn.Memory {
			detail = append(detail, "memory")
		}
		if sn.State != client.SnapshotReady {
			detail = append(detail, sn.State)
		}
		if len(detail) == 0 {
			parts = append(parts, sn.Name)
			continue
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", sn.Name, strings.Join(detail, ", ")))
	}
	return strings.Join(parts, ", ")
}
