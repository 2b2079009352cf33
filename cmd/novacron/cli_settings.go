package main

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

func newSettingsCommand(a *app) *cobra.Command {
	show := &cobra.Command{
		Use:   "show",
		Short: "Show the cluster settings",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			s, err := c.Settings(cmd.Context())
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(s)
			}
			return a.printSettings(s)
		},
	}
	return newGroupCommand("settings", "Show and change the cluster-wide settings", show, newSettingsSetCommand(a))
}

// settingsFlags are the flags of `settings set`.
type settingsFlags struct {
	strategy                     string
	cpuOvercommit, memOvercommit float64
	perHost, perCluster          int
	mode                         string
	threshold, minGain           float64
	maxMoves                     int
	cooldown, interval           time.Duration
	keepFinished, auditEntries   int
	finishedMaxAge, nodeReap     time.Duration
	imageURLAllow                []string
	imageMaxBytes                string
}

func newSettingsSetCommand(a *app) *cobra.Command {
	var fl settingsFlags
	cmd := &cobra.Command{
		Use:   "set --FLAG VALUE...",
		Short: "Change cluster settings (needs an admin token)",
		Long: `Change cluster settings. Only the flags given change; every other setting
keeps its value. The leader checks every value and refuses the whole change if
one is out of range.`,
		Example: `  novacron settings set --strategy binpack --cpu-overcommit 4
  novacron settings set --rebalance-mode automatic --rebalance-threshold 0.15 --rebalance-cooldown 15m
  novacron settings set --image-url-allow cloud.debian.org --image-url-allow '*.example.com' --image-max-bytes 20G
  novacron settings set --image-url-allow ""     # no URL at all: imports from the nodes' image folders only`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			u, err := fl.update(cmd)
			if err != nil {
				return err
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			s, err := c.UpdateSettings(cmd.Context(), u)
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(s)
			}
			fmt.Fprintln(a.stdout, "Settings updated.")
			return a.printSettings(s)
		},
	}
	f := cmd.Flags()
	f.StringVar(&fl.strategy, "strategy", "", "placement strategy: spread or binpack")
	f.Float64Var(&fl.cpuOvercommit, "cpu-overcommit", 0, "vCPUs offered per host vCPU (1 to 64)")
	f.Float64Var(&fl.memOvercommit, "memory-overcommit", 0, "memory offered per MiB of host memory (1 to 64)")
	f.IntVar(&fl.perHost, "max-migrations-per-host", 0, "migrations a node takes part in at once")
	f.IntVar(&fl.perCluster, "max-migrations-per-cluster", 0, "migrations under way in the cluster at once")
	f.StringVar(&fl.mode, "rebalance-mode", "", "off, recommend or automatic")
	f.Float64Var(&fl.threshold, "rebalance-threshold", 0, "imbalance (standard deviation of node loads) above which the rebalancer acts")
	f.Float64Var(&fl.minGain, "rebalance-min-gain", 0, "least drop of imbalance a move must bring")
	f.IntVar(&fl.maxMoves, "rebalance-max-moves", 0, "migrations one rebalancing round starts at most")
	f.DurationVar(&fl.cooldown, "rebalance-cooldown", 0, "how long a VM that moved is left alone, in whole seconds (such as 10m)")
	f.DurationVar(&fl.interval, "rebalance-interval", 0, "time between rebalancing rounds, in whole seconds (such as 1m)")
	f.IntVar(&fl.keepFinished, "keep-finished", 0, "finished migrations, and as many failovers, kept at most")
	f.DurationVar(&fl.finishedMaxAge, "finished-max-age", 0, "finished migrations and failovers older than this are removed (such as 720h)")
	f.IntVar(&fl.auditEntries, "audit-entries", 0, "audit log entries kept, newest first (default 50000)")
	f.DurationVar(&fl.nodeReap, "node-reap", 0, "a node left or failed this long, with no VMs, is removed (such as 72h)")
	f.StringArrayVar(&fl.imageURLAllow, "image-url-allow", nil, `a host image URLs may name: name, *.suffix, IP or CIDR, optionally :port (repeatable; replaces the list; "" empties it)`)
	f.StringVar(&fl.imageMaxBytes, "image-max-bytes", "", "largest image an import takes: bytes, or with a unit (such as 20G)")
	return cmd
}

// update builds the partial update from the flags given on the command line.
func (fl *settingsFlags) update(cmd *cobra.Command) (client.SettingsUpdate, error) {
	var u client.SettingsUpdate
	var r client.RebalanceSettingsUpdate
	changed := cmd.Flags().Changed
	seconds := func(flag string, d time.Duration) (*int64, error) {
		if d <= 0 || d%time.Second != 0 {
			return nil, usagef("--%s must be a positive whole number of seconds, got %s", flag, d)
		}
		s := int64(d / time.Second)
		return &s, nil
	}
	var err error
	if changed("strategy") {
		u.Strategy = &fl.strategy
	}
	if changed("cpu-overcommit") {
		u.CPUOvercommit = &fl.cpuOvercommit
	}
	if changed("memory-overcommit") {
		u.MemoryOvercommit = &fl.memOvercommit
	}
	if changed("max-migrations-per-host") {
		u.MaxMigrationsPerHost = &fl.perHost
	}
	if changed("max-migrations-per-cluster") {
		u.MaxMigrationsPerCluster = &fl.perCluster
	}
	if changed("rebalance-mode") {
		r.Mode = &fl.mode
	}
	if changed("rebalance-threshold") {
		r.Threshold = &fl.threshold
	}
	if changed("rebalance-min-gain") {
		r.MinGain = &fl.minGain
	}
	if changed("rebalance-max-moves") {
		r.MaxMoves = &fl.maxMoves
	}
	if changed("rebalance-cooldown") {
		if r.CooldownSeconds, err = seconds("rebalance-cooldown", fl.cooldown); err != nil {
			return u, err
		}
	}
	if changed("rebalance-interval") {
		if r.IntervalSeconds, err = seconds("rebalance-interval", fl.interval); err != nil {
			return u, err
		}
	}
	if r != (client.RebalanceSettingsUpdate{}) {
		u.Rebalance = &r
	}
	var k client.RetentionSettingsUpdate
	if changed("keep-finished") {
		k.KeepFinished = &fl.keepFinished
	}
	if changed("audit-entries") {
		k.AuditEntries = &fl.auditEntries
	}
	if changed("finished-max-age") {
		if k.FinishedMaxAgeSeconds, err = seconds("finished-max-age", fl.finishedMaxAge); err != nil {
			return u, err
		}
	}
	if changed("node-reap") {
		if k.NodeReapSeconds, err = seconds("node-reap", fl.nodeReap); err != nil {
			return u, err
		}
	}
	if k != (client.RetentionSettingsUpdate{}) {
		u.Retention = &k
	}
	var img client.ImageSettingsUpdate
	if changed("image-url-allow") {
		allow := []string{}
		for _, h := range fl.imageURLAllow {
			if h = strings.TrimSpace(h); h != "" {
				allow = append(allow, h)
			}
		}
		img.URLAllow = &allow
	}
	if changed("image-max-bytes") {
		n, err := parseBytes(fl.imageMaxBytes)
		if err != nil {
			return u, usagef("--image-max-bytes: %v", err)
		}
		img.MaxBytes = &n
	}
	if img != (client.ImageSettingsUpdate{}) {
		u.Images = &img
	}
	if u == (client.SettingsUpdate{}) {
		return u, usagef("%q needs at least one setting to change (see --help)", cmd.CommandPath())
	}
	return u, nil
}

// parseBytes reads a byte count: a plain number of bytes, or a number with a
// unit (M, G, T; binary).
func parseBytes(text string) (int64, error) {
	t := strings.TrimSpace(text)
	if n, err := strconv.ParseInt(t, 10, 64); err == nil && n >= 0 {
		return n, nil
	}
	mib, err := parseSize(t, 1)
	if err != nil {
		return 0, err
	}
	if mib > math.MaxInt64>>20 {
		return 0, fmt.Errorf("%q is too large", text)
	}
	return mib << 20, nil
}

// printSettings writes the settings as key-value lines.
func (a *app) printSettings(s *client.Settings) error {
	r := s.Rebalance
	f := newFields(a.stdout)
	f.add("Strategy", s.Strategy)
	f.add("CPU overcommit", formatRatio(s.CPUOvercommit))
	f.add("Memory overcommit", formatRatio(s.MemoryOvercommit))
	f.add("Max migrations", fmt.Sprintf("%d per host, %d per cluster", s.MaxMigrationsPerHost, s.MaxMigrationsPerCluster))
	f.add("Rebalance mode", r.Mode)
	f.add("Rebalance threshold", formatRatio(r.Threshold))
	f.add("Rebalance min gain", formatRatio(r.MinGain))
	f.add("Rebalance max moves", strconv.Itoa(r.MaxMoves))
	f.add("Rebalance cooldown", (time.Duration(r.CooldownSeconds) * time.Second).String())
	f.add("Rebalance interval", (time.Duration(r.IntervalSeconds) * time.Second).String())
	k := s.Retention
	f.add("Keep finished", fmt.Sprintf("%d, for %s", k.KeepFinished, time.Duration(k.FinishedMaxAgeSeconds)*time.Second))
	f.add("Node reap after", (time.Duration(k.NodeReapSeconds) * time.Second).String())
	f.add("Audit entries kept", strconv.Itoa(k.AuditEntries))
	allow := "none: images are imported from the nodes' image folders only"
	if len(s.Images.URLAllow) > 0 {
		allow = strings.Join(s.Images.URLAllow, ", ")
	}
	f.add("Image URL hosts", allow)
	f.add("Image max size", formatSize(s.Images.MaxBytes))
	return f.flush()
}

func newRebalanceCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "rebalance",
		Short: "Show the rebalancer: imbalance, node loads, recommended and recent moves",
		Long: `Show the leader's rebalancer: the cluster's imbalance (the standard deviation
of node loads) against the threshold, each node's load, the moves it
recommends (in automatic mode it makes them), and its recent moves. Change its
mode with 'novacron settings set --rebalance-mode off|recommend|automatic'.`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			st, err := c.Rebalance(cmd.Context())
			if err != nil {
				return err
			}
			if a.json() {
				return a.printData(st)
			}
			return a.printRebalance(st)
		},
	}
}

// printRebalance writes the rebalancer status: a summary, the node loads, the
// recommendations and the recent moves.
func (a *app) printRebalance(st *client.RebalanceStatus) error {
	verdict := "below the threshold: no moves needed"
	if st.Imbalance > st.Threshold {
		verdict = "above the threshold"
	}
	f := newFields(a.stdout)
	f.add("Mode", st.Mode)
	f.add("Leader", nameAndID(st.Leader, st.LeaderID))
	if st.LastRound != nil {
		f.add("Last round", formatTime(*st.LastRound)+" ("+ago(*st.LastRound, time.Now())+")")
	} else {
		f.add("Last round", "none yet")
	}
	f.add("Imbalance", fmt.Sprintf("%.3f (threshold %.3f, %s)", st.Imbalance, st.Threshold, verdict))
	f.add("Reason", st.Reason)
	if err := f.flush(); err != nil {
		return err
	}
	if len(st.Nodes) > 0 {
		nodes := append([]client.NodeScore(nil), st.Nodes...)
		sort.SliceStable(nodes, func(i, j int) bool { return nodes[i].Load > nodes[j].Load })
		fmt.Fprintln(a.stdout)
		t := newTable(a.stdout, "NODE", "LOAD", "CPU", "MEMORY", "VMS")
		for _, n := range nodes {
			t.row(nameOr(n.NodeName, n.NodeID), percent(n.Load), percent(n.CPU), percent(n.Memory), strconv.Itoa(n.VMs))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(a.stdout)
	if len(st.Recommendations) == 0 {
		fmt.Fprintln(a.stdout, "Recommendations: none")
	} else {
		t := newTable(a.stdout, "RECOMMENDED", "FROM", "TO", "IMBALANCE")
		for _, m := range st.Recommendations {
			t.row(m.VMName, nameOr(m.FromName, m.From), nameOr(m.ToName, m.To),
				fmt.Sprintf("%.3f -> %.3f", m.Effect.ImbalanceBefore, m.Effect.ImbalanceAfter))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(a.stdout)
	if len(st.RecentMoves) == 0 {
		fmt.Fprintln(a.stdout, "Recent moves: none")
		return nil
	}
	t := newTable(a.stdout, "RECENT MOVE", "VM", "FROM", "TO", "STATE", "IMBALANCE", "CREATED")
	for _, m := range st.RecentMoves {
		effect := ""
		if r := m.Rebalance; r != nil {
			effect = fmt.Sprintf("%.3f -> %.3f", r.ImbalanceBefore, r.ImbalanceAfter)
		}
		t.row(a.id(m.ID), m.VMName, nameOr(m.SourceName, m.Source), nameOr(m.TargetName, m.Target), m.State, effect, formatTime(m.CreatedAt))
	}
	return t.flush()
}
