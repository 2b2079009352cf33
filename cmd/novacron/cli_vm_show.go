package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

func newVMShowCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID|NAME",
		Short: "Show one VM",
		Args:  exactArgs("ID|NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			vm, err := c.VM(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(vm)
			}
			var m *client.Migration
			if vm.Migration != "" {
				// The VM may have finished moving meanwhile; it shows without it then.
				if m, err = c.Migration(cmd.Context(), vm.Migration); err != nil && !client.IsNotFound(err) {
					return err
				}
			}
			return a.printVM(vm, m)
		},
	}
}

// printVM writes one VM as key-value lines, then its labels, its placement
// constraints and decision, and its migration under way (m, when not nil).
func (a *app) printVM(vm *client.VM, m *client.Migration) error {
	f := newFields(a.stdout)
	f.add("ID", vm.ID)
	f.add("Name", vm.Name)
	f.add("Project", orDash(vm.Project))
	f.add("State", vm.State)
	if vm.StateReason != "" {
		f.add("State reason", vm.StateReason)
	}
	f.add("Desired state", vm.DesiredState)
	if vm.Error != "" {
		f.add("Error", vm.Error)
	}
	f.add("Node", nameAndID(vm.NodeName, vm.Node))
	f.add("Generation", strconv.FormatUint(vm.Generation, 10))
	f.add("Placement", vm.PlacementReason)
	if m != nil {
		f.add("Migration", describeMigration(m))
	}
	if vm.MovedAt != nil {
		f.add("Moved", formatTime(*vm.MovedAt))
	}
	f.add("VCPUs", strconv.Itoa(vm.VCPUs))
	f.add("Memory", formatMiB(vm.MemoryMiB))
	f.add("Disk", formatGiB(vm.DiskGiB))
	f.add("Image", nameOr(vm.ImageName, vm.Image))
	if vm.Pool != "" {
		f.add("Pool", vm.Pool)
	}
	if vm.CloudInit != nil {
		f.add("Cloud-init", describeCloudInit(vm.CloudInit, vm.Name))
	}
	if len(vm.Volumes) > 0 {
		f.add("Volumes", describeVMVolumes(vm.Volumes))
	}
	if len(vm.Snapshots) > 0 {
		f.add("Snapshots", describeSnapshots(vm.Snapshots))
	}
	f.add("Boot", describeBoot(vm.Boot))
	f.add("NICs", describeNICs(vm.NICs))
	f.add("Restart", vm.RestartPolicy)
	if vm.Crashes > 0 {
		f.add("Crashes", fmt.Sprintf("%d (last: %s at %s)", vm.Crashes, vm.LastCrash, formatTime(derefTime(vm.LastCrashAt))))
	}
	f.add("Created", formatTime(vm.CreatedAt))
	f.add("Updated", formatTime(vm.UpdatedAt))
	if err := f.flush(); err != nil {
		return err
	}
	printLabels(a.stdout, vm.Labels)
	printPlacementSpec(a.stdout, vm.Placement)
	return printDecision(a.stdout, vm.Decision)
}

// describeVMVolumes shows a VM's data volumes on one line: "data-1 on vdc
// (20GiB), logs on vdd (5GiB, attaching)".
func describeVMVolumes(vols []client.VMVolume) string {
	parts := make([]string, 0, len(vols))
	for _, v := range vols {
		detail := formatGiB(v.SizeGiB)
		if v.Attachment != client.VolumeAttached {
			detail += ", " + v.Attachment
		}
		parts = append(parts, fmt.Sprintf("%s on %s (%s)", v.Name, v.Target, detail))
	}
	return strings.Join(parts, ", ")
}

// describeBoot shows a boot source on one line.
func describeBoot(b *client.BootSource) string {
	if b == nil {
		return ""
	}
	var parts []string
	for _, p := range [][2]string{{"kernel", b.Kernel}, {"initrd", b.Initrd}, {"cmdline", b.Cmdline}, {"disk", b.Disk}} {
		if p[1] != "" {
			parts = append(parts, fmt.Sprintf("%s=%q", p[0], p[1]))
		}
	}
	return strings.Join(parts, " ")
}

// describeCloudInit shows a VM's cloud-init configuration on one line: the
// hostname (the VM's name by default), and what else it holds (-o json
// shows it whole).
func describeCloudInit(ci *client.CloudInit, vmName string) string {
	host := ci.Hostname
	if host == "" {
		host = vmName + " (the VM's name)"
	}
	parts := []string{"hostname " + host}
	if ci.UserData != "" {
		parts = append(parts, fmt.Sprintf("user-data (%d bytes)", len(ci.UserData)))
	}
	if len(ci.SSHKeys) > 0 {
		parts = append(parts, plural(len(ci.SSHKeys), "SSH key"))
	}
	if ci.NetworkConfig != "" {
		parts = append(parts, "network-config")
	}
	return strings.Join(parts, ", ")
}

// describeNICs shows a VM's NICs on one line.
func describeNICs(nics []client.NIC) string {
	parts := make([]string, 0, len(nics))
	for _, n := range nics {
		switch {
		case n.Network != "":
			parts = append(parts, "network "+n.Network)
		default:
			parts = append(parts, "bridge "+n.Bridge)
		}
	}
	return strings.Join(parts, ", ")
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
