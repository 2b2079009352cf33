package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/novacron/novacron/api/client"
)

// The list commands get every page: the client follows Link rel="next".
func TestVMList_FollowsPages(t *testing.T) {
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		w.Header().Set("Content-Type", "application/json")
		after := r.URL.Query().Get("after")
		var page []client.VM
		switch after {
		case "":
			page = []client.VM{{ID: "1", Name: "a"}, {ID: "2", Name: "b"}}
			w.Header().Set("Link", `</api/v1/vms?after=Yg&state=running>; rel="next"`)
		case "Yg":
			page = []client.VM{{ID: "3", Name: "c"}}
		default:
			http.Error(w, "bad cursor", http.StatusBadRequest)
			return
		}
		json.NewEncoder(w).Encode(page)
	}))
	t.Cleanup(srv.Close)
	code, stdout, stderr := runCLI(t, map[string]string{envAddress: srv.URL, envToken: "t"}, "-o", "json", "vm", "list", "--state", "running")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	var vms []client.VM
	if err := json.Unmarshal([]byte(stdout), &vms); err != nil || len(vms) != 3 || vms[2].Name != "c" {
		t.Fatalf("vm list printed %s (%v), want the 3 VMs of both pages", stdout, err)
	}
	if fmt.Sprint(queries) != "[state=running after=Yg&state=running]" {
		t.Fatalf("queries %v, want the filter kept on the second page", queries)
	}
}

// vm list --label sends each label as a ?label= filter.
func TestVMList_LabelFlags(t *testing.T) {
	var query string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("[]"))
	}))
	t.Cleanup(srv.Close)
	code, _, stderr := runCLI(t, map[string]string{envAddress: srv.URL, envToken: "t"}, "vm", "list", "--label", "tier=web", "--label", "zone=a")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	if query != "label=tier%3Dweb&label=zone%3Da" {
		t.Fatalf("query %q, want both labels", query)
	}
}
