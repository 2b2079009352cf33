package main

import (
	"strings"
	"testing"
)

const sampleRun = `goos: linux
cpu: Some CPU
BenchmarkRaftBaseline/clients=64-8   	  100000	     50000 ns/op	      10000 writes/s	     6.0 p50-ms	   12.0 p99-ms	 1.00 raft-entries/write
BenchmarkAPICreateVM/tls/leader/clients=64-8   	   20000	    200000 ns/op	      5000 writes/s	    12.0 p50-ms	   30.0 p99-ms	 300.0 server-cpu-us/write
PASS
`

// A figure more than 15% worse than the record is marked, one within it is
// not, whichever way is better for its unit; the API's figures are shown as
// ratios to the bare Raft figures of the same run.
func TestReport_MarksOnlyFiguresMoreThan15PercentWorse(t *testing.T) {
	before := parse(sampleRun)
	if len(before) != 2 || before["BenchmarkAPICreateVM/tls/leader/clients=64"]["writes/s"] != 5000 {
		t.Fatalf("parsed %v", before)
	}
	now := parse(strings.NewReplacer("5000 writes/s", "4000 writes/s", "30.0 p99-ms", "33.0 p99-ms").Replace(sampleRun))
	var out strings.Builder
	if n := report(&out, now, before); n != 1 {
		t.Fatalf("marked %d figures, want 1 (writes/s 20%% lower); p99 10%% higher is within bounds:\n%s", n, out.String())
	}
	var writes string
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, "APICreateVM") && strings.Contains(line, "writes/s") {
			writes = line
		}
	}
	if !strings.Contains(writes, "WORSE") || !strings.Contains(writes, "0.40x") || !strings.Contains(writes, "0.50x") {
		t.Fatalf("the writes/s row lacks the mark or the ratios to bare raft (0.40x now, 0.50x recorded): %q", writes)
	}
	// Bare Raft getting slower is the machine, shown but not counted.
	now = parse(strings.Replace(sampleRun, "10000 writes/s", "7000 writes/s", 1))
	out.Reset()
	if n := report(&out, now, before); n != 0 || !strings.Contains(out.String(), "(machine)") {
		t.Fatalf("a slower bare Raft counted %d worse figures:\n%s", n, out.String())
	}
	// Lower p99 is better: 20% lower is not worse.
	now = parse(strings.Replace(sampleRun, "30.0 p99-ms", "24.0 p99-ms", 1))
	out.Reset()
	if n := report(&out, now, before); n != 0 {
		t.Fatalf("marked %d figures for a better p99:\n%s", n, out.String())
	}
}

func TestBenchLines_KeepsResultsAndWhereTheyRan(t *testing.T) {
	got := benchLines(sampleRun)
	if strings.Contains(got, "PASS") || !strings.Contains(got, "cpu: Some CPU") || strings.Count(got, "Benchmark") != 2 {
		t.Fatalf("record lines: %q", got)
	}
}
