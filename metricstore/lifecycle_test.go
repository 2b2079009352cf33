package metricstore

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/novacron/novacron/internal/testutil"
)

func TestStore_RestartGivesSameAnswers(t *testing.T) {
	dir := t.TempDir()
	s, clk, _ := newTestStore(t, dir, Options{})
	end := t0.Add(3 * 24 * time.Hour)
	writeEvery(t, s, clk, "vm/a", vmFields, t0, end, time.Minute, func(at time.Time) []float64 {
		v := make([]float64, len(vmFields))
		for i := range v {
			v[i] = float64(at.Unix()%997) * float64(i+1)
		}
		return v
	})
	queries := [][3]time.Duration{ // from back, to back, step
		{time.Hour, 0, 10 * time.Second},
		{2 * 24 * time.Hour, 0, 0},
		{3 * 24 * time.Hour, 24 * time.Hour, time.Hour},
		{365 * 24 * time.Hour, 0, 6 * time.Hour},
	}
	answers := func(s *Store) []string {
		var out []string
		for _, q := range queries {
			r, err := s.Query("vm/a", end.Add(-q[0]), end.Add(-q[1]), q[2])
			if err != nil {
				t.Fatalf("Query %v: %v", q, err)
			}
			out = append(out, mustJSON(t, r))
		}
		return out
	}
	before := answers(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, clk2, _ := newTestStore(t, dir, Options{})
	clk2.Set(clk.Now())
	if got := s2.Keys(); !slices.Equal(got, []string{"vm/a"}) {
		t.Errorf("Keys after reopen = %v", got)
	}
	for i, a := range answers(s2) {
		if a != before[i] {
			t.Errorf("query %v differs after reopen:\n%.300s\n%.300s", queries[i], before[i], a)
		}
	}
}

// TestStore_RestartResumesOpenBucket checks a bucket interrupted by a
// restart keeps its first samples and adds the later ones.
func TestStore_RestartResumesOpenBucket(t *testing.T) {
	dir := t.TempDir()
	s, clk, _ := newTestStore(t, dir, Options{})
	f := []string{"v"}
	writeEvery(t, s, clk, "vm/a", f, t0, t0.Add(20*time.Second), 10*time.Second, func(at time.Time) []float64 {
		return []float64{float64(at.Sub(t0)/time.Second) + 10} // 10, 20
	})
	s.Close()
	s2, clk2, _ := newTestStore(t, dir, Options{})
	clk2.Set(t0.Add(20 * time.Second))
	if err := s2.Write("vm/a", f, t0.Add(20*time.Second), []float64{60}); err != nil {
		t.Fatal(err)
	}
	for ti, step := range []time.Duration{time.Minute, 30 * time.Minute, 6 * time.Hour} {
		p := queryTier(t, s2, "vm/a", ti+1, t0, t0.Add(time.Minute), step).Points[0]
		if p.Avg[0] != 30 || p.Max[0] != 60 {
			t.Errorf("tier %d after restart: avg %v max %v, want 30 60", ti+1, p.Avg[0], p.Max[0])
		}
	}
}

func TestStore_MaxSeriesEnforced(t *testing.T) {
	dir := t.TempDir()
	s, clk, _ := newTestStore(t, dir, Options{MaxSeries: 3})
	f := []string{"v"}
	for _, k := range []string{"vm/a", "vm/b", "vm/c"} {
		if err := s.Write(k, f, clk.Now(), []float64{1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Write("vm/d", f, clk.Now(), []float64{1}); !errors.Is(err, ErrTooManySeries) {
		t.Errorf("4th series = %v, want ErrTooManySeries", err)
	}
	if err := s.Write("vm/a", f, clk.Now(), []float64{2}); err != nil {
		t.Errorf("existing series at the limit = %v, want nil", err)
	}
	if err := s.Delete("vm/b"); err != nil {
		t.Fatal(err)
	}
	if err := s.Write("vm/d", f, clk.Now(), []float64{1}); err != nil {
		t.Errorf("new series after a Delete = %v, want nil", err)
	}
	s.Close()
	// The limit counts the files found at Open too.
	s2, clk2, _ := newTestStore(t, dir, Options{MaxSeries: 3})
	if err := s2.Write("vm/e", f, clk2.Now(), []float64{1}); !errors.Is(err, ErrTooManySeries) {
		t.Errorf("new series after reopen at the limit = %v, want ErrTooManySeries", err)
	}
}

// TestStore_DamagedFileMovedAsideAndReplaced damages a file in each way a
// disk or an operator might and checks Open neither fails nor serves it,
// and the next Write starts afresh.
func TestStore_DamagedFileMovedAsideAndReplaced(t *testing.T) {
	damages := map[string]func(path string) error{
		"empty":     func(p string) error { return os.Truncate(p, 0) },
		"short":     func(p string) error { return os.Truncate(p, 100) },
		"truncated": func(p string) error { return os.Truncate(p, 200000) },
		"longer":    func(p string) error { return os.Truncate(p, newLayout(1).size+1) },
		"magic":     func(p string) error { return patch(p, 0, []byte("XXXX")) },
		"checksum":  func(p string) error { return patch(p, int64(offNames)+2, []byte("Q")) },
		"garbage":   func(p string) error { return os.WriteFile(p, make([]byte, newLayout(1).size), 0o600) },
		"other key": func(p string) error {
			return os.Rename(filepath.Join(filepath.Dir(p), fileName("vm/other")), p)
		},
	}
	for name, damage := range damages {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s, clk, _ := newTestStore(t, dir, Options{})
			f := []string{"v"}
			for _, k := range []string{"vm/a", "vm/other"} {
				if err := s.Write(k, f, clk.Now(), []float64{7}); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			path := filepath.Join(dir, fileName("vm/a"))
			if err := damage(path); err != nil {
				t.Fatal(err)
			}
			s2, clk2, _ := newTestStore(t, dir, Options{})
			if slices.Contains(s2.Keys(), "vm/a") {
				t.Errorf("Keys lists the damaged series: %v", s2.Keys())
			}
			if _, err := os.Stat(path + damagedSuffix); err != nil {
				t.Errorf("damaged file not kept aside: %v", err)
			}
			if _, err := s2.Query("vm/a", t0.Add(-time.Hour), t0.Add(time.Hour), 0); !errors.Is(err, ErrNotFound) {
				t.Errorf("Query of the damaged series = %v, want ErrNotFound", err)
			}
			checkRewritten(t, s2, clk2)
		})
	}
}

// TestStore_DamagedAfterOpen damages a file Open had found sound: the first
// Query reports it, the next Write replaces it.
func TestStore_DamagedAfterOpen(t *testing.T) {
	dir := t.TempDir()
	s, clk, _ := newTestStore(t, dir, Options{})
	if err := s.Write("vm/a", []string{"v"}, clk.Now(), []float64{7}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, clk2, _ := newTestStore(t, dir, Options{})
	if err := os.Truncate(filepath.Join(dir, fileName("vm/a")), 10); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Query("vm/a", t0.Add(-time.Hour), t0.Add(time.Hour), 0); !errors.Is(err, ErrDamaged) {
		t.Errorf("first Query = %v, want ErrDamaged", err)
	}
	if _, err := s2.Query("vm/a", t0.Add(-time.Hour), t0.Add(time.Hour), 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Query = %v, want ErrNotFound", err)
	}
	checkRewritten(t, s2, clk2)
}

// checkRewritten writes vm/a again and checks only the new sample shows.
func checkRewritten(t *testing.T, s *Store, clk *testutil.Clock) {
	t.Helper()
	at := t0.Add(time.Minute)
	clk.Set(at)
	if err := s.Write("vm/a", []string{"v"}, at, []float64{3}); err != nil {
		t.Fatalf("Write after damage: %v", err)
	}
	r, err := s.Query("vm/a", t0, at.Add(time.Minute), time.Minute)
	if err != nil {
		t.Fatalf("Query after rewrite: %v", err)
	}
	if present(r, 0) != 1 || r.Points[1].Avg[0] != 3 {
		t.Errorf("after rewrite: %s, want only the new 3", mustJSON(t, r))
	}
}

func patch(path string, off int64, b []byte) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteAt(b, off)
	return err
}

func TestStore_DeleteAndGCRemoveFiles(t *testing.T) {
	dir := t.TempDir()
	s, clk, _ := newTestStore(t, dir, Options{})
	f := []string{"v"}
	for i, k := range []string{"vm/old", "vm/new", "vm/gone"} {
		at := t0.Add(time.Duration(i) * time.Hour)
		clk.Set(at)
		if err := s.Write(k, f, at, []float64{1}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete("vm/gone"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("vm/gone"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(filepath.Join(dir, fileName("vm/gone"))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("deleted series' file: %v", err)
	}
	s.Close()
	// After a restart GC reads the newest time from headers it has not loaded.
	s2, _, _ := newTestStore(t, dir, Options{})
	n, err := s2.GC(t0.Add(30 * time.Minute))
	if err != nil || n != 1 {
		t.Errorf("GC = %d, %v; want 1 removed", n, err)
	}
	if got := s2.Keys(); !slices.Equal(got, []string{"vm/new"}) {
		t.Errorf("Keys after GC = %v, want [vm/new]", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("files after GC: %v", entries)
	}
}

func TestStore_ClosedRefusesCalls(t *testing.T) {
	s, clk, _ := newTestStore(t, "", Options{})
	s.Close()
	if err := s.Write("vm/a", []string{"v"}, clk.Now(), []float64{1}); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %v", err)
	}
	if _, err := s.Query("vm/a", t0.Add(-time.Hour), t0, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Query after Close = %v", err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v", err)
	}
}
