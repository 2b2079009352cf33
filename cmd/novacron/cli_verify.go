package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

// newClusterVerifyCommand builds `novacron cluster verify`: do all the alive
// members hold the same replicated state?
func newClusterVerifyCommand(a *app) *cobra.Command {
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check that every alive member holds the same state",
		Long: `Ask every alive member's API for its state digest (GET /api/v1/cluster/digest)
until they all answer the same applied index, then compare the digests there.
Exit 0 when they agree; 1 when two members hold different state at one index
(a replica diverged), or when they never reached a common index within --wait
(a busy cluster keeps moving: try again, or a member does not answer).`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if wait <= 0 {
				return usagef("--wait must be positive, got %s", wait)
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), wait)
			defer cancel()
			apis, names, err := a.memberClients(ctx, c)
			if err != nil {
				return err
			}
			ds, err := client.WaitSameState(ctx, apis, a.pollInterval/5)
			if err != nil && !errors.Is(err, client.ErrDiverged) {
				return fmt.Errorf("the members %v did not reach one applied index within %s: %w", names, wait, err)
			}
			if a.json() {
				if perr := a.printData(ds); perr != nil {
					return perr
				}
				return err
			}
			sort.Slice(ds, func(i, j int) bool { return ds[i].Node < ds[j].Node })
			t := newTable(a.stdout, "NODE", "APPLIED-INDEX", "SHA256", "NODES", "VMS", "MIGRATIONS", "FAILOVERS")
			for _, d := range ds {
				t.row(d.Node, strconv.FormatUint(d.AppliedIndex, 10), d.SHA256[:min(16, len(d.SHA256))],
					strconv.Itoa(d.Nodes), strconv.Itoa(d.VMs), strconv.Itoa(d.Migrations), strconv.Itoa(d.Failovers))
			}
			if ferr := t.flush(); ferr != nil {
				return ferr
			}
			if err != nil {
				return err
			}
			printf(a.stdout, "\nAll %d alive members hold the same state at index %d.\n", len(ds), ds[0].AppliedIndex)
			return nil
		},
	}
	cmd.Flags().DurationVar(&wait, "wait", 10*time.Second, "how long to wait for the members to reach one applied index")
	return cmd
}

// memberClients returns a client for every alive member with an API address,
// reached with the scheme and token the CLI itself uses.
func (a *app) memberClients(ctx context.Context, c *client.Client) ([]*client.Client, []string, error) {
	cl, err := c.Cluster(ctx)
	if err != nil {
		return nil, nil, err
	}
	base, err := url.Parse(c.Address())
	if err != nil {
		return nil, nil, err
	}
	var apis []*client.Client
	var names []string
	for _, m := range cl.Members {
		if m.Status != "alive" || m.APIAddr == "" {
			continue
		}
		mc, err := a.clientAt(base.Scheme + "://" + m.APIAddr)
		if err != nil {
			return nil, nil, fmt.Errorf("member %s: %w", m.Name, err)
		}
		apis = append(apis, mc)
		names = append(names, m.Name)
	}
	if len(apis) == 0 {
		return nil, nil, errors.New("the cluster lists no alive member with an API address")
	}
	return apis, names, nil
}
