package main

import (
	"errors"

	"github.com/spf13/cobra"
)

// errQuietNo is a question answered no (`auth can-i`): exit 1, the answer
// already printed, no "Error:" line (as kubectl auth can-i).
var errQuietNo = errors.New("answered no")

func newAuthCommand(a *app) *cobra.Command {
	canI := &cobra.Command{
		Use:   "can-i RESOURCE:ACTION",
		Short: "Say whether your credential may do something, and why",
		Long: `Say whether your token or login may do RESOURCE:ACTION (ACTION is read or
write; resources: cluster, node, vm, migration, failover, settings, token,
project, user, operator). Prints yes or no with the reason; exits 0 for yes and 1
for no. With --project, asks about that project.`,
		Example: `  novacron auth can-i vm:write --project prod
  novacron auth can-i settings:write`,
		Args: exactArgs("RESOURCE:ACTION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ans, err := c.CanI(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json() {
				if err := a.printData(ans); err != nil {
					return err
				}
			} else if ans.Allowed {
				printf(a.stdout, "yes: %s\n", ans.Reason)
			} else {
				printf(a.stdout, "no: %s\n", ans.Reason)
			}
			if !ans.Allowed {
				return errQuietNo
			}
			return nil
		},
	}
	return newGroupCommand("auth", "Ask what your credential may do", canI)
}
