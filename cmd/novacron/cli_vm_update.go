package main

import (
	"context"
	"fmt"
	"maps"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

// vmUpdateFlags are the fields `vm update` changes; a flag not given leaves
// its field as it is.
type vmUpdateFlags struct {
	vcpus       int
	memory      int64
	disk        int64
	labels      []string
	unlabel     []string
	restart     string
	ha, noHA    bool
	haPriority  int
	fenceAction string
	// restartNow restarts a running VM after the update, so that a new
	// size takes effect now; wait.wait then waits until it runs again.
	restartNow bool
	wait       waitFlags
}

// newVMUpdateCommand builds `vm update`: it reads the VM, changes what the
// flags say, and sends the whole spec back (PUT /api/v1/vms/{id}), which the
// API checks as it checks a create.
func newVMUpdateCommand(a *app) *cobra.Command {
	var fl vmUpdateFlags
	cmd := &cobra.Command{
		Use:   "update ID|NAME",
		Short: "Change a VM's size, labels, restart policy or HA policy",
		Long: `Change a VM: only what the flags name changes. Sizes take effect at the VM's
next start (stop and start it, or restart it); labels, the restart policy and
the HA policy at once. The API checks the new spec as it checks a create (a size
no node offers, a bad label), and refuses it while the VM migrates.

--restart restarts a running VM after the update so that a new size takes
effect now; with --wait the command returns once it runs again. Without
--restart there is nothing to wait for: the update is in the cluster state when
the command returns.`,
		Example: `  novacron vm update web-1 --vcpus 4 --memory 8G --restart --wait
  novacron vm update web-1 --label tier=gold --unlabel canary --no-ha`,
		Args: exactArgs("ID|NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if fl.ha && fl.noHA {
				return usagef("--ha and --no-ha contradict each other")
			}
			if err := fl.wait.check(); err != nil {
				return err
			}
			labels, err := parseLabels(fl.labels)
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			vm, err := c.VM(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			req := specOf(vm)
			f := cmd.Flags()
			changed := false
			set := func(flag string, apply func()) {
				if f.Changed(flag) {
					apply()
					changed = true
				}
			}
			set("vcpus", func() { req.VCPUs = fl.vcpus })
			set("memory", func() { req.MemoryMiB = fl.memory })
			set("disk", func() { req.DiskGiB = fl.disk })
			set("restart-policy", func() { req.RestartPolicy = fl.restart })
			set("label", func() {
				if req.Labels == nil {
					req.Labels = map[string]string{}
				}
				maps.Copy(req.Labels, labels)
			})
			set("unlabel", func() {
				for _, k := range fl.unlabel {
					delete(req.Labels, k)
				}
			})
			ha := func() *client.HASpec {
				if req.HA == nil {
					req.HA = &client.HASpec{}
				}
				return req.HA
			}
			set("ha", func() { ha().Disabled = false })
			set("no-ha", func() { ha().Disabled = true })
			set("ha-priority", func() { ha().Priority = fl.haPriority })
			set("fence-action", func() { ha().FenceAction = fl.fenceAction })
			if !changed {
				return usagef("nothing to change: give at least one of --vcpus, --memory, --disk, --label, --unlabel, --restart-policy, --ha, --no-ha, --ha-priority, --fence-action")
			}
			updated, err := c.UpdateVM(cmd.Context(), vm.ID, req)
			if err != nil {
				return withFlagNames(err)
			}
			resized := updated.VCPUs != vm.VCPUs || updated.MemoryMiB != vm.MemoryMiB || updated.DiskGiB != vm.DiskGiB
			if fl.restartNow {
				return a.restartUpdated(cmd.Context(), c, updated, fl.wait)
			}
			if a.json() {
				return a.printData(updated)
			}
			printf(a.stdout, "Updated VM %s.", updated.Name)
			if resized {
				printf(a.stdout, " The new size takes effect at its next start (novacron vm restart %s).", updated.Name)
			}
			printf(a.stdout, "\n")
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&fl.vcpus, "vcpus", 0, "virtual CPUs")
	f.Var(newSizeValue(&fl.memory, 0, "MiB", 1), "memory", "memory: MiB, or with a unit such as 512M or 2G")
	f.Var(newSizeValue(&fl.disk, 0, "GiB", 1024), "disk", "disk size: GiB, or with a unit such as 20G or 1T")
	f.StringArrayVar(&fl.labels, "label", nil, "add or change label KEY=VALUE (repeatable)")
	f.StringArrayVar(&fl.unlabel, "unlabel", nil, "remove label KEY (repeatable)")
	f.StringVar(&fl.restart, "restart-policy", "", "always, on-failure or never")
	f.BoolVar(&fl.ha, "ha", false, "restart the VM elsewhere when its host fails")
	f.BoolVar(&fl.noHA, "no-ha", false, "do not restart the VM elsewhere when its host fails")
	f.IntVar(&fl.haPriority, "ha-priority", 0, "restart order after a host failure, 0 to 1000, higher first")
	f.StringVar(&fl.fenceAction, "fence-action", "", "what a host that lost its lease does to the VM: destroy or pause")
	f.BoolVar(&fl.restartNow, "restart", false, "restart the VM if it runs, so that a new size takes effect now")
	fl.wait.register(cmd, "with --restart, until the VM runs again")
	return cmd
}

// restartUpdated restarts an updated VM that is meant to run, so that its new
// spec takes effect, and with --wait waits until it runs again. A VM meant to
// be stopped or paused is left as it is: it takes the spec at its next start.
func (a *app) restartUpdated(ctx context.Context, c *client.Client, vm *client.VM, w waitFlags) error {
	if vm.DesiredState != client.StateRunning {
		if a.json() {
			return a.printData(vm)
		}
		printf(a.stdout, "Updated VM %s. It is meant to be %s: not restarted; the update takes effect at its next start.\n", vm.Name, vm.DesiredState)
		return nil
	}
	restarted, err := c.VMAction(ctx, vm.ID, client.ActionRestart)
	if err != nil {
		return fmt.Errorf("vm %s is updated, but restarting it failed: %w", vm.Name, err)
	}
	if !w.wait {
		if a.json() {
			return a.printData(restarted)
		}
		printf(a.stdout, "Updated VM %s; restart requested.\n", vm.Name)
		return nil
	}
	if !a.json() {
		printf(a.stdout, "Updated VM %s; waiting for it to restart...\n", vm.Name)
	}
	running, err := a.waitForVM(ctx, c, restarted, actionGoals[client.ActionRestart], w.timeout)
	if err != nil {
		return err
	}
	if a.json() {
		return a.printData(running)
	}
	printf(a.stdout, "VM %s is running on %s with its new spec.\n", running.Name, orDash(nameAndID(running.NodeName, running.Node)))
	return nil
}

// specOf is the request that would create vm as it is now.
func specOf(vm *client.VM) client.VMRequest {
	req := client.VMRequest{Name: vm.Name, VCPUs: vm.VCPUs, MemoryMiB: vm.MemoryMiB, DiskGiB: vm.DiskGiB,
		Boot: vm.Boot, NICs: vm.NICs, Labels: maps.Clone(vm.Labels), RestartPolicy: vm.RestartPolicy,
		Placement: vm.Placement}
	if vm.HA != nil {
		h := *vm.HA
		req.HA = &h
	}
	return req
}
