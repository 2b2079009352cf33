package metricstore

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestQuery_PicksFinestTierReachingFrom(t *testing.T) {
	now := t0.Add(30 * 24 * time.Hour)
	cases := []struct {
		age      time.Duration
		step     time.Duration
		wantStep time.Duration
		wantN    int
	}{
		{time.Hour, 10 * time.Second, 10 * time.Second, 360},
		{time.Hour, 15 * time.Second, 20 * time.Second, 180},        // rounded up to a multiple of 10 s
		{time.Hour, 0, 10 * time.Second, 360},                       // auto: 7.2 s wanted, 10 s is the finest
		{6 * time.Hour, 10 * time.Second, 10 * time.Second, 2160},   // a tier's span reaches exactly
		{24 * time.Hour, 10 * time.Second, time.Minute, 1440},       // past 6 h: the 1 min tier
		{24 * time.Hour, 0, 3 * time.Minute, 480},                   // auto: 172.8 s, rounded to 3 min
		{3 * 24 * time.Hour, time.Minute, 30 * time.Minute, 144},    // past 2 days: 30 min
		{30 * 24 * time.Hour, time.Hour, 6 * time.Hour, 120},        // past 2 weeks: 6 h
		{365 * 24 * time.Hour, 6 * time.Hour, 6 * time.Hour, 1460},  // the year
		{365 * 24 * time.Hour, 0, 18 * time.Hour, 487},              // auto over the year
		{800 * 24 * time.Hour, 24 * time.Hour, 24 * time.Hour, 800}, // beyond every tier: the coarsest
	}
	for _, c := range cases {
		p, err := plan(now, now.Add(-c.age), now, c.step)
		if err != nil {
			t.Errorf("plan(%s back, step %s): %v", c.age, c.step, err)
			continue
		}
		if got := time.Duration(p.step) * time.Second; got != c.wantStep || p.n != c.wantN {
			t.Errorf("plan(%s back, step %s) = step %s, %d points (tier %d); want %s, %d", c.age, c.step, got, p.n, p.tier, c.wantStep, c.wantN)
		}
	}
}

func TestQuery_RefusesTooManyPointsAndBadRanges(t *testing.T) {
	s, clk, _ := newTestStore(t, "", Options{})
	if err := s.Write("vm/a", []string{"v"}, clk.Now(), []float64{1}); err != nil {
		t.Fatal(err)
	}
	now := clk.Now()
	_, err := s.Query("vm/a", now.Add(-6*time.Hour), now.Add(10*time.Hour), 10*time.Second)
	if !errors.Is(err, ErrTooManyPoints) || !strings.Contains(err.Error(), "5000") {
		t.Errorf("Query of 5,760 points = %v, want ErrTooManyPoints naming 5000", err)
	}
	if _, err := s.Query("vm/a", now.Add(-365*24*time.Hour), now, 30*time.Minute); err != nil {
		t.Errorf("Query of a year at 6 h steps asked as 30 min = %v; the 6 h tier gives 1,460 points, want no error", err)
	}
	for _, c := range []struct {
		from, to time.Time
		step     time.Duration
	}{
		{now, now, 0},
		{now, now.Add(-time.Hour), 0},
		{now.Add(-time.Hour), now, -time.Second},
		{time.Unix(0, 0), now, 0},
	} {
		if _, err := s.Query("vm/a", c.from, c.to, c.step); !errors.Is(err, ErrRange) {
			t.Errorf("Query(%s, %s, %s) = %v, want ErrRange", c.from, c.to, c.step, err)
		}
	}
	if _, err := s.Query("vm/none", now.Add(-time.Hour), now, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("Query of an unknown key = %v, want ErrNotFound", err)
	}
}

// TestQuery_AlignsStepsAndShowsGaps checks points start on multiples of the
// step, sub-step starts are rounded down, and a host that was down leaves
// NaN points, not zeros.
func TestQuery_AlignsStepsAndShowsGaps(t *testing.T) {
	s, clk, _ := newTestStore(t, "", Options{})
	f := []string{"v"}
	writeEvery(t, s, clk, "vm/a", f, t0, t0.Add(10*time.Minute), 10*time.Second, constant(1, 1))
	writeEvery(t, s, clk, "vm/a", f, t0.Add(20*time.Minute), t0.Add(30*time.Minute), 10*time.Second, constant(1, 3))

	r, err := s.Query("vm/a", t0.Add(150*time.Second), t0.Add(30*time.Minute), 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Points[0].At.Equal(t0.Add(2*time.Minute)) || len(r.Points) != 14 {
		t.Fatalf("first point %s, %d points; want %s, 14", r.Points[0].At, len(r.Points), t0.Add(2*time.Minute))
	}
	for _, p := range r.Points {
		off := p.At.Sub(t0)
		switch {
		case off%(2*time.Minute) != 0:
			t.Errorf("point at %s is not on a 2 min boundary", p.At)
		case off < 10*time.Minute && p.Avg[0] != 1:
			t.Errorf("point %s: %v, want 1", off, p.Avg[0])
		case off >= 10*time.Minute && off < 20*time.Minute && !math.IsNaN(p.Avg[0]):
			t.Errorf("point %s in the gap: %v, want NaN", off, p.Avg[0])
		case off >= 20*time.Minute && p.Avg[0] != 3:
			t.Errorf("point %s: %v, want 3", off, p.Avg[0])
		}
	}
}

// TestQuery_SeesTheOpenBucket checks a query made between two samples of a
// bucket sees both: the open bucket is on disk after every Write.
func TestQuery_SeesTheOpenBucket(t *testing.T) {
	s, clk, _ := newTestStore(t, "", Options{})
	f := []string{"v"}
	for i, v := range []float64{4, 8} {
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		clk.Set(at)
		if err := s.Write("vm/a", f, at, []float64{v}); err != nil {
			t.Fatal(err)
		}
		r, err := s.Query("vm/a", t0, at.Add(time.Second), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if want := []float64{4, 6}[i]; r.Points[0].Avg[0] != want || r.Points[0].Max[0] != v {
			t.Errorf("after sample %d: avg %v max %v, want %v %v", i, r.Points[0].Avg[0], r.Points[0].Max[0], want, v)
		}
	}
}

// TestQuery_WeightsAveragesBySamples combines a 10 s bucket of three samples
// with one of a single sample: the step's average is over the four samples,
// not the average of the two bucket averages.
func TestQuery_WeightsAveragesBySamples(t *testing.T) {
	s, clk, _ := newTestStore(t, "", Options{})
	clk.Set(t0.Add(time.Minute))
	for _, w := range []struct {
		off time.Duration
		v   float64
	}{{0, 0}, {3 * time.Second, 0}, {6 * time.Second, 0}, {10 * time.Second, 8}} {
		if err := s.Write("vm/a", []string{"v"}, t0.Add(w.off), []float64{w.v}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := s.Query("vm/a", t0, t0.Add(time.Minute), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if p := r.Points[0]; p.Avg[0] != 2 || p.Max[0] != 8 {
		t.Errorf("avg %v max %v, want 2 8", p.Avg[0], p.Max[0])
	}
}
