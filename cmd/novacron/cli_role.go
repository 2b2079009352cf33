package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

// newRoleCommand builds `novacron role`: the built-in roles and custom ones.
func newRoleCommand(a *app) *cobra.Command {
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the roles and what each grants",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			roles, err := c.Roles(cmd.Context())
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(roles)
			}
			t := newTable(a.stdout, "NAME", "KIND", "PERMISSIONS", "DESCRIPTION")
			for _, r := range roles {
				kind := "custom"
				if r.Builtin {
					kind = "built-in"
				}
				t.row(r.Name, kind, strings.Join(r.Permissions, ","), orDash(r.Description))
			}
			return t.flush()
		},
	}
	show := &cobra.Command{
		Use:   "show NAME",
		Short: "Show one role",
		Args:  exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			r, err := c.Role(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(r)
			}
			printf(a.stdout, "Role %s: %s\nPermissions: %s\n", r.Name, orDash(r.Description), strings.Join(r.Permissions, ", "))
			return nil
		},
	}
	var perms []string
	var desc string
	create := &cobra.Command{
		Use:   "create NAME --permission RESOURCE:ACTION ...",
		Short: "Create a custom role from (resource, action) pairs, such as vm:read",
		Long: `Create a custom role. Each --permission is RESOURCE:ACTION; resources are
audit, cluster, failover, member, migration, node, operator, project, role,
settings, token, user and vm, actions read and write, and * stands for any.
Bound in a project, a role grants only the project's resources there (vm,
migration, project, member, audit).`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(perms) == 0 {
				return usagef("give at least one --permission RESOURCE:ACTION")
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			r, err := c.CreateRole(cmd.Context(), client.RoleRequest{Name: args[0], Description: desc, Permissions: perms})
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(r)
			}
			printf(a.stdout, "Created role %s: %s.\n", r.Name, strings.Join(r.Permissions, ", "))
			return nil
		},
	}
	create.Flags().StringArrayVar(&perms, "permission", nil, "RESOURCE:ACTION the role grants (repeatable)")
	create.Flags().StringVar(&desc, "description", "", "what the role is for")
	del := &cobra.Command{
		Use:     "delete NAME",
		Aliases: []string{"rm"},
		Short:   "Delete a custom role that no user, member or key holds",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.DeleteRole(cmd.Context(), args[0]); err != nil {
				return err
			}
			printf(a.stdout, "Deleted role %s.\n", args[0])
			return nil
		},
	}
	return newGroupCommand("role", "List the roles, and manage custom ones", list, show, create, del)
}

// newProjectMemberCommand builds `novacron project member`: who has which
// role in a project.
func newProjectMemberCommand(a *app) *cobra.Command {
	list := &cobra.Command{
		Use:     "list PROJECT",
		Aliases: []string{"ls"},
		Short:   "List a project's members and their roles",
		Args:    exactArgs("PROJECT"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			members, err := c.Members(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(members)
			}
			t := newTable(a.stdout, "MEMBER", "ROLE")
			for _, m := range members {
				subject := m.User
				if m.Group != "" {
					subject = "group:" + m.Group
				}
				t.row(subject, m.Role)
			}
			return t.flush()
		},
	}
	var role string
	add := &cobra.Command{
		Use:   "add PROJECT USER|group:GROUP --role ROLE",
		Short: "Give a user (or a group of the identity provider) a role in a project",
		Args:  exactArgs("PROJECT", "USER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if role == "" {
				return usagef("--role is required (novacron role list shows them)")
			}
			m := client.ProjectMember{User: args[1], Role: role}
			if g, ok := strings.CutPrefix(args[1], "group:"); ok {
				m.User, m.Group = "", g
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			if _, err := c.SetMember(cmd.Context(), args[0], m); err != nil {
				return err
			}
			printf(a.stdout, "%s is %s in project %s.\n", args[1], role, args[0])
			return nil
		},
	}
	add.Flags().StringVar(&role, "role", "", "the role in the project: project-admin, operator, viewer or a custom one")
	remove := &cobra.Command{
		Use:     "remove PROJECT USER|group:GROUP",
		Aliases: []string{"rm"},
		Short:   "Take a user (or group) out of a project",
		Args:    exactArgs("PROJECT", "USER"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.RemoveMember(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			printf(a.stdout, "%s is no longer a member of project %s.\n", args[1], args[0])
			return nil
		},
	}
	return newGroupCommand("member", "Manage who has which role in a project", list, add, remove)
}
