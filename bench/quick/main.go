// Command quick is `make bench-quick`: the write path's regression guard. It
// runs a short set of the write-path benchmarks (bare Raft and the API's
// creates, with TLS and --insecure, 1 and 64 clients), prints each figure
// next to the one recorded in bench/quick-record.txt, and marks every API
// figure more than 15% worse (a bare Raft one only as "(machine)": it moved
// with the machine, not the change). The API figures are also shown as a ratio to the bare
// Raft figures of the same run, which holds better across machines than the
// raw figures do (these machines differ by up to 2x).
//
//	go run ./bench/quick            # run and compare
//	go run ./bench/quick -record    # also make this run the new record
//
// It exits 0 whatever it finds: a worse figure is for the change's author to
// fix or explain, and the benchmark machine may simply be slower.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
)

// benchmarks are the cases the guard runs, one go test -bench pattern each
// (a pattern's levels are split at "/", so one pattern cannot name two
// benchmarks): each case starts its own cluster, so the set stays small
// enough for under two minutes.
var benchmarks = []string{
	`^BenchmarkRaftBaseline$/^clients=(1|64)$`,
	`^BenchmarkAPICreateVM$/^(tls|insecure)$/^leader$/^clients=(1|64)$`,
}

func main() {
	record := flag.Bool("record", false, "write this run's figures to the record file")
	recordFile := flag.String("file", "bench/quick-record.txt", "the recorded figures")
	benchtime := flag.String("benchtime", "3s", "go test -benchtime for each case")
	flag.Parse()

	var out bytes.Buffer
	for _, pattern := range benchmarks {
		cmd := exec.Command("go", "test", "-tags", "libvirt_dlopen", "-run", "^$", "-bench", pattern,
			"-benchtime", *benchtime, "-count", "1", "-timeout", "10m", "./bench/")
		cmd.Stdout, cmd.Stderr = io.MultiWriter(os.Stderr, &out), os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "bench-quick: the benchmarks failed: %v\n", err)
			os.Exit(1)
		}
	}
	now := parse(out.String())
	if len(now) == 0 {
		fmt.Fprintln(os.Stderr, "bench-quick: the benchmarks printed no figures")
		os.Exit(1)
	}
	var before results
	if b, err := os.ReadFile(*recordFile); err == nil {
		before = parse(string(b))
	} else {
		fmt.Fprintf(os.Stderr, "bench-quick: no record to compare with (%v)\n", err)
	}
	worse := report(os.Stdout, now, before)
	if worse > 0 {
		fmt.Printf("\n%d figure(s) more than %.0f%% worse than the record: fix or explain them in the change's note\n", worse, threshold*100)
	}
	if *record {
		if err := os.WriteFile(*recordFile, []byte(benchLines(out.String())), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "bench-quick: %v\n", err)
			os.Exit(1)
		}
		fmt.Printf("recorded in %s\n", *recordFile)
	}
}
