package control

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/testutil"
)

// fsmCluster applies commands straight to a real FSM, as a one-node Raft
// would; it leads, so nothing is asked of another leader.
type fsmCluster struct {
	mu    sync.Mutex
	fsm   *fsm.FSM
	index uint64
}

func (c *fsmCluster) Apply(_ context.Context, cmd fsm.Command) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.index++
	return c.index, c.fsm.ApplyCommand(cmd, c.index)
}

func (c *fsmCluster) ApplyInBatches(ctx context.Context, cmds []fsm.Command) {
	for _, cmd := range cmds {
		c.Apply(ctx, cmd)
	}
}
func (c *fsmCluster) IsLeader() bool                          { return true }
func (c *fsmCluster) LeaseSeen(string) (time.Time, time.Time) { return time.Now(), time.Now() }
func (c *fsmCluster) CallLeader(context.Context, string, string, any, any) error {
	return errors.New("this cluster leads")
}

func (c *fsmCluster) must(t *testing.T, cmd fsm.Command) {
	t.Helper()
	if _, err := c.Apply(context.Background(), cmd); err != nil {
		t.Fatalf("apply %s: %v", cmd.Type(), err)
	}
}

// retentionFixture is a cluster with history of every age, seen at now.
func retentionFixture(t *testing.T, now time.Time) *fsmCluster {
	c := &fsmCluster{fsm: fsm.New()}
	day := 24 * time.Hour
	node := func(id string, st fsm.NodeStatus, since time.Duration) {
		c.must(t, fsm.RegisterNode{Node: fsm.Node{ID: id, Name: id, Status: fsm.NodeAlive,
			Capacity: fsm.Capacity{VCPUs: 64, MemoryMiB: 1 << 20, DiskGiB: 1000}}, At: now.Add(-since)})
		if st != fsm.NodeAlive {
			c.must(t, fsm.SetNodeStatus{ID: id, Status: st, Cause: "test", At: now.Add(-since)})
		}
	}
	node("alive", fsm.NodeAlive, 100*day)
	node("alive-2", fsm.NodeAlive, 100*day)
	node("left-old", fsm.NodeLeft, 4*day)
	node("left-new", fsm.NodeLeft, time.Hour)
	node("failed-old", fsm.NodeFailed, 4*day)
	node("failed-with-vm", fsm.NodeAlive, 4*day)
	c.must(t, fsm.CreateVM{ID: "stuck", Spec: fsm.VMSpec{Name: "stuck", VCPUs: 1, MemoryMiB: 64, DiskGiB: 1}, Node: "failed-with-vm", At: now.Add(-5 * day)})
	c.must(t, fsm.SetNodeStatus{ID: "failed-with-vm", Status: fsm.NodeFailed, Cause: "test", At: now.Add(-4 * day)})

	c.must(t, fsm.CreateVM{ID: "vm", Spec: fsm.VMSpec{Name: "vm", VCPUs: 1, MemoryMiB: 64, DiskGiB: 1}, Node: "alive", At: now})
	c.must(t, fsm.ReportVM{ID: "vm", Node: "alive", Generation: 1, State: fsm.VMRunning, At: now})
	// Finished migrations m1 (40 days ago) to m4 (an hour ago), then m5 under way.
	for i, ago := range []time.Duration{40 * day, 3 * time.Hour, 2 * time.Hour, time.Hour} {
		id := []string{"m1", "m2", "m3", "m4"}[i]
		c.must(t, fsm.CreateMigration{ID: id, VMID: "vm", Mode: fsm.MigrateCold, Target: "alive-2", Reason: "test", At: now.Add(-ago)})
		c.must(t, fsm.CancelMigration{ID: id, At: now.Add(-ago)})
	}
	c.must(t, fsm.CreateMigration{ID: "m5", VMID: "vm", Mode: fsm.MigrateCold, Target: "alive-2", Reason: "test", At: now.Add(-50 * day)})

	c.must(t, fsm.StartFailover{Failover: fsm.Failover{ID: "fo-old", Node: "failed-old", RestartedAt: now.Add(-40 * day)}})
	c.must(t, fsm.UpdateFailover{ID: "fo-old", Completed: true, At: now.Add(-40 * day)})
	c.must(t, fsm.StartFailover{Failover: fsm.Failover{ID: "fo-new", Node: "failed-old", RestartedAt: now.Add(-time.Hour)}})
	c.must(t, fsm.UpdateFailover{ID: "fo-new", Completed: true, At: now.Add(-time.Hour)})

	tok := func(id string, expires time.Time) {
		c.must(t, fsm.CreateToken{Token: fsm.Token{ID: id, Name: id, Role: "reader", Hash: fsm.HashSecret(id), CreatedAt: now.Add(-day), ExpiresAt: expires}})
	}
	tok("expired", now.Add(-time.Minute))
	tok("live", now.Add(time.Hour))
	tok("forever", time.Time{})

	c.must(t, fsm.SetSettings{Settings: fsm.Settings{Retention: fsm.RetentionSettings{KeepFinished: 2}}, At: now})
	return c
}

func TestRetention_RemovesWhatIsPastRetention(t *testing.T) {
	now := time.Now().UTC()
	cl := retentionFixture(t, now)
	f := cl.fsm
	ctl, err := New(Config{ResyncInterval: time.Second, LoadReportInterval: time.Second, RetentionInterval: time.Second, NodeID: "alive"}, cl, f)
	if err != nil {
		t.Fatal(err)
	}
	ctl.retain(context.Background(), now)

	has := func(get func(string) error, id string) bool { return get(id) == nil }
	migration := func(id string) error { _, err := f.Migration(id); return err }
	failover := func(id string) error { _, err := f.Failover(id); return err }
	token := func(id string) error { _, err := f.Token(id); return err }
	node := func(id string) error { _, err := f.Node(id); return err }
	for id, want := range map[string]bool{"m1": false, "m2": false, "m3": true, "m4": true, "m5": true} {
		if has(migration, id) != want {
			t.Errorf("migration %s kept = %v, want %v (keep 2 finished, 30 days; never one under way)", id, !want, want)
		}
	}
	for id, want := range map[string]bool{"fo-old": false, "fo-new": true} {
		if has(failover, id) != want {
			t.Errorf("failover %s kept = %v, want %v", id, !want, want)
		}
	}
	for id, want := range map[string]bool{"expired": false, "live": true, "forever": true} {
		if has(token, id) != want {
			t.Errorf("token %s kept = %v, want %v", id, !want, want)
		}
	}
	for id, want := range map[string]bool{"alive": true, "alive-2": true, "left-old": false, "left-new": true, "failed-old": false, "failed-with-vm": true} {
		if has(node, id) != want {
			t.Errorf("node %s kept = %v, want %v (reap after 72 h, never with VMs)", id, !want, want)
		}
	}

	// A second round finds nothing more to do.
	purges, removes := retentionPlan(now, "alive", f)
	if len(purges) != 0 || len(removes) != 0 {
		t.Fatalf("second round: purges %+v, removes %+v", purges, removes)
	}
}

// The loop runs while the node leads: started by RunLeader, it purges at
// once and stops with the leadership's context.
func TestRetention_LoopRunsUnderRunLeader(t *testing.T) {
	now := time.Now().UTC()
	cl := retentionFixture(t, now)
	cfg := DefaultConfig()
	cfg.RetentionInterval, cfg.NodeID = 50*time.Millisecond, "alive"
	ctl, err := New(cfg, cl, cl.fsm)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ctl.RunLeader(ctx); close(done) }()
	testutil.EventuallyEvery(t, 10*time.Second, 20*time.Millisecond, "the retention loop to purge the expired token and reap the old node", func() error {
		_, errTok := cl.fsm.Token("expired")
		_, errNode := cl.fsm.Node("left-old")
		if errors.Is(errTok, fsm.ErrNotFound) && errors.Is(errNode, fsm.ErrNotFound) {
			return nil
		}
		return fmt.Errorf("token: %v, node: %v", errTok, errNode)
	})
	cancel()
	<-done
}

func TestChunkPurges_AtMostMaxPurgeIDs(t *testing.T) {
	ids := make([]purgeID, 2*fsm.MaxPurgeIDs+1)
	for i := range ids {
		ids[i] = purgeID{kind: i % 3, id: "x"}
	}
	ps := chunkPurges(ids, time.Now())
	if len(ps) != 3 {
		t.Fatalf("%d purges, want 3", len(ps))
	}
	total := 0
	for _, p := range ps {
		n := len(p.MigrationIDs) + len(p.FailoverIDs) + len(p.TokenIDs)
		if n > fsm.MaxPurgeIDs {
			t.Fatalf("purge of %d IDs", n)
		}
		total += n
	}
	if total != len(ids) {
		t.Fatalf("%d IDs purged, want %d", total, len(ids))
	}
}
