package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
)

// The alerts' routes: each caller lists the alerts it may read; an
// acknowledgement is recorded with its user; the built-in rules are listed
// and can be overridden, not deleted; a target's secret never shows; a
// silence marks what it mutes.
func TestAlerts_Routes(t *testing.T) {
	w := newTenantWorld(t, Config{})
	var all []client.Alert
	w.do("GET", "/api/v1/alerts", w.root, nil).expect(t, http.StatusOK, &all)
	if len(all) != 1 || all[0].ID != w.alertB || all[0].State != "firing" {
		t.Fatalf("root's alerts %+v, want b's", all)
	}
	var mine []client.Alert
	w.do("GET", "/api/v1/alerts", w.sessions["u-viewer"], nil).expect(t, http.StatusOK, &mine)
	if len(mine) != 0 {
		t.Fatalf("a viewer of a sees %+v", mine)
	}
	w.do("GET", "/api/v1/alerts?state=burning", w.root, nil).expectError(t, http.StatusBadRequest, client.CodeInvalid, "state")

	// The alert is in the event stream, for those who may read it.
	for _, f := range w.frames("/api/v1/events?after=0&follow=false&limit=10000&type=alert", w.root) {
		for _, ev := range f.Events {
			if ev.Type != "alert" || ev.ID != w.alertB || ev.Project != "b" {
				t.Fatalf("alert event %+v", ev)
			}
		}
	}
	if !hasEvent(w.frames("/api/v1/events?after=0&follow=false&limit=10000&type=alert", w.root), w.alertB) {
		t.Fatal("the alert is not in the event stream")
	}
	if hasEvent(w.frames("/api/v1/events?after=0&follow=false&limit=10000", w.sessions["u-viewer"]), w.alertB) {
		t.Fatal("a viewer of a sees b's alert in the event stream")
	}

	var acked client.Alert
	w.do("POST", "/api/v1/alerts/"+w.alertB+"/ack", w.root, nil).expect(t, http.StatusOK, &acked)
	if acked.State != "acknowledged" || acked.AckedBy == "" {
		t.Fatalf("acknowledged alert %+v", acked)
	}

	var rules []client.AlertRule
	w.do("GET", "/api/v1/alert-rules", w.root, nil).expect(t, http.StatusOK, &rules)
	var names []string
	for _, r := range rules {
		names = append(names, r.Name)
	}
	if !strings.Contains(strings.Join(names, ","), "host_failed") || !rules[0].BuiltIn {
		t.Fatalf("rules %v: want the built-in ones", names)
	}
	var over client.AlertRule
	w.do("POST", "/api/v1/alert-rules", w.root, client.AlertRule{Name: "vm_cpu_high", Kind: "metric", Object: "vm", Metric: "cpu_percent",
		Op: ">", Threshold: 75, ForSeconds: 60, Severity: "critical"}).expect(t, http.StatusOK, &over)
	if !over.BuiltIn || over.Threshold != 75 {
		t.Fatalf("override %+v", over)
	}
	w.do("DELETE", "/api/v1/alert-rules/vm_cpu_high", w.root, nil).expectError(t, http.StatusConflict, client.CodeInvalidState, "disable it")
	w.do("POST", "/api/v1/alert-rules", w.root, client.AlertRule{Name: "bad", Kind: "metric", Object: "vm", Metric: "cpu_percent", Op: "=", Severity: "warning"}).
		expectError(t, http.StatusBadRequest, client.CodeInvalid, "op")

	var target client.AlertTarget
	w.do("POST", "/api/v1/alert-targets", w.root, client.AlertTarget{Name: "ops", Kind: "webhook", URL: "https://hooks.example.com/n", Secret: "s3cret-value"}).
		expect(t, http.StatusCreated, &target)
	a := w.do("GET", "/api/v1/alert-targets", w.root, nil)
	if a.status != http.StatusOK || strings.Contains(string(a.body), "s3cret-value") || !strings.Contains(string(a.body), `"has_secret":true`) {
		t.Fatalf("targets: %d %s", a.status, a.body)
	}

	var si client.Silence
	w.do("POST", "/api/v1/silences", w.root, client.Silence{Project: "b", Duration: "1h", Comment: "upgrading b"}).expect(t, http.StatusCreated, &si)
	if !si.EndsAt.After(time.Now().Add(59 * time.Minute)) {
		t.Fatalf("silence %+v", si)
	}
	var got client.Alert
	w.do("GET", "/api/v1/alerts/"+w.alertB, w.root, nil).expect(t, http.StatusOK, &got)
	if !got.Silenced {
		t.Fatalf("alert %+v under a silence of its project, want silenced", got)
	}
	w.do("POST", "/api/v1/silences", w.root, client.Silence{Duration: "forever"}).expectError(t, http.StatusBadRequest, client.CodeInvalid, "duration")
	w.do("DELETE", "/api/v1/silences/"+si.ID, w.root, nil).expect(t, http.StatusOK, nil)
}
