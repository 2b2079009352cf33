package cluster

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/novacron/novacron/fsm"
)

// The leader logs a member's refused URIs once per reason, naming the node,
// the URI and the rule, and says so when they are accepted again.
func TestCheckPeerURIs_LogsEachRefusalOnce(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	a := &Agent{}
	node := func(uri string) fsm.Node {
		return fsm.Node{ID: "n2", Name: "node-2", APIAddr: "10.0.0.2:8090", Hypervisor: fsm.HypervisorInfo{Driver: "libvirt", URI: uri}}
	}
	lines := func() []string {
		defer buf.Reset()
		return strings.FieldsFunc(buf.String(), func(r rune) bool { return r == '\n' })
	}
	a.checkPeerURIs(node("qemu+ext:///system?command=/bin/sh"), logger)
	a.checkPeerURIs(node("qemu+ext:///system?command=/bin/sh"), logger)
	got := lines()
	if len(got) != 1 || !strings.Contains(got[0], "level=WARN") || !strings.Contains(got[0], `node \"node-2\"`) ||
		!strings.Contains(got[0], "qemu+ext:///system?command=/bin/sh") || !strings.Contains(got[0], "qemu+ext runs a local program") {
		t.Fatalf("logged %q, want one warning naming the node, the URI and the rule", got)
	}
	a.checkPeerURIs(node("qemu:///system"), logger)
	if got := lines(); len(got) != 1 || !strings.Contains(got[0], "must publish a URI other hosts can reach") {
		t.Fatalf("a new reason logged %q", got)
	}
	a.checkPeerURIs(node("qemu+tls://10.0.0.2/system"), logger)
	a.checkPeerURIs(node("qemu+tls://10.0.0.2/system"), logger)
	if got := lines(); len(got) != 1 || !strings.Contains(got[0], "level=INFO") || !strings.Contains(got[0], "accepted again") {
		t.Fatalf("once fixed, logged %q", got)
	}
}
