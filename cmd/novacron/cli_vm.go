package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

// newVMCommand builds `novacron vm`.
func newVMCommand(a *app) *cobra.Command {
	cmd := newGroupCommand("vm", "Create, inspect, control, migrate and snapshot virtual machines",
		newVMCreateCommand(a), newVMListCommand(a), newVMShowCommand(a), newVMUpdateCommand(a), newVMDeleteCommand(a), newVMMigrateCommand(a),
		newVMConsoleCommand(a), newVMLogsCommand(a), newVMSnapshotCommand(a), newVMMetricsCommand(a), newVMTopCommand(a))
	for _, act := range vmActions {
		cmd.AddCommand(newVMActionCommand(a, act))
	}
	completeArgs(cmd, a.completeVMs)
	return cmd
}

// vmCreateFlags are the flags of `vm create`.
type vmCreateFlags struct {
	vcpus    int
	memory   int64
	disk     int64
	labels   []string
	kernel   string
	initrd   string
	cmdline  string
	bootDisk string
	networks []string
	bridges  []string
	restart  string
	wait     longWait
	place    placementFlags
	// HA policy: --no-ha, --ha-priority, --fence-action.
	noHA        bool
	haPriority  int
	fenceAction string
	// The VM's image, pool and cloud-init configuration (cli_vm_cloudinit.go).
	img vmImageFlags
	// diskGiven: --disk was given; without it a VM from an image takes the
	// image's size, and any other VM the flag's default.
	diskGiven bool
	// stdin is where a cloud-init flag given as "-" reads.
	stdin io.Reader
}

func newVMCreateCommand(a *app) *cobra.Command {
	var fl vmCreateFlags
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a VM",
		Long: `Create a VM. The leader places it on a host that fits it, and that host starts it.

Sizes: --vcpus in virtual CPUs, --memory in MiB and --disk in GiB, or either with
a unit: --memory 2G, --disk 500G, --disk 1T.
Boot from a kernel (--kernel, with optional --initrd and --cmdline) or from a
disk image (--boot-disk); the paths are on the hosts.

From an image (--image, see 'novacron image list'): the VM gets a writable root
disk of its own, a copy-on-write overlay of the image in --pool, of --disk size
(default: the image's). --hostname, --user-data, --ssh-key and --network-config
configure the guest through cloud-init (a NoCloud seed the host attaches);
--user-data, --ssh-key and --network-config name local files.

Placement: --strategy overrides the cluster's (binpack or spread);
--node-selector KEY=VALUE keeps the VM on nodes with that label; --on-node NODE
restricts it to the nodes named (hard), --prefer-node NODE favours them (soft);
--affinity GROUP and --anti-affinity GROUP keep it with, or away from, the
other VMs of the group (hard; GROUP:soft only weighs the choice).

The command waits until the VM runs, and fails if it reaches the error state,
fits on no node (it stays pending: 'novacron vm show' says why), or does not
run within --timeout. --no-wait returns once the VM is created (--wait, the
default, is accepted too).`,
		Example: `  novacron vm create web-1 --vcpus 2 --memory 1024 --disk 10 --label tier=web \
      --kernel /var/lib/novacron/vmlinuz --initrd /var/lib/novacron/initrd.img \
      --cmdline "console=ttyS0"
  novacron vm create db-2 --node-selector region=eu --anti-affinity db --affinity cache:soft --no-wait
  novacron vm create web --image debian-12 --disk 20G --hostname web \
      --user-data ./cloud-config.yaml --ssh-key ~/.ssh/id_ed25519.pub`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			fl.diskGiven, fl.stdin = cmd.Flags().Changed("disk"), a.stdin
			req, err := fl.request(args[0])
			if err != nil {
				return err
			}
			if err := fl.wait.check(); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			vm, err := c.CreateVM(cmd.Context(), req)
			if err != nil {
				return withFlagNames(err)
			}
			if fl.wait.noWait {
				if a.json() {
					return a.printData(vm)
				}
				printf(a.stdout, "Created VM %s (%s), state %s.\n", vm.Name, vm.ID, createdState(vm))
				return nil
			}
			if !a.json() {
				printf(a.stdout, "Created VM %s (%s); waiting for it to run...\n", vm.Name, vm.ID)
			}
			running, err := a.waitForCreate(cmd.Context(), c, vm, fl.wait.timeout)
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(running)
			}
			printf(a.stdout, "VM %s is running on %s.\n", running.Name, orDash(nameAndID(running.NodeName, running.Node)))
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&fl.vcpus, "vcpus", 1, "virtual CPUs")
	f.Var(newSizeValue(&fl.memory, 256, "MiB", 1), "memory", "memory: MiB, or with a unit such as 512M or 2G")
	f.Var(newSizeValue(&fl.disk, 1, "GiB", 1024), "disk", "disk size: GiB, or with a unit such as 20G or 1T")
	f.StringArrayVar(&fl.labels, "label", nil, "label KEY=VALUE (repeatable)")
	f.StringVar(&fl.kernel, "kernel", "", "kernel image path on the host")
	f.StringVar(&fl.initrd, "initrd", "", "initrd path on the host (needs --kernel)")
	f.StringVar(&fl.cmdline, "cmdline", "", "kernel command line (needs --kernel)")
	f.StringVar(&fl.bootDisk, "boot-disk", "", "boot disk image path on the host (instead of --kernel)")
	f.StringArrayVar(&fl.networks, "network", nil, "a NIC on this hypervisor network (repeatable)")
	f.StringArrayVar(&fl.bridges, "bridge", nil, "a NIC on this host bridge (repeatable)")
	f.StringVar(&fl.restart, "restart-policy", "", "always (default), on-failure or never: what the host does when the VM stops unasked")
	fl.wait.flags(cmd, "until the VM runs", 60*time.Second)
	fl.place.register(f)
	f.BoolVar(&fl.noHA, "no-ha", false, "do not restart the VM elsewhere when its host fails")
	f.IntVar(&fl.haPriority, "ha-priority", 0, "restart order after a host failure, 0 to 1000, higher first")
	f.StringVar(&fl.fenceAction, "fence-action", "", "what a host that lost its lease does to the VM: destroy (default) or pause")
	fl.img.register(f)
	return cmd
}

// request builds the API request from the flags, refusing contradictory ones.
func (fl *vmCreateFlags) request(name string) (client.VMRequest, error) {
	req := client.VMRequest{Name: name, VCPUs: fl.vcpus, MemoryMiB: fl.memory, DiskGiB: fl.disk, RestartPolicy: fl.restart}
	for _, n := range fl.networks {
		req.NICs = append(req.NICs, client.NIC{Network: n})
	}
	for _, b := range fl.bridges {
		req.NICs = append(req.NICs, client.NIC{Bridge: b})
	}
	labels, err := parseLabels(fl.labels)
	if err != nil {
		return req, err
	}
	req.Labels = labels
	if req.Placement, err = fl.place.spec(); err != nil {
		return req, err
	}
	if fl.noHA || fl.haPriority != 0 || fl.fenceAction != "" {
		req.HA = &client.HASpec{Disabled: fl.noHA, Priority: fl.haPriority, FenceAction: fl.fenceAction}
	}
	switch {
	case fl.bootDisk != "" && (fl.kernel != "" || fl.initrd != "" || fl.cmdline != ""):
		return req, usagef("--boot-disk cannot be combined with --kernel, --initrd or --cmdline")
	case fl.kernel == "" && (fl.initrd != "" || fl.cmdline != ""):
		return req, usagef("--initrd and --cmdline need --kernel")
	case fl.bootDisk != "":
		req.Boot = &client.BootSource{Disk: fl.bootDisk}
	case fl.kernel != "":
		req.Boot = &client.BootSource{Kernel: fl.kernel, Initrd: fl.initrd, Cmdline: fl.cmdline}
	}
	if err := fl.img.apply(&req, fl.stdin); err != nil {
		return req, err
	}
	if req.Image != "" && !fl.diskGiven {
		req.DiskGiB = 0 // the API sizes the disk as the image
	}
	return req, nil
}

// parseLabels turns --label KEY=VALUE arguments into a map; nil when there are none.
func parseLabels(args []string) (map[string]string, error) {
	return parsePairs("--label", args)
}

// parsePairs turns the KEY=VALUE arguments of flag into a map; nil when there
// are none.
func parsePairs(flag string, args []string) (map[string]string, error) {
	if len(args) == 0 {
		return nil, nil
	}
	pairs := make(map[string]string, len(args))
	for _, arg := range args {
		k, v, ok := strings.Cut(arg, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, usagef("invalid %s %q: want KEY=VALUE", flag, arg)
		}
		if _, dup := pairs[k]; dup {
			return nil, usagef("%s %q given twice", flag, k)
		}
		pairs[k] = v
	}
	return pairs, nil
}

// createdState is what a create's answer says of the new VM: the node it is
// scheduled on, or why it is pending.
func createdState(vm *client.VM) string {
	if vm.State == client.StateScheduled && vm.Node != "" {
		if vm.NodeName != "" {
			return vm.State + " on " + vm.NodeName
		}
		return vm.State + " on " + vm.Node
	}
	s := describeState(vm)
	if vm.State == client.StatePending && vm.PlacementReason != "" {
		s += "; it stays pending until a node fits"
	}
	return s
}

// describeState is a VM's state with why it is not running yet, when known.
func describeState(vm *client.VM) string {
	s := vm.State
	switch {
	case vm.Error != "":
		s += ": " + vm.Error
	case vm.State == client.StatePending && vm.PlacementReason != "":
		s += ": " + vm.PlacementReason
	}
	return s
}

func newVMListCommand(a *app) *cobra.Command {
	var opts client.ListVMsOptions
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List VMs",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			vms, err := c.VMs(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(vms)
			}
			sort.SliceStable(vms, func(i, j int) bool {
				if vms[i].Project != vms[j].Project {
					return vms[i].Project < vms[j].Project
				}
				return vms[i].Name < vms[j].Name
			})
			headers := []string{"NAME", "ID", "STATE", "DESIRED", "NODE", "VCPUS", "MEMORY"}
			if opts.AllProjects {
				headers = append([]string{"PROJECT"}, headers...)
			}
			t := newTable(a.stdout, headers...)
			for _, vm := range vms {
				node := vm.NodeName
				if node == "" {
					node = vm.Node
				}
				cells := []string{vm.Name, a.id(vm.ID), vm.State, vm.DesiredState, node, strconv.Itoa(vm.VCPUs), formatMiB(vm.MemoryMiB)}
				if opts.AllProjects {
					cells = append([]string{vm.Project}, cells...)
				}
				t.row(cells...)
			}
			return t.flush()
		},
	}
	cmd.Flags().StringVar(&opts.Node, "node", "", "only VMs assigned to this node (ID or name)")
	cmd.Flags().StringVar(&opts.State, "state", "", "only VMs in this state (pending, scheduled, running, stopped, paused, error, unknown: on a failed host)")
	cmd.Flags().StringArrayVar(&opts.Labels, "label", nil, "only VMs with this label, key=value (repeat: every one must match)")
	cmd.Flags().BoolVar(&opts.AllProjects, "all-projects", false, "the VMs of every project, with a PROJECT column (instead of --project's)")
	return cmd
}

func newVMDeleteCommand(a *app) *cobra.Command {
	var force bool
	var opts client.DeleteVMOptions
	var fl waitFlags
	cmd := &cobra.Command{
		Use:     "delete ID|NAME",
		Aliases: []string{"rm"},
		Short:   "Delete a VM (its host stops and removes it)",
		Long: `Delete a VM: the cluster forgets it at once, and its host stops and removes it.
A VM that runs (or is paused) is deleted only after a confirmation on a terminal,
or with --force; a script without --force is refused, so that a typo in a name
never stops a running guest. --wait returns once the host has destroyed and
undefined the VM's domain (its QEMU process is gone), or fails if that host is
failed: its domains go when it fences itself or comes back. --keep-volumes
leaves the root disk of a VM made from an image on its host (in its pool), to
recover it by hand.`,
		Args: exactArgs("ID|NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := fl.check(); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			if !force {
				if err := a.confirmDelete(cmd.Context(), c, args[0]); err != nil {
					return err
				}
			}
			vm, err := c.DeleteVMWithOptions(cmd.Context(), args[0], opts)
			if err != nil {
				return err
			}
			if !a.json() {
				printf(a.stdout, "Deleted VM %s.\n", orDash(nameAndID(vm.Name, vm.ID)))
			}
			if fl.wait {
				if err := a.waitForRemoval(cmd.Context(), c, vm, fl.timeout); err != nil {
					return err
				}
			}
			if a.json() {
				return a.printData(vm)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "delete a running or paused VM without asking")
	cmd.Flags().BoolVar(&opts.KeepVolumes, "keep-volumes", false, "keep the VM's root disk (from --image) on its host")
	fl.register(cmd, "until the host has removed the VM's domain")
	return cmd
}

// errNotConfirmed is a delete the user declined at the prompt.
var errNotConfirmed = errors.New("not deleted")

// confirmDelete asks before a running or paused VM is deleted: on a terminal
// it asks, elsewhere it refuses and names --force. A VM that does not run
// needs no confirmation; one that is not found is left to the delete to say.
func (a *app) confirmDelete(ctx context.Context, c *client.Client, ref string) error {
	vm, err := c.VM(ctx, ref)
	if err != nil {
		if client.IsNotFound(err) {
			return nil
		}
		return err
	}
	switch vm.State {
	case client.StateRunning, client.StatePaused, "unknown":
	default:
		return nil // nothing runs: nothing to confirm
	}
	if !a.interactive {
		return fmt.Errorf("vm %s is %s: pass --force to delete it anyway, or stop it first", vm.Name, vm.State)
	}
	printf(a.stdout, "VM %s is %s on %s. Delete it? [y/N] ", vm.Name, vm.State, orDash(nameAndID(vm.NodeName, vm.Node)))
	answer, _ := bufio.NewReader(a.stdin).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
		return errNotConfirmed
	}
	return nil
}

// vmAction is one of the `vm start|stop|...` commands.
type vmAction struct {
	name, short string
}

// vmActions are the VM actions the CLI offers, in help order.
var vmActions = []vmAction{
	{client.ActionStart, "Start a VM (desired state running)"},
	{client.ActionStop, "Stop a VM (desired state stopped)"},
	{client.ActionRestart, "Restart a VM"},
	{client.ActionPause, "Pause a VM (desired state paused)"},
	{client.ActionResume, "Resume a paused VM (desired state running)"},
}

func newVMActionCommand(a *app, act vmAction) *cobra.Command {
	var w waitFlags
	cmd := &cobra.Command{
		Use:   act.name + " ID|NAME",
		Short: act.short,
		Long: act.short + `.

With --wait the command returns once the host has done it (` + actionGoals[act.name].describe() + `), showing
the VM's state as it changes, and fails if the VM reaches the error state, fits on
no node, or --timeout passes.`,
		Args: exactArgs("ID|NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := w.check(); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			vm, err := c.VMAction(cmd.Context(), args[0], act.name)
			if err != nil {
				return err
			}
			if w.wait {
				if !a.json() {
					printf(a.stdout, "VM %s: %s requested; waiting for it %s...\n", vm.Name, act.name, actionGoals[act.name].what)
				}
				if vm, err = a.waitForVM(cmd.Context(), c, vm, actionGoals[act.name], w.timeout); err != nil {
					return err
				}
			}
			if a.json() {
				return a.printData(vm)
			}
			if w.wait {
				printf(a.stdout, "VM %s is %s on %s.\n", vm.Name, vm.State, orDash(nameAndID(vm.NodeName, vm.Node)))
				return nil
			}
			printf(a.stdout, "VM %s: %s requested (desired state %s, state %s).\n",
				vm.Name, act.name, vm.DesiredState, vm.State)
			return nil
		},
	}
	w.register(cmd, "until the host has done it")
	return cmd
}
