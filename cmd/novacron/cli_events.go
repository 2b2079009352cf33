package main

import (
	"encoding/json"
	"fmt"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

// newEventsCommand builds `novacron events`: the cluster's event stream.
func newEventsCommand(a *app) *cobra.Command {
	var (
		follow bool
		after  uint64
		limit  int
		types  []string
		object string
	)
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Show the cluster's changes as they happen, each with the Raft index that made it",
		Long: `Show the cluster's changes: every change to a VM, node, migration,
failover, image, volume, project, user, key or setting, and every audit
entry, each with the Raft index that made it. You see the events of what
you may read; --project (or NOVACRON_PROJECT) keeps one project's.

Without -f, the last --limit events (or those after --after) are shown and
the command ends. With -f it follows: the node keeps an hour of history,
and when the connection drops the command reconnects and resumes exactly
after the last index it printed. A "gap" event says that what you asked
for is older than the node keeps.

  novacron events -f --type vm,migration
  novacron events --after 1234 -o json       one JSON frame per line`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			req := client.EventsRequest{Limit: limit, Types: types, Object: object}
			if cmd.Flags().Changed("after") {
				req.After = &after
			}
			if !follow {
				return c.Events(cmd.Context(), req, a.printEventFrame)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			err = c.FollowEvents(ctx, req, a.printEventFrame, func(err error) {
				fmt.Fprintf(a.stderr, "novacron: the event stream dropped (%v); resuming\n", err)
			})
			if ctx.Err() != nil && cmd.Context().Err() == nil {
				return nil // interrupted: the normal end of following
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&follow, "follow", "f", false, "follow new events; reconnect and resume when the connection drops")
	fl.Uint64Var(&after, "after", 0, "start exactly after this Raft index (0: from the oldest kept)")
	fl.IntVar(&limit, "limit", 0, "without -f: at most this many frames (server default 100, at most 10000)")
	fl.StringSliceVar(&types, "type", nil, "only these event types (vm, node, migration, failover, image, volume, audit, ...); repeat or separate with commas")
	fl.StringVar(&object, "object", "", "only the events of this object (its ID or name)")
	return cmd
}

// printEventFrame prints one frame: a line per event, or the frame as one
// line of JSON. A heartbeat prints nothing in text.
func (a *app) printEventFrame(f client.EventFrame) error {
	if a.json() {
		if a.output == "yaml" {
			fmt.Fprintln(a.stdout, "---")
			return a.printData(f)
		}
		b, err := json.Marshal(f)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(a.stdout, "%s\n", b)
		return err
	}
	for _, ev := range f.Events {
		name := orDash(safe(ev.Name))
		if ev.Type == "gap" {
			name = safe(ev.Message)
		}
		if _, err := fmt.Fprintf(a.stdout, "%-8s %s  %-10s %-22s %s %s\n", strconv.FormatUint(f.Index, 10), formatTime(f.Time),
			safe(ev.Type), safe(ev.Action), name, projectNote(ev.Project)); err != nil {
			return err
		}
	}
	return nil
}

// projectNote is "(project P)" for an object of a project, else "".
func projectNote(p string) string {
	if p == "" {
		return ""
	}
	return "(project " + safe(p) + ")"
}
