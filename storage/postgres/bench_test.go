package postgres

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// BenchmarkCopyMetrics copies 100,000 VM samples per op (1,000 VMs, 100
// samples each, one day) and reports rows/s. The goal: at least 50,000
// rows/s, so that a large cluster's samples go in well within the export
// interval.
func BenchmarkCopyMetrics(b *testing.B) {
	db, _ := newTestDB(b)
	const vms, perVM = 1000, 100
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	rows := make([]VMMetricRow, 0, vms*perVM)
	for v := range vms {
		for i := range perVM {
			rows = append(rows, VMMetricRow{
				ClusterID: testCluster, VMID: fmt.Sprintf("vm-%04d", v), NodeID: fmt.Sprintf("node-%02d", v%20),
				Time: start.Add(time.Duration(i) * 10 * time.Second),
				VMMetrics: VMMetrics{
					CPUPercent: float64(i % 100), MemUsedBytes: 2 << 30, MemBalloonBytes: 1 << 30,
					DiskReadBytesPerS: 1e6, DiskWriteBytesPerS: 2e6, DiskReadOpsPerS: 100, DiskWriteOpsPerS: 200,
					NetRxBytesPerS: 3e6, NetTxBytesPerS: 4e6, NetRxPacketsPerS: 3000, NetTxPacketsPerS: 4000,
				},
			})
		}
	}
	if err := db.EnsurePartitions(ctx(b), start, start); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := db.CopyMetrics(ctx(b), rows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(rows))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkExportEvents exports batches of events (one per Raft entry,
// each with a small JSON object) and reports events/s. The goal: keep up
// with 1,000 cluster changes a second with room to spare, so that an
// exporter that fell behind catches up. Batches of 10 show the cost of a
// transaction (an exporter flushing often); batches of 1,000 a catch-up.
func BenchmarkExportEvents(b *testing.B) {
	db, _ := newTestDB(b)
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	data := json.RawMessage(`{"id":"vm-0001","project":"default","spec":{"name":"web","vcpus":2,"memory_mib":2048},"state":"running","node":"node-01"}`)
	next := uint64(1)
	for _, batch := range []int{10, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			rows := make([]EventRow, batch)
			for b.Loop() {
				for i := range rows {
					rows[i] = EventRow{Index: next, Time: at, Type: "vm", Action: "update", ObjectID: "vm-0001", Name: "web", Project: "default", Data: data}
					next++
				}
				if err := db.ExportEvents(ctx(b), testCluster, rows); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
