package api

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func TestMetrics_RequestDurationsAndGauges(t *testing.T) {
	e := newTestEnv(t)
	vm := e.createVM("web-1")
	e.do("GET", "/api/v1/vms/"+vm.ID, e.root, nil).expect(t, http.StatusOK, nil)
	e.do("GET", "/api/v1/vms/nope", e.root, nil).expect(t, http.StatusNotFound, nil)

	a := e.do("GET", "/metrics", "", nil).expect(t, http.StatusOK, nil)
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("Content-Type %q", ct)
	}
	body := string(a.body)
	want := []string{
		`novacron_http_request_duration_seconds_count{route="/api/v1/vms/:id",method="GET",code="200"}`,
		`novacron_http_request_duration_seconds_count{route="/api/v1/vms/:id",method="GET",code="404"}`,
		`novacron_http_request_duration_seconds_count{route="/api/v1/vms",method="POST",code="201"}`,
		`novacron_vms{state="pending"} 1`,
		`novacron_vms{state="running"} 0`,
		`novacron_migrations_active{state="running"} 0`,
		`novacron_members{status="alive"} 1`,
		`novacron_members{status="suspect"} 1`,
		`novacron_members{status="failed"} 0`,
		`novacron_raft_applied_index ` + strconv.FormatUint(e.fsm.AppliedIndex(), 10),
		`novacron_raft_leader 1`, // the test cluster's local node leads
		"# TYPE novacron_migrations_ended_total counter",
		`novacron_migrations_ended_total{state="failed"} 0`,
		`go_goroutines`,
	}
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("/metrics lacks %s", w)
		}
	}
	if strings.Contains(body, vm.ID) {
		t.Fatal("a raw VM ID became a metric label")
	}
}

func TestMetrics_ManyServersInOneProcess(t *testing.T) {
	// Each server owns its gauges; a second one must not panic on registration
	// nor show the first one's state.
	a := newTestEnv(t)
	a.createVM("web-1")
	b := newTestEnv(t)
	body := string(b.do("GET", "/metrics", "", nil).expect(t, http.StatusOK, nil).body)
	if !strings.Contains(body, `novacron_vms{state="pending"} 0`) {
		t.Fatalf("second server shows another server's VMs:\n%s", grep(body, "novacron_vms"))
	}
}

// grep returns the lines of s that contain substr.
func grep(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestMetrics_TokenRequiredWhenConfigured(t *testing.T) {
	e := newTestEnvWith(t, Config{NodeName: "node-1", MetricsToken: "scrape-secret-0123456789"}, nil)
	e.do("GET", "/metrics", "", nil).expectError(t, http.StatusUnauthorized, "unauthenticated", "--metrics-token-file")
	e.do("GET", "/metrics", "wrong-secret", nil).expectError(t, http.StatusUnauthorized, "unauthenticated", "metrics token")
	// An API token is not the metrics token.
	e.do("GET", "/metrics", e.root, nil).expectError(t, http.StatusUnauthorized, "unauthenticated", "metrics token")
	a := e.do("GET", "/metrics", "scrape-secret-0123456789", nil).expect(t, http.StatusOK, nil)
	if !strings.Contains(string(a.body), "novacron_raft_applied_index") {
		t.Fatalf("/metrics with the token lacks the gauges:\n%s", a.body)
	}
	// Other routes are unaffected: /healthz stays open.
	e.do("GET", "/healthz", "", nil).expect(t, http.StatusOK, nil)
}

func TestMetrics_OpenWithoutToken(t *testing.T) {
	e := newTestEnv(t)
	e.do("GET", "/metrics", "", nil).expect(t, http.StatusOK, nil)
}
