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
	return newGroupCommand("token", "Manage API tokens",
		newTokenCreateCommand(a), newTokenListCommand(a), newTokenRevokeCommand(a))
}

func newTokenCreateCommand(a *app) *cobra.Command {
	var role string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create an API token and print its secret (shown only once)",
		Long: `Create an API token. Its secret is printed once: the cluster keeps only a
hash of it, so store it right away.

Roles: admin (everything), operator (manage VMs and nodes, no tokens), reader
(read the cluster, nodes and VMs).
Without --role the token is a reader; without --ttl it does not expire.`,
		Args: exactArgs("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ttl < 0 {
				return usagef("--ttl must not be negative, got %s", ttl)
			}
			req := client.TokenRequest{Name: args[0], Role: role}
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
			printf(a.stdout, "Created token %s (id %s, role %s, %s).\n\n", tok.Name, tok.ID, tok.Role, expires)
			printf(a.stdout, "Secret: %s\n\n", tok.Secret)
			fmt.Fprintln(a.stdout, "Store this secret now: it will not be shown again.")
			return nil
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "admin, operator or reader (reader when not given)")
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
			t := newTable(a.stdout, "NAME", "ID", "ROLE", "CREATED", "EXPIRES")
			for _, tok := range tokens {
				expires := "never"
				if tok.ExpiresAt != nil {
					expires = formatTime(*tok.ExpiresAt)
				}
				t.row(tok.Name, a.id(tok.ID), tok.Role, formatTime(tok.CreatedAt), expires)
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
