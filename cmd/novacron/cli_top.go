package main

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/novacron/novacron/api/client"
)

// topWindow is how far back `top` looks for each figure's newest value.
const topWindow = 2 * time.Minute

// topConcurrency bounds the history reads `top` makes at once.
const topConcurrency = 8

// topRow is one VM's or host's newest figures, by field.
type topRow struct {
	name, where string
	latest      map[string]*float64
}

// newest reads each field's newest value of a history.
func newest(h *client.MetricsHistory) map[string]*float64 {
	out := map[string]*float64{}
	for _, p := range h.Points {
		for i, f := range h.Fields {
			if i < len(p.Avg) && p.Avg[i] != nil {
				out[f] = p.Avg[i]
			}
		}
	}
	return out
}

// readTop reads the newest figures of each item with read, a few at a time.
func readTop[T any](ctx context.Context, items []T, read func(context.Context, T) (topRow, error)) []topRow {
	rows := make([]topRow, len(items))
	var wg sync.WaitGroup
	sem := make(chan struct{}, topConcurrency)
	for i, it := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if r, err := read(ctx, it); err == nil {
				rows[i] = r
			}
		}()
	}
	wg.Wait()
	out := rows[:0]
	for _, r := range rows {
		if r.name != "" {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return value(out[i].latest["cpu_percent"]) > value(out[j].latest["cpu_percent"]) })
	return out
}

func value(v *float64) float64 {
	if v == nil {
		return -1
	}
	return *v
}

// newVMTopCommand builds `novacron vm top`.
func newVMTopCommand(a *app) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "top",
		Short: "Show the running VMs by CPU, with memory, disk and network now",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			vms, err := c.VMs(cmd.Context(), client.ListVMsOptions{State: "running"})
			if err != nil {
				return err
			}
			if len(vms) > limit {
				vms = vms[:limit]
			}
			rows := readTop(cmd.Context(), vms, func(ctx context.Context, vm client.VM) (topRow, error) {
				h, err := c.VMMetrics(ctx, vm.ID, client.MetricsQuery{Since: topWindow, Step: 10 * time.Second})
				if err != nil {
					return topRow{}, err
				}
				return topRow{name: vm.Name, where: vm.NodeName, latest: newest(h)}, nil
			})
			if a.json() {
				return a.printData(topData(rows))
			}
			t := newTable(a.stdout, "VM", "NODE", "CPU", "MEMORY", "DISK READ", "DISK WRITE", "NET RX", "NET TX")
			for _, r := range rows {
				l := r.latest
				t.row(safe(r.name), orDash(r.where), formatMetric("cpu_percent", l["cpu_percent"]), formatMetric("mem_used_bytes", l["mem_used_bytes"]),
					formatMetric("disk_read_bytes_per_s", l["disk_read_bytes_per_s"]), formatMetric("disk_write_bytes_per_s", l["disk_write_bytes_per_s"]),
					formatMetric("net_rx_bytes_per_s", l["net_rx_bytes_per_s"]), formatMetric("net_tx_bytes_per_s", l["net_tx_bytes_per_s"]))
			}
			return t.flush()
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 100, "read at most this many VMs")
	return cmd
}

// newNodeTopCommand builds `novacron node top`.
func newNodeTopCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "top",
		Short: "Show the hosts by CPU, with memory, load and disk now",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			nodes, err := c.Nodes(cmd.Context())
			if err != nil {
				return err
			}
			rows := readTop(cmd.Context(), nodes, func(ctx context.Context, n client.Node) (topRow, error) {
				h, err := c.NodeMetrics(ctx, n.ID, client.MetricsQuery{Since: topWindow, Step: 10 * time.Second})
				if err != nil {
					return topRow{}, err
				}
				return topRow{name: n.Name, where: n.Status, latest: newest(h)}, nil
			})
			if a.json() {
				return a.printData(topData(rows))
			}
			t := newTable(a.stdout, "NODE", "STATUS", "CPU", "MEMORY", "OF", "LOAD1", "DISK", "OF")
			for _, r := range rows {
				l := r.latest
				t.row(safe(r.name), r.where, formatMetric("cpu_percent", l["cpu_percent"]), formatMetric("mem_used_bytes", l["mem_used_bytes"]),
					formatMetric("mem_total_bytes", l["mem_total_bytes"]), formatMetric("load1", l["load1"]),
					formatMetric("disk_used_bytes", l["disk_used_bytes"]), formatMetric("disk_total_bytes", l["disk_total_bytes"]))
			}
			return t.flush()
		},
	}
}

// topData is `top` as JSON: each name with its newest figures.
func topData(rows []topRow) []map[string]any {
	out := make([]map[string]any, 0, len(rows))
	for _, r := range rows {
		out = append(out, map[string]any{"name": r.name, "where": r.where, "latest": r.latest})
	}
	return out
}
