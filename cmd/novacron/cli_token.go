package main

import (
	"fmt"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

// newTokenCommand builds `novacron token`.
func newTokenCommand(a *app) *cobra.Command {
	cmd := newGroupCommand("token", "Manage API keys (tokens): each belongs to a user, in a project or the whole cluster",
		newTokenCreateCommand(a), newTokenListCommand(a), newTokenRevokeCommand(a))
	cmd.Aliases = []string{"key"}
	return cmd
}

func newTokenCreateCommand(a *app) *cobra.Command {
	var role string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an API key of your user and print its secret (shown only once)",
		Long: `Create an API key of the user you are (your login, or the user of the key
you use). Its secret is printed once: the cluster keeps only a hash of it, so
store it right away.

The key may do what both its role and your own rights allow, and its role
may not grant more than you have (novacron role list shows the roles). With
--project (or NOVACRON_PROJECT) it is scoped to that project, and requests
made with it work there by default; without, it covers the whole cluster.
Without --role the key is a viewer; without --ttl it does not expire.`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ttl < 0 {
				return usagef("--ttl must not be negative, got %s", ttl)
			}
			req := client.TokenRequest{Name: args[0], Role: role, Project: a.project}
			if ttl > 0 {
				req.TTL = ttl.String()
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			tok, err := c.CreateToken(cmd.Context(), req)
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(tok)
			}
			expires := "never expires"
			if tok.ExpiresAt != nil {
				expires = "expires " + formatTime(*tok.ExpiresAt)
			}
			scope := "the whole cluster"
			if tok.Project != "" {
				scope = "project " + tok.Project
			}
			printf(a.stdout, "Created key %s of user %s (id %s, role %s in %s, %s).\n\n", tok.Name, tok.User, tok.ID, tok.Role, scope, expires)
			printf(a.stdout, "Secret: %s\n\n", tok.Secret)
			fmt.Fprintln(a.stdout, "Store this secret now: it will not be shown again.")
			return nil
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "the key's role (viewer when not given); no stronger than your own")
	cmd.Flags().Var(newDurationValue(&ttl, 0), "ttl", "lifetime, e.g. 24h or 30d (0: never expires)")
	return cmd
}

func newTokenListCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List API tokens (without secrets)",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			tokens, err := c.Tokens(cmd.Context())
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(tokens)
			}
			sort.Slice(tokens, func(i, j int) bool { return tokens[i].Name < tokens[j].Name })
			t := newTable(a.stdout, "NAME", "ID", "USER", "ROLE", "PROJECT", "CREATED", "EXPIRES", "LAST USED")
			for _, tok := range tokens {
				expires, used := "never", "-"
				if tok.ExpiresAt != nil {
					expires = formatTime(*tok.ExpiresAt)
				}
				if tok.LastUsedAt != nil {
					used = formatTime(*tok.LastUsedAt)
				}
				project := tok.Project
				if project == "" {
					project = "(cluster)"
				}
				t.row(tok.Name, a.id(tok.ID), tok.User, tok.Role, project, formatTime(tok.CreatedAt), expires, used)
			}
			return t.flush()
		},
	}
}

func newTokenRevokeCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API token; requests carrying it are refused from then on",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			tok, err := c.RevokeToken(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(tok)
			}
			printf(a.stdout, "Revoked token %s.\n", orDash(nameAndID(tok.Name, tok.ID)))
			return nil
		},
	}
}
