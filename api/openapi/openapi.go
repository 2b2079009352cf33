// Package openapi holds the API described: the OpenAPI 3.1 document that GET
// /api/v1/openapi.json answers. It is written by go generate (./gen, from the
// route table in internal/build and the types of api/client) and committed;
// TestDocument_UpToDate fails when the two differ, and the API's tests and
// the e2e tests validate every request and answer they make against it
// (package openapitest), so it stays true.
package openapi

import _ "embed"

//go:generate go run ./gen openapi.json

//go:embed openapi.json
var document []byte

// Document returns the document's JSON. The slice is shared: do not change it.
func Document() []byte { return document }
