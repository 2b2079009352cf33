package main

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

// newNodeCommand builds `novacron node`.
func newNodeCommand(a *app) *cobra.Command {
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the cluster's hosts",
		Long: `List the cluster's hosts with their status, whether they are in maintenance,
their VCPUs and memory as allocated/offered (after overcommit), and how many
VMs they hold.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			nodes, err := c.Nodes(cmd.Context())
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(nodes)
			}
			return a.printNodes(nodes)
		},
	}
	show := &cobra.Command{
		Use:   "show ID|NAME",
		Short: "Show one host",
		Args:  exactArgs("ID|NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			n, err := c.Node(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(n)
			}
			return a.printNode(n)
		},
	}
	cmd := newGroupCommand("node", "List, inspect, label and drain the cluster's hosts", list, show, newNodeMetricsCommand(a), newNodeTopCommand(a),
		newNodeLabelCommand(a), newNodeDrainCommand(a), newNodeUndrainCommand(a), newNodeFailoverPlanCommand(a), newJoinTokenCommand(a))
	completeArgs(cmd, a.completeNodes)
	return cmd
}

// printNodes writes the node table, sorted by name.
func (a *app) printNodes(nodes []client.Node) error {
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	t := newTable(a.stdout, "NAME", "ID", "STATUS", "MAINT", "VCPUS", "MEMORY", "VMS", "HYPERVISOR", "ADDRESS")
	sims := 0
	for _, n := range nodes {
		offer := offered(n)
		t.row(n.Name, a.id(n.ID), n.Status, yesNo(n.Maintenance),
			fmt.Sprintf("%d/%d", n.Allocated.VCPUs, offer.VCPUs),
			formatMiB(n.Allocated.MemoryMiB)+"/"+formatMiB(offer.MemoryMiB),
			strconv.Itoa(n.VMs), n.Hypervisor.Driver, n.APIAddr)
		if n.Hypervisor.Driver == hypervisorSim {
			sims++
		}
	}
	if err := t.flush(); err != nil {
		return err
	}
	if sims > 0 {
		fmt.Fprintln(a.stdout, simNote(sims))
	}
	return nil
}

// offered is what a node offers to VMs: its effective capacity (overcommit
// applied), or its capacity when the server did not say.
func offered(n client.Node) client.Capacity {
	if n.Effective == (client.Capacity{}) {
		return n.Capacity
	}
	return n.Effective
}

// printNode writes one node as key-value lines, then its labels.
func (a *app) printNode(n *client.Node) error {
	status := n.Status
	if n.StatusCause != "" {
		status += " (" + n.StatusCause + ")"
	}
	hv := n.Hypervisor.Driver
	if n.Hypervisor.URI != "" {
		hv += " (" + n.Hypervisor.URI + ")"
	}
	f := newFields(a.stdout)
	f.add("ID", n.ID)
	f.add("Name", n.Name)
	f.add("Status", status)
	f.add("Status since", formatTime(n.StatusSince))
	for _, h := range n.StatusHistory {
		f.add("  status change", fmt.Sprintf("%s  %s  %s", formatTime(h.At), h.Status, h.Cause))
	}
	f.add("API address", n.APIAddr)
	f.add("Raft address", n.RaftAddr)
	f.add("Gossip address", n.GossipAddr)
	f.add("Version", n.Version)
	f.add("Hypervisor", hv)
	if n.Hypervisor.MigrateURI != "" {
		f.add("Migration URI", n.Hypervisor.MigrateURI)
	}
	maint := "no"
	if n.Maintenance {
		maint = "yes, since " + formatTime(derefTime(n.MaintenanceSince))
		if n.MaintenanceReason != "" {
			maint += " (" + n.MaintenanceReason + ")"
		}
	}
	f.add("Maintenance", maint)
	offer := offered(*n)
	f.add("VCPUs", fmt.Sprintf("%d/%d allocated", n.Allocated.VCPUs, offer.VCPUs))
	f.add("Memory", fmt.Sprintf("%s/%s allocated", formatMiB(n.Allocated.MemoryMiB), formatMiB(offer.MemoryMiB)))
	f.add("Disk", fmt.Sprintf("%s/%s allocated", formatGiB(n.Allocated.DiskGiB), formatGiB(n.Capacity.DiskGiB)))
	if offer != n.Capacity {
		f.add("Capacity", fmt.Sprintf("%d vCPUs, %s before overcommit", n.Capacity.VCPUs, formatMiB(n.Capacity.MemoryMiB)))
	}
	if n.Incoming != (client.Capacity{}) {
		f.add("Incoming", fmt.Sprintf("%d vCPUs, %s held for migrations coming in", n.Incoming.VCPUs, formatMiB(n.Incoming.MemoryMiB)))
	}
	f.add("VMs", strconv.Itoa(n.VMs))
	if n.Fleet != "" {
		f.add("Fleet", n.Fleet)
	}
	f.add("Joined", formatTime(n.JoinedAt))
	if err := f.flush(); err != nil {
		return err
	}
	printNodeLabels(a.stdout, n)
	return printNodePools(a.stdout, n)
}

// printNodePools lists the storage pools as the node last measured them:
// space available of capacity, or why it could not.
func printNodePools(w io.Writer, n *client.Node) error {
	if len(n.Pools) == 0 {
		fmt.Fprintln(w, "Pools: -")
		return nil
	}
	fmt.Fprintln(w, "Pools:")
	pools := append([]client.NodePool(nil), n.Pools...)
	sort.Slice(pools, func(i, j int) bool { return pools[i].Pool < pools[j].Pool })
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	for _, p := range pools {
		var parts []string
		if p.CapacityBytes > 0 || p.AvailableBytes > 0 {
			parts = append(parts, formatSize(p.AvailableBytes)+" of "+formatSize(p.CapacityBytes)+" available")
		}
		if p.Error != "" {
			parts = append(parts, "error: "+p.Error)
		}
		fmt.Fprintf(tw, "  %s\t%s\n", safe(p.Pool), safe(orDash(strings.Join(parts, "; "))))
	}
	return tw.Flush()
}

// printNodeLabels lists a node's labels, marking where each comes from when
// an operator set it (node label set) rather than the host.
func printNodeLabels(w io.Writer, n *client.Node) {
	if len(n.Labels) == 0 {
		fmt.Fprintln(w, "Labels: -")
		return
	}
	fmt.Fprintln(w, "Labels:")
	for _, k := range sortedKeys(n.Labels) {
		from := ""
		if _, set := n.SetLabels[k]; set {
			from = "  (set"
			if hv, ok := n.HostLabels[k]; ok {
				from += "; the host says " + safe(hv)
			}
			from += ")"
		}
		fmt.Fprintf(w, "  %s=%s%s\n", safe(k), safe(n.Labels[k]), from)
	}
}
