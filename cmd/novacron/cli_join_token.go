package main

import (
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

// newJoinTokenCommand builds `novacron node join-token`.
func newJoinTokenCommand(a *app) *cobra.Command {
	return newGroupCommand("join-token", "Make, list and revoke the tokens new hosts join with",
		newJoinTokenCreateCommand(a), newJoinTokenListCommand(a), newJoinTokenRevokeCommand(a))
}

func newJoinTokenCreateCommand(a *app) *cobra.Command {
	var ttl time.Duration
	var uses int
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Make a join token for new hosts (shown only once)",
		Long: `Make a join token. A new host runs

  novacron agent --join HOST:7946 --join-token TOKEN ...

and receives its node certificate and the gossip key from the cluster. The
token carries the fingerprint of the cluster's CA, so the host trusts only
this cluster. The cluster keeps only a hash of it. Needs an admin token, and a
cluster whose first node was started with --tls-ca-key.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ttl <= 0 {
				return usagef("--ttl must be positive, got %s", ttl)
			}
			if uses < 1 {
				return usagef("--uses must be at least 1, got %d", uses)
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			tok, err := c.CreateJoinToken(cmd.Context(), client.JoinTokenRequest{TTL: ttl.String(), Uses: uses})
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(tok)
			}
			printf(a.stdout, "Created join token %s: %s, expires %s.\n\n", tok.ID, plural(tok.UsesLeft, "use"), formatTime(tok.ExpiresAt))
			printf(a.stdout, "%s\n\n", tok.Token)
			printf(a.stdout, "On a new host:\n  novacron agent --name NAME --data-dir /var/lib/novacron --bind IP --join HOST:7946 --join-token %s\n", tok.Token)
			return nil
		},
	}
	cmd.Flags().Var(newDurationValue(&ttl, time.Hour), "ttl", "how long the token can be used, e.g. 1h or 2d (at most 7d)")
	cmd.Flags().IntVar(&uses, "uses", 1, "how many hosts it may enroll")
	return cmd
}

func newJoinTokenListCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the outstanding join tokens (without their secrets)",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			toks, err := c.JoinTokens(cmd.Context())
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(toks)
			}
			t := newTable(a.stdout, "ID", "USES-LEFT", "CREATED", "EXPIRES", "ENROLLED")
			for _, tok := range toks {
				t.row(a.id(tok.ID), strconv.Itoa(tok.UsesLeft), formatTime(tok.CreatedAt), formatTime(tok.ExpiresAt), orDash(strings.Join(tok.Enrolled, ",")))
			}
			return t.flush()
		},
	}
}

func newJoinTokenRevokeCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a join token before it is used up",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			tok, err := c.RevokeJoinToken(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(tok)
			}
			printf(a.stdout, "Revoked join token %s.\n", tok.ID)
			return nil
		},
	}
}
