package openapitest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The check catches what it is for: a status the operation does not list,
// a body of the wrong shape, a route the document lacks; and lets pass a
// refused bad request and a documented error.
func TestCheck_CatchesMismatches(t *testing.T) {
	v, err := Shared()
	if err != nil {
		t.Fatal(err)
	}
	get := httptest.NewRequest("GET", "/api/v1/vms/web", nil)
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	errBody := []byte(`{"error":{"code":"not_found","message":"vm web not found"}}`)
	cases := []struct {
		name    string
		ex      Exchange
		wantErr string
	}{
		{"documented error", Exchange{Request: get, Status: 404, Header: jsonHeader, Body: errBody}, ""},
		{"undocumented status", Exchange{Request: get, Status: 418, Header: jsonHeader, Body: errBody}, "status"},
		{"wrong body", Exchange{Request: get, Status: 200, Header: jsonHeader, Body: []byte(`{"vcpus":"two"}`)}, "does not match"},
		{"unknown route", Exchange{Request: httptest.NewRequest("GET", "/api/v1/nope", nil), Status: 200, Header: jsonHeader, Body: []byte(`{}`)}, "not in the document"},
		{"bad request refused", Exchange{Request: httptest.NewRequest("GET", "/api/v1/nodes?limit=x", nil), Status: 400, Header: jsonHeader, Body: errBody}, ""},
		{"bad request accepted", Exchange{Request: httptest.NewRequest("GET", "/api/v1/nodes?limit=x", nil), Status: 200, Header: jsonHeader, Body: []byte(`[]`)}, "refuses the request"},
	}
	for _, c := range cases {
		err := v.Check(c.ex)
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.wantErr)
		}
	}
}
