package fsm

import (
	"errors"
	"testing"
	"time"
)

func TestPurgeRecords_RemovesOnlyFinishedAndExpired(t *testing.T) {
	f := migrationFixture(t)
	f.must(CreateVM{ID: "vm-2", Spec: testSpec("db", 512, 1), Node: "n1", At: t0})
	f.must(ReportVM{ID: "vm-2", Node: "n1", Generation: 1, State: VMRunning, At: t0})
	f.must(CreateMigration{ID: "done", VMID: "vm-1", Mode: MigrateCold, Target: "n2", Reason: "user", At: t0})
	f.must(CancelMigration{ID: "done", At: t0})
	f.must(CreateMigration{ID: "busy", VMID: "vm-2", Mode: MigrateCold, Target: "n2", Reason: "user", At: t0})
	f.must(SetNodeStatus{ID: "n3", Status: NodeFailed, Cause: "test", At: t0})
	f.must(StartFailover{Failover: Failover{ID: "fo-done", Node: "n3", RestartedAt: t0}})
	f.must(UpdateFailover{ID: "fo-done", Completed: true, At: t0})
	f.must(StartFailover{Failover: Failover{ID: "fo-open", Node: "n3", RestartedAt: t0}})
	expired := testToken("tok-old", "old", "s1")
	expired.ExpiresAt = t0.Add(-time.Hour)
	live := testToken("tok-live", "live", "s2")
	live.ExpiresAt = t0.Add(time.Hour)
	forever := testToken("tok-forever", "forever", "s3")
	f.must(CreateToken{Token: expired})
	f.must(CreateToken{Token: live})
	f.must(CreateToken{Token: forever})

	f.must(PurgeRecords{
		MigrationIDs: []string{"done", "busy", "gone"},
		FailoverIDs:  []string{"fo-done", "fo-open"},
		TokenIDs:     []string{"tok-old", "tok-live", "tok-forever"},
		At:           t0,
	})
	if _, err := f.Migration("done"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("finished migration kept: %v", err)
	}
	if m, err := f.Migration("busy"); err != nil || len(f.ActiveMigrations()) != 1 || f.vm("vm-2").Migration != m.ID {
		t.Fatalf("a migration under way must stay: %+v, %v", m, err)
	}
	if _, err := f.Failover("fo-done"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("completed failover kept: %v", err)
	}
	if _, err := f.Failover("fo-open"); err != nil {
		t.Fatalf("open failover removed: %v", err)
	}
	if _, err := f.Token("tok-old"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired token kept: %v", err)
	}
	if _, err := f.TokenByHash(HashSecret("s1")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired token still authenticates: %v", err)
	}
	for _, id := range []string{"tok-live", "tok-forever"} {
		if _, err := f.Token(id); err != nil {
			t.Fatalf("token %s removed before it expired: %v", id, err)
		}
	}
	// The token that expires later goes once At has passed its expiry.
	f.must(PurgeRecords{TokenIDs: []string{"tok-live"}, At: t0.Add(time.Hour)})
	if _, err := f.Token("tok-live"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("token kept after its expiry: %v", err)
	}
}

func TestPurgeRecords_Bounded(t *testing.T) {
	f := newTestFSM(t)
	f.refuse(PurgeRecords{At: t0}, ErrInvalid)
	many := make([]string, MaxPurgeIDs+1)
	for i := range many {
		many[i] = numbered("m", i)
	}
	f.refuse(PurgeRecords{MigrationIDs: many, At: t0}, ErrInvalid)
	f.must(PurgeRecords{MigrationIDs: many[:MaxPurgeIDs], At: t0})
}

func TestSettings_RetentionDefaultsAndValidation(t *testing.T) {
	d := Settings{}.WithDefaults().Retention
	if d.KeepFinished != 1000 || d.FinishedMaxAge() != 30*24*time.Hour || d.NodeReap() != 72*time.Hour {
		t.Fatalf("retention defaults %+v", d)
	}
	for _, bad := range []RetentionSettings{
		{KeepFinished: -1}, {KeepFinished: MaxKeepFinished + 1},
		{FinishedMaxAgeSeconds: 59}, {NodeReapSeconds: 1}, {NodeReapSeconds: 11 * 365 * 24 * 3600},
	} {
		s := Settings{Retention: bad}.WithDefaults()
		if err := s.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("retention %+v: %v, want ErrInvalid", bad, err)
		}
	}
	f := newTestFSM(t)
	f.refuse(SetSettings{Settings: Settings{Retention: RetentionSettings{NodeReapSeconds: 5}}, At: t0}, ErrInvalid)
	f.must(SetSettings{Settings: Settings{Retention: RetentionSettings{KeepFinished: 10}}, At: t0})
	if got := f.Settings().Retention; got.KeepFinished != 10 || got.NodeReapSeconds != 72*3600 {
		t.Fatalf("retention after a partial set %+v", got)
	}
}
