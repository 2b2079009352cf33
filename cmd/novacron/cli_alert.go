package main

import (
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

// newAlertCommand builds `novacron alert`: the alerts, their rules and
// silences.
func newAlertCommand(a *app) *cobra.Command {
	var state string
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the alerts you may read, newest change first",
		Args:    exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			alerts, err := c.Alerts(cmd.Context(), state)
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(alerts)
			}
			t := newTable(a.stdout, "ID", "STATE", "SEVERITY", "OBJECT", "PROJECT", "SINCE", "MESSAGE")
			for _, al := range alerts {
				st := al.State
				if al.Silenced {
					st += " (silenced)"
				}
				t.row(safe(al.ID), st, al.Severity, safe(al.ObjectType+" "+orDash(al.ObjectName)), orDash(al.Project),
					formatTime(al.PendingSince), safe(al.Message))
			}
			return t.flush()
		},
	}
	list.Flags().StringVar(&state, "state", "", "only alerts in this state: pending, firing, acknowledged or resolved")

	ack := &cobra.Command{
		Use:   "ack ID",
		Short: "Acknowledge an alert: you handle it (it stays acknowledged until its condition ends)",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			al, err := c.AckAlert(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(al)
			}
			printf(a.stdout, "Alert %s acknowledged by %s.\n", safe(al.ID), safe(al.AckedBy))
			return nil
		},
	}

	var si client.Silence
	var dur time.Duration
	silence := &cobra.Command{
		Use:   "silence",
		Short: "Mute the notifications of matching alerts for a while (they still show)",
		Long: `Mute the notifications of the alerts that match every matcher given
(--rule, --severity, --project, --object) for --for. The alerts still show
in 'novacron alert list', marked silenced. 'novacron alert silences' lists
the silences; 'novacron alert unsilence ID' ends one.

  novacron alert silence --object host-3 --for 2h --comment "replacing its disks"`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			si.Duration = dur.String()
			got, err := c.CreateSilence(cmd.Context(), si)
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(got)
			}
			printf(a.stdout, "Silence %s until %s.\n", got.ID, formatTime(got.EndsAt))
			return nil
		},
	}
	fl := silence.Flags()
	fl.StringVar(&si.Rule, "rule", "", "only this rule's alerts")
	fl.StringVar(&si.Severity, "severity", "", "only alerts of this severity")
	fl.StringVar(&si.Project, "project", "", "only this project's alerts")
	fl.StringVar(&si.Object, "object", "", "only the alerts of this object (its ID or name)")
	fl.StringVar(&si.Comment, "comment", "", "why (shown with the silence)")
	fl.DurationVar(&dur, "for", time.Hour, "how long (at most 2160h, 90 days)")

	silences := &cobra.Command{
		Use:   "silences",
		Short: "List the silences",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			list, err := c.Silences(cmd.Context())
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(list)
			}
			t := newTable(a.stdout, "ID", "MATCHES", "UNTIL", "BY", "COMMENT")
			for _, s := range list {
				t.row(s.ID, silenceMatchers(s), formatTime(s.EndsAt), orDash(s.CreatedBy), safe(s.Comment))
			}
			return t.flush()
		},
	}
	unsilence := &cobra.Command{
		Use:   "unsilence ID",
		Short: "End a silence",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			if err := c.DeleteSilence(cmd.Context(), args[0]); err != nil {
				return err
			}
			printf(a.stdout, "Silence %s ended.\n", args[0])
			return nil
		},
	}
	rules := &cobra.Command{
		Use:   "rules",
		Short: "List the alert rules in force, built-in ones included",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			list, err := c.AlertRules(cmd.Context())
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(list)
			}
			t := newTable(a.stdout, "NAME", "SEVERITY", "CONDITION", "FOR", "ENABLED", "DESCRIPTION")
			for _, r := range list {
				cond := r.Event
				if r.Kind == "metric" {
					cond = r.Object + " " + r.Metric + " " + r.Op + " " + strconv.FormatFloat(r.Threshold, 'g', -1, 64)
				}
				t.row(r.Name, r.Severity, cond, (time.Duration(r.ForSeconds) * time.Second).String(), strconv.FormatBool(!r.Disabled), safe(r.Description))
			}
			return t.flush()
		},
	}
	return newGroupCommand("alert", "List and acknowledge alerts, silence them, and list their rules", list, ack, silence, silences, unsilence, rules)
}

// silenceMatchers describes what a silence matches.
func silenceMatchers(s client.Silence) string {
	var m []string
	for _, kv := range [][2]string{{"rule", s.Rule}, {"severity", s.Severity}, {"project", s.Project}, {"object", s.Object}} {
		if kv[1] != "" {
			m = append(m, kv[0]+"="+safe(kv[1]))
		}
	}
	if len(m) == 0 {
		return "every alert"
	}
	return strings.Join(m, " ")
}
