package hoststats

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// readCPU reads /proc/stat's first line (all CPUs) and counts the cpuN lines.
// Its columns are user, nice, system, idle, iowait, irq, softirq, steal,
// guest, guest_nice; guest time is already counted in user and nice, so it
// is left out. Kernels before 2.6.33 have fewer columns.
func readCPU(path string) (busy, total uint64, cpus int, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("read CPU counters: %w", err)
	}
	found := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || !strings.HasPrefix(f[0], "cpu") {
			continue
		}
		if f[0] != "cpu" {
			if _, err := strconv.Atoi(f[0][3:]); err == nil {
				cpus++
			}
			continue
		}
		if len(f) < 5 {
			return 0, 0, 0, fmt.Errorf("read CPU counters: %s: short cpu line %q", path, sc.Text())
		}
		for i, col := range f[1:min(len(f), 9)] {
			v, err := strconv.ParseUint(col, 10, 64)
			if err != nil {
				return 0, 0, 0, fmt.Errorf("read CPU counters: %s: column %d of %q: %w", path, i+1, sc.Text(), err)
			}
			total += v
			if i != 3 && i != 4 { // idle, iowait
				busy += v
			}
		}
		found = true
	}
	if !found {
		return 0, 0, 0, fmt.Errorf("read CPU counters: %s has no cpu line", path)
	}
	return busy, total, cpus, nil
}

// readMemory reads MemTotal and MemAvailable from /proc/meminfo, in bytes.
// Kernels before 3.14 lack MemAvailable; free memory plus buffers and page
// cache is the estimate tools used before it.
func readMemory(path string) (total, available uint64, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, fmt.Errorf("read memory figures: %w", err)
	}
	kib := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		f := strings.Fields(rest)
		if !ok || len(f) == 0 {
			continue
		}
		v, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("read memory figures: %s: %q: %w", path, sc.Text(), err)
		}
		kib[key] = v
	}
	t, ok := kib["MemTotal"]
	if !ok {
		return 0, 0, fmt.Errorf("read memory figures: %s has no MemTotal", path)
	}
	a, ok := kib["MemAvailable"]
	if !ok {
		a = kib["MemFree"] + kib["Buffers"] + kib["Cached"]
	}
	return t << 10, a << 10, nil
}

// readLoad reads the three load averages from /proc/loadavg.
func readLoad(path string) (l1, l5, l15 float64, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("read load averages: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return 0, 0, 0, fmt.Errorf("read load averages: %s: %q", path, b)
	}
	var v [3]float64
	for i := range v {
		if v[i], err = strconv.ParseFloat(f[i], 64); err != nil {
			return 0, 0, 0, fmt.Errorf("read load averages: %s: %q: %w", path, b, err)
		}
	}
	return v[0], v[1], v[2], nil
}
