package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

// metricsFlags are the window flags of `vm metrics` and `node metrics`.
type metricsFlags struct {
	since time.Duration
	step  time.Duration
}

func (f *metricsFlags) register(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&f.since, "since", time.Hour, "how far back: 1h, 24h, 168h (a week), 8760h (a year)")
	cmd.Flags().DurationVar(&f.step, "step", 0, "one point per step (at least 10s; default: about 500 points over the window)")
}

func (f *metricsFlags) query() client.MetricsQuery {
	return client.MetricsQuery{Since: f.since, Step: f.step}
}

// newVMMetricsCommand builds `novacron vm metrics NAME`.
func newVMMetricsCommand(a *app) *cobra.Command {
	var f metricsFlags
	cmd := &cobra.Command{
		Use:   "metrics ID|NAME",
		Short: "Show a VM's CPU, memory, disk and network over time",
		Long: `Show a VM's history: each figure's latest value, its average and maximum
over the window, and a small chart of it. The history continues across
migrations and failovers (each host that ran the VM kept its part). -o json
gives every point.`,
		Args: exactArgs("ID|NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			h, err := c.VMMetrics(cmd.Context(), args[0], f.query())
			if err != nil {
				return err
			}
			return a.printHistory(h)
		},
	}
	f.register(cmd)
	return cmd
}

// newNodeMetricsCommand builds `novacron node metrics NAME`.
func newNodeMetricsCommand(a *app) *cobra.Command {
	var f metricsFlags
	cmd := &cobra.Command{
		Use:   "metrics ID|NAME",
		Short: "Show a host's CPU, memory, load and disk over time",
		Args:  exactArgs("ID|NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			h, err := c.NodeMetrics(cmd.Context(), args[0], f.query())
			if err != nil {
				return err
			}
			return a.printHistory(h)
		},
	}
	f.register(cmd)
	return cmd
}

// sparkWidth is how many characters a chart takes.
const sparkWidth = 40

// printHistory writes one line per field: latest, average, maximum and a
// chart of the averages.
func (a *app) printHistory(h *client.MetricsHistory) error {
	if a.json() {
		return a.printData(h)
	}
	if len(h.Points) == 0 {
		_, err := fmt.Fprintln(a.stdout, "No samples in this window yet (a host samples every 10 s).")
		return err
	}
	fmt.Fprintf(a.stdout, "%s to %s, a point every %s\n", formatTime(h.Points[0].At), formatTime(h.Points[len(h.Points)-1].At),
		time.Duration(h.Step)*time.Second)
	t := newTable(a.stdout, "FIELD", "LATEST", "AVERAGE", "MAX", "TREND")
	for i, name := range h.Fields {
		var latest, max *float64
		var sum float64
		var n int
		avgs := make([]*float64, len(h.Points))
		for j, p := range h.Points {
			if i < len(p.Avg) && p.Avg[i] != nil {
				avgs[j], latest = p.Avg[i], p.Avg[i]
				sum += *p.Avg[i]
				n++
			}
			if i < len(p.Max) && p.Max[i] != nil && (max == nil || *p.Max[i] > *max) {
				max = p.Max[i]
			}
		}
		var avg *float64
		if n > 0 {
			v := sum / float64(n)
			avg = &v
		}
		t.row(name, formatMetric(name, latest), formatMetric(name, avg), formatMetric(name, max), sparkline(avgs, sparkWidth))
	}
	return t.flush()
}

// formatMetric writes a value in its field's unit.
func formatMetric(field string, v *float64) string {
	if v == nil {
		return "-"
	}
	switch {
	case strings.HasSuffix(field, "_percent"):
		return fmt.Sprintf("%.1f%%", *v)
	case strings.HasSuffix(field, "bytes_per_s"):
		return formatBytes(uint64(max(*v, 0))) + "/s"
	case strings.HasSuffix(field, "_per_s"):
		return fmt.Sprintf("%.1f/s", *v)
	case strings.HasSuffix(field, "_bytes"):
		return formatBytes(uint64(max(*v, 0)))
	}
	return fmt.Sprintf("%.2f", *v)
}

// sparkline draws values (nil: no sample) in width block characters,
// scaled from zero to their maximum.
func sparkline(values []*float64, width int) string {
	if len(values) == 0 {
		return ""
	}
	const blocks = "▁▂▃▄▅▆▇█"
	levels := []rune(blocks)
	cols := make([]*float64, 0, width)
	per := max(1, (len(values)+width-1)/width)
	for i := 0; i < len(values); i += per {
		var sum float64
		var n int
		for _, v := range values[i:min(i+per, len(values))] {
			if v != nil {
				sum += *v
				n++
			}
		}
		if n == 0 {
			cols = append(cols, nil)
			continue
		}
		v := sum / float64(n)
		cols = append(cols, &v)
	}
	var top float64
	for _, v := range cols {
		if v != nil && *v > top {
			top = *v
		}
	}
	var b strings.Builder
	for _, v := range cols {
		switch {
		case v == nil:
			b.WriteRune(' ')
		case top <= 0:
			b.WriteRune(levels[0])
		default:
			b.WriteRune(levels[min(len(levels)-1, int(*v/top*float64(len(levels)-1)+0.5))])
		}
	}
	return b.String()
}
