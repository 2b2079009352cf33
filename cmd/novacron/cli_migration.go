package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

// migrateFlags are the flags of `vm migrate`.
type migrateFlags struct {
	to           string
	mode         string
	maxDowntime  time.Duration
	bandwidth    uint64
	autoConverge bool
	postCopy     bool
	parallel     int
	compression  string
	wait         longWait
}

func newVMMigrateCommand(a *app) *cobra.Command {
	var fl migrateFlags
	cmd := &cobra.Command{
		Use:   "migrate ID|NAME",
		Short: "Move a VM to another node (live by default)",
		Long: `Move a VM to another node. --mode live (default) copies its memory while the
guest runs; warm pauses the guest for the copy; cold shuts it down, moves it
and starts it again. Without --to the scheduler chooses the node.

The command waits until the migration ends, showing its progress, then
libvirt's figures (total time, downtime), and exits with 1 if the migration
failed or was cancelled. With --no-wait it returns as soon as the migration is
accepted (--wait, the default, is accepted too).`,
		Example: `  novacron vm migrate web-1 --to node-2
  novacron vm migrate db-1 --max-downtime 300ms --bandwidth 1000 --auto-converge
  novacron vm migrate batch-7 --mode cold --no-wait`,
		Args: exactArgs("ID|NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := fl.request()
			if err != nil {
				return err
			}
			if err := fl.wait.check(); err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			m, err := c.MigrateVM(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			if fl.wait.noWait {
				if a.json() {
					return a.printData(m)
				}
				printf(a.stdout, "Migration %s accepted: %s %s from %s to %s.\nFollow it with 'novacron migration show %s'.\n",
					m.ID, m.Mode, m.VMName, orDash(nameOr(m.SourceName, m.Source)), orDash(nameOr(m.TargetName, m.Target)), m.ID)
				return nil
			}
			if !a.json() {
				printf(a.stdout, "Migrating %s from %s to %s (%s, migration %s)\n",
					m.VMName, nameOr(m.SourceName, m.Source), nameOr(m.TargetName, m.Target), m.Mode, m.ID)
			}
			ctx, cancel := fl.wait.context(cmd.Context())
			defer cancel()
			return a.watchMigration(ctx, c, m)
		},
	}
	f := cmd.Flags()
	f.StringVar(&fl.to, "to", "", "destination node, by name or ID (default: the scheduler chooses)")
	f.StringVar(&fl.mode, "mode", client.MigrateLive, "live, warm or cold")
	f.DurationVar(&fl.maxDowntime, "max-downtime", 0, "longest pause allowed at the switch-over, such as 300ms (default: libvirt's)")
	f.Uint64Var(&fl.bandwidth, "bandwidth", 0, "bandwidth limit in MiB/s (default: none)")
	f.BoolVar(&fl.autoConverge, "auto-converge", false, "slow the guest's vCPUs down if its memory changes faster than it copies")
	f.BoolVar(&fl.postCopy, "post-copy", false, "switch to post-copy if pre-copy does not converge")
	f.IntVar(&fl.parallel, "parallel", 0, "connections for the copy")
	f.StringVar(&fl.compression, "compression", "", "xbzrle, or with --parallel 2 or more zlib or zstd")
	fl.wait.flags(cmd, "until the migration ends", 0)
	return cmd
}

// request builds the API request from the flags.
func (fl *migrateFlags) request() (client.MigrateRequest, error) {
	switch fl.mode {
	case client.MigrateLive, client.MigrateWarm, client.MigrateCold:
	default:
		return client.MigrateRequest{}, usagef("invalid --mode %q: want live, warm or cold", fl.mode)
	}
	if fl.maxDowntime < 0 || (fl.maxDowntime > 0 && fl.maxDowntime < time.Millisecond) {
		return client.MigrateRequest{}, usagef("--max-downtime must be 1ms or more, got %s", fl.maxDowntime)
	}
	if fl.parallel < 0 {
		return client.MigrateRequest{}, usagef("--parallel must not be negative, got %d", fl.parallel)
	}
	return client.MigrateRequest{
		Mode: fl.mode, Target: fl.to, MaxDowntimeMs: fl.maxDowntime.Milliseconds(), BandwidthMiBps: fl.bandwidth,
		AutoConverge: fl.autoConverge, PostCopy: fl.postCopy, Parallel: fl.parallel, Compression: fl.compression,
	}, nil
}

func newMigrationCommand(a *app) *cobra.Command {
	var opts client.ListMigrationsOptions
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List migrations, newest first",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ms, err := c.Migrations(cmd.Context(), opts)
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(ms)
			}
			return printMigrations(a, ms)
		},
	}
	list.Flags().StringVar(&opts.VM, "vm", "", "only this VM's migrations (ID or name)")
	list.Flags().StringVar(&opts.State, "state", "", "only migrations in this state (pending, preparing, running, completed, failed, cancelled)")
	list.Flags().StringVar(&opts.Node, "node", "", "only migrations from or to this node (ID or name)")
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one migration: progress, outcome and libvirt's figures",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			m, err := c.Migration(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(m)
			}
			return printMigration(a, m)
		},
	}
	cancel := &cobra.Command{
		Use:   "cancel ID",
		Short: "Stop a migration; the VM stays on its source",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			m, err := c.CancelMigration(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(m)
			}
			if client.MigrationFinal(m.State) {
				printf(a.stdout, "Migration %s of %s is %s.\n", m.ID, m.VMName, m.State)
			} else {
				printf(a.stdout, "Cancel of migration %s requested: the source aborts the copy and %s stays where it runs.\n", m.ID, m.VMName)
			}
			return nil
		},
	}
	return newGroupCommand("migration", "List, inspect and cancel VM migrations", list, show, cancel)
}

// printMigrations writes the migration table in the order the API gave.
func printMigrations(a *app, ms []client.Migration) error {
	t := newTable(a.stdout, "ID", "VM", "MODE", "FROM", "TO", "STATE", "PROGRESS", "REASON", "CREATED")
	for _, m := range ms {
		progress := ""
		if m.Progress != nil && !client.MigrationFinal(m.State) {
			progress = fmt.Sprintf("%.0f%%", m.Progress.Percent)
		}
		t.row(a.id(m.ID), m.VMName, m.Mode, nameOr(m.SourceName, m.Source), nameOr(m.TargetName, m.Target),
			m.State, progress, firstLine(m.Reason), formatTime(m.CreatedAt))
	}
	return t.flush()
}

// printMigration writes one migration as key-value lines.
func printMigration(a *app, m *client.Migration) error {
	f := newFields(a.stdout)
	f.add("ID", m.ID)
	f.add("VM", nameAndID(m.VMName, m.VMID))
	f.add("Mode", m.Mode)
	f.add("From", nameAndID(m.SourceName, m.Source))
	f.add("To", nameAndID(m.TargetName, m.Target))
	state := m.State
	if m.CancelRequested && !client.MigrationFinal(m.State) {
		state += " (cancel requested)"
	}
	f.add("State", state)
	f.add("Reason", m.Reason)
	if r := m.Rebalance; r != nil {
		f.add("Rebalance", fmt.Sprintf("imbalance %.3f -> %.3f (source load %.2f, target load %.2f)",
			r.ImbalanceBefore, r.ImbalanceAfter, r.SourceLoad, r.TargetLoad))
	}
	f.add("Options", describeOptions(m.Options))
	if p := m.Progress; p != nil {
		f.add("Progress", describeProgress(p))
	}
	if r := m.Result; r != nil {
		f.add("Result", describeResult(r))
	}
	if m.Error != "" {
		f.add("Error", m.Error)
	}
	f.add("Created", formatTime(m.CreatedAt))
	f.add("Started", formatTime(derefTime(m.StartedAt)))
	f.add("Finished", formatTime(derefTime(m.FinishedAt)))
	return f.flush()
}

// describeMigration is a migration on one line, for `vm show`.
func describeMigration(m *client.Migration) string {
	s := fmt.Sprintf("%s %s to %s, %s", m.ID, m.Mode, nameOr(m.TargetName, m.Target), m.State)
	if m.Progress != nil && !client.MigrationFinal(m.State) {
		s += fmt.Sprintf(" %.0f%%", m.Progress.Percent)
	}
	return s
}

// describeOptions shows the options that are set, or "defaults".
func describeOptions(o client.MigrationOptions) string {
	var parts []string
	if o.MaxDowntimeMs > 0 {
		parts = append(parts, fmt.Sprintf("max downtime %dms", o.MaxDowntimeMs))
	}
	if o.BandwidthMiBps > 0 {
		parts = append(parts, fmt.Sprintf("bandwidth %d MiB/s", o.BandwidthMiBps))
	}
	if o.AutoConverge {
		parts = append(parts, "auto-converge")
	}
	if o.PostCopy {
		parts = append(parts, "post-copy")
	}
	if o.Parallel > 0 {
		parts = append(parts, fmt.Sprintf("%d connections", o.Parallel))
	}
	if o.Compression != "" {
		parts = append(parts, o.Compression+" compression")
	}
	if len(parts) == 0 {
		return "defaults"
	}
	return strings.Join(parts, ", ")
}

// describeProgress shows a copy's figures on one line.
func describeProgress(p *client.MigrationProgress) string {
	return fmt.Sprintf("%.1f%%, %s transferred, %s remaining, dirty rate %s/s",
		p.Percent, formatBytes(p.DataProcessed), formatBytes(p.DataRemaining), formatBytes(p.DirtyRate))
}

// describeResult shows libvirt's final figures on one line.
func describeResult(r *client.MigrationResult) string {
	s := fmt.Sprintf("total time %s, downtime %s, %s transferred",
		time.Duration(r.TotalMs)*time.Millisecond, time.Duration(r.DowntimeMs)*time.Millisecond, formatBytes(r.DataTransferred))
	if r.Iterations > 0 {
		s += fmt.Sprintf(", %d iterations", r.Iterations)
	}
	return s
}
