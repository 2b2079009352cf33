package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/cluster"
	"github.com/novacron/novacron/fsm"
)

// The audit log (issue 14). Every request that changes something, and every
// one refused with 401, 403 or 429, is recorded once answered: who (the
// user, and through which key or session), in which project, what (method
// and route, the object named), from where, the status and the Raft index
// of the write. This node collects its entries and writes them in batches
// (fsm.RecordAudit) as its own writes, so a request never waits for its
// record and a burst of requests costs one Raft entry per batch. Past
// AuditQueue entries waiting (a flood of refused requests), new ones are
// counted and the count is recorded instead.

// auditLinger is how long the first entry of a batch waits for others: a
// busy node writes its audit in a Raft entry or so per linger, not one per
// request (at 2,500 writes/s, about 250 entries a batch).
const auditLinger = 100 * time.Millisecond

// auditor holds this node's entries until they are written.
type auditor struct {
	mu       sync.Mutex
	pending  []fsm.AuditEntry
	dropped  int
	flushing bool
}

// auditRequest records r once answered with status, if it changed
// something or was refused.
func (s *Server) auditRequest(r *http.Request, info *reqInfo, status int, index string) {
	mutating := r.Method != http.MethodGet && r.Method != http.MethodHead
	refused := status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusTooManyRequests
	if !mutating && !refused && !info.audited {
		return
	}
	e := fsm.AuditEntry{At: time.Now().UTC(), Actor: info.actor, Via: info.via, Project: info.project,
		Action: r.Method + " " + info.route, Object: info.object, Source: sourceAddr(r), Node: s.cfg.NodeName,
		Status: status, Message: info.message}
	if status < 300 {
		e.Index, _ = strconv.ParseUint(index, 10, 64)
	}
	if info.verb != "" {
		e.Action = r.Method + " " + strings.Replace(info.route, ":action", info.verb, 1)
	}
	if info.route == "unmatched" {
		e.Action = r.Method + " " + r.URL.Path
	}
	s.audit(e)
}

// audit queues one entry and starts a writer if none runs.
func (s *Server) audit(e fsm.AuditEntry) {
	if s.cfg.AuditQueue < 0 {
		return
	}
	a := &s.auditor
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.pending) >= s.cfg.AuditQueue {
		a.dropped++
		return
	}
	a.pending = append(a.pending, e)
	if !a.flushing {
		a.flushing = true
		go s.flushAudit()
	}
}

// flushAudit writes the queued entries, a batch at a time, until none is
// left. A batch the cluster refuses (no leader for a while) is retried
// after a pause; entries are never silently lost while the queue has room.
func (s *Server) flushAudit() {
	a := &s.auditor
	for {
		time.Sleep(auditLinger)
		a.mu.Lock()
		n := min(len(a.pending), fsm.MaxAuditBatch)
		batch := append([]fsm.AuditEntry(nil), a.pending[:n]...)
		if a.dropped > 0 && n < fsm.MaxAuditBatch {
			batch = append(batch, fsm.AuditEntry{At: time.Now().UTC(), Action: "audit overflow", Node: s.cfg.NodeName,
				Message: strconv.Itoa(a.dropped) + " requests were not recorded: the audit queue was full"})
			a.dropped = 0
		}
		if len(batch) == 0 {
			a.flushing = false
			a.mu.Unlock()
			return
		}
		a.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := s.cluster.Apply(cluster.WithCaller(ctx, ""), &fsm.RecordAudit{Entries: batch})
		cancel()
		if err != nil {
			s.log.Warn("recording the audit log; retrying", "entries", len(batch), "error", err)
			time.Sleep(time.Second)
			continue
		}
		a.mu.Lock()
		a.pending = a.pending[n:]
		a.mu.Unlock()
	}
}

// maxAuditPage bounds the entries one GET /api/v1/audit answers.
const maxAuditPage = 1000

// listAudit answers GET /api/v1/audit: the newest entries first, filtered by
// ?project=, ?actor=, ?action= (a part of "METHOD /route"), ?since= (a
// duration such as 1h, or an RFC 3339 time), ?limit= (100 by default) and
// ?before=SEQ (the next page: the seq of the last entry of this one). A
// cluster role with audit:read sees every entry; a project role with it
// (project-admin) the entries of its projects.
func (s *Server) listAudit(r *http.Request, _ httprouter.Params) (any, error) {
	pr := caller(r.Context())
	q := r.URL.Query()
	query := fsm.AuditQuery{Project: q.Get("project"), Actor: q.Get("actor"), Action: q.Get("action"), Max: 100}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxAuditPage {
			return nil, invalidf("query parameter limit: %q is not a number from 1 to %d", v, maxAuditPage)
		}
		query.Max = n
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n == 0 {
			return nil, invalidf("query parameter before: %q is not an entry's seq", v)
		}
		query.Before = n
	}
	if v := q.Get("since"); v != "" {
		since, err := parseSince(v, time.Now())
		if err != nil {
			return nil, err
		}
		query.Since = since
	}
	readAudit := authz.Read("audit")
	if !pr.Allowed("", readAudit) {
		projects, _ := pr.Projects(readAudit)
		if len(projects) == 0 {
			return nil, forbidden(pr, query.Project, readAudit)
		}
		query.Keep = func(e *fsm.AuditEntry) bool { return e.Project != "" && pr.Allowed(e.Project, readAudit) }
	}
	entries := s.state.Audit(query)
	out := make([]client.AuditEntry, 0, len(entries))
	for _, e := range entries {
		out = append(out, client.AuditEntry(e))
	}
	return out, nil
}

// parseSince reads ?since=: a duration back from now, or a time.
func parseSince(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Time{}, invalidf("query parameter since: %q is neither a duration such as 1h nor an RFC 3339 time", v)
}
