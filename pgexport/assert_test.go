package pgexport

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/novacron/novacron/eventlog"
	"github.com/novacron/novacron/fsm"
)

// The checks of what the exporter wrote against the FSM and the journal.

// row is one object row as the checks compare it.
type row struct {
	fields  string
	removed bool
}

// rowsOf reads table's rows of the test cluster by key: cols, joined, and
// whether gone is set.
func rowsOf(t *testing.T, pool *pgxpool.Pool, table, key, cols, gone string) map[string]row {
	t.Helper()
	q := fmt.Sprintf("SELECT %s, concat_ws('|', %s), %s FROM %s WHERE cluster_id = $1", key, cols, gone+" IS NOT NULL", table)
	if gone == "" {
		q = fmt.Sprintf("SELECT %s, concat_ws('|', %s), false FROM %s WHERE cluster_id = $1", key, cols, table)
	}
	rows, err := pool.Query(ctxT(t), q, testClusterID)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	out := map[string]row{}
	for rows.Next() {
		var (
			k string
			r row
		)
		if err := rows.Scan(&k, &r.fields, &r.removed); err != nil {
			t.Fatal(err)
		}
		out[k] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// assertTable checks that table holds want (key → fields) as live rows,
// and that every other row of it is marked removed.
func assertTable(t *testing.T, pool *pgxpool.Pool, table, key, cols, gone string, want map[string]string) {
	t.Helper()
	got := rowsOf(t, pool, table, key, cols, gone)
	for k, fields := range want {
		r, ok := got[k]
		switch {
		case !ok:
			t.Errorf("%s: %s missing", table, k)
		case r.removed:
			t.Errorf("%s: %s marked removed, but the FSM has it", table, k)
		case r.fields != fields:
			t.Errorf("%s: %s is %q, the FSM has %q", table, k, r.fields, fields)
		}
	}
	for k, r := range got {
		if _, ok := want[k]; !ok && !r.removed && gone != "" {
			t.Errorf("%s: %s is live, but the FSM does not have it", table, k)
		}
	}
}

// assertMatches checks that every object table matches f.
func assertMatches(t *testing.T, pool *pgxpool.Pool, f *fsm.FSM) {
	t.Helper()
	vms := map[string]string{}
	for _, vm := range f.VMs() {
		vms[vm.ID] = strings.Join([]string{vm.Project, vm.Spec.Name, vm.Node, string(vm.State), fmt.Sprint(vm.Spec.VCPUs)}, "|")
	}
	assertTable(t, pool, "vms", "id", "project, name, node_id, state, vcpus", "deleted_at", vms)
	nodes := map[string]string{}
	for _, n := range f.Nodes() {
		nodes[n.ID] = n.Name + "|" + string(n.Status)
	}
	assertTable(t, pool, "nodes", "id", "name, status", "deleted_at", nodes)
	projects := map[string]string{}
	for _, p := range f.Projects() {
		projects[p.Name] = p.Description
	}
	assertTable(t, pool, "projects", "name", "description", "deleted_at", projects)
	users := map[string]string{}
	for _, u := range f.Users() {
		users[u.Name] = u.Role
	}
	assertTable(t, pool, "users", "name", "role", "deleted_at", users)
	keys := map[string]string{}
	for _, k := range f.Tokens() {
		keys[k.ID] = k.Name + "|" + k.User
	}
	assertTable(t, pool, "api_keys", "id", "name, user_name", "revoked_at", keys)
	volumes := map[string]string{}
	for _, v := range f.Volumes() {
		volumes[v.ID] = v.Project + "|" + v.Name + "|" + fmt.Sprint(v.SizeGiB)
	}
	assertTable(t, pool, "volumes", "id", "project, name, size_gib", "deleted_at", volumes)

	audit := f.Audit(fsm.AuditQuery{Max: fsm.MaxAuditEntries})
	var n int
	if err := pool.QueryRow(ctxT(t), "SELECT count(*) FROM audit_log WHERE cluster_id = $1", testClusterID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(audit) {
		t.Errorf("audit_log holds %d entries, the FSM %d", n, len(audit))
	}
}

// assertEvents checks that the events table holds exactly the events of
// j's frames from after (every one once, none missing, none else), apart
// from gap rows.
func assertEvents(t *testing.T, pool *pgxpool.Pool, j *eventlog.Journal, after uint64) {
	t.Helper()
	frames, gap, _, _ := j.Frames(after, 1<<30)
	if gap != nil {
		t.Fatalf("the test's journal lost frames after %d: %+v", after, gap)
	}
	want := map[[2]uint64]string{}
	for _, f := range frames {
		for i, ev := range f.Events {
			want[[2]uint64{f.Index, uint64(i)}] = ev.Type + "/" + ev.Action + "/" + ev.ID
		}
	}
	rows, err := pool.Query(ctxT(t), `SELECT raft_index, seq, type || '/' || action || '/' || object_id FROM events
		WHERE cluster_id = $1 AND raft_index > $2 AND type <> 'gap'`, testClusterID, int64(after))
	if err != nil {
		t.Fatal(err)
	}
	got := map[[2]uint64]string{}
	for rows.Next() {
		var (
			index int64
			seq   int
			s     string
		)
		if err := rows.Scan(&index, &seq, &s); err != nil {
			t.Fatal(err)
		}
		got[[2]uint64{uint64(index), uint64(seq)}] = s
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("event %d.%d (%s) missing", k[0], k[1], w)
		} else if g != w {
			t.Errorf("event %d.%d is %s, want %s", k[0], k[1], g, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("event %d.%d (%s) is not in the journal", k[0], k[1], g)
		}
	}
	if len(want) == 0 {
		t.Error("the journal holds no events: the test checks nothing")
	}
}

// assertNoSecret checks that no row of any table holds a secret of the
// workload, nor a column named for one.
func assertNoSecret(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	rows, err := pool.Query(ctxT(t), `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'`)
	if err != nil {
		t.Fatal(err)
	}
	tables := map[string]bool{}
	for rows.Next() {
		var table, col string
		if err := rows.Scan(&table, &col); err != nil {
			t.Fatal(err)
		}
		tables[table] = true
		if strings.Contains(col, "hash") || strings.Contains(col, "password") || strings.Contains(col, "secret") {
			t.Errorf("column %s.%s", table, col)
		}
	}
	rows.Close()
	secrets := []string{secretPassword, secretToken, fsm.HashSecret(secretToken + "p0"), "hunter2"}
	for table := range tables {
		var text string
		q := fmt.Sprintf("SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM %s t", pgx.Identifier{table}.Sanitize())
		if err := pool.QueryRow(ctxT(t), q).Scan(&text); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("table %s holds the secret %q", table, s)
			}
		}
	}
}
