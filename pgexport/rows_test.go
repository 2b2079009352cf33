package pgexport

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/eventlog"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/metricstore"
	"github.com/novacron/novacron/sampler"
	"github.com/novacron/novacron/storage/postgres"
)

// TestRows_HaveNoSecret checks the row types the exporter fills: none has a
// field that could hold a hash or a password, and a VM's user data leaves
// only its size behind, in the configuration and in the record alike.
func TestRows_HaveNoSecret(t *testing.T) {
	for _, v := range []any{postgres.UserRow{}, postgres.APIKeyRow{}, postgres.VMRow{}, postgres.ProjectRow{}, postgres.NodeRow{}} {
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			name := strings.ToLower(typ.Field(i).Name)
			if strings.Contains(name, "hash") || strings.Contains(name, "password") || strings.Contains(name, "secret") {
				t.Errorf("%s.%s", typ.Name(), typ.Field(i).Name)
			}
		}
	}
	vm := fsm.VM{ID: "v", Spec: fsm.VMSpec{Name: "web", CloudInit: &fsm.CloudInit{Hostname: "web", UserData: secretUserData, SSHKeys: []string{"ssh-ed25519 AAAA"}}}}
	row := vmRow(vm, 7, t0)
	for what, b := range map[string][]byte{"config": row.Config, "data": row.Data} {
		if strings.Contains(string(b), "hunter2") || !strings.Contains(string(b), "redacted") || !strings.Contains(string(b), "ssh-ed25519") {
			t.Errorf("%s: %s", what, b)
		}
	}
	if vm.Spec.CloudInit.UserData != secretUserData {
		t.Error("vmRow changed the caller's VM")
	}
	if row.Index != 7 || !row.UpdatedAt.Equal(t0) {
		t.Errorf("index %d, updated %s: want the read index and the export time for a record without them", row.Index, row.UpdatedAt)
	}
}

// TestRows_AreStorable checks what PostgreSQL refuses in text and jsonb:
// NUL and invalid UTF-8 are replaced, the rest kept.
func TestRows_AreStorable(t *testing.T) {
	if got := clean("a\x00b\xffc"); got != "a\uFFFDb\uFFFDc" {
		t.Errorf("clean = %q", got)
	}
	if got := clean("plain ünïcode"); got != "plain ünïcode" {
		t.Errorf("clean changed a valid string: %q", got)
	}
	b := jsonOf(eventlog.Event{Type: "audit", Name: "x\x00y"})
	if strings.Contains(string(b), `\u0000`) || !json.Valid(b) {
		t.Errorf("jsonOf = %s", b)
	}
	r := auditRow(fsm.AuditEntry{Seq: 3}, t0)
	if r.Action == "" || !r.Time.Equal(t0) {
		t.Errorf("an audit entry without time or action: %+v", r)
	}
}

// TestMetricColumns_MatchSampler checks the mapping of the history's fields
// to the metric tables' columns against the sampler's field lists: every
// field maps to a column or is known not to, and every column is filled
// by exactly one field.
func TestMetricColumns_MatchSampler(t *testing.T) {
	checkColumns(t, "vm", sampler.VMFields, vmColumns, vmFieldsNotExported)
	checkColumns(t, "node", sampler.NodeFields, nodeColumns, nil)
}

func checkColumns[M any](t *testing.T, what string, fields []string, cols map[string]func(*M) *float64, skipped map[string]bool) {
	t.Helper()
	var m M
	targets := map[*float64]string{}
	for _, f := range fields {
		col, ok := cols[f]
		switch {
		case ok && skipped[f]:
			t.Errorf("%s field %s is both exported and not", what, f)
		case ok:
			p := col(&m)
			if other, dup := targets[p]; dup {
				t.Errorf("%s fields %s and %s fill the same column", what, other, f)
			}
			targets[p] = f
		case !skipped[f]:
			t.Errorf("%s field %s has no column and is not listed as not exported", what, f)
		}
	}
	v := reflect.ValueOf(&m).Elem()
	for i := range v.NumField() {
		if _, ok := targets[v.Field(i).Addr().Interface().(*float64)]; !ok {
			t.Errorf("%s column %s is filled by no field of the sampler's", what, v.Type().Field(i).Name)
		}
	}
}

// TestToRows_SkipsEmptyPoints checks a point with nothing recorded gives
// no row, and a field the series lacks is NULL (NaN), not 0.
func TestToRows_SkipsEmptyPoints(t *testing.T) {
	nan := math.NaN()
	at := t0
	res := metricstoreResult([]string{"cpu_percent", "cpu_cores"}, []time.Time{at, at.Add(10 * time.Second)},
		[][]float64{{nan, nan}, {5, 1}})
	rows := vmRows(res, "c", "v", "n")
	if len(rows) != 1 || rows[0].CPUPercent != 5 || !math.IsNaN(rows[0].MemUsedBytes) || !rows[0].Time.Equal(at.Add(10*time.Second)) {
		t.Errorf("rows %+v", rows)
	}
}

// TestLeader_Take checks how frames are cut into transactions: about Batch
// events each, and the high water mark past the entries without events
// once every frame is taken.
func TestLeader_Take(t *testing.T) {
	l := NewLeader(LeaderConfig{Batch: 4})
	f := func(index uint64, events int) eventlog.Frame {
		return eventlog.Frame{Index: index, Events: make([]eventlog.Event, events)}
	}
	for _, tc := range []struct {
		name      string
		frames    []eventlog.Frame
		last, hw  uint64
		n         int
		upTo      uint64
		wantMoved bool
	}{
		{"nothing new", nil, 10, 10, 0, 10, false},
		{"only entries without events", nil, 12, 10, 0, 12, true},
		{"all frames, then quiet entries", []eventlog.Frame{f(11, 1), f(12, 1)}, 15, 10, 2, 15, true},
		{"cut at the batch's events", []eventlog.Frame{f(11, 3), f(12, 3), f(13, 1)}, 15, 10, 2, 12, true},
		{"a frame larger than the batch", []eventlog.Frame{f(11, 9), f(12, 1)}, 12, 10, 1, 11, true},
		{"a full read: more may follow", []eventlog.Frame{f(11, 1), f(12, 1), f(13, 1), f(14, 1)}, 20, 10, 4, 14, true},
		{"the FSM behind the mark", nil, 5, 10, 0, 10, false},
	} {
		n, upTo := l.take(tc.frames, tc.last, tc.hw)
		if n != tc.n || upTo != tc.upTo || (upTo > tc.hw) != tc.wantMoved {
			t.Errorf("%s: took %d up to %d, want %d up to %d", tc.name, n, upTo, tc.n, tc.upTo)
		}
	}
}

// metricstoreResult is a Result of 10 s points with the averages avg.
func metricstoreResult(fields []string, at []time.Time, avg [][]float64) metricstore.Result {
	r := metricstore.Result{Fields: fields, Step: 10 * time.Second}
	for i := range at {
		r.Points = append(r.Points, metricstore.Point{At: at[i], Avg: avg[i], Max: avg[i]})
	}
	return r
}
