package api

import (
	"bytes"
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
	// TYPE and HELP lines, which Prometheus's own checks (promtool check
	// metrics) and its metadata API want; the flag is the process's, as
	// /metrics is.
	metrics.ExposeMetadata(true)
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
	// A counter, read from the FSM's own count (typeFixes gives its TYPE):
	// failed migrations in the last hour is an alert of its own.
	for _, st := range []fsm.MigrationState{fsm.MigrationCompleted, fsm.MigrationFailed, fsm.MigrationCancelled} {
		s.metrics.NewGauge(fmt.Sprintf(`novacron_migrations_ended_total{state=%q}`, st), func() float64 {
			return float64(s.state.MigrationsEnded()[st])
		})
	}
	s.metrics.NewGauge("novacron_event_streams", func() float64 {
		return float64(s.eventStreams.Load())
	})
	s.eventReadersDropped = s.metrics.NewCounter("novacron_event_readers_dropped_total")
	s.metrics.NewGauge("novacron_raft_applied_index", func() float64 {
		return float64(s.state.AppliedIndex())
	})
	s.metrics.NewGauge("novacron_raft_leader", func() float64 {
		if st := s.cluster.Status(); st.LeaderID != "" && st.LeaderID == st.LocalID {
			return 1
		}
		return 0
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
	var b bytes.Buffer
	metrics.WritePrometheus(&b, true)
	s.metrics.WritePrometheus(&b)
	_, _ = w.Write(withMetadata(b.Bytes()))
}

// withMetadata completes the library's metadata lines: it fills in the
// text of its empty "# HELP family" lines from metricHelp (the library has
// no way to give it) and corrects the TYPE of its families in typeFixes.
func withMetadata(text []byte) []byte {
	out := make([]byte, 0, len(text)+len(text)/8)
	for len(text) > 0 {
		var line []byte
		line, text, _ = bytes.Cut(text, []byte("\n"))
		if family, ok := bytes.CutPrefix(line, []byte("# HELP ")); ok && bytes.IndexByte(family, ' ') < 0 {
			if help := metricHelp(string(family)); help != "" {
				line = fmt.Appendf(nil, "# HELP %s %s", family, help)
			}
		} else if rest, ok := bytes.CutPrefix(line, []byte("# TYPE ")); ok {
			family, _, _ := bytes.Cut(rest, []byte(" "))
			if t, ok := typeFixes[string(family)]; ok {
				line = fmt.Appendf(nil, "# TYPE %s %s", family, t)
			}
		}
		out = append(out, line...)
		out = append(out, '\n')
	}
	return out
}

// typeFixes are the library's families whose TYPE Prometheus's conventions
// (promtool check metrics) contradict. The process_io_* figures are
// cumulative counts of /proc/self/io, which the library calls gauges. The
// go_*_count names end as only a histogram's or summary's series may, and
// are not ours to rename: they stay untyped, as every family was before
// /metrics carried TYPE lines.
var typeFixes = map[string]string{
	"process_io_read_bytes_total":            "counter",
	"process_io_written_bytes_total":         "counter",
	"process_io_read_syscalls_total":         "counter",
	"process_io_write_syscalls_total":        "counter",
	"process_io_storage_read_bytes_total":    "counter",
	"process_io_storage_written_bytes_total": "counter",
	"novacron_migrations_ended_total":        "counter",
	"go_cgo_calls_count":                     "untyped",
	"go_gc_forced_count":                     "untyped",
	"go_cpu_count":                           "untyped",
}

// familyHelp is the HELP text of every novacron_* family on /metrics,
// wherever it is defined (the per-VM series in sampler/prom.go, the Raft ones
// in cluster). A family missing here goes out with an empty HELP, which
// e2e/prometheus_test.go's promtool check reports; docs/MONITORING.md lists
// the same series for operators.
var familyHelp = map[string]string{
	"novacron_http_request_duration_seconds":                  "API request duration in seconds, by route pattern, method and status code.",
	"novacron_members":                                        "Gossip members this node sees, by status (alive, suspect, failed, left).",
	"novacron_postgres_export_lag_entries":                    "Raft entries the leader's PostgreSQL export is behind this node's state (0 on other nodes).",
	"novacron_postgres_export_leading":                        "1 while this node runs the leader's PostgreSQL export.",
	"novacron_postgres_export_connected":                      "1 when the last call of this node's PostgreSQL export succeeded.",
	"novacron_postgres_export_last_success_timestamp_seconds": "Unix time of this node's last successful write to PostgreSQL.",
	"novacron_migrations_active":                              "VM migrations under way, by state (pending, preparing, running).",
	"novacron_migrations_ended_total":                         "VM migrations this node saw end since it started, by final state (completed, failed, cancelled).",
	"novacron_event_streams":                                  "Event streams (GET /api/v1/events) open on this node.",
	"novacron_event_readers_dropped_total":                    "Event stream readers this node dropped because its frames waited too long to leave (they resume with ?after).",
	"novacron_raft_leader":                                    "1 on the node that leads the Raft cluster, 0 on the others.",
	"novacron_raft_applied_index":                             "Index of the last Raft log entry this node applied to its state.",
	"novacron_raft_apply_duration_seconds":                    "Duration in seconds of a write through Raft, from submit to applied on this node.",
	"novacron_raft_leader_changes_total":                      "Times this node gained or lost Raft leadership.",
	"novacron_vms":                                            "VMs in the cluster, by state.",
	"novacron_vm_cpu_seconds_total":                           "CPU time the VM used, in seconds: all its vCPUs and the hypervisor's threads for it.",
	"novacron_vm_vcpus":                                       "vCPUs of the VM.",
	"novacron_vm_memory_max_bytes":                            "Memory the VM may use, in bytes.",
	"novacron_vm_memory_used_bytes":                           "Memory the guest uses, in bytes, as its balloon driver reports it (the balloon size when it reports none).",
	"novacron_vm_balloon_bytes":                               "Current balloon size (memory given to the guest), in bytes.",
	"novacron_vm_disk_read_bytes_total":                       "Bytes the VM read from its disks.",
	"novacron_vm_disk_written_bytes_total":                    "Bytes the VM wrote to its disks.",
	"novacron_vm_disk_reads_total":                            "Read requests the VM made to its disks.",
	"novacron_vm_disk_writes_total":                           "Write requests the VM made to its disks.",
	"novacron_vm_network_receive_bytes_total":                 "Bytes the VM received on its network interfaces.",
	"novacron_vm_network_transmit_bytes_total":                "Bytes the VM sent on its network interfaces.",
	"novacron_vm_network_receive_packets_total":               "Packets the VM received on its network interfaces.",
	"novacron_vm_network_transmit_packets_total":              "Packets the VM sent on its network interfaces.",
}

// metricHelp is family's HELP text; the library's Go runtime and process
// families get a pointer to where they are described.
func metricHelp(family string) string {
	switch {
	case familyHelp[family] != "":
		return familyHelp[family]
	case strings.HasPrefix(family, "go_"):
		return "Go runtime metric of this agent (VictoriaMetrics/metrics, from runtime/metrics)."
	case strings.HasPrefix(family, "process_"):
		return "Process metric of this agent (VictoriaMetrics/metrics, from /proc/self)."
	}
	return ""
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
