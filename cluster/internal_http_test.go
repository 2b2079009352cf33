package cluster

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/errcode"
	"github.com/novacron/novacron/internal/testutil"
)

// postApply sends body to the leader's internal apply endpoint, as a node
// without TLS would, and returns the status and the decoded answer.
func postApply(t *testing.T, a *Agent, body []byte) (int, wireAnswer) {
	t.Helper()
	return postApplyAs(t, a, body, "")
}

// postApplyAs is postApply for the API token with ID caller ("" for none).
func postApplyAs(t *testing.T, a *Agent, body []byte, caller string) (int, wireAnswer) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/internal/v1/apply", bytes.NewReader(body))
	if caller != "" {
		req.Header.Set(callerHeader, caller)
	}
	rec := httptest.NewRecorder()
	a.InternalHandler().ServeHTTP(rec, req)
	var ans wireAnswer
	if err := json.NewDecoder(rec.Body).Decode(&ans); err != nil {
		t.Fatalf("answer HTTP %d unreadable: %v", rec.Code, err)
	}
	return rec.Code, ans
}

func mustEncode(t *testing.T, c fsm.Command) []byte {
	t.Helper()
	b, err := fsm.Encode(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The internal apply endpoint takes only what followers forward, and a batch
// only if every entry would apply: anything else is refused with 400 before
// Raft, and the leader goes on.
func TestServeApply_RefusesWhatFollowersNeverForward(t *testing.T) {
	a := startCore(t, 1, nil, nil)[0]
	testutil.WaitFor(t, 30*time.Second, "the node leads and initialises the cluster", func() bool {
		return a.IsLeader() && a.readyTerm.Load() == a.raft.CurrentTerm() && a.FSM().Cluster().ID != ""
	})
	before := a.FSM().Cluster()
	create := &fsm.CreateVM{ID: "vm-1", Spec: fsm.VMSpec{Name: "web-1", VCPUs: 1, MemoryMiB: 64, DiskGiB: 1}, At: time.Now().UTC()}
	takeOver := &fsm.InitCluster{ClusterID: "stolen", At: time.Now().UTC()}
	withInit, err := fsm.NewBatch(create, takeOver)
	if err != nil {
		t.Fatal(err)
	}
	good, _ := json.Marshal(create)
	cases := map[string][]byte{
		"InitCluster":               mustEncode(t, takeOver),
		"batch holding InitCluster": mustEncode(t, withInit),
		"batch entry of unknown type": mustEncode(t, &fsm.Batch{Entries: []fsm.BatchEntry{
			{Type: fsm.CmdCreateVM, Body: good}, {Type: 0x7e, Body: json.RawMessage(`{}`)}}}),
		"nested batch": mustEncode(t, &fsm.Batch{Entries: []fsm.BatchEntry{
			{Type: fsm.CmdBatch, Body: json.RawMessage(`{"entries":[{"t":126,"c":{}}]}`)}}}),
		"batch entry that does not decode": mustEncode(t, &fsm.Batch{Entries: []fsm.BatchEntry{
			{Type: fsm.CmdCreateVM, Body: json.RawMessage(`{"spec": 7}`)}}}),
		"unknown type": {0x7e, '{', '}'},
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			status, ans := postApply(t, a, body)
			if status != http.StatusBadRequest || ans.Error == nil || ans.Error.Code != errcode.MalformedCommand {
				t.Fatalf("HTTP %d %+v, want 400 %s", status, ans.Error, errcode.MalformedCommand)
			}
			t.Logf("refused: %s", ans.Error.Message)
		})
	}
	if got := a.FSM().Cluster(); got != before {
		t.Fatalf("cluster identity changed from %+v to %+v", before, got)
	}
	// The leader goes on, and a forwarded write of a forwardable type works.
	admin := addToken(t, a, "admin", time.Time{})
	status, ans := postApplyAs(t, a, mustEncode(t, create), admin)
	if status != http.StatusOK || ans.Error != nil || ans.Index == 0 {
		t.Fatalf("forwarded CreateVM: HTTP %d %+v", status, ans)
	}
	if _, err := a.FSM().VM("vm-1"); err != nil {
		t.Fatalf("forwarded CreateVM not applied: %v", err)
	}
}
