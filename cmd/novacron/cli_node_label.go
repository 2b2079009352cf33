package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

// newNodeLabelCommand builds `novacron node label set|unset`.
func newNodeLabelCommand(a *app) *cobra.Command {
	set := &cobra.Command{
		Use:   "set ID|NAME KEY=VALUE...",
		Short: "Set labels on a host, which VMs select with --node-selector",
		Long: `Set labels on a host. They are kept in the cluster state, outlive the agent's
restarts, and win over the labels the agent publishes itself (its --label flags
and its hypervisor's). Placement matches them from its next decision on: VMs
pending for a node selector that now matches are placed; VMs already placed stay
where they are.`,
		Example: `  novacron node label set node-2 region=eu rack=r7`,
		Args:    nodeLabelArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			labels := map[string]string{}
			for _, kv := range args[1:] {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return usagef("label %q must be KEY=VALUE", kv)
				}
				labels[k] = v
			}
			return a.changeNodeLabels(cmd, args[0], client.NodeLabelsRequest{Set: labels})
		},
	}
	unset := &cobra.Command{
		Use:   "unset ID|NAME KEY[=VALUE]...",
		Short: "Remove labels set with 'node label set'",
		Long: `Remove labels set with 'novacron node label set' (a value after '=' is ignored).
Where the agent publishes the same key itself, its own value comes back. A
label that comes from the agent (--label or its hypervisor) is changed on the
agent, not here.`,
		Example: `  novacron node label unset node-2 region`,
		Args:    nodeLabelArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var keys []string
			for _, kv := range args[1:] {
				k, _, _ := strings.Cut(kv, "=")
				if k == "" {
					return usagef("label %q has no key", kv)
				}
				keys = append(keys, k)
			}
			return a.changeNodeLabels(cmd, args[0], client.NodeLabelsRequest{Unset: keys})
		},
	}
	return newGroupCommand("label", "Set and remove a host's labels", set, unset)
}

// nodeLabelArgs wants a node and at least one label.
func nodeLabelArgs(cmd *cobra.Command, args []string) error {
	if len(args) < 2 {
		return usagef("%q needs a node (ID or name) and at least one label; got %d argument(s)", cmd.CommandPath(), len(args))
	}
	return nil
}

// changeNodeLabels sends req and shows the node's labels as they now are.
func (a *app) changeNodeLabels(cmd *cobra.Command, node string, req client.NodeLabelsRequest) error {
	c, err := a.client()
	if err != nil {
		return err
	}
	n, err := c.SetNodeLabels(cmd.Context(), node, req)
	if err != nil {
		return err
	}
	if a.json() {
		return a.printData(n)
	}
	printf(a.stdout, "Node %s:\n", n.Name)
	printNodeLabels(a.stdout, n)
	return nil
}
