package fsm

import (
	"maps"
	"strings"
	"testing"
)

// An operator's labels sit over the host's own, survive the host's
// re-registrations, and give the host's value back when removed.
func TestSetNodeLabels_OverTheHostsOwn(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 4096, 4) // the host publishes rack=r1
	f.must(SetNodeLabels{ID: "n1", Set: map[string]string{"region": "eu", "rack": "r9"}})
	n := f.node("n1")
	if want := map[string]string{"region": "eu", "rack": "r9"}; !maps.Equal(n.Labels, want) || !maps.Equal(n.SetLabels, want) {
		t.Fatalf("labels %v, set %v; want %v for both", n.Labels, n.SetLabels, want)
	}

	// The agent restarts with other labels of its own: the operator's stay.
	host := testNode("n1", "node-1", 4096, 4)
	host.Labels = map[string]string{"rack": "r2", "gpu": "a100"}
	f.must(RegisterNode{Node: host, At: t0})
	n = f.node("n1")
	if want := map[string]string{"region": "eu", "rack": "r9", "gpu": "a100"}; !maps.Equal(n.Labels, want) {
		t.Fatalf("after the host re-registered: labels %v, want %v", n.Labels, want)
	}
	if want := map[string]string{"rack": "r2", "gpu": "a100"}; !maps.Equal(n.HostLabels, want) {
		t.Fatalf("host labels %v, want %v", n.HostLabels, want)
	}

	// Removing the override gives the host's value back.
	f.must(SetNodeLabels{ID: "n1", Unset: []string{"rack"}})
	if got := f.node("n1").Labels["rack"]; got != "r2" {
		t.Fatalf("rack after unset = %q, want the host's r2", got)
	}
	f.must(SetNodeLabels{ID: "n1", Unset: []string{"region"}})
	n = f.node("n1")
	if _, ok := n.Labels["region"]; ok || n.SetLabels != nil {
		t.Fatalf("after removing every override: labels %v, set %v", n.Labels, n.SetLabels)
	}
}

func TestSetNodeLabels_RefusesWhatItCannotDo(t *testing.T) {
	f := newTestFSM(t)
	f.addNode("n1", "node-1", 4096, 4)
	for _, c := range []struct {
		cmd  SetNodeLabels
		kind error
		says string
	}{
		{SetNodeLabels{ID: "nope", Set: map[string]string{"a": "b"}}, ErrNotFound, `node "nope" not found`},
		{SetNodeLabels{ID: "n1"}, ErrInvalid, "no label to set or unset"},
		{SetNodeLabels{ID: "n1", Unset: []string{"rack"}}, ErrInvalid, "comes from its agent"},
		{SetNodeLabels{ID: "n1", Unset: []string{"zone"}}, ErrNotFound, `has no label "zone"`},
		{SetNodeLabels{ID: "n1", Set: map[string]string{"bad key!": "x"}}, ErrInvalid, "labels key"},
		{SetNodeLabels{ID: "n1", Set: map[string]string{"a": strings.Repeat("v", MaxLabelValueLen+1)}}, ErrInvalid, "longer than"},
		{SetNodeLabels{ID: "n1", Set: map[string]string{"a": "1"}, Unset: []string{"a"}}, ErrInvalid, "both set and unset"},
	} {
		err := f.refuse(c.cmd, c.kind)
		if !strings.Contains(err.Error(), c.says) {
			t.Errorf("%+v: %v, want it to say %q", c.cmd, err, c.says)
		}
	}
	many := map[string]string{}
	for i := range MaxLabels {
		many[numbered("k", i)] = "v"
	}
	f.must(SetNodeLabels{ID: "n1", Set: many})
	if err := f.refuse(SetNodeLabels{ID: "n1", Set: map[string]string{"one-more": "v"}}, ErrInvalid); !strings.Contains(err.Error(), "at most") {
		t.Errorf("the 65th label: %v", err)
	}
}
