package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

// volumeTimeout is how long a volume command follows its host by default.
const volumeTimeout = 2 * time.Minute

// newVolumeCommand builds `novacron volume`: the data volumes of a project
// (--project), blank disks attached to its VMs beside their root disks.
func newVolumeCommand(a *app) *cobra.Command {
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List data volumes",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			allProjects, _ := cmd.Flags().GetBool("all-projects")
			c, err := a.client()
			if err != nil {
				return err
			}
			vols, err := c.Volumes(cmd.Context(), allProjects)
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(vols)
			}
			return a.printVolumes(vols)
		},
	}
	list.Flags().Bool("all-projects", false, "the volumes of every project (instead of --project's)")
	show := &cobra.Command{
		Use:   "show ID|NAME",
		Short: "Show one data volume",
		Args:  exactArgs("ID|NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			v, err := c.Volume(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(v)
			}
			return a.printVolume(cmd.Context(), c, v)
		},
	}
	cmd := newGroupCommand("volume", "Create, attach, grow and delete data volumes",
		list, show, newVolumeCreateCommand(a), newVolumeGrowCommand(a), newVolumeDeleteCommand(a),
		newVolumeAttachCommand(a), newVolumeDetachCommand(a))
	completeArgs(cmd, a.completeVolumes)
	for _, c := range cmd.Commands() {
		if strings.HasPrefix(c.Use, "attach ") || strings.HasPrefix(c.Use, "detach ") {
			c.ValidArgsFunction = a.completeVolumes
		}
	}
	return cmd
}

func newVolumeCreateCommand(a *app) *cobra.Command {
	var req client.VolumeRequest
	cmd := &cobra.Command{
		Use:   "create NAME --size GIB [--pool POOL]",
		Short: "Create a blank data volume",
		Long: `Create a blank data volume (qcow2) of --size in a storage pool, under NAME
in the project (--project). It is recorded at once; its file is made on the
host of the VM it first attaches to (in a dir pool it then stays on that
host's disk, and attaches to VMs there only).`,
		Example: `  novacron volume create data-1 --size 10G
  novacron volume create scratch --size 100 --pool nfs   # GiB without a unit`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if req.SizeGiB <= 0 {
				return usagef("--size is required: the volume's size, in GiB or with a unit (10G, 1T)")
			}
			req.Name = args[0]
			c, err := a.client()
			if err != nil {
				return err
			}
			v, err := c.CreateVolume(cmd.Context(), req)
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(v)
			}
			printf(a.stdout, "Created volume %s: %s in pool %s.\n", nameAndID(v.Name, v.ID), formatGiB(v.SizeGiB), v.Pool)
			return nil
		},
	}
	f := cmd.Flags()
	f.Var(newSizeValue(&req.SizeGiB, 0, "GiB", 1024), "size", "size: GiB, or with a unit such as 20G or 1T")
	f.StringVar(&req.Pool, "pool", "", "storage pool (default: the default pool)")
	return cmd
}

func newVolumeGrowCommand(a *app) *cobra.Command {
	var size int64
	var w hostWait
	cmd := &cobra.Command{
		Use:   "grow ID|NAME --size GIB",
		Short: "Grow a data volume (never shrinks one)",
		Long: `Grow a data volume to --size. A volume only grows: its file system would
lose its end. The host that holds its file grows it, through the hypervisor
while a guest uses it (the guest sees the new size at once; growing the file
system inside is the guest's business). The command waits until the host has
done it, at most --timeout; --no-wait returns at once.`,
		Example: `  novacron volume grow data-1 --size 20G`,
		Args:    exactArgs("ID|NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if size <= 0 {
				return usagef("--size is required: the new size, in GiB or with a unit (20G, 1T)")
			}
			if err := w.check(); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			v, err := c.ResizeVolume(cmd.Context(), args[0], size)
			if err != nil {
				return err
			}
			return a.followVolume(cmd.Context(), c, v, w, growGoal(size))
		},
	}
	cmd.Flags().Var(newSizeValue(&size, 0, "GiB", 1024), "size", "new size: GiB, or with a unit such as 20G or 1T")
	w.flags(cmd, "grow the file", volumeTimeout)
	return cmd
}

func newVolumeDeleteCommand(a *app) *cobra.Command {
	var w hostWait
	cmd := &cobra.Command{
		Use:     "delete ID|NAME",
		Aliases: []string{"rm"},
		Short:   "Delete a detached data volume and its data",
		Long: `Delete a data volume that no VM has attached. Its host removes the file,
then the record goes; a volume never attached goes at once. The command waits
until it is gone, at most --timeout; --no-wait returns at once.`,
		Args: exactArgs("ID|NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := w.check(); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			v, err := c.DeleteVolume(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.followVolume(cmd.Context(), c, v, w, deleteGoal)
		},
	}
	w.flags(cmd, "remove the file", volumeTimeout)
	return cmd
}

func newVolumeAttachCommand(a *app) *cobra.Command {
	var w hostWait
	cmd := &cobra.Command{
		Use:   "attach VOLUME VM",
		Short: "Attach a data volume to a VM of its project",
		Long: `Attach a data volume to a VM of its project and pool, as the VM's next free
virtio disk (vdc, vdd, ...; at most 16). The VM's host hot-plugs it into a
running guest; a stopped VM has it at its next start. A volume is attached to
one VM at a time. The command waits until the host has done it, at most
--timeout; --no-wait returns at once.`,
		Example: `  novacron volume attach data-1 db-1`,
		Args:    exactArgs("VOLUME", "VM"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := w.check(); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			v, err := c.AttachVolume(cmd.Context(), args[1], args[0])
			if err != nil {
				return err
			}
			return a.followVolume(cmd.Context(), c, v, w, attachGoal)
		},
	}
	w.flags(cmd, "hot-plug it", volumeTimeout)
	return cmd
}

func newVolumeDetachCommand(a *app) *cobra.Command {
	var w hostWait
	cmd := &cobra.Command{
		Use:   "detach VOLUME VM",
		Short: "Detach a data volume from its VM",
		Long: `Detach a data volume from its VM. The VM's host asks a running guest to
release the disk and unplugs it (unmount it in the guest first); a stopped VM
loses it at once. The volume keeps its data. The command waits until the host
has done it, at most --timeout; --no-wait returns at once.`,
		Example: `  novacron volume detach data-1 db-1`,
		Args:    exactArgs("VOLUME", "VM"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := w.check(); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			v, err := c.DetachVolume(cmd.Context(), args[1], args[0])
			if err != nil {
				return err
			}
			return a.followVolume(cmd.Context(), c, v, w, detachGoal(nameOr(v.VMName, args[1])))
		},
	}
	w.flags(cmd, "unplug it", volumeTimeout)
	return cmd
}

// volumeGoal is what a volume command waits for its host to do.
type volumeGoal = hostGoal[client.Volume]

var attachGoal = volumeGoal{
	doing: "attaching",
	outcome: func(v *client.Volume) (bool, error) {
		switch {
		case v == nil:
			return false, errors.New("the volume is gone")
		case v.Attachment == client.VolumeAttached:
			return true, nil
		case v.Attachment == "":
			// A failed hot-plug is undone, with the host's error.
			return false, fmt.Errorf("volume %s failed to attach: %s", v.Name, orDash(v.Error))
		}
		return false, nil
	},
	report: func(v *client.Volume) string {
		return fmt.Sprintf("Attached volume %s to vm %s as %s.", v.Name, nameOr(v.VMName, v.VM), v.Target)
	},
}

// detachGoal waits for a detach from vm (its name).
func detachGoal(vm string) volumeGoal {
	return volumeGoal{
		doing: "detaching",
		outcome: func(v *client.Volume) (bool, error) {
			switch {
			case v == nil || v.Attachment == "":
				return true, nil
			case v.Attachment == client.VolumeDetaching && v.Error != "":
				return false, fmt.Errorf("volume %s is still detaching from vm %s: %s; its host tries again (follow it with 'novacron volume show %s')",
					v.Name, vm, v.Error, v.Name)
			}
			return false, nil
		},
		report: func(v *client.Volume) string { return fmt.Sprintf("Detached volume %s from vm %s.", v.Name, vm) },
	}
}

// growGoal waits for a volume's file to reach size GiB.
func growGoal(size int64) volumeGoal {
	return volumeGoal{
		doing: "growing",
		outcome: func(v *client.Volume) (bool, error) {
			switch {
			case v == nil:
				return false, errors.New("the volume is gone")
			case v.Error != "":
				return false, fmt.Errorf("volume %s failed to grow: %s", v.Name, v.Error)
			}
			// A volume never made is made at its size when it first
			// attaches: nothing to wait for.
			return v.FileGiB == 0 || v.FileGiB >= size, nil
		},
		report: func(v *client.Volume) string {
			if v.FileGiB == 0 {
				return fmt.Sprintf("Volume %s is %s (its file is made at that size when it first attaches).", v.Name, formatGiB(v.SizeGiB))
			}
			return fmt.Sprintf("Volume %s is %s.", v.Name, formatGiB(v.FileGiB))
		},
	}
}

var deleteGoal = volumeGoal{
	doing: "deleting",
	outcome: func(v *client.Volume) (bool, error) {
		switch {
		case v == nil || !v.Deleting:
			return true, nil
		case v.Error != "":
			return false, fmt.Errorf("volume %s is still deleting: its host could not remove it: %s", v.Name, v.Error)
		}
		return false, nil
	},
	report: func(v *client.Volume) string { return fmt.Sprintf("Deleted volume %s.", nameAndID(v.Name, v.ID)) },
}

// followVolume follows v, as the write's answer showed it, until its host
// has done what goal waits for (or failed, or the timeout passed), and
// prints the outcome; with --no-wait it prints the answer. Every read
// waits for the index of the write, so a follower that has not applied it
// yet cannot answer with the volume as it was. The host goes on after a
// timeout; only the CLI stops following it.
func (a *app) followVolume(ctx context.Context, c *client.Client, v *client.Volume, w hostWait, goal volumeGoal) error {
	if done, failed := goal.outcome(v); w.noWait && !done && failed == nil {
		if a.json() {
			return a.printData(v)
		}
		printf(a.stdout, "Volume %s is %s; follow it with 'novacron volume show %s'.\n", v.Name, goal.doing, v.Name)
		return nil
	}
	rc := c.WithReadOptions(client.ReadOptions{WaitIndex: c.LastIndex()})
	// A volume's operation has the volume's ID.
	op := hostOp{rc: rc, doing: goal.doing + " " + v.Name, id: func(context.Context) (string, error) { return v.ID, nil }}
	last, failed, err := waitForHost(ctx, a, w.timeout, v, goal, op, readOrGone(func(ctx context.Context) (*client.Volume, error) {
		return rc.Volume(ctx, v.ID)
	}))
	if errors.Is(err, errHostTimeout) {
		return fmt.Errorf("timed out after %s waiting for volume %s's host (still %s); it goes on: follow it with 'novacron volume show %s'",
			w.timeout, v.Name, goal.doing, v.Name)
	}
	if err != nil {
		return err
	}
	return finishHost(a, last, failed, goal)
}

// volumeState is a volume's state in a table: deleting, its attachment,
// or detached; growing while its host has still to grow its file, and
// error while the host's last action failed.
func volumeState(v client.Volume) string {
	parts := []string{"detached"}
	switch {
	case v.Deleting:
		parts[0] = "deleting"
	case v.Attachment != "":
		parts[0] = v.Attachment
	}
	if v.FileGiB > 0 && v.FileGiB < v.SizeGiB {
		parts = append(parts, "growing")
	}
	if v.Error != "" {
		parts = append(parts, "error")
	}
	return strings.Join(parts, ",")
}

// printVolumes writes the volume table, by project then name.
func (a *app) printVolumes(vols []client.Volume) error {
	sort.SliceStable(vols, func(i, j int) bool {
		if vols[i].Project != vols[j].Project {
			return vols[i].Project < vols[j].Project
		}
		return vols[i].Name < vols[j].Name
	})
	t := newTable(a.stdout, "NAME", "PROJECT", "SIZE", "POOL", "STATE", "VM", "TARGET", "HOST")
	for _, v := range vols {
		vm := v.VMName
		if vm == "" && v.VM != "" {
			vm = a.id(v.VM)
		}
		host := ""
		if v.Host != "" {
			host = a.id(v.Host)
		}
		t.row(v.Name, v.Project, formatGiB(v.SizeGiB), v.Pool, volumeState(v), vm, v.Target, host)
	}
	return t.flush()
}

// printVolume writes one volume as key-value lines, its host by name when
// the caller may read nodes.
func (a *app) printVolume(ctx context.Context, c *client.Client, v *client.Volume) error {
	host := v.Host
	if host != "" {
		if n, err := c.Node(ctx, host); err == nil {
			host = nameAndID(n.Name, n.ID)
		}
	}
	file := "- (made when it first attaches)"
	if v.FileGiB > 0 {
		file = formatGiB(v.FileGiB)
	}
	f := newFields(a.stdout)
	f.add("ID", v.ID)
	f.add("Name", v.Name)
	f.add("Project", v.Project)
	f.add("State", volumeState(*v))
	if v.Error != "" {
		f.add("Error", v.Error)
	}
	f.add("Size", formatGiB(v.SizeGiB))
	f.add("File", file)
	f.add("Format", v.Format)
	f.add("Pool", v.Pool)
	f.add("Host", host)
	vm := ""
	if v.VM != "" {
		vm = nameAndID(v.VMName, v.VM)
	}
	f.add("VM", vm)
	f.add("Target", v.Target)
	f.add("Created", formatTime(v.CreatedAt))
	f.add("Updated", formatTime(v.UpdatedAt))
	return f.flush()
}

// completeVolumes completes a volume argument with the names of the
// project's volumes.
func (a *app) completeVolumes(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	return a.completeNames(cmd, args, func(ctx context.Context, c *client.Client) ([]string, error) {
		vols, err := c.Volumes(ctx, false)
		names := make([]string, 0, len(vols))
		for _, v := range vols {
			names = append(names, v.Name)
		}
		return names, err
	})
}
