package postgres

import (
	"errors"
	"math"
	"testing"
	"time"
)

// TestCopyMetrics_QueryAvgMax copies two hours of 10-second samples whose
// values are known per hour, across midnight (two partitions), and reads them
// back in hourly buckets.
func TestCopyMetrics_QueryAvgMax(t *testing.T) {
	t.Parallel()
	db, _ := newTestDB(t)
	start := time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC)
	var rows []VMMetricRow
	for i := range 720 { // 2h at 10s
		at := start.Add(time.Duration(i) * 10 * time.Second)
		hour := i / 360
		m := VMMetrics{
			CPUPercent:       float64(10 + hour*40 + i%2*10), // alternates 10/20, then 50/60
			MemUsedBytes:     float64(1 << 30),
			NetRxBytesPerS:   float64(i % 360), // 0..359 in each hour
			NetTxPacketsPerS: math.NaN(),       // never measured: NULL
		}
		if i%360 == 0 {
			m.MemBalloonBytes = math.NaN() // unknown once: left out of the average
		} else {
			m.MemBalloonBytes = 512
		}
		rows = append(rows, VMMetricRow{ClusterID: testCluster, VMID: "vm-1", NodeID: "n1", Time: at, VMMetrics: m})
		// Noise that the query must not see: another VM, another cluster.
		rows = append(rows, VMMetricRow{ClusterID: testCluster, VMID: "vm-2", NodeID: "n1", Time: at, VMMetrics: VMMetrics{CPUPercent: 99}})
		rows = append(rows, VMMetricRow{ClusterID: "c2", VMID: "vm-1", NodeID: "n9", Time: at, VMMetrics: VMMetrics{CPUPercent: 99}})
	}
	if err := db.CopyMetrics(ctx(t), rows); err != nil {
		t.Fatal(err)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM vm_metrics_p20260302"); n != 3*360 {
		t.Fatalf("the second day's partition holds %d rows, want %d", n, 3*360)
	}
	points, err := db.QueryVMMetrics(ctx(t), testCluster, "vm-1", start, start.Add(2*time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(points) != 2 {
		t.Fatalf("%d points, want 2: %+v", len(points), points)
	}
	for h, p := range points {
		if !p.Time.Equal(start.Add(time.Duration(h)*time.Hour)) || p.Samples != 360 {
			t.Fatalf("point %d: time %v samples %d", h, p.Time, p.Samples)
		}
		wantAvg, wantMax := float64(15+h*40), float64(20+h*40)
		if p.Avg.CPUPercent != wantAvg || p.Max.CPUPercent != wantMax {
			t.Errorf("hour %d cpu: avg %v max %v, want %v %v", h, p.Avg.CPUPercent, p.Max.CPUPercent, wantAvg, wantMax)
		}
		if p.Avg.NetRxBytesPerS != 179.5 || p.Max.NetRxBytesPerS != 359 {
			t.Errorf("hour %d net rx: avg %v max %v, want 179.5 359", h, p.Avg.NetRxBytesPerS, p.Max.NetRxBytesPerS)
		}
		if p.Avg.MemBalloonBytes != 512 || p.Avg.MemUsedBytes != 1<<30 {
			t.Errorf("hour %d memory: balloon avg %v used avg %v", h, p.Avg.MemBalloonBytes, p.Avg.MemUsedBytes)
		}
		if p.Avg.NetTxPacketsPerS != 0 || p.Max.NetTxPacketsPerS != 0 {
			t.Errorf("hour %d: a field never measured reads %v/%v, want 0", h, p.Avg.NetTxPacketsPerS, p.Max.NetTxPacketsPerS)
		}
	}
	// Buckets align on the step whatever the range's start; the range
	// bounds the samples.
	points, err = db.QueryVMMetrics(ctx(t), testCluster, "vm-1", start.Add(90*time.Minute), start.Add(100*time.Minute), 15*time.Minute)
	if err != nil || len(points) != 1 || !points[0].Time.Equal(start.Add(90*time.Minute)) || points[0].Samples != 60 {
		t.Fatalf("10 minutes in a 15-minute step: %+v, %v", points, err)
	}
	for _, bad := range []struct {
		from, to time.Time
		step     time.Duration
	}{
		{start, start, time.Minute},
		{start, start.Add(time.Hour), 0},
		{start, start.AddDate(1, 0, 0), time.Second},
	} {
		if _, err := db.QueryVMMetrics(ctx(t), testCluster, "vm-1", bad.from, bad.to, bad.step); !errors.Is(err, ErrInvalidRange) {
			t.Errorf("query %v..%v by %v: %v, want ErrInvalidRange", bad.from, bad.to, bad.step, err)
		}
	}
	if err := db.CopyMetrics(ctx(t), []VMMetricRow{{ClusterID: testCluster, VMID: "vm-1"}}); !errors.Is(err, ErrInvalidRow) {
		t.Errorf("a row without time: %v, want ErrInvalidRow", err)
	}
}

func TestCopyNodeMetrics_QueryAvgMax(t *testing.T) {
	t.Parallel()
	db, _ := newTestDB(t)
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var rows []NodeMetricRow
	for i := range 60 {
		rows = append(rows, NodeMetricRow{ClusterID: testCluster, NodeID: "n1", Time: start.Add(time.Duration(i) * time.Minute),
			NodeMetrics: NodeMetrics{CPUPercent: float64(i), Load1: 2, MemTotalBytes: 64 << 30, DiskUsedBytes: float64(i * 1000)}})
	}
	if err := db.CopyNodeMetrics(ctx(t), rows); err != nil {
		t.Fatal(err)
	}
	points, err := db.QueryNodeMetrics(ctx(t), testCluster, "n1", start, start.Add(time.Hour), 30*time.Minute)
	if err != nil || len(points) != 2 {
		t.Fatalf("%+v, %v", points, err)
	}
	if p := points[1]; p.Samples != 30 || p.Avg.CPUPercent != 44.5 || p.Max.CPUPercent != 59 || p.Max.DiskUsedBytes != 59000 || p.Avg.Load1 != 2 || p.Max.MemTotalBytes != 64<<30 {
		t.Fatalf("second half hour: %+v", p)
	}
	if n := queryInt(t, db, "SELECT count(*) FROM node_metrics WHERE object_id = 'n1' AND node_id = 'n1'"); n != 60 {
		t.Fatalf("%d node rows, want 60", n)
	}
}
