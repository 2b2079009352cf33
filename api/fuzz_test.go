package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
)

// fuzzServer is an API server over a fake cluster holding one admin token.
func fuzzServer(f *testing.F) (*Server, string) {
	st := fsm.New()
	fc := &fakeCluster{fsm: st}
	root := "nvc_fuzz_root_0123456789abcdef"
	if _, err := fc.Apply(context.Background(), &fsm.BootstrapToken{Token: fsm.Token{ID: "root-id", Name: "root", Role: "admin",
		Hash: fsm.HashSecret(root), CreatedAt: time.Now().UTC()}}); err != nil {
		f.Fatal(err)
	}
	return New(Config{}, fc, nil, st, slog.New(slog.DiscardHandler)), root
}

// FuzzAuthorizationHeader: any Authorization header is either exactly
// "Bearer <a valid token>" (scheme in any case, spaces around the token) and
// accepted, or refused as unauthenticated; the refusal never repeats the
// secret that was sent.
func FuzzAuthorizationHeader(f *testing.F) {
	s, root := fuzzServer(f)
	for _, h := range []string{"Bearer " + root, "bearer  " + root + " ", "Basic " + root, "Bearer", "Bearer ", root,
		"Bearer " + root + "x", "Bearer\t" + root, "Token " + root} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r := httptest.NewRequest("GET", "/api/v1/vms", nil)
		r.Header.Set("Authorization", h)
		tok, err := s.authenticate(r, true)
		scheme, secret, found := strings.Cut(h, " ")
		want := found && strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(secret) == root
		if want != (err == nil) {
			t.Fatalf("header %q: accepted %v (%v), want %v", h, err == nil, err, want)
		}
		if err == nil {
			if tok.Name != "root" {
				t.Fatalf("header %q authenticated as %q", h, tok.Name)
			}
			return
		}
		if s := strings.TrimSpace(secret); len(s) >= 8 && strings.Contains(err.Error(), s) {
			t.Fatalf("the refusal repeats the secret sent: %v", err)
		}
	})
}

// FuzzDecodeBody: a request body is either refused with an error or decodes
// into the wire type from one JSON object with nothing after it; decoding
// never panics, whatever the bytes.
func FuzzDecodeBody(f *testing.F) {
	s, _ := fuzzServer(f)
	for _, b := range []string{`{"name":"web-1","vcpus":1,"memory_mib":128,"disk_gib":1}`, `{"name":"a"} {}`, `[]`, `{"unknown":1}`,
		`{"name":1}`, `{"labels":{"a":"\u001b"}}`, "", "\xff"} {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/api/v1/vms", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		var req client.VMRequest
		if err := s.decodeBody(r, &req); err != nil {
			return
		}
		if !json.Valid(bytes.TrimSpace(body)) {
			t.Fatalf("accepted a body that is not one JSON value: %q", body)
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		var back client.VMRequest
		r2 := httptest.NewRequest("POST", "/api/v1/vms", bytes.NewReader(again))
		if err := s.decodeBody(r2, &back); err != nil {
			t.Fatalf("the decoded request does not decode again: %v\n%s", err, again)
		}
	})
}
