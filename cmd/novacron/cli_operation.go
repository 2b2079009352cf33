package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

// newOperationCommand builds `novacron operation`: the long actions the
// cluster is carrying out (VM creations, migrations, drains, image imports,
// volume and snapshot changes), which the commands that start them follow.
func newOperationCommand(a *app) *cobra.Command {
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List operations, newest first",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ops, err := c.Operations(cmd.Context())
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(ops)
			}
			t := newTable(a.stdout, "ID", "KIND", "OBJECT", "PROJECT", "STATE", "PROGRESS", "CREATED")
			for _, op := range ops {
				t.row(a.operationID(op.ID), op.Kind, op.Object.Type+" "+op.Object.Name, op.Project, op.State,
					fmt.Sprintf("%.0f%%", op.Progress), op.CreatedAt.Local().Format(time.DateTime))
			}
			return t.flush()
		},
	}
	var wait time.Duration
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one operation (--wait: until it ends, at most 30s)",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			op, err := c.Operation(cmd.Context(), args[0], wait)
			if err != nil {
				return err
			}
			return a.printOperation(op)
		},
	}
	show.Flags().DurationVar(&wait, "wait", 0, "answer once the operation has ended, or after this long (at most 30s)")
	cancel := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel an operation that may be cancelled (a migration; a drain: its node leaves maintenance)",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			op, err := c.CancelOperation(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.printOperation(op)
		},
	}
	return newGroupCommand("operation", "Follow and cancel long actions: VM creations, migrations, drains, image imports, volume and snapshot changes", list, show, cancel)
}

// printOperation writes one operation as key-value lines.
func (a *app) printOperation(op *client.Operation) error {
	if a.json() {
		return a.printData(op)
	}
	f := newFields(a.stdout)
	f.add("ID", op.ID)
	f.add("Kind", op.Kind)
	f.add("Object", op.Object.Type+" "+op.Object.Name+" ("+op.Object.ID+")")
	f.add("Project", op.Project)
	f.add("State", op.State)
	f.add("Progress", fmt.Sprintf("%.0f%%", op.Progress))
	if op.Error != "" {
		f.add("Error", op.Error)
	}
	f.add("May cancel", fmt.Sprint(op.MayCancel))
	f.add("Created", op.CreatedAt.Local().Format(time.RFC3339))
	f.add("Updated", op.UpdatedAt.Local().Format(time.RFC3339))
	return f.flush()
}

// operationID shortens an operation's ID for a table as a.id does a
// record's; a drain's keeps "drain:" and shortens its node's ID, which
// the API takes so.
func (a *app) operationID(id string) string {
	if node, ok := strings.CutPrefix(id, "drain:"); ok {
		return "drain:" + a.id(node)
	}
	return a.id(id)
}
