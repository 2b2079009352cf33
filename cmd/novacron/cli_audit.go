package main

import (
	"strconv"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

// newAuditCommand builds `novacron audit`: the audit log, newest first.
func newAuditCommand(a *app) *cobra.Command {
	var f client.AuditFilter
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show the audit log: every change and every refused request, newest first",
		Long: `Show the audit log: every request that changed something and every one
refused (401, 403, 429), with who made it (the user, and the key or session),
the project, the action, the object, the source address, the status and the
Raft index of the write. A cluster admin or reader sees every entry; a
project admin those of its projects.

--project (or NOVACRON_PROJECT) keeps one project's entries; --before SEQ
shows the page before that entry.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			f.Project = a.project
			entries, err := c.Audit(cmd.Context(), f)
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(entries)
			}
			t := newTable(a.stdout, "SEQ", "TIME", "ACTOR", "VIA", "PROJECT", "ACTION", "OBJECT", "STATUS", "INDEX", "SOURCE", "MESSAGE")
			for _, e := range entries {
				index := "-"
				if e.Index > 0 {
					index = strconv.FormatUint(e.Index, 10)
				}
				t.row(strconv.FormatUint(e.Seq, 10), formatTime(e.At), orDash(e.Actor), orDash(e.Via), orDash(e.Project),
					e.Action, orDash(e.Object), strconv.Itoa(e.Status), index, orDash(e.Source), orDash(e.Message))
			}
			return t.flush()
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Actor, "actor", "", "only this user's requests")
	fl.StringVar(&f.Action, "action", "", "only actions containing this, such as \"POST /api/v1/vms\" or \"login\"")
	fl.StringVar(&f.Since, "since", "", "only entries since a duration ago (1h) or a time (RFC 3339)")
	fl.IntVar(&f.Limit, "limit", 100, "at most this many entries (1 to 1000)")
	fl.Uint64Var(&f.Before, "before", 0, "the page before the entry with this seq")
	return cmd
}
