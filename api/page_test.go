package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/ids"
)

// addVMs creates n VMs straight in the fake cluster (no API round trip), named
// vm-00000 onwards.
func (e *testEnv) addVMs(n int) {
	e.t.Helper()
	at := time.Now().UTC()
	for i := range n {
		spec := toFSMSpec(validVM(fmt.Sprintf("vm-%05d", i)))
		e.cluster.mustApply(e.t, &fsm.CreateVM{ID: ids.New(), Spec: spec, At: at})
	}
}

// nextLink is the path and query of the Link rel="next" of an answer, or "".
func nextLink(t *testing.T, a answer) string {
	t.Helper()
	v := a.header.Get("Link")
	if v == "" {
		return ""
	}
	target, rel, ok := strings.Cut(v, ";")
	if !ok || strings.TrimSpace(rel) != `rel="next"` || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
		t.Fatalf("Link header %q is not <...>; rel=\"next\"", v)
	}
	return target[1 : len(target)-1]
}

func TestListVMs_PaginatesTenThousand(t *testing.T) {
	e := newTestEnv(t)
	const total = 10000
	e.addVMs(total)
	var got []client.VM
	pages := 0
	for path := "/api/v1/vms"; path != ""; pages++ {
		var page []client.VM
		a := e.do("GET", path, e.root, nil).expect(t, http.StatusOK, &page)
		if len(page) > 500 {
			t.Fatalf("page %d has %d VMs, want at most the default limit 500", pages, len(page))
		}
		got = append(got, page...)
		path = nextLink(t, a)
		if path != "" && !strings.HasPrefix(path, "/api/v1/vms?") {
			t.Fatalf("next link %q is not the same list", path)
		}
	}
	if pages != total/500 {
		t.Fatalf("%d pages, want %d", pages, total/500)
	}
	if len(got) != total {
		t.Fatalf("%d VMs over all pages, want %d", len(got), total)
	}
	for i, vm := range got {
		if want := fmt.Sprintf("vm-%05d", i); vm.Name != want {
			t.Fatalf("VM %d is %q, want %q (order by name across pages)", i, vm.Name, want)
		}
	}

	// The largest page holds everything in one answer.
	var all []client.VM
	a := e.do("GET", "/api/v1/vms?limit=5000", e.root, nil).expect(t, http.StatusOK, &all)
	if len(all) != 5000 || nextLink(t, a) == "" {
		t.Fatalf("limit=5000: %d VMs, next %q", len(all), nextLink(t, a))
	}

	// The client follows the links and gets them all, in order.
	c, err := client.New(e.http.URL, e.root)
	if err != nil {
		t.Fatal(err)
	}
	vms, err := c.VMs(context.Background(), client.ListVMsOptions{})
	if err != nil || len(vms) != total {
		t.Fatalf("client: %d VMs, %v; want %d", len(vms), err, total)
	}
	for i := range vms {
		if vms[i].ID != got[i].ID {
			t.Fatalf("client VM %d is %s, want %s", i, vms[i].Name, got[i].Name)
		}
	}
}

func TestListVMs_PageKeepsFiltersAndSurvivesDeletes(t *testing.T) {
	e := newTestEnv(t)
	e.addVMs(10)
	var first []client.VM
	a := e.do("GET", "/api/v1/vms?limit=3&state=pending", e.root, nil).expect(t, http.StatusOK, &first)
	next := nextLink(t, a)
	u, err := url.Parse(next)
	if err != nil {
		t.Fatal(err)
	}
	if q := u.Query(); q.Get("state") != "pending" || q.Get("limit") != "3" || q.Get("after") == "" {
		t.Fatalf("next link %q lost the filters or has no cursor", next)
	}
	// The cursor names a place in the order, not an offset: deleting the last
	// VM shown and the first still to come changes nothing else.
	e.cluster.mustApply(t, fsm.DeleteVM{ID: first[2].ID})
	vm3, err := e.fsm.VMByName("", "vm-00003")
	if err != nil {
		t.Fatal(err)
	}
	e.cluster.mustApply(t, fsm.DeleteVM{ID: vm3.ID})
	var second []client.VM
	e.do("GET", next, e.root, nil).expect(t, http.StatusOK, &second)
	if len(second) != 3 || second[0].Name != "vm-00004" || second[2].Name != "vm-00006" {
		t.Fatalf("second page %v, want vm-00004 to vm-00006", names(second))
	}
}

func names(vms []client.VM) []string {
	out := make([]string, len(vms))
	for i, vm := range vms {
		out[i] = vm.Name
	}
	return out
}

func TestList_LimitAndCursorValidated(t *testing.T) {
	e := newTestEnv(t)
	for _, route := range []string{"vms", "nodes", "migrations", "failovers", "tokens"} {
		for _, bad := range []string{"0", "-1", "5001", "abc", ""} {
			e.do("GET", "/api/v1/"+route+"?limit="+bad, e.root, nil).
				expectError(t, http.StatusBadRequest, client.CodeInvalid, "query parameter limit")
		}
		for _, bad := range []string{"", "!!", "a b"} {
			e.do("GET", "/api/v1/"+route+"?after="+url.QueryEscape(bad), e.root, nil).
				expectError(t, http.StatusBadRequest, client.CodeInvalid, "query parameter after")
		}
		e.do("GET", "/api/v1/"+route+"?limit=5000", e.root, nil).expect(t, http.StatusOK, nil)
	}
}

// Every list keeps its order across pages of one item, and the body of a page
// is still a bare JSON array.
func TestList_EveryListPagesInItsOrder(t *testing.T) {
	e := newTestEnv(t)
	e.addVMs(3)
	e.tokenFor("reader")
	e.tokenFor("operator")
	for i := range 3 {
		name := fmt.Sprintf("mig-%d", i)
		e.runningVM(name, e.nodes[0])
		e.do("POST", "/api/v1/vms/"+name+"/migrate", e.root, `{"target":"node-2"}`).expect(t, http.StatusAccepted, nil)
	}
	e.addNode("node-0", 8, 16384)
	for _, route := range []string{"vms", "nodes", "tokens", "migrations", "failovers"} {
		var whole []json.RawMessage
		e.do("GET", "/api/v1/"+route, e.root, nil).expect(t, http.StatusOK, &whole)
		var paged []json.RawMessage
		for path := "/api/v1/" + route + "?limit=1"; path != ""; {
			var page []json.RawMessage
			a := e.do("GET", path, e.root, nil).expect(t, http.StatusOK, &page)
			if len(page) > 1 {
				t.Fatalf("%s: page of %d with limit=1", route, len(page))
			}
			paged = append(paged, page...)
			path = nextLink(t, a)
		}
		if len(paged) != len(whole) {
			t.Fatalf("%s: %d items paged, %d whole", route, len(paged), len(whole))
		}
		for i := range whole {
			if string(paged[i]) != string(whole[i]) {
				t.Fatalf("%s item %d: paged %s, whole %s", route, i, paged[i], whole[i])
			}
		}
	}
}

// A page ends early once its encoding passes MaxPageBytes, so one answer stays
// bounded however large the items; the client still gets everything.
func TestListVMs_PageBytesBounded(t *testing.T) {
	e := newTestEnvWith(t, Config{NodeName: "node-1", MaxPageBytes: 4 << 10}, nil)
	e.addVMs(100)
	a := e.do("GET", "/api/v1/vms?limit=5000", e.root, nil).expect(t, http.StatusOK, nil)
	if len(a.body) > 8<<10 || nextLink(t, a) == "" {
		t.Fatalf("page of %d bytes, next %q; want at most about 4 KiB and a next page", len(a.body), nextLink(t, a))
	}
	c, err := client.New(e.http.URL, e.root)
	if err != nil {
		t.Fatal(err)
	}
	vms, err := c.VMs(context.Background(), client.ListVMsOptions{})
	if err != nil || len(vms) != 100 {
		t.Fatalf("client: %d VMs, %v; want 100", len(vms), err)
	}
}

// ?label=key=value keeps the VMs that carry every label named, across pages;
// a malformed filter is a 400 that names it.
func TestListVMs_LabelFilterPages(t *testing.T) {
	e := newTestEnv(t)
	at := time.Now().UTC()
	for i := range 30 {
		spec := toFSMSpec(validVM(fmt.Sprintf("vm-%05d", i)))
		spec.Labels = map[string]string{"tier": []string{"web", "db", "cache"}[i%3]}
		if i%2 == 0 {
			spec.Labels["zone"] = "a"
		}
		e.cluster.mustApply(t, &fsm.CreateVM{ID: ids.New(), Spec: spec, At: at})
	}
	var got []string
	for path := "/api/v1/vms?limit=2&label=tier%3Dweb&label=zone%3Da"; path != ""; {
		var page []client.VM
		a := e.do("GET", path, e.root, nil).expect(t, http.StatusOK, &page)
		got = append(got, names(page)...)
		path = nextLink(t, a)
	}
	// tier=web is every third from 0, zone=a every even one: 0, 6, 12, 18, 24.
	want := []string{"vm-00000", "vm-00006", "vm-00012", "vm-00018", "vm-00024"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("filtered pages %v, want %v", got, want)
	}
	for _, bad := range []string{"tier", "=web"} {
		e.do("GET", "/api/v1/vms?label="+url.QueryEscape(bad), e.root, nil).
			expectError(t, http.StatusBadRequest, client.CodeInvalid, "query parameter label")
	}
	e.do("GET", "/api/v1/vms?"+strings.Repeat("label=a%3Db&", 17), e.root, nil).
		expectError(t, http.StatusBadRequest, client.CodeInvalid, "at most 16")
}

// ?node= pages through one node's VMs in name order (read from the node's
// own index); list items leave out the placement decision, which GET of one
// VM shows.
func TestListVMs_NodeFilterPagesAndItemsHaveNoDecision(t *testing.T) {
	e := newTestEnv(t)
	at := time.Now().UTC()
	for i := range 16 { // 8 on each node: its 8 vCPUs
		spec := toFSMSpec(validVM(fmt.Sprintf("vm-%05d", i)))
		spec.VCPUs, spec.MemoryMiB, spec.DiskGiB = 1, 64, 1
		d := &fsm.Decision{Node: e.nodes[i%2].ID, NodeName: e.nodes[i%2].Name, Reason: "test", Considered: 2, Feasible: 2, At: at}
		e.cluster.mustApply(t, &fsm.CreateVM{ID: ids.New(), Spec: spec, Node: d.Node, Reason: d.Reason, Decision: d, At: at})
	}
	var got []client.VM
	for path := "/api/v1/vms?limit=3&node=node-2"; path != ""; {
		var page []client.VM
		a := e.do("GET", path, e.root, nil).expect(t, http.StatusOK, &page)
		got = append(got, page...)
		path = nextLink(t, a)
	}
	if len(got) != 8 {
		t.Fatalf("%d VMs on node-2 over all pages, want 8: %v", len(got), names(got))
	}
	for i, vm := range got {
		if want := fmt.Sprintf("vm-%05d", 2*i+1); vm.Name != want || vm.NodeName != "node-2" {
			t.Fatalf("VM %d is %s on %s, want %s on node-2", i, vm.Name, vm.NodeName, want)
		}
		if vm.Decision != nil || vm.PlacementReason == "" {
			t.Fatalf("list item %s: decision %+v, reason %q; want no decision and the reason", vm.Name, vm.Decision, vm.PlacementReason)
		}
	}
	var one client.VM
	e.do("GET", "/api/v1/vms/"+got[0].ID, e.root, nil).expect(t, http.StatusOK, &one)
	if one.Decision == nil || one.Decision.NodeName != "node-2" {
		t.Fatalf("GET of one VM: decision %+v, want it in full", one.Decision)
	}
}
