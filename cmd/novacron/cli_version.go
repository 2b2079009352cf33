package main

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/version"
)

// versionProbeTimeout bounds how long `novacron version` waits for the
// cluster: it must answer at once even when no agent is up.
const versionProbeTimeout = 3 * time.Second

// newVersionCommand builds `novacron version`: this binary's version and,
// when a token is set and an agent answers, every node's.
func newVersionCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Show the CLI's version, and every node's when the cluster answers",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := struct {
				Client string            `json:"client"`
				Nodes  map[string]string `json:"nodes,omitempty"`
				Error  string            `json:"error,omitempty"`
			}{Client: version.Version}
			if a.token != "" {
				c, err := a.clientAt(a.address)
				if err == nil {
					ctx, cancel := context.WithTimeout(cmd.Context(), versionProbeTimeout)
					defer cancel()
					var nodes []client.Node
					if nodes, err = c.Nodes(ctx); err == nil {
						out.Nodes = map[string]string{}
						for _, n := range nodes {
							out.Nodes[n.Name] = n.Version
						}
					}
				}
				if err != nil {
					out.Error = err.Error()
				}
			}
			if a.json() {
				return a.printData(out)
			}
			printf(a.stdout, "Client: %s\n", out.Client)
			switch {
			case out.Error != "":
				printf(a.stdout, "Nodes:  not reached (%s)\n", out.Error)
			case out.Nodes != nil:
				names := make([]string, 0, len(out.Nodes))
				for n := range out.Nodes {
					names = append(names, n)
				}
				sort.Strings(names)
				t := newTable(a.stdout, "NODE", "VERSION")
				for _, n := range names {
					t.row(n, out.Nodes[n])
				}
				return t.flush()
			}
			return nil
		},
	}
}

// completeVMs completes a VM argument with the names of the cluster's VMs,
// when a token is set and an agent answers in time.
func (a *app) completeVMs(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	return a.completeNames(cmd, args, func(ctx context.Context, c *client.Client) ([]string, error) {
		vms, err := c.VMs(ctx, client.ListVMsOptions{})
		names := make([]string, 0, len(vms))
		for _, vm := range vms {
			names = append(names, vm.Name)
		}
		return names, err
	})
}

// completeNodes completes a node argument with the cluster's node names.
func (a *app) completeNodes(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	return a.completeNames(cmd, args, func(ctx context.Context, c *client.Client) ([]string, error) {
		nodes, err := c.Nodes(ctx)
		names := make([]string, 0, len(nodes))
		for _, n := range nodes {
			names = append(names, n.Name)
		}
		return names, err
	})
}

func (a *app) completeNames(cmd *cobra.Command, args []string, list func(context.Context, *client.Client) ([]string, error)) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	if err := a.resolveGlobals(cmd, args); err != nil || a.token == "" {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	c, err := a.clientAt(a.address)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), versionProbeTimeout)
	defer cancel()
	names, _ := list(ctx, c)
	return names, cobra.ShellCompDirectiveNoFileComp
}

// completeArgs gives every command under group that takes an "ID|NAME" first
// argument the completion complete.
func completeArgs(group *cobra.Command, complete cobra.CompletionFunc) {
	for _, c := range group.Commands() {
		completeArgs(c, complete)
		if strings.Contains(c.Use, "ID|NAME") && c.ValidArgsFunction == nil {
			c.ValidArgsFunction = complete
		}
	}
}
