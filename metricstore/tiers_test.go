package metricstore

import (
	"errors"
	"math"
	"testing"
	"time"
)

// TestWrite_SpikeSurvivesEveryTier writes a day of zeros at 10 s with one
// sample of 100 and checks each tier keeps it as the maximum, and as an
// average diluted by the samples of its bucket.
func TestWrite_SpikeSurvivesEveryTier(t *testing.T) {
	s, clk, _ := newTestStore(t, "", Options{})
	spike := t0.Add(20*time.Hour + 20*time.Second)
	writeEvery(t, s, clk, "vm/a", []string{"cpu_percent"}, t0, t0.Add(24*time.Hour), 10*time.Second,
		func(at time.Time) []float64 {
			if at.Equal(spike) {
				return []float64{100}
			}
			return []float64{0}
		})

	cases := []struct {
		tier    int
		res     time.Duration
		samples float64 // 10 s samples in the spike's bucket
	}{
		{0, 10 * time.Second, 1},
		{1, time.Minute, 6},
		{2, 30 * time.Minute, 180},
		{3, 6 * time.Hour, 2160},
	}
	for _, c := range cases {
		r := queryTier(t, s, "vm/a", c.tier, t0.Add(18*time.Hour), t0.Add(24*time.Hour), c.res)
		p := pointAt(t, r, spike.Truncate(c.res))
		if !near(p.Max[0], 100) || !near(p.Avg[0], 100/c.samples) {
			t.Errorf("tier %d spike bucket: avg %v max %v, want avg %v max 100", c.tier, p.Avg[0], p.Max[0], 100/c.samples)
		}
		for _, q := range r.Points {
			if !q.At.Equal(p.At) && (q.Max[0] != 0 || q.Avg[0] != 0) {
				t.Errorf("tier %d bucket %s: avg %v max %v, want 0", c.tier, q.At, q.Avg[0], q.Max[0])
			}
		}
	}

	// Query itself combines 10 s buckets into 1 min steps the same way.
	r, err := s.Query("vm/a", t0.Add(20*time.Hour), t0.Add(21*time.Hour), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if p := pointAt(t, r, spike.Truncate(time.Minute)); r.Step != time.Minute || !near(p.Avg[0], 100.0/6) || p.Max[0] != 100 {
		t.Errorf("Query at 1 min: step %s avg %v max %v, want 1m0s %v 100", r.Step, p.Avg[0], p.Max[0], 100.0/6)
	}
}

// TestWrite_RetentionMovesToCoarserTier checks each ring forgets what is
// older than its span while the next coarser one still has it, and that
// Query then answers from the coarser tier.
func TestWrite_RetentionMovesToCoarserTier(t *testing.T) {
	s, clk, _ := newTestStore(t, "", Options{})
	hour := func(at time.Time) []float64 { return []float64{float64(at.Sub(t0) / time.Hour)} }
	writeEvery(t, s, clk, "vm/fine", []string{"v"}, t0, t0.Add(7*time.Hour), 10*time.Second, hour)

	first := [2]time.Time{t0, t0.Add(30 * time.Minute)}
	if r := queryTier(t, s, "vm/fine", 0, first[0], first[1], 10*time.Second); present(r, 0) != 0 {
		t.Errorf("10 s tier still has %d points older than 6 h", present(r, 0))
	}
	if r := queryTier(t, s, "vm/fine", 0, t0.Add(6*time.Hour), t0.Add(7*time.Hour), 10*time.Second); present(r, 0) != 360 {
		t.Errorf("10 s tier has %d of the last hour's 360 points", present(r, 0))
	}
	if r := queryTier(t, s, "vm/fine", 1, first[0], first[1], time.Minute); present(r, 0) != 30 {
		t.Errorf("1 min tier has %d of the first half hour's 30 points", present(r, 0))
	}
	r, err := s.Query("vm/fine", first[0], first[1], 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r.Step != time.Minute || present(r, 0) != 30 || r.Points[0].Avg[0] != 0 {
		t.Errorf("Query of the first half hour: step %s, %d points present; want 1m0s from the 1 min tier, 30", r.Step, present(r, 0))
	}

	// Coarse tiers: a sample every 10 min for 15 days, then one every 6 h
	// for more than a year in another series.
	writeEvery(t, s, clk, "vm/coarse", []string{"v"}, t0, t0.Add(15*24*time.Hour), 10*time.Minute, constant(1, 1))
	day1 := [2]time.Time{t0, t0.Add(24 * time.Hour)}
	if r := queryTier(t, s, "vm/coarse", 1, day1[0], day1[1], time.Hour); present(r, 0) != 0 {
		t.Errorf("1 min tier still has %d hours older than 2 days", present(r, 0))
	}
	if r := queryTier(t, s, "vm/coarse", 2, day1[0], day1[1], time.Hour); present(r, 0) != 0 {
		t.Errorf("30 min tier still has %d hours older than 2 weeks", present(r, 0))
	}
	if r := queryTier(t, s, "vm/coarse", 3, day1[0], day1[1], 6*time.Hour); present(r, 0) != 4 {
		t.Errorf("6 h tier has %d of the first day's 4 points", present(r, 0))
	}
	if r := queryTier(t, s, "vm/coarse", 2, t0.Add(14*24*time.Hour), t0.Add(15*24*time.Hour), 30*time.Minute); present(r, 0) != 48 {
		t.Errorf("30 min tier has %d of the last day's 48 points", present(r, 0))
	}

	year := 365 * 24 * time.Hour
	start := t0.Add(-400 * 24 * time.Hour)
	writeEvery(t, s, clk, "node/n", []string{"v"}, start, t0, 6*time.Hour, constant(1, 1))
	if r := queryTier(t, s, "node/n", 3, start, t0.Add(-year-24*time.Hour), 6*time.Hour); present(r, 0) != 0 {
		t.Errorf("6 h tier still has %d points older than a year", present(r, 0))
	}
	if r := queryTier(t, s, "node/n", 3, t0.Add(-year+24*time.Hour), t0, 6*time.Hour); present(r, 0) != 1456 {
		t.Errorf("6 h tier has %d of the last 364 days' 1456 points", present(r, 0))
	}
	if err := s.Write("node/n", []string{"v"}, start, []float64{1}); !errors.Is(err, ErrSampleTime) {
		t.Errorf("Write of a sample older than every tier = %v, want ErrSampleTime", err)
	}
}

// TestWrite_LateSampleFoldedWhileInRing checks a sample older than the open
// bucket lands in its bucket in every tier that still holds it.
func TestWrite_LateSampleFoldedWhileInRing(t *testing.T) {
	s, clk, _ := newTestStore(t, "", Options{})
	f := []string{"v"}
	writeEvery(t, s, clk, "vm/a", f, t0, t0.Add(time.Hour), 10*time.Second, constant(1, 2))
	late := t0.Add(5*time.Minute + 3*time.Second) // shares the 10 s bucket of the 2 at 5m0s
	if err := s.Write("vm/a", f, late, []float64{8}); err != nil {
		t.Fatalf("late Write: %v", err)
	}
	r := queryTier(t, s, "vm/a", 0, t0, t0.Add(time.Hour), 10*time.Second)
	if p := pointAt(t, r, t0.Add(5*time.Minute)); p.Avg[0] != 5 || p.Max[0] != 8 {
		t.Errorf("10 s bucket of the late sample: avg %v max %v, want 5 8", p.Avg[0], p.Max[0])
	}
	r = queryTier(t, s, "vm/a", 3, t0, t0.Add(time.Hour), 6*time.Hour)
	if p := r.Points[0]; !near(p.Avg[0], (360*2+8)/361.0) || p.Max[0] != 8 {
		t.Errorf("6 h bucket: avg %v max %v, want %v 8", p.Avg[0], p.Max[0], (360*2+8)/361.0)
	}

	// Seven hours on, the 10 s ring no longer holds t0's bucket: the
	// sample goes to the coarser tiers only.
	writeEvery(t, s, clk, "vm/a", f, t0.Add(time.Hour), t0.Add(7*time.Hour), time.Minute, constant(1, 2))
	if err := s.Write("vm/a", f, t0.Add(time.Second), []float64{50}); err != nil {
		t.Fatalf("late Write: %v", err)
	}
	if r := queryTier(t, s, "vm/a", 0, t0, t0.Add(10*time.Second), 10*time.Second); present(r, 0) != 0 {
		t.Errorf("10 s tier took a sample older than its ring: %s", mustJSON(t, r))
	}
	if p := queryTier(t, s, "vm/a", 1, t0, t0.Add(time.Minute), time.Minute).Points[0]; p.Max[0] != 50 {
		t.Errorf("1 min bucket max %v, want 50", p.Max[0])
	}
}

func TestWrite_RefusesSampleFromTheFuture(t *testing.T) {
	s, clk, _ := newTestStore(t, "", Options{})
	if err := s.Write("vm/a", []string{"v"}, clk.Now().Add(maxAhead+time.Second), []float64{1}); !errors.Is(err, ErrSampleTime) {
		t.Errorf("Write past Now+%s = %v, want ErrSampleTime", maxAhead, err)
	}
	if err := s.Write("vm/a", []string{"v"}, clk.Now().Add(maxAhead), []float64{1}); err != nil {
		t.Errorf("Write at Now+%s = %v, want nil", maxAhead, err)
	}
	if err := s.Write("vm/a", []string{"v"}, time.Unix(0, 0), []float64{1}); !errors.Is(err, ErrSampleTime) {
		t.Errorf("Write at the epoch = %v, want ErrSampleTime", err)
	}
}

// TestWrite_NaNIsMissingPerField checks a field left out of some samples
// averages over the samples that had it, and a field never measured is NaN.
func TestWrite_NaNIsMissingPerField(t *testing.T) {
	s, clk, _ := newTestStore(t, "", Options{})
	f := []string{"a", "b", "c"}
	nan := math.NaN()
	samples := [][]float64{{1, 10, nan}, {3, nan, nan}, {5, math.Inf(1), nan}}
	for i, v := range samples {
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		clk.Set(at)
		if err := s.Write("vm/a", f, at, v); err != nil {
			t.Fatal(err)
		}
	}
	p := queryTier(t, s, "vm/a", 1, t0, t0.Add(time.Minute), time.Minute).Points[0]
	if p.Avg[0] != 3 || p.Max[0] != 5 || p.Avg[1] != 10 || p.Max[1] != 10 || !math.IsNaN(p.Avg[2]) || !math.IsNaN(p.Max[2]) {
		t.Errorf("avg %v max %v; want [3 10 NaN] [5 10 NaN]", p.Avg, p.Max)
	}
}
