package main

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// threshold is how much worse a figure may get before it is marked.
const threshold = 0.15

// results maps a benchmark name (without the -GOMAXPROCS suffix) to its
// figures by unit.
type results map[string]map[string]float64

var procSuffix = regexp.MustCompile(`-\d+$`)

// parse reads `go test -bench` output: a result line is the name, the
// iteration count, then value-unit pairs.
func parse(text string) results {
	out := results{}
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		figs := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				figs = nil
				break
			}
			figs[f[i+1]] = v
		}
		if figs != nil {
			out[procSuffix.ReplaceAllString(f[0], "")] = figs
		}
	}
	return out
}

// benchLines keeps the result lines of a run and the header lines that say
// where it ran, for the record file.
func benchLines(text string) string {
	var b strings.Builder
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "Benchmark") || strings.HasPrefix(line, "cpu:") ||
			strings.HasPrefix(line, "goos:") || strings.HasPrefix(line, "goarch:") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// units are the figures the guard compares, and whether more is better.
var units = []struct {
	name       string
	higherGood bool
}{
	{"writes/s", true}, {"p50-ms", false}, {"p99-ms", false},
	{"server-cpu-us/write", false}, {"cpu-us/write", false}, {"raft-entries/write", false},
}

// worseBy returns how much worse now is than before (0.2 is 20% worse), for
// a unit where more is better or not.
func worseBy(now, before float64, higherGood bool) float64 {
	if before == 0 {
		return 0
	}
	if higherGood {
		return (before - now) / before
	}
	return (now - before) / before
}

// baselineOf names the bare Raft case with the same client count as an API
// case, whose figures the ratios are taken against.
func baselineOf(name string) string {
	i := strings.LastIndex(name, "/clients=")
	if i < 0 || strings.HasPrefix(name, "BenchmarkRaftBaseline") {
		return ""
	}
	return "BenchmarkRaftBaseline" + name[i:]
}

// report prints one row per figure: this run, the record, the change, and
// for API cases the ratio to this run's bare Raft. It returns how many rows
// it marked worse.
func report(w io.Writer, now, before results) int {
	names := make([]string, 0, len(now))
	for n := range now {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "benchmark\tfigure\tnow\trecorded\tchange\tx bare raft now\tx bare raft recorded\t")
	worse := 0
	for _, name := range names {
		for _, u := range units {
			v, ok := now[name][u.name]
			if !ok {
				continue
			}
			rec, change, mark := "-", "", ""
			if b, ok := before[name][u.name]; ok {
				rec = fmt.Sprintf("%.4g", b)
				d := worseBy(v, b, u.higherGood)
				change = fmt.Sprintf("%+.0f%%", 100*(v-b)/b)
				switch {
				case d <= threshold:
				case baselineOf(name) == "":
					// Bare Raft is the machine, not the change: its moves say
					// how far to trust this run's comparison.
					mark = "(machine)"
				default:
					mark = "WORSE"
					worse++
				}
			}
			ratioNow, ratioRec := "", ""
			if base := baselineOf(name); base != "" {
				if bv, ok := now[base][u.name]; ok && bv > 0 && u.name != "raft-entries/write" {
					ratioNow = fmt.Sprintf("%.2fx", v/bv)
				}
				if bv, ok := before[base][u.name]; ok && bv > 0 && u.name != "raft-entries/write" {
					if rv, ok := before[name][u.name]; ok {
						ratioRec = fmt.Sprintf("%.2fx", rv/bv)
					}
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%.4g\t%s\t%s %s\t%s\t%s\t\n", strings.TrimPrefix(name, "Benchmark"), u.name, v, rec, change, mark, ratioNow, ratioRec)
		}
	}
	tw.Flush()
	return worse
}
