package hoststats

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/internal/testutil"
)

func mustReadFrom(t *testing.T, procDir, dataDir string) Sample {
	t.Helper()
	s, err := ReadFrom(procDir, dataDir)
	if err != nil {
		t.Fatalf("ReadFrom(%s, %q): %v", procDir, dataDir, err)
	}
	return s
}

func TestReadFrom_ParsesFixtures(t *testing.T) {
	s := mustReadFrom(t, "testdata/before", "")
	// busy: user, nice, system, irq, softirq, steal; idle and iowait not;
	// guest (already in user) not again.
	if s.CPUBusy != 1000+50+400+10+40+100 || s.CPUTotal != 1600+8000+200 || s.CPUs != 4 {
		t.Errorf("cpu busy %d total %d cpus %d", s.CPUBusy, s.CPUTotal, s.CPUs)
	}
	if s.MemTotalBytes != 8000000<<10 || s.MemAvailableBytes != 6000000<<10 || s.MemUsedBytes != 2000000<<10 {
		t.Errorf("memory total %d available %d used %d", s.MemTotalBytes, s.MemAvailableBytes, s.MemUsedBytes)
	}
	if s.Load1 != 0.52 || s.Load5 != 0.58 || s.Load15 != 0.59 {
		t.Errorf("load %v %v %v", s.Load1, s.Load5, s.Load15)
	}
	if s.DiskTotalBytes != 0 || s.DiskUsedBytes != 0 || s.DiskAvailableBytes != 0 {
		t.Errorf("disk figures without a data folder: %+v", s)
	}
}

func TestCPUPercent_BetweenTwoSamples(t *testing.T) {
	before, after := mustReadFrom(t, "testdata/before", ""), mustReadFrom(t, "testdata/after", "")
	// 600 busy ticks of 2400.
	if p, ok := CPUPercent(before, after); !ok || p != 25 {
		t.Fatalf("CPUPercent = %v, %v; want 25, true", p, ok)
	}
	for name, pair := range map[string][2]Sample{
		"same sample":  {after, after},
		"out of order": {after, before},
	} {
		if p, ok := CPUPercent(pair[0], pair[1]); ok || p != 0 {
			t.Errorf("%s: CPUPercent = %v, %v; want no figure", name, p, ok)
		}
	}
	busier := after
	busier.CPUBusy = before.CPUBusy + 3000 // more than the total grew: capped
	if p, ok := CPUPercent(before, busier); !ok || p != 100 {
		t.Errorf("CPUPercent = %v, %v; want 100, true", p, ok)
	}
}

// writeProc makes a /proc folder of the three files, from the fixtures
// unless given.
func writeProc(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"stat", "meminfo", "loadavg"} {
		content, ok := files[name]
		if !ok {
			b, err := os.ReadFile(filepath.Join("testdata", "before", name))
			if err != nil {
				t.Fatal(err)
			}
			content = string(b)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Kernels before 3.14 have no MemAvailable: free, buffers and cache are.
func TestReadFrom_MemAvailableMissing(t *testing.T) {
	dir := writeProc(t, map[string]string{"meminfo": "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n"})
	s := mustReadFrom(t, dir, "")
	if s.MemAvailableBytes != 400<<10 || s.MemUsedBytes != 600<<10 {
		t.Fatalf("available %d used %d, want 400 KiB and 600 KiB", s.MemAvailableBytes, s.MemUsedBytes)
	}
}

func TestReadFrom_RefusesBrokenFiles(t *testing.T) {
	cases := map[string]struct {
		files map[string]string
		want  string
	}{
		"no cpu line":      {map[string]string{"stat": "intr 1 2 3\n"}, "no cpu line"},
		"short cpu line":   {map[string]string{"stat": "cpu 1 2 3\n"}, "short cpu line"},
		"bad cpu column":   {map[string]string{"stat": "cpu 1 2 x 4 5\n"}, "column 3"},
		"no MemTotal":      {map[string]string{"meminfo": "MemFree: 1 kB\n"}, "no MemTotal"},
		"bad meminfo":      {map[string]string{"meminfo": "MemTotal: lots kB\n"}, "MemTotal"},
		"short loadavg":    {map[string]string{"loadavg": "0.1 0.2\n"}, "load averages"},
		"bad loadavg":      {map[string]string{"loadavg": "0.1 high 0.3 1/2 3\n"}, "load averages"},
		"missing data dir": {nil, "measure the file system"},
	}
	for name, c := range cases {
		dir := writeProc(t, c.files)
		dataDir := ""
		if c.files == nil {
			dataDir = filepath.Join(dir, "no-such-folder")
		}
		if _, err := ReadFrom(dir, dataDir); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want one saying %q", name, err, c.want)
		}
	}
	if _, err := ReadFrom(t.TempDir(), ""); err == nil {
		t.Error("an empty /proc read without an error")
	}
}

// Against this machine's /proc and the file system of a temporary folder:
// the figures are sane, and the CPU counters move within seconds.
func TestRead_ThisHost(t *testing.T) {
	dir := t.TempDir()
	first, err := Read(dir)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if first.CPUs < 1 || first.CPUBusy == 0 || first.CPUTotal <= first.CPUBusy {
		t.Errorf("cpu: %d CPUs, busy %d of %d", first.CPUs, first.CPUBusy, first.CPUTotal)
	}
	if first.MemTotalBytes == 0 || first.MemAvailableBytes > first.MemTotalBytes ||
		first.MemUsedBytes != first.MemTotalBytes-first.MemAvailableBytes {
		t.Errorf("memory: %+v", first)
	}
	if first.Load1 < 0 || first.Load5 < 0 || first.Load15 < 0 {
		t.Errorf("load: %v %v %v", first.Load1, first.Load5, first.Load15)
	}
	if first.DiskTotalBytes == 0 || first.DiskUsedBytes > first.DiskTotalBytes || first.DiskAvailableBytes > first.DiskTotalBytes {
		t.Errorf("disk: %+v", first)
	}
	var pct float64
	testutil.Eventually(t, 10*time.Second, "the CPU counters to move", func() error {
		cur, err := Read(dir)
		if err != nil {
			return err
		}
		var ok bool
		if pct, ok = CPUPercent(first, cur); !ok {
			return errors.New("no CPU ticks between the samples yet")
		}
		return nil
	})
	if pct < 0 || pct > 100 {
		t.Fatalf("CPUPercent = %v", pct)
	}
	t.Logf("this host: %d CPUs, %.1f%% busy, load %.2f, memory %d MiB used of %d, disk %d GiB used of %d",
		first.CPUs, pct, first.Load1, first.MemUsedBytes>>20, first.MemTotalBytes>>20, first.DiskUsedBytes>>30, first.DiskTotalBytes>>30)
}
