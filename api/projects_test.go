package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/novacron/novacron/api/client"
)

func limit(n int64) *int64 { return &n }

// A project is created with a quota; VMs go into it with ?project=, are
// found there by name, listed from there, and count against its quota.
func TestProjects_VMsLiveInTheirProject(t *testing.T) {
	e := newTestEnv(t)
	var p client.Project
	e.do("POST", "/api/v1/projects", e.root, client.ProjectRequest{Name: "prod", Description: "production",
		Quota: client.Quota{VMs: limit(2), VCPUs: limit(3)}}).expect(t, http.StatusCreated, &p)
	if p.Name != "prod" || *p.Quota.VMs != 2 || p.Usage.VMs != 0 {
		t.Fatalf("created %+v", p)
	}
	var inProd, inDefault client.VM
	e.do("POST", "/api/v1/vms?project=prod", e.root, client.VMRequest{Name: "web", VCPUs: 1, MemoryMiB: 256, DiskGiB: 1}).expect(t, http.StatusCreated, &inProd)
	e.do("POST", "/api/v1/vms", e.root, client.VMRequest{Name: "web", VCPUs: 1, MemoryMiB: 256, DiskGiB: 1}).expect(t, http.StatusCreated, &inDefault)
	if inProd.Project != "prod" || inDefault.Project != "default" || inProd.ID == inDefault.ID {
		t.Fatalf("the two webs: %+v, %+v", inProd, inDefault)
	}

	// By name: in the request's project. By ID: in any.
	var got client.VM
	e.do("GET", "/api/v1/vms/web?project=prod", e.root, nil).expect(t, http.StatusOK, &got)
	if got.ID != inProd.ID {
		t.Fatalf("web in prod is %s, want %s", got.ID, inProd.ID)
	}
	e.do("GET", "/api/v1/vms/web", e.root, nil).expect(t, http.StatusOK, &got)
	if got.ID != inDefault.ID {
		t.Fatalf("web without a project is %s, want the default one's %s", got.ID, inDefault.ID)
	}
	e.do("GET", "/api/v1/vms/"+inProd.ID, e.root, nil).expect(t, http.StatusOK, &got)

	var list []client.VM
	e.do("GET", "/api/v1/vms?project=prod", e.root, nil).expect(t, http.StatusOK, &list)
	if len(list) != 1 || list[0].ID != inProd.ID {
		t.Fatalf("prod's VMs: %+v", list)
	}
	e.do("GET", "/api/v1/vms", e.root, nil).expect(t, http.StatusOK, &list)
	if len(list) != 1 || list[0].ID != inDefault.ID {
		t.Fatalf("the default project's VMs: %+v", list)
	}
	e.do("GET", "/api/v1/vms?all-projects=true&limit=1", e.root, nil).expect(t, http.StatusOK, &list)
	if len(list) != 1 || list[0].ID != inDefault.ID {
		t.Fatalf("first page of every project's VMs: %+v", list)
	}
	e.do("GET", "/api/v1/vms?all-projects=true&project=prod", e.root, nil).expectError(t, http.StatusBadRequest, "invalid", "contradict")
	e.do("GET", "/api/v1/vms?project=nope", e.root, nil).expectError(t, http.StatusNotFound, "not_found", "nope")
	e.do("POST", "/api/v1/vms?project=nope", e.root, validVM("x")).expectError(t, http.StatusNotFound, "not_found", "nope")

	// The quota: 3 vCPUs, 2 VMs.
	e.do("POST", "/api/v1/vms?project=prod", e.root, client.VMRequest{Name: "db", VCPUs: 3, MemoryMiB: 256, DiskGiB: 1}).
		expectError(t, http.StatusForbidden, "quota_exceeded", "vcpus: the request asks 3, 2 of 3 is left")
	e.do("POST", "/api/v1/vms?project=prod", e.root, client.VMRequest{Name: "db", VCPUs: 2, MemoryMiB: 256, DiskGiB: 1}).expect(t, http.StatusCreated, nil)
	e.do("GET", "/api/v1/projects/prod", e.root, nil).expect(t, http.StatusOK, &p)
	if p.Usage != (client.Usage{VCPUs: 3, MemoryMiB: 512, DiskGiB: 2, VMs: 2}) {
		t.Fatalf("prod's usage %+v", p.Usage)
	}
	e.do("DELETE", "/api/v1/projects/prod", e.root, nil).expectError(t, http.StatusConflict, "invalid_state", "holds 2 vms")
	e.do("DELETE", "/api/v1/projects/default", e.root, nil).expectError(t, http.StatusConflict, "invalid_state", "cannot be deleted")

	// Raising the quota lets it grow again.
	var updated client.Project
	e.do("PUT", "/api/v1/projects/prod", e.root, client.ProjectRequest{Quota: client.Quota{VMs: limit(3)}}).expect(t, http.StatusOK, &updated)
	if updated.Quota.VCPUs != nil || *updated.Quota.VMs != 3 || updated.Description != "" {
		t.Fatalf("after the update: %+v (the quota and description are replaced whole)", updated)
	}
	e.do("PUT", "/api/v1/projects/prod", e.root, client.ProjectRequest{Name: "other"}).expectError(t, http.StatusBadRequest, "invalid", "not renamed")
	var ps []client.Project
	e.do("GET", "/api/v1/projects", e.root, nil).expect(t, http.StatusOK, &ps)
	if len(ps) != 2 || ps[0].Name != "default" || ps[1].Name != "prod" || ps[0].Usage.VMs != 1 {
		t.Fatalf("projects %+v", ps)
	}
}

// A request body that sets a field the server owns is refused naming it,
// with where the choice is really made (no mass assignment).
func TestProjects_ServerOwnedFieldsRefused(t *testing.T) {
	e := newTestEnv(t)
	body := `{"name":"web","vcpus":1,"memory_mib":256,"disk_gib":1,"project":"prod"}`
	e.do("POST", "/api/v1/vms", e.root, body).expectError(t, http.StatusBadRequest, "bad_json", `field "project" is set by the server, not by a request: choose the project with ?project=NAME`)
	for _, field := range []string{"node", "state", "generation", "created_at", "id"} {
		body := strings.Replace(`{"name":"web","vcpus":1,"memory_mib":256,"disk_gib":1,"F":"x"}`, "F", field, 1)
		e.do("POST", "/api/v1/vms", e.root, body).expectError(t, http.StatusBadRequest, "bad_json", `field "`+field+`" is set by the server`)
	}
	if n := len(e.fsm.VMs()); n != 0 {
		t.Fatalf("%d VMs made by refused requests", n)
	}
}

// Only an admin changes projects; every role reads them.
func TestProjects_OnlyAnAdminChangesThem(t *testing.T) {
	e := newTestEnv(t)
	for _, role := range []string{"reader", "operator"} {
		tok := e.tokenFor(role)
		e.do("GET", "/api/v1/projects", tok, nil).expect(t, http.StatusOK, nil)
		e.do("POST", "/api/v1/projects", tok, client.ProjectRequest{Name: "x"}).expectError(t, http.StatusForbidden, "forbidden", "lacks project:write")
		e.do("DELETE", "/api/v1/projects/default", tok, nil).expectError(t, http.StatusForbidden, "forbidden", "lacks project:write")
	}
	e.do("POST", "/api/v1/projects", e.root, client.ProjectRequest{Name: "bad name"}).expectError(t, http.StatusBadRequest, "invalid", "project name")
	e.do("POST", "/api/v1/projects", e.root, client.ProjectRequest{Name: "ok", Quota: client.Quota{VMs: limit(-1)}}).expectError(t, http.StatusBadRequest, "invalid", "quota vms")
	e.do("POST", "/api/v1/projects", e.root, client.ProjectRequest{Name: "default"}).expectError(t, http.StatusConflict, "conflict", "already exists")
}
