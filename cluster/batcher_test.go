package cluster

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/logadapt"
	"github.com/novacron/novacron/internal/testutil"
)

// gatedFSM applies entries through a real FSM, each only once the test lets
// it through, and counts them.
type gatedFSM struct {
	*fsm.FSM
	gate    chan struct{}
	entries atomic.Int64
}

func (g *gatedFSM) Apply(l *raft.Log) any {
	<-g.gate
	g.entries.Add(1)
	return g.FSM.Apply(l)
}

// singleRaft starts a one-voter Raft in memory over f and waits until it leads.
func singleRaft(t *testing.T, f raft.FSM) *raft.Raft {
	t.Helper()
	conf := raft.DefaultConfig()
	conf.LocalID = "solo"
	conf.Logger = logadapt.HCLog("raft", testutil.Logger(t))
	conf.HeartbeatTimeout, conf.ElectionTimeout = 50*time.Millisecond, 50*time.Millisecond
	conf.LeaderLeaseTimeout = 50 * time.Millisecond
	addr, trans := raft.NewInmemTransport("")
	store := raft.NewInmemStore()
	r, err := raft.NewRaft(conf, f, store, store, raft.NewInmemSnapshotStore(), trans)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Shutdown().Error() })
	if err := r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{ID: conf.LocalID, Address: addr}}}).Error(); err != nil {
		t.Fatal(err)
	}
	if _, err := testutil.Poll(10*time.Second, 10*time.Millisecond, func() error {
		if r.State() != raft.Leader {
			return fmt.Errorf("not leader yet: %s", r.State())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return r
}

// While maxInFlight entries wait to be applied, the writes that arrive
// meanwhile are held and then share one entry, and every one of them gets
// its own outcome.
func TestBatcher_WritesWaitingBehindAFullPipelineShareOneEntry(t *testing.T) {
	g := &gatedFSM{FSM: fsm.New(), gate: make(chan struct{})}
	r := singleRaft(t, g)
	var openOnce sync.Once
	openGate := func() { openOnce.Do(func() { close(g.gate) }) }
	t.Cleanup(openGate) // before Raft's shutdown, which waits for the FSM
	// The configuration entry of the bootstrap is not given to the FSM, so
	// the FSM sees only the batcher's entries.
	b := newBatcher(r, 10*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go b.run(ctx)

	create := func(name string) fsm.Command {
		return &fsm.CreateVM{ID: name, Spec: fsm.VMSpec{Name: name, VCPUs: 1, MemoryMiB: 64, DiskGiB: 1}, At: time.Now()}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	submit := func(name string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := b.submit(ctx, create(name)); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	// Fill the pipeline: each lone write goes out at once as its own entry,
	// which Raft logs and commits and the FSM holds.
	base := r.LastIndex()
	for i := range maxInFlight {
		submit(fmt.Sprintf("first-%d", i))
		want := base + uint64(i) + 1
		if _, err := testutil.Poll(10*time.Second, time.Millisecond, func() error {
			if n := r.LastIndex(); n != want {
				return fmt.Errorf("last log index %d, want %d", n, want)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	// These wait behind the full pipeline: the batcher holds the first of
	// them until an entry is applied, the others wait to be taken.
	const waiting = 20
	for i := range waiting {
		submit(fmt.Sprintf("later-%d", i))
	}
	if _, err := testutil.Poll(10*time.Second, time.Millisecond, func() error {
		if n := parkedSubmits(); n != waiting-1 {
			return fmt.Errorf("%d writes waiting to be taken, want %d", n, waiting-1)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := r.LastIndex(); n != base+uint64(maxInFlight) {
		t.Fatalf("last log index %d with the pipeline full, want %d: a write was proposed beyond maxInFlight", n, base+uint64(maxInFlight))
	}
	openGate() // let every entry through
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := g.entries.Load(); n != int64(maxInFlight)+1 {
		t.Errorf("%d entries for %d writes, want %d: the %d waiting writes should share one", n, maxInFlight+waiting, maxInFlight+1, waiting)
	}
	if got := len(g.FSM.VMs()); got != maxInFlight+waiting {
		t.Errorf("%d VMs in the state, want %d", got, maxInFlight+waiting)
	}
}

// parkedSubmits counts the goroutines blocked in batcher.submit's select, that
// is, writes offered to the batcher and not yet taken.
func parkedSubmits() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "[select") && strings.Contains(g, "(*batcher).submit") {
			n++
		}
	}
	return n
}
