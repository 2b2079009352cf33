package main

import (
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

// Users log in with a password (novacron login); an admin manages them.

func newUserCommand(a *app) *cobra.Command {
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List users",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			us, err := c.Users(cmd.Context())
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(us)
			}
			t := newTable(a.stdout, "NAME", "ROLE", "DISABLED", "CREATED")
			for _, u := range us {
				t.row(u.Name, u.Role, yesNo(u.Disabled), u.CreatedAt.Format("2006-01-02 15:04"))
			}
			return t.flush()
		},
	}
	var role string
	var fromStdin bool
	create := &cobra.Command{
		Use:   "create NAME [--role ROLE] [--password-stdin]",
		Short: "Create a user, with a password (needs an admin token)",
		Long: `Create a user who logs in with a password (novacron login). The password is
asked on the terminal, or read from standard input with --password-stdin; it is
8 to 256 bytes, and the cluster keeps only its argon2id hash.`,
		Example: `  novacron user create alice --role operator`,
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := a.readPassword(fromStdin)
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			u, err := c.CreateUser(cmd.Context(), client.UserRequest{Name: args[0], Password: pw, Role: role})
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(u)
			}
			if u.Role == "" {
				printf(a.stdout, "Created user %s, with no cluster role: give it roles in projects (novacron project member add PROJECT %s --role ROLE).\n", u.Name, u.Name)
				return nil
			}
			printf(a.stdout, "Created user %s (cluster role %s).\n", u.Name, u.Role)
			return nil
		},
	}
	create.Flags().StringVar(&role, "role", "", "admin, operator or reader (default reader)")
	create.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the password from standard input, for scripts")

	var upd struct {
		role               string
		password, enable   bool
		disable, fromStdin bool
	}
	update := &cobra.Command{
		Use:   "update NAME [--role ROLE] [--password] [--disable|--enable]",
		Short: "Change a user's role or password, or disable it (needs an admin token)",
		Long: `Change a user. A new password or --disable ends every session of the user at
once, on every node.`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if upd.disable && upd.enable {
				return usagef("--disable and --enable contradict each other")
			}
			req := client.UserRequest{Role: upd.role}
			if upd.password {
				pw, err := a.readPassword(upd.fromStdin)
				if err != nil {
					return err
				}
				req.Password = pw
			}
			if upd.disable || upd.enable {
				req.Disabled = &upd.disable
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			u, err := c.UpdateUser(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(u)
			}
			printf(a.stdout, "Updated user %s (role %s%s).\n", u.Name, u.Role, map[bool]string{true: ", disabled"}[u.Disabled])
			return nil
		},
	}
	uf := update.Flags()
	uf.StringVar(&upd.role, "role", "", "the user's new role")
	uf.BoolVar(&upd.password, "password", false, "set a new password (asked, or --password-stdin)")
	uf.BoolVar(&upd.fromStdin, "password-stdin", false, "read the new password from standard input")
	uf.BoolVar(&upd.disable, "disable", false, "refuse the user's logins and end its sessions")
	uf.BoolVar(&upd.enable, "enable", false, "let a disabled user log in again")

	del := &cobra.Command{
		Use:     "delete NAME",
		Aliases: []string{"rm"},
		Short:   "Delete a user and end its sessions (needs an admin token)",
		Args:    exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			u, err := c.DeleteUser(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			printf(a.stdout, "Deleted user %s.\n", u.Name)
			return nil
		},
	}
	return newGroupCommand("user", "Manage the users who log in with a password", list, create, update, del)
}

func newWhoamiCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "whoami",
		Short: "Show who your credential is: a key or a login, with its roles in the cluster and in projects",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			w, err := c.Whoami(cmd.Context())
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(w)
			}
			who := "key " + w.Name + " of user " + w.User
			if w.Kind == "session" {
				who = "user " + w.User + " (login session)"
			}
			role := w.Role
			if role == "" {
				role = "none"
			}
			expires := "never"
			if w.ExpiresAt != nil {
				expires = w.ExpiresAt.Format("2006-01-02 15:04 MST")
			}
			printf(a.stdout, "%s, role %s, at %s; expires %s.\n", who, role, c.Address(), expires)
			if w.KeyRole != "" {
				scope := "the whole cluster"
				if w.KeyProject != "" {
					scope = "project " + w.KeyProject
				}
				printf(a.stdout, "The key is limited to role %s in %s.\n", w.KeyRole, scope)
			}
			for _, p := range slices.Sorted(maps.Keys(w.Projects)) {
				printf(a.stdout, "Project %s: role %s.\n", p, strings.Join(w.Projects[p], ", "))
			}
			return nil
		},
	}
}
