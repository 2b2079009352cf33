package fsm

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// benchCreate is a create as the leader proposes it: a small spec and the
// placement decision over three nodes that explains it.
func benchCreate(i int) *CreateVM {
	at := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	d := &Decision{Node: "node-id-1", NodeName: "node-1", Strategy: StrategySpread, Reason: "spread: node-1 has the most room (score 0.98); 3 of 3 nodes fit",
		Considered: 3, Feasible: 3, At: at}
	for j := range 3 {
		d.Candidates = append(d.Candidates, CandidateScore{NodeID: fmt.Sprintf("node-id-%d", j), NodeName: fmt.Sprintf("node-%d", j),
			Score: 0.98 - float64(j)/10, Parts: ScoreParts{{Name: "strategy", Value: 0.98 - float64(j)/10}}})
	}
	return &CreateVM{ID: fmt.Sprintf("5f0c6a52-8d0e-4b8e-9d7e-%012d", i), Spec: VMSpec{Name: fmt.Sprintf("bench-%d", i), VCPUs: 1, MemoryMiB: 1, DiskGiB: 1},
		Node: d.Node, Reason: d.Reason, Decision: d, At: at}
}

// BenchmarkCodec_CreateVM is what one placed create costs to encode on the
// leader and to decode and apply on every node: the per-write share of the
// FSM on the write path.
func BenchmarkCodec_CreateVM(b *testing.B) {
	for _, size := range []int{1, 32} {
		b.Run(fmt.Sprintf("batch=%d/encode", size), func(b *testing.B) {
			cmds := make([]Command, size)
			for i := range cmds {
				cmds[i] = benchCreate(i)
			}
			b.ReportAllocs()
			for b.Loop() {
				if size == 1 {
					if _, err := Encode(cmds[0]); err != nil {
						b.Fatal(err)
					}
					continue
				}
				bc, err := NewBatch(cmds...)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Encode(bc); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/write")
		})
		b.Run(fmt.Sprintf("batch=%d/decode", size), func(b *testing.B) {
			cmds := make([]Command, size)
			for i := range cmds {
				cmds[i] = benchCreate(i)
			}
			var data []byte
			var err error
			if size == 1 {
				data, err = Encode(cmds[0])
			} else {
				var bc *Batch
				if bc, err = NewBatch(cmds...); err == nil {
					data, err = Encode(bc)
				}
			}
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				c, err := decodeEntry(data)
				if err != nil {
					b.Fatal(err)
				}
				if batch, ok := c.(*Batch); ok {
					for _, e := range batch.Entries {
						if _, err := e.decode(); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/write")
		})
	}
}

// BenchmarkApply_CreateVM is one placed create applied by the FSM, decoding
// included, into a state that already holds n VMs: the cost on every node
// must not grow with the cluster.
func BenchmarkApply_CreateVM(b *testing.B) {
	for _, n := range []int{0, 100_000} {
		b.Run(fmt.Sprintf("vms=%d", n), func(b *testing.B) {
			f := New()
			if err := f.ApplyCommand(&RegisterNode{Node: Node{ID: "node-id-1", Name: "node-1", Status: NodeAlive,
				Capacity: Capacity{VCPUs: 1 << 30, MemoryMiB: 1 << 40, DiskGiB: 1 << 40}}}, 1); err != nil {
				b.Fatal(err)
			}
			idx := uint64(1)
			for i := range n {
				idx++
				if err := f.ApplyCommand(benchCreate(1_000_000+i), idx); err != nil {
					b.Fatal(err)
				}
			}
			entries := make([][]byte, 0, 1024)
			for i := range 1024 {
				data, err := Encode(benchCreate(i))
				if err != nil {
					b.Fatal(err)
				}
				entries = append(entries, data)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if i == len(entries) {
					b.StopTimer()
					f.mu.Lock()
					for j := range entries {
						cmd, _ := decodeEntry(entries[j])
						s := f.s
						vm := s.vms[cmd.(*CreateVM).ID]
						s.release(vm)
						s.unindex(vm)
						s.countVM(vm, -1)
						s.use(vm, -1)
						delete(s.vms, vm.ID)
						s.unnameVM(vm)
					}
					f.mu.Unlock()
					i = 0
					b.StartTimer()
				}
				idx++
				if res := f.Apply(&raft.Log{Index: idx, Data: entries[i]}).(Result); res.Err != nil {
					b.Fatal(res.Err)
				}
				i++
			}
		})
	}
}

// BenchmarkSnapshot_Scale takes and restores a snapshot of a state holding
// 100,000 placed VMs with their decisions (issue 12: both within 5 s), and
// reports the snapshot's size and the heap the restored state holds. The
// decisions are over 3 nodes, or over a fleet of 1,000 as in the scale run
// (bench/scale_bench_test.go): 8 candidates and 3 rejections each.
func BenchmarkSnapshot_Scale(b *testing.B) {
	const n = 100_000
	for _, fleet := range []bool{false, true} {
		name, nodes, create := "decisions=3-nodes", 3, benchCreate
		if fleet {
			name, nodes, create = "decisions=fleet", 1000, benchFleetCreate
		}
		b.Run(name, func(b *testing.B) {
			f := New()
			for j := range nodes {
				if err := f.ApplyCommand(&RegisterNode{Node: Node{ID: fmt.Sprintf("node-id-%d", j), Name: fmt.Sprintf("node-%d", j), Status: NodeAlive,
					Capacity: Capacity{VCPUs: 1 << 30, MemoryMiB: 1 << 40, DiskGiB: 1 << 40}}}, uint64(j+1)); err != nil {
					b.Fatal(err)
				}
			}
			for i := range n {
				if err := f.ApplyCommand(create(i), uint64(nodes+i+1)); err != nil {
					b.Fatal(err)
				}
			}
			benchSnapshot(b, f)
		})
	}
}

// benchSnapshot takes f's snapshot and restores it into a new FSM.
func benchSnapshot(b *testing.B, f *FSM) {
	var data []byte
	b.Run("take", func(b *testing.B) {
		for b.Loop() {
			data = snapshotBytes(b, f)
		}
		b.ReportMetric(float64(len(data))/(1<<20), "MB")
	})
	b.Run("restore", func(b *testing.B) {
		for b.Loop() {
			if err := restoreBytes(New(), data); err != nil {
				b.Fatal(err)
			}
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		g := New()
		if err := restoreBytes(g, data); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(g)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "state-heap-MB")
	})
}

// benchFleetCreate is a create placed in a fleet of 1,000 nodes: 8
// candidates with two score parts each, 3 nodes rejected for memory.
func benchFleetCreate(i int) *CreateVM {
	at := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	node := func(j int) (string, string) {
		j %= 1000
		return fmt.Sprintf("node-id-%d", j), fmt.Sprintf("node-%d", j)
	}
	id, name := node(i)
	d := &Decision{Node: id, NodeName: name, Strategy: StrategySpread,
		Reason:     fmt.Sprintf("spread: %s has the most room (score 0.98, cpu 1%%, memory 2%% after placing); 997 of 1000 nodes fit", name),
		Considered: 1000, Feasible: 997, RejectedCounts: KindCounts{{Kind: "memory", Count: 3}}, At: at}
	for j := range MaxExplained {
		id, name := node(i + j)
		d.Candidates = append(d.Candidates, CandidateScore{NodeID: id, NodeName: name, Score: 0.98 - float64(j)/100,
			Parts: NewScoreParts(ScorePart{Name: "strategy", Value: 0.98 - float64(j)/100}, ScorePart{Name: "preferred", Value: 0})})
	}
	for j := range 3 {
		id, name := node(i + 500 + j)
		d.Rejected = append(d.Rejected, Rejection{NodeID: id, NodeName: name, Kind: "memory", Reason: fmt.Sprintf("needs 1 MiB of memory, %d MiB free", j)})
	}
	return &CreateVM{ID: fmt.Sprintf("5f0c6a52-8d0e-4b8e-9d7e-%012d", i), Spec: VMSpec{Name: fmt.Sprintf("bench-%d", i), VCPUs: 1, MemoryMiB: 1, DiskGiB: 1},
		Node: d.Node, Reason: d.Reason, Decision: d, At: at}
}
