package openapi_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/novacron/novacron/api/openapi"
	"github.com/novacron/novacron/api/openapi/internal/build"
)

// The committed document is what the generator writes from the route table
// and the Go types: a type or a route changed without go generate fails here.
func TestDocument_UpToDate(t *testing.T) {
	want, err := build.Document()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(openapi.Document(), want) {
		t.Fatal("api/openapi/openapi.json is not what the generator writes: run go generate ./api/openapi")
	}
}

// The document is valid OpenAPI 3.1 for kin-openapi, the validator the
// tests use.
func TestDocument_ValidOpenAPI31(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(openapi.Document())
	if err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" || !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
}
