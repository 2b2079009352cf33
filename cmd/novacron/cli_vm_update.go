package main

import (
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
no node offers, a bad label), and refuses it while the VM migrates.`,
		Example: `  novacron vm update web-1 --vcpus 4 --memory 8G
  novacron vm update web-1 --label tier=gold --unlabel canary --no-ha`,
		Args: exactArgs("ID|NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if fl.ha && fl.noHA {
				return usagef("--ha and --no-ha contradict each other")
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
			if a.json() {
				return a.printData(updated)
			}
			printf(a.stdout, "Updated VM %s.", updated.Name)
			if updated.VCPUs != vm.VCPUs || updated.MemoryMiB != vm.MemoryMiB || updated.DiskGiB != vm.DiskGiB {
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
	return cmd
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
