package fsm

import (
	"reflect"
	"testing"
	"time"
)

// An alert's life as the leader and a user write it: the evaluation
// raises and changes it, an acknowledgement holds against a stale
// evaluation until the condition ends, a resolved alert cannot be
// acknowledged; a built-in rule can be disabled, not deleted.
func TestAlerts_LifecycleAndAcknowledgement(t *testing.T) {
	f := newTestFSM(t)
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	f.refuse(&PutAlertRule{Rule: AlertRule{Name: "cpu", Kind: AlertRuleMetric, Severity: "loud", Object: "vm", Metric: "cpu_percent", Op: ">"}}, ErrInvalid)
	f.refuse(&PutAlertRule{Rule: AlertRule{Name: "cpu", Kind: AlertRuleMetric, Severity: SeverityWarning, Object: "vm", Metric: "cpu_percent", Op: ">", Threshold: 90, Clear: ptrTo(95.0)}}, ErrInvalid)
	f.refuse(&PutAlertRule{Rule: AlertRule{Name: "x", Kind: AlertRuleEvent, Severity: SeverityWarning, Event: "sunrise"}}, ErrInvalid)
	f.must(&PutAlertRule{Rule: AlertRule{Name: "cpu", Kind: AlertRuleMetric, Severity: SeverityWarning, Object: "vm", Metric: "cpu_percent", Op: ">", Threshold: 90, Clear: ptrTo(80.0), ForSeconds: 60}, At: t0})
	f.must(&PutAlertRule{Rule: AlertRule{Name: "host_failed", Kind: AlertRuleEvent, Severity: SeverityCritical, Event: "host_failed", BuiltIn: true, Disabled: true}, At: t0})
	f.refuse(&DeleteAlertRule{Name: "host_failed"}, ErrState)

	firing := Alert{ID: "cpu:vm:vm-1", Rule: "cpu", Severity: SeverityWarning, ObjectType: "vm", ObjectID: "vm-1", ObjectName: "web", Project: DefaultProject, State: AlertFiring, Value: 97, PendingSince: t0, FiredAt: t0}
	f.must(&UpdateAlerts{Upserts: []Alert{firing}, At: t0})
	f.must(&AckAlert{ID: firing.ID, By: "alice", At: t0.Add(time.Minute)})
	f.must(&UpdateAlerts{Upserts: []Alert{firing}, Notified: []AlertNotice{{ID: firing.ID, Target: "ops", State: AlertFiring}}, At: t0.Add(2 * time.Minute)})
	a, err := f.Alert(firing.ID)
	if err != nil || a.State != AlertAcknowledged || a.AckedBy != "alice" || a.Notified["ops"] != AlertFiring {
		t.Fatalf("after a stale firing evaluation: %+v, %v; want acknowledged by alice, ops notified", a, err)
	}
	resolved := firing
	resolved.State, resolved.ResolvedAt = AlertResolved, t0.Add(3*time.Minute)
	f.must(&UpdateAlerts{Upserts: []Alert{resolved}, At: t0.Add(3 * time.Minute)})
	f.refuse(&AckAlert{ID: firing.ID, By: "bob"}, ErrState)
	f.refuse(&AckAlert{ID: "nope", By: "bob"}, ErrNotFound)
	f.refuse(&UpdateAlerts{Upserts: []Alert{{ID: "x", Rule: "cpu", State: AlertAcknowledged}}}, ErrInvalid)

	// Deleting a rule takes its alerts.
	f.must(&DeleteAlertRule{Name: "cpu"})
	if _, err := f.Alert(firing.ID); err == nil {
		t.Fatal("the alert of a deleted rule stays")
	}
}

// Silences end by themselves: a full list makes room from the ended ones.
func TestAlerts_SilencesAndTargets(t *testing.T) {
	f := newTestFSM(t)
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	f.refuse(&CreateSilence{Silence: Silence{ID: "s0", StartsAt: t0, EndsAt: t0}}, ErrInvalid)
	for i := range MaxSilences {
		f.must(&CreateSilence{Silence: Silence{ID: numbered("s", i), StartsAt: t0, EndsAt: t0.Add(time.Hour)}, At: t0})
	}
	f.refuse(&CreateSilence{Silence: Silence{ID: "more", StartsAt: t0, EndsAt: t0.Add(time.Hour)}, At: t0}, ErrConflict)
	f.must(&CreateSilence{Silence: Silence{ID: "more", StartsAt: t0, EndsAt: t0.Add(3 * time.Hour)}, At: t0.Add(2 * time.Hour)})
	if n := len(f.Silences()); n != 1 {
		t.Fatalf("%d silences after the ended ones made room, want 1", n)
	}
	f.refuse(&PutAlertTarget{Target: AlertTarget{Name: "ops", Kind: "webhook", URL: "ftp://x"}}, ErrInvalid)
	f.refuse(&PutAlertTarget{Target: AlertTarget{Name: "mail", Kind: "email", To: []string{"not an address"}}}, ErrInvalid)
	f.must(&PutAlertTarget{Target: AlertTarget{Name: "ops", Kind: "webhook", URL: "https://hooks.example.com/n", Secret: "s3cret", CreatedAt: t0}})
	f.must(&PutAlertTarget{Target: AlertTarget{Name: "mail", Kind: "email", To: []string{"ops@example.com"}, CreatedAt: t0}})

	// Everything survives a snapshot.
	g := newTestFSM(t)
	if err := restoreBytes(g.FSM, snapshotBytes(t, f.FSM)); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g.AlertTargets(), f.AlertTargets()) || !reflect.DeepEqual(g.Silences(), f.Silences()) {
		t.Fatalf("restored targets %+v silences %+v", g.AlertTargets(), g.Silences())
	}
}

func ptrTo[T any](v T) *T { return &v }
