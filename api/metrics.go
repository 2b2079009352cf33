package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/latency"
)

// vmStates are the VM states exported as novacron_vms{state=...}, zero included,
// so a dashboard sees every series from the first scrape.
var vmStates = []fsm.VMState{fsm.VMPending, fsm.VMScheduled, fsm.VMRunning, fsm.VMStopped, fsm.VMPaused, fsm.VMError}

// memberStatuses are the gossip statuses exported as novacron_members{status=...}.
var memberStatuses = []string{"alive", "suspect", "failed", "left"}

// registerGauges adds this server's scrape-time gauges to its own set. They read
// the state when scraped, so they never go stale and need no updating loop.
func (s *Server) registerGauges() {
	for _, st := range vmStates {
		s.metrics.NewGauge(fmt.Sprintf(`novacron_vms{state=%q}`, st), func() float64 {
			return float64(s.state.VMCountsByState()[st])
		})
	}
	for _, status := range memberStatuses {
		s.metrics.NewGauge(fmt.Sprintf(`novacron_members{status=%q}`, status), func() float64 {
			n := 0
			for _, m := range s.cluster.Status().Members {
				if m.Status == status {
					n++
				}
			}
			return float64(n)
		})
	}
	// Migrations under way, by state (finished ones are in GET /api/v1/migrations).
	for _, st := range []fsm.MigrationState{fsm.MigrationPending, fsm.MigrationPreparing, fsm.MigrationRunning} {
		s.metrics.NewGauge(fmt.Sprintf(`novacron_migrations_active{state=%q}`, st), func() float64 {
			n := 0
			for _, m := range s.state.ActiveMigrations() {
				if m.State == st {
					n++
				}
			}
			return float64(n)
		})
	}
	s.metrics.NewGauge("novacron_raft_applied_index", func() float64 {
		return float64(s.state.AppliedIndex())
	})
}

// serveMetrics writes the process-wide metrics (request durations, the cluster's
// raft metrics, Go runtime and process) and then this server's gauges. With a
// metrics token configured it first asks for it (metricsAuthorized).
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if !s.metricsAuthorized(r) {
		s.writeError(w, r, errorf(authz.ErrUnauthenticated, "/metrics needs \"Authorization: Bearer <metrics token>\" (the agent's --metrics-token-file)"))
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set(IndexHeader, formatIndex(s.state.AppliedIndex()))
	metrics.WritePrometheus(w, true)
	s.metrics.WritePrometheus(w)
}

// metricsAuthorized reports whether r may read /metrics: always when no
// metrics token is configured, else when it carries "Bearer <token>". The
// comparison is of SHA-256 digests in constant time, so neither the token's
// content nor its length shows in the timing.
func (s *Server) metricsAuthorized(r *http.Request) bool {
	if s.cfg.MetricsToken == "" {
		return true
	}
	scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	a, b := sha256.Sum256([]byte(strings.TrimSpace(got))), sha256.Sum256([]byte(s.cfg.MetricsToken))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// knownMethods bounds the method label: anything else counts as "other", so a
// client cannot grow the metric set with made-up methods.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

// observeRequest records a request's duration by route pattern (never the raw
// path, which holds IDs), method and status code.
func observeRequest(route, method string, code int, start time.Time) {
	if !knownMethods[method] {
		method = "other"
	}
	name := fmt.Sprintf(`novacron_http_request_duration_seconds{route=%q,method=%q,code="%d"}`, route, method, code)
	latency.Histogram(name).UpdateDuration(start)
}
