package pgexport

import (
	"math"

	"github.com/novacron/novacron/metricstore"
	"github.com/novacron/novacron/storage/postgres"
)

// The columns of vm_metrics and node_metrics by the field names of the
// host's history (sampler.VMFields, sampler.NodeFields). A field without a
// column is not exported (vmFieldsNotExported); a column without a field
// is NULL. A test checks both lists against the sampler's.

var vmColumns = map[string]func(*postgres.VMMetrics) *float64{
	"cpu_percent":            func(m *postgres.VMMetrics) *float64 { return &m.CPUPercent },
	"mem_used_bytes":         func(m *postgres.VMMetrics) *float64 { return &m.MemUsedBytes },
	"balloon_bytes":          func(m *postgres.VMMetrics) *float64 { return &m.MemBalloonBytes },
	"disk_read_bytes_per_s":  func(m *postgres.VMMetrics) *float64 { return &m.DiskReadBytesPerS },
	"disk_write_bytes_per_s": func(m *postgres.VMMetrics) *float64 { return &m.DiskWriteBytesPerS },
	"disk_read_ops_per_s":    func(m *postgres.VMMetrics) *float64 { return &m.DiskReadOpsPerS },
	"disk_write_ops_per_s":   func(m *postgres.VMMetrics) *float64 { return &m.DiskWriteOpsPerS },
	"net_rx_bytes_per_s":     func(m *postgres.VMMetrics) *float64 { return &m.NetRxBytesPerS },
	"net_tx_bytes_per_s":     func(m *postgres.VMMetrics) *float64 { return &m.NetTxBytesPerS },
	"net_rx_packets_per_s":   func(m *postgres.VMMetrics) *float64 { return &m.NetRxPacketsPerS },
	"net_tx_packets_per_s":   func(m *postgres.VMMetrics) *float64 { return &m.NetTxPacketsPerS },
}

// vmFieldsNotExported are the VM fields vm_metrics has no column for.
var vmFieldsNotExported = map[string]bool{"cpu_cores": true, "mem_max_bytes": true}

var nodeColumns = map[string]func(*postgres.NodeMetrics) *float64{
	"cpu_percent":      func(m *postgres.NodeMetrics) *float64 { return &m.CPUPercent },
	"mem_used_bytes":   func(m *postgres.NodeMetrics) *float64 { return &m.MemUsedBytes },
	"mem_total_bytes":  func(m *postgres.NodeMetrics) *float64 { return &m.MemTotalBytes },
	"load1":            func(m *postgres.NodeMetrics) *float64 { return &m.Load1 },
	"load5":            func(m *postgres.NodeMetrics) *float64 { return &m.Load5 },
	"load15":           func(m *postgres.NodeMetrics) *float64 { return &m.Load15 },
	"disk_used_bytes":  func(m *postgres.NodeMetrics) *float64 { return &m.DiskUsedBytes },
	"disk_total_bytes": func(m *postgres.NodeMetrics) *float64 { return &m.DiskTotalBytes },
}

// vmRows are the points of a VM's series that hold a sample, as rows.
func vmRows(res metricstore.Result, clusterID, vmID, nodeID string) []postgres.VMMetricRow {
	return toRows(res, vmColumns, func(m *postgres.VMMetrics) {
		for _, f := range vmColumns {
			*f(m) = math.NaN()
		}
	}, func(p metricstore.Point, m postgres.VMMetrics) postgres.VMMetricRow {
		return postgres.VMMetricRow{ClusterID: clusterID, VMID: vmID, NodeID: nodeID, Time: p.At, VMMetrics: m}
	})
}

// nodeRows are the points of a host's series that hold a sample, as rows.
func nodeRows(res metricstore.Result, clusterID, id, nodeID string) []postgres.NodeMetricRow {
	return toRows(res, nodeColumns, func(m *postgres.NodeMetrics) {
		for _, f := range nodeColumns {
			*f(m) = math.NaN()
		}
	}, func(p metricstore.Point, m postgres.NodeMetrics) postgres.NodeMetricRow {
		return postgres.NodeMetricRow{ClusterID: clusterID, NodeID: id, Time: p.At, NodeMetrics: m}
	})
}

// toRows maps each point's averages (a 10 s bucket holds one sample, so
// the average is the sample) onto the columns by field name, NaN (NULL)
// where the series has no such field or the sample no value, and leaves
// out the points without any value: nothing was recorded then.
func toRows[M, R any](res metricstore.Result, cols map[string]func(*M) *float64, blank func(*M), row func(metricstore.Point, M) R) []R {
	idx := make([]func(*M) *float64, len(res.Fields))
	for i, name := range res.Fields {
		idx[i] = cols[name]
	}
	var out []R
	for _, p := range res.Points {
		var m M
		blank(&m)
		has := false
		for i, v := range p.Avg {
			if i >= len(idx) || math.IsNaN(v) {
				continue
			}
			has = true
			if idx[i] != nil {
				*idx[i](&m) = v
			}
		}
		if has {
			out = append(out, row(p, m))
		}
	}
	return out
}
