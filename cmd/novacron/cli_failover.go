package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

func newFailoverCommand(a *app) *cobra.Command {
	var node string
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List host failovers, newest first",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			fos, err := c.Failovers(cmd.Context(), node)
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(fos)
			}
			t := newTable(a.stdout, "ID", "NODE", "VMS", "RESTARTED", "ALL RUNNING", "CAUSE")
			for _, fo := range fos {
				t.row(a.id(fo.ID), nameOr(fo.NodeName, fo.Node), strconv.Itoa(len(fo.VMs)), formatTime(fo.RestartedAt), allRunning(fo), firstLine(fo.Cause))
			}
			return t.flush()
		},
	}
	list.Flags().StringVar(&node, "node", "", "only this node's failovers (ID or name)")
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one failover: each step and how long it took, where each VM went",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			fo, err := c.Failover(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(fo)
			}
			f := newFields(a.stdout)
			f.add("ID", fo.ID)
			f.add("Node", nameAndID(fo.NodeName, fo.Node))
			f.add("Cause", fo.Cause)
			if fo.LastRenewal != nil {
				f.add("Last renewal", formatTime(*fo.LastRenewal))
			}
			f.add("Detected", fmt.Sprintf("%s (+%d ms)", formatTime(fo.DetectedAt), fo.DetectedAfterMs))
			f.add("Fenced by", fmt.Sprintf("%s (+%d ms)", formatTime(fo.FencedAt), fo.FencedAfterMs))
			f.add("Restarted", fmt.Sprintf("%s (+%d ms)", formatTime(fo.RestartedAt), fo.RestartedAfterMs))
			f.add("All running", allRunning(*fo))
			if err := f.flush(); err != nil {
				return err
			}
			fmt.Fprintln(a.stdout)
			t := newTable(a.stdout, "VM", "TO", "RUNNING AFTER", "REASON")
			for _, v := range fo.VMs {
				after := "-"
				if v.RunningAt != nil {
					after = fmt.Sprintf("%d ms", v.RunningAfterMs)
				}
				t.row(nameOr(v.VMName, v.VMID), orDash(v.NodeName), after, v.Reason)
			}
			if err := t.flush(); err != nil {
				return err
			}
			if len(fo.LeftBehind) > 0 {
				fmt.Fprintf(a.stdout, "\nLeft on %s (unknown until it returns):\n", nameOr(fo.NodeName, fo.Node))
				t = newTable(a.stdout, "VM", "WHY")
				for _, v := range fo.LeftBehind {
					t.row(nameOr(v.VMName, v.VMID), v.Reason)
				}
				return t.flush()
			}
			return nil
		},
	}
	return newGroupCommand("failover", "Host failures and where their VMs were restarted", list, show)
}

// allRunning says whether (and when) every restarted VM of a failover ran again.
func allRunning(fo client.Failover) string {
	if fo.CompletedAt == nil {
		return "not yet"
	}
	for _, v := range fo.VMs {
		if v.Node != "" && v.RunningAt == nil {
			return "closed without all"
		}
	}
	return formatTime(*fo.CompletedAt)
}
