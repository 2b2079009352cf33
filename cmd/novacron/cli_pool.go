package main

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

// newStorageCommand builds `novacron storage`, named after the API's
// /api/v1/storage: its pools hold the images and the VMs' volumes.
func newStorageCommand(a *app) *cobra.Command {
	return newGroupCommand("storage", "Storage pools, where images and VM volumes live", newPoolCommand(a))
}

// newPoolCommand builds `novacron storage pool`.
func newPoolCommand(a *app) *cobra.Command {
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the storage pools with their free space",
		Long: `List the storage pools: for each, the hosts that measured it and its space
available of its capacity (a dir pool sums its hosts; a shared pool is one
folder, shown as the largest any host saw). -o json has each host's figures.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			pools, err := c.Pools(cmd.Context())
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(pools)
			}
			return a.printPools(pools)
		},
	}
	show := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a storage pool and each host's measure of it",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			pools, err := c.Pools(cmd.Context())
			if err != nil {
				return err
			}
			for _, p := range pools {
				if p.Name == args[0] {
					if a.json() {
						return a.printData(p)
					}
					return a.printPool(&p)
				}
			}
			return fmt.Errorf("pool %q not found (novacron storage pool list)", args[0])
		},
	}
	del := &cobra.Command{
		Use:     "delete NAME",
		Aliases: []string{"rm"},
		Short:   "Delete a storage pool no image or VM uses (needs an admin token)",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			p, err := c.DeletePool(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(p)
			}
			printf(a.stdout, "Deleted pool %s.\n", p.Name)
			return nil
		},
	}
	return newGroupCommand("pool", "List, create and delete storage pools", list, show, newPoolCreateCommand(a), del)
}

func newPoolCreateCommand(a *app) *cobra.Command {
	var req client.PoolRequest
	cmd := &cobra.Command{
		Use:   "create NAME [--type dir|shared] [--path PATH] [--description TEXT]",
		Short: "Declare a storage pool (needs an admin token)",
		Long: `Declare a storage pool. Every host makes and measures it:

  dir     a folder of each host's own (--path, or the agent's
          DATA_DIR/pools/NAME); a VM's disks are on its host and move with it.
  shared  one folder mounted at --path on every host (NFS, CephFS, ...); a VM's
          disks are reachable from every host and outlive a failed one.`,
		Example: `  novacron storage pool create fast --type dir --path /srv/nvme/novacron
  novacron storage pool create nfs --type shared --path /mnt/novacron --description "NAS, 10 GbE"`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Name = args[0]
			switch req.Type {
			case "dir", "shared":
			default:
				return usagef("--type %q: use dir or shared", req.Type)
			}
			if req.Type == "shared" && req.Path == "" {
				return usagef("a shared pool needs --path, the folder mounted at the same place on every host")
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			p, err := c.CreatePool(cmd.Context(), req)
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(p)
			}
			printf(a.stdout, "Created pool %s (%s).\n", p.Name, p.Type)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Type, "type", "dir", "dir (each host's own folder) or shared (one folder mounted on every host)")
	f.StringVar(&req.Path, "path", "", "the pool's folder on every host (required for shared)")
	f.StringVar(&req.Description, "description", "", "what the pool is for")
	return cmd
}

// printPools writes the pool table, by name.
func (a *app) printPools(pools []client.Pool) error {
	sort.Slice(pools, func(i, j int) bool { return pools[i].Name < pools[j].Name })
	t := newTable(a.stdout, "NAME", "TYPE", "PATH", "HOSTS", "AVAILABLE", "CAPACITY", "DESCRIPTION")
	for _, p := range pools {
		t.row(p.Name, p.Type, poolPath(&p), poolHosts(&p), formatSize(p.AvailableBytes), formatSize(p.CapacityBytes), p.Description)
	}
	return t.flush()
}

// printPool writes one pool as key-value lines, then a table of its hosts.
func (a *app) printPool(p *client.Pool) error {
	f := newFields(a.stdout)
	f.add("Name", p.Name)
	f.add("Type", p.Type)
	f.add("Path", poolPath(p))
	f.add("Description", p.Description)
	f.add("Available", formatSize(p.AvailableBytes))
	f.add("Capacity", formatSize(p.CapacityBytes))
	f.add("Created", formatTime(p.CreatedAt))
	if err := f.flush(); err != nil {
		return err
	}
	if len(p.Hosts) == 0 {
		fmt.Fprintln(a.stdout, "Hosts: - (no host has measured it yet)")
		return nil
	}
	fmt.Fprintln(a.stdout)
	hosts := append([]client.PoolUsage(nil), p.Hosts...)
	sort.Slice(hosts, func(i, j int) bool {
		return nameOr(hosts[i].NodeName, hosts[i].Node) < nameOr(hosts[j].NodeName, hosts[j].Node)
	})
	t := newTable(a.stdout, "HOST", "AVAILABLE", "CAPACITY", "ERROR")
	for _, h := range hosts {
		t.row(nameOr(h.NodeName, h.Node), formatSize(h.AvailableBytes), formatSize(h.CapacityBytes), h.Error)
	}
	return t.flush()
}

// poolPath is where a pool lives on its hosts: a dir pool without a path
// is in each agent's data dir.
func poolPath(p *client.Pool) string {
	if p.Path == "" && p.Type == "dir" {
		return "DATA_DIR/pools/" + p.Name
	}
	return p.Path
}

// poolHosts counts the hosts that measured a pool, and those that could
// not: "3", "3 (1 error)".
func poolHosts(p *client.Pool) string {
	errs := 0
	for _, h := range p.Hosts {
		if h.Error != "" {
			errs++
		}
	}
	s := strconv.Itoa(len(p.Hosts))
	if errs > 0 {
		s += " (" + plural(errs, "error") + ")"
	}
	return s
}
