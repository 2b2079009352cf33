package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/testutil"
)

// A lone write reaches every follower's state even when raft's own commit
// notice (CommitTimeout) would come only in an hour: the leader tells the
// followers of it once no other write follows.
func TestCommitNotice_ALoneWriteReachesTheFollowers(t *testing.T) {
	agents := startCore(t, 3, func(_ int, cfg *Config) { cfg.CommitTimeout = time.Hour }, nil)
	var leader *Agent
	testutil.WaitFor(t, 30*time.Second, "a leader that has initialised the cluster", func() bool {
		for _, a := range agents {
			if a.IsLeader() && a.FSM().Cluster().ID != "" {
				leader = a
				return true
			}
		}
		return false
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	index, err := leader.Apply(ctx, &fsm.CreateRole{Role: fsm.Role{Name: "lone", Permissions: []string{"vm:read"}, CreatedAt: time.Now().UTC()}})
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "every follower applies the lone write", func() bool {
		for _, a := range agents {
			if a.FSM().AppliedIndex() < index {
				return false
			}
		}
		return true
	})
	for _, a := range agents {
		if _, err := a.FSM().Role("lone"); err != nil {
			t.Errorf("%s: %v", a.Name(), err)
		}
	}
	// The notice is an entry the FSM counts: each node's applied index
	// meets what it knows to be committed, as `novacron cluster status`
	// shows them.
	testutil.WaitFor(t, 10*time.Second, "each node's applied index meets its commit index", func() bool {
		for _, a := range agents {
			st := a.Status()
			if st.AppliedIndex != st.CommitIndex {
				return false
			}
		}
		return true
	})
}
