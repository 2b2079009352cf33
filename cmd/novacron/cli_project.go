package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

// Projects are the tenants: every VM belongs to one. VM commands work in the
// project --project (or NOVACRON_PROJECT) names, the default one without.

func newProjectCommand(a *app) *cobra.Command {
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List projects with their quotas and usage",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ps, err := c.Projects(cmd.Context())
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(ps)
			}
			t := newTable(a.stdout, "NAME", "VMS", "VCPUS", "MEMORY", "DISK", "DESCRIPTION")
			for _, p := range ps {
				t.row(p.Name, usedOf(p.Usage.VMs, p.Quota.VMs, ""), usedOf(p.Usage.VCPUs, p.Quota.VCPUs, ""),
					usedOf(p.Usage.MemoryMiB, p.Quota.MemoryMiB, "MiB"), usedOf(p.Usage.DiskGiB, p.Quota.DiskGiB, "GiB"), p.Description)
			}
			return t.flush()
		},
	}
	show := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a project: its quota and what its VMs use",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			p, err := c.Project(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(p)
			}
			printf(a.stdout, "Name:         %s\nDescription:  %s\n", p.Name, orDash(p.Description))
			printf(a.stdout, "VMs:          %s\nvCPUs:        %s\nMemory:       %s\nDisk:         %s\n",
				usedOf(p.Usage.VMs, p.Quota.VMs, ""), usedOf(p.Usage.VCPUs, p.Quota.VCPUs, ""),
				usedOf(p.Usage.MemoryMiB, p.Quota.MemoryMiB, "MiB"), usedOf(p.Usage.DiskGiB, p.Quota.DiskGiB, "GiB"))
			return nil
		},
	}
	del := &cobra.Command{
		Use:     "delete NAME",
		Aliases: []string{"rm"},
		Short:   "Delete a project that holds no VM",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			p, err := c.DeleteProject(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(p)
			}
			printf(a.stdout, "Deleted project %s.\n", p.Name)
			return nil
		},
	}
	return newGroupCommand("project", "Manage projects, the tenants: each VM belongs to one, within its quota",
		list, show, newProjectCreateCommand(a), newProjectUpdateCommand(a), del, newProjectMemberCommand(a))
}

// usedOf shows a usage against its limit: "3 of 10", "3 (no limit)".
func usedOf(used int64, limit *int64, unit string) string {
	u := strconv.FormatInt(used, 10)
	if unit != "" {
		u += unit
	}
	if limit == nil {
		return u + " (no limit)"
	}
	return fmt.Sprintf("%s of %d%s", u, *limit, unit)
}

// quotaFlags are the flags that set a quota's limits; each takes a number
// (sizes with units, as vm create's) or "unlimited".
type quotaFlags struct {
	description              string
	vcpus, memory, disk, vms string
}

func (q *quotaFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&q.description, "description", "", "what the project is for")
	f.StringVar(&q.vcpus, "vcpus", "", `most vCPUs its VMs may have in all, or "unlimited"`)
	f.StringVar(&q.memory, "memory", "", `most memory in all: MiB, or with a unit (512G, 1T), or "unlimited"`)
	f.StringVar(&q.disk, "disk", "", `most disk in all: GiB, or with a unit (2T), or "unlimited"`)
	f.StringVar(&q.vms, "vms", "", `most VMs, or "unlimited"`)
}

// apply sets the limits whose flags were given onto quota.
func (q *quotaFlags) apply(cmd *cobra.Command, quota *client.Quota) error {
	for _, l := range []struct {
		flag    string
		text    string
		unitMiB int64
		limit   **int64
	}{
		{"vcpus", q.vcpus, 0, &quota.VCPUs}, {"memory", q.memory, 1, &quota.MemoryMiB},
		{"disk", q.disk, 1024, &quota.DiskGiB}, {"vms", q.vms, 0, &quota.VMs},
	} {
		if !cmd.Flags().Changed(l.flag) {
			continue
		}
		if strings.EqualFold(strings.TrimSpace(l.text), "unlimited") {
			*l.limit = nil
			continue
		}
		var n int64
		var err error
		if l.unitMiB > 0 {
			n, err = parseSize(l.text, l.unitMiB)
		} else if n, err = strconv.ParseInt(strings.TrimSpace(l.text), 10, 64); err != nil || n < 0 {
			err = fmt.Errorf("%q is not a whole number of 0 or more", l.text)
		}
		if err != nil {
			return usagef("--%s: %v, or \"unlimited\"", l.flag, err)
		}
		*l.limit = &n
	}
	return nil
}

func newProjectCreateCommand(a *app) *cobra.Command {
	var fl quotaFlags
	cmd := &cobra.Command{
		Use:   "create NAME [--vcpus N] [--memory SIZE] [--disk SIZE] [--vms N]",
		Short: "Create a project, with a quota (needs an admin token)",
		Long: `Create a project. Its quota bounds what all its VMs may take together; a limit
not given is no limit. The cluster checks the quota as it applies each create or
update, so creates racing on several nodes can never pass it.`,
		Example: `  novacron project create prod --vcpus 64 --memory 128G --disk 2T --vms 100
  novacron --project prod vm create web-1 --memory 1G`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := client.ProjectRequest{Name: args[0], Description: fl.description}
			if err := fl.apply(cmd, &req.Quota); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			p, err := c.CreateProject(cmd.Context(), req)
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(p)
			}
			printf(a.stdout, "Created project %s.\n", p.Name)
			return nil
		},
	}
	fl.register(cmd)
	return cmd
}

func newProjectUpdateCommand(a *app) *cobra.Command {
	var fl quotaFlags
	cmd := &cobra.Command{
		Use:   "update NAME [--vcpus N|unlimited] [--memory SIZE|unlimited] [--disk SIZE|unlimited] [--vms N|unlimited]",
		Short: "Change a project's quota or description (needs an admin token)",
		Long: `Change a project: only the limits given change. A limit below what the project
uses already is accepted; it stops the project from growing until it is back
under.`,
		Example: `  novacron project update prod --vms 200 --disk unlimited`,
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			cur, err := c.Project(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			req := client.ProjectRequest{Description: cur.Description, Quota: cur.Quota}
			if cmd.Flags().Changed("description") {
				req.Description = fl.description
			}
			if err := fl.apply(cmd, &req.Quota); err != nil {
				return err
			}
			p, err := c.UpdateProject(cmd.Context(), cur.Name, req)
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(p)
			}
			printf(a.stdout, "Updated project %s.\n", p.Name)
			return nil
		},
	}
	fl.register(cmd)
	return cmd
}
