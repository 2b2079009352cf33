package fsm

//msgp:tag json
//msgp:timezone utc

import (
	"strings"
	"time"
)

// The audit log (issue 14): every mutating request and every refused one
// (401, 403, 429), kept in the state as a bounded ring, newest last. The
// nodes write entries in batches (RecordAudit), after the requests they
// record are answered, so a write is never slowed by its own record; the
// ring's size is a setting (Retention.AuditEntries, 50,000 by default) and
// the oldest entries give way. Each entry gets a sequence number from the
// state, so every node numbers them alike and a reader pages by it.

// MaxAuditBatch bounds the entries one RecordAudit carries.
const MaxAuditBatch = 1000

// Bounds of an entry's text fields, so that a request cannot make its own
// record large (a long URL, a long user name refused at login).
const (
	maxAuditField   = 256
	maxAuditMessage = 512
)

// AuditEntry is one request on record.
type AuditEntry struct {
	// Seq numbers the entries in the order the cluster recorded them.
	Seq uint64    `json:"seq"`
	At  time.Time `json:"at"`
	// Actor is the user behind the request ("" when it never authenticated:
	// a wrong token, a failed login names the user it tried in Object).
	Actor string `json:"actor,omitempty"`
	// Via is how: "key NAME", "session", or "node" for a node's own write.
	Via string `json:"via,omitempty"`
	// Project is the project the request acted in, when it acted in one.
	Project string `json:"project,omitempty"`
	// Action is the method and route ("POST /api/v1/vms/:id/:action").
	Action string `json:"action"`
	// Object is what the route named (a VM's ID or name, a user's name).
	Object string `json:"object,omitempty"`
	// Source is the client's address; Node the node that served it.
	Source string `json:"source,omitempty"`
	Node   string `json:"node,omitempty"`
	// Status is the HTTP status answered; Index the Raft index of the write
	// the request made (0 when it made none).
	Status  int    `json:"status"`
	Index   uint64 `json:"index,omitempty"`
	Message string `json:"message,omitempty"`
}

// RecordAudit appends entries to the audit log.
type RecordAudit struct {
	Entries []AuditEntry `json:"entries,omitempty"`
}

func (RecordAudit) Type() CommandType          { return CmdRecordAudit }
func (c RecordAudit) target() (string, string) { return "audit", "" }

func init() { register(CmdRecordAudit, "RecordAudit", applyRecordAudit) }

// clip cuts s to n bytes.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func applyRecordAudit(s *state, c *RecordAudit, _ uint64) error {
	if len(c.Entries) > MaxAuditBatch {
		return errorf(ErrInvalid, "%d audit entries in one batch, at most %d", len(c.Entries), MaxAuditBatch)
	}
	for _, e := range c.Entries {
		s.auditSeq++
		e.Seq = s.auditSeq
		e.Actor, e.Via, e.Project = clip(e.Actor, maxAuditField), clip(e.Via, maxAuditField), clip(e.Project, maxAuditField)
		e.Action, e.Object = clip(e.Action, maxAuditField), clip(e.Object, maxAuditField)
		e.Source, e.Node, e.Message = clip(e.Source, maxAuditField), clip(e.Node, maxAuditField), clip(e.Message, maxAuditMessage)
		s.audit.push(e, s.settings.Retention.AuditEntries)
	}
	return nil
}

// auditRing holds the newest entries, at most its limit, oldest first from
// start. It is replaced entry by entry, never changed in place, so a
// snapshot's copy stays whole.
type auditRing struct {
	buf   []AuditEntry
	start int
}

func (r *auditRing) len() int { return len(r.buf) }

// at returns the i-th oldest entry.
func (r *auditRing) at(i int) AuditEntry { return r.buf[(r.start+i)%len(r.buf)] }

// push appends e, dropping the oldest past limit.
func (r *auditRing) push(e AuditEntry, limit int) {
	if limit < 1 {
		limit = 1
	}
	if len(r.buf) > limit {
		r.trim(limit)
	}
	if len(r.buf) < limit {
		if r.start != 0 {
			r.trim(len(r.buf))
		}
		r.buf = append(r.buf, e)
		return
	}
	r.buf[r.start] = e
	r.start = (r.start + 1) % len(r.buf)
}

// trim keeps the newest n entries, in order from index 0.
func (r *auditRing) trim(n int) {
	out := make([]AuditEntry, 0, n)
	for i := max(r.len()-n, 0); i < r.len(); i++ {
		out = append(out, r.at(i))
	}
	r.buf, r.start = out, 0
}

// entries returns the entries, oldest first (a copy).
func (r *auditRing) entries() []AuditEntry {
	out := make([]AuditEntry, 0, r.len())
	for i := 0; i < r.len(); i++ {
		out = append(out, r.at(i))
	}
	return out
}

// AuditQuery selects audit entries; empty fields match all.
type AuditQuery struct {
	Project, Actor, Action string
	Since                  time.Time
	// Before pages back: only entries with a smaller Seq (0: from the newest).
	Before uint64
	// Keep, when set, drops the entries it refuses (what a caller may read).
	Keep func(*AuditEntry) bool
	// Max bounds the entries returned.
	Max int
}

// Audit returns the newest entries that match q, newest first.
func (f *FSM) Audit(q AuditQuery) []AuditEntry {
	f.mu.RLock()
	defer f.mu.RUnlock()
	r := &f.s.audit
	var out []AuditEntry
	for i := r.len() - 1; i >= 0 && len(out) < q.Max; i-- {
		e := r.at(i)
		switch {
		case q.Before != 0 && e.Seq >= q.Before,
			q.Project != "" && e.Project != q.Project,
			q.Actor != "" && e.Actor != q.Actor,
			q.Action != "" && !strings.Contains(e.Action, q.Action),
			q.Keep != nil && !q.Keep(&e):
			continue
		}
		if !q.Since.IsZero() && e.At.Before(q.Since) {
			break
		}
		out = append(out, e)
	}
	return out
}
