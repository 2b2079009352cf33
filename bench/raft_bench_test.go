//go:build linux

package bench

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// clientCounts are the concurrency levels every throughput benchmark runs.
var clientCounts = []int{1, 64, 256}

// failoverRounds is how often each failover benchmark kills a leader.
const failoverRounds = 5

// runWithFixture runs a sub-benchmark whose fixture (a cluster) is built on the
// first call of body and kept across the further calls the testing package
// makes with a growing b.N, then closed once the sub-benchmark is done. A
// fixture hung on the sub-benchmark's own Cleanup would be torn down after
// every call.
func runWithFixture[F any](b *testing.B, name string, open func() (F, error), close func(F), body func(b *testing.B, f F)) {
	var (
		f      F
		opened bool
	)
	b.Run(name, func(b *testing.B) {
		if !opened {
			b.StopTimer()
			var err error
			if f, err = open(); err != nil {
				b.Fatal(err)
			}
			opened = true
			b.StartTimer()
		}
		body(b, f)
	})
	if opened {
		close(f)
	}
}

// BenchmarkRaftBaseline measures writes on a bare 3-node hashicorp/raft cluster:
// each iteration is one 200-byte raft.Apply on the leader, awaited. Each
// concurrency level gets a fresh cluster.
func BenchmarkRaftBaseline(b *testing.B) {
	for _, clients := range clientCounts {
		runWithFixture(b, fmt.Sprintf("clients=%d", clients),
			func() (*raftCluster, error) { return newRaftCluster(3) },
			(*raftCluster).close,
			func(b *testing.B, c *raftCluster) {
				leader, err := c.waitStable(30 * time.Second)
				if err != nil {
					b.Fatal(err)
				}
				first := leader.raft.LastIndex()
				cpu := startCPU()
				st := benchLoad(b, clients, func(ctx context.Context, _ int, seq uint64) error {
					return leader.write(ctx, baselineEntry(seq))
				})
				reportCPU(b, cpu, st.Ops)
				if st.Ops > 0 {
					b.ReportMetric(float64(leader.raft.LastIndex()-first)/float64(st.Ops), "raft-entries/write")
				}
			})
	}
}

// BenchmarkRaftBaselineFailover measures, on a bare 3-node cluster, the time
// from the leader's Shutdown to the first write acknowledged by the new leader,
// with a client that retries every 20 ms on the surviving nodes. The stopped
// node is restarted from its stores between rounds. One call runs every round,
// whatever b.N.
func BenchmarkRaftBaselineFailover(b *testing.B) {
	b.StopTimer()
	c, err := newRaftCluster(3)
	if err != nil {
		b.Fatal(err)
	}
	defer c.close()
	rounds := make([]time.Duration, 0, failoverRounds)
	b.StartTimer() // a call must take its real time, or the testing package calls again with a larger b.N
	start := time.Now()
	for range max(b.N, failoverRounds) {
		old, err := c.waitStable(30 * time.Second)
		if err != nil {
			b.Fatal(err)
		}
		var survivors []*raftNode
		for _, nd := range c.nodes {
			if nd != old {
				survivors = append(survivors, nd)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		killed := time.Now()
		if err := c.stop(old); err != nil {
			b.Fatal(err)
		}
		d, err := firstWriteAfter(ctx, killed, func(ctx context.Context, try int) error {
			return survivors[try%len(survivors)].write(ctx, baselineEntry(writeSeq.Add(1)))
		})
		cancel()
		if err != nil {
			b.Fatalf("round %d: %v", len(rounds)+1, err)
		}
		rounds = append(rounds, d)
		if err := c.restart(old); err != nil {
			b.Fatal(err)
		}
	}
	reportRounds(b, rounds, time.Since(start))
}
