// Package build writes the OpenAPI 3.1 document of the NovaCron API from the
// route table in routes.go and the Go wire types of api/client, through
// kin-openapi's openapi3gen. go generate in api/openapi runs it; a test there
// fails when the committed openapi.json differs from what it writes.
//
// The document keeps to what kin-openapi v0.153.0 validates for 3.1: type
// arrays with "null" (not 3.0's nullable), anyOf beside $ref, no 3.2
// itemSchema for the NDJSON stream (its schema is that of one line, and the
// validator in api/openapi/openapitest checks each line against it).
package build

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/novacron/novacron/api/client"
)

// access is who may call an operation.
type access int

const (
	bearer      access = iota // an API key or a login session
	public                    // anyone
	metricsAuth               // the metrics token, when the agent has one
)

// media is what a success answer holds.
type media int

const (
	jsonBody  media = iota
	ndjson          // the event stream: a JSON frame a line, or a WebSocket
	plainText       // the serial log
	websocket       // a console: only the upgrade
	promText        // /metrics
)

// op is one operation of the API as the table in routes.go writes it.
type op struct {
	method, path string // path in OpenAPI form, /api/v1/vms/{id}
	summary      string
	auth         access
	// query names the query parameters (keys of queryParams); page adds
	// ?limit and ?after and the Link header of a paginated list.
	query []string
	page  bool
	// in is the request body's Go value (nil: none); optionalIn lets it be
	// left out.
	in         any
	optionalIn bool
	// ok are the success statuses (200 when empty), out their body.
	ok    []int
	out   any
	media media
	// errs are error statuses beyond those every operation of its kind may
	// answer (errorStatuses).
	errs []int
}

// Document returns the API described, as indented JSON.
func Document() ([]byte, error) {
	doc := build()
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

func build() *openapi3.T {
	sc := newSchemas()
	errRef := sc.ref(client.ErrorBody{})
	doc := &openapi3.T{
		OpenAPI: "3.1.0",
		Info: &openapi3.Info{
			Title:   "NovaCron API",
			Version: "v1",
			Description: "The HTTP API every NovaCron node serves (docs/API.md explains it in prose). " +
				"Every answer carries X-Novacron-Index, the Raft index it reflects; every error answers " +
				`{"error":{"code":...,"message":...}}`,
		},
		Paths:    openapi3.NewPaths(),
		Security: openapi3.SecurityRequirements{{"bearer": {}}},
		Components: &openapi3.Components{Schemas: sc.components, Responses: errorResponses(errRef),
			Parameters: openapi3.ParametersMap{}, Headers: openapi3.Headers{"Index": indexHeader, "Link": linkHeader}},
	}
	for n, p := range queryParams {
		doc.Components.Parameters[paramKey(n)] = &openapi3.ParameterRef{Value: p}
	}
	doc.Components.SecuritySchemes = openapi3.SecuritySchemes{
		"bearer": {Value: &openapi3.SecurityScheme{Type: "http", Scheme: "bearer",
			Description: "An API key (nvc_...) or a login session (nvs_...) from POST /api/v1/login."}},
		"metricsToken": {Value: &openapi3.SecurityScheme{Type: "http", Scheme: "bearer",
			Description: "The token of --metrics-token-file; /metrics is open without one."}},
	}
	for _, o := range operations {
		item := doc.Paths.Value(o.path)
		if item == nil {
			item = &openapi3.PathItem{}
			doc.Paths.Set(o.path, item)
		}
		if item.GetOperation(o.method) != nil {
			panic("build: " + o.method + " " + o.path + " twice in the table")
		}
		item.SetOperation(o.method, operation(sc, o))
	}
	sc.finish()
	return doc
}

// operation writes one operation: parameters, body, answers, security.
func operation(sc *schemas, o op) *openapi3.Operation {
	op := &openapi3.Operation{
		Summary:     o.summary,
		OperationID: operationID(o),
		Responses:   openapi3.NewResponses(),
	}
	op.Responses.Delete("default")
	switch o.auth {
	case public:
		op.Security = &openapi3.SecurityRequirements{}
	case metricsAuth:
		op.Security = &openapi3.SecurityRequirements{{"metricsToken": {}}, {}}
	}
	for _, seg := range strings.Split(o.path, "/") {
		if strings.HasPrefix(seg, "{") {
			name := strings.Trim(seg, "{}")
			op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Value: openapi3.NewPathParameter(name).
				WithSchema(openapi3.NewStringSchema()).WithDescription(pathParamDoc[name])})
		}
	}
	names := slices.Clone(o.query)
	if o.page {
		names = append(names, "limit", "after")
	}
	if o.method == http.MethodGet && o.auth == bearer && o.media != websocket {
		for _, n := range []string{"index", "wait", "consistent"} {
			if !slices.ContainsFunc(names, func(m string) bool { return strings.Split(m, "@")[0] == n }) {
				names = append(names, n)
			}
		}
	}
	for _, n := range names {
		if _, ok := queryParams[n]; !ok {
			panic("build: no query parameter " + n)
		}
		op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Ref: "#/components/parameters/" + paramKey(n)})
	}
	if o.in != nil {
		op.RequestBody = &openapi3.RequestBodyRef{Value: openapi3.NewRequestBody().
			WithRequired(!o.optionalIn).WithJSONSchemaRef(sc.ref(o.in))}
	}
	ok := o.ok
	if len(ok) == 0 {
		ok = []int{http.StatusOK}
	}
	for _, code := range ok {
		op.Responses.Set(strconv.Itoa(code), &openapi3.ResponseRef{Value: success(sc, o, code)})
	}
	for _, code := range errorStatuses(o) {
		op.Responses.Set(strconv.Itoa(code), &openapi3.ResponseRef{Ref: "#/components/responses/" + errorName(code)})
	}
	return op
}

// operationID is METHOD and the path's words: getApiV1VmsId.
func operationID(o op) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(o.method))
	for _, w := range strings.FieldsFunc(o.path, func(r rune) bool { return strings.ContainsRune("/{}-.", r) }) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

// success is the answer of one success status.
func success(sc *schemas, o op, code int) *openapi3.Response {
	desc := http.StatusText(code)
	r := openapi3.NewResponse().WithDescription(desc)
	r.Headers = openapi3.Headers{"X-Novacron-Index": {Ref: "#/components/headers/Index"}}
	if o.page {
		r.Headers["Link"] = &openapi3.HeaderRef{Ref: "#/components/headers/Link"}
	}
	if code == http.StatusNotModified {
		r.WithDescription("Not Modified: If-None-Match named the current ETag.")
		return r
	}
	switch o.media {
	case jsonBody:
		if o.out != nil {
			r.WithJSONSchemaRef(sc.ref(o.out))
		}
	case ndjson:
		if code == http.StatusSwitchingProtocols {
			r.WithDescription("A WebSocket (Upgrade: websocket, subprotocol " + client.WebSocketProtocol + "): one frame a text message.")
			r.Headers = nil
			break
		}
		r.WithDescription("Newline-delimited JSON: one frame (this schema) a line; a frame without events is a heartbeat.")
		r.Content = openapi3.Content{"application/x-ndjson": openapi3.NewMediaType().WithSchemaRef(sc.ref(o.out))}
	case plainText, promText:
		ct := "text/plain"
		r.Content = openapi3.Content{ct: openapi3.NewMediaType().WithSchema(openapi3.NewStringSchema())}
		if o.media == plainText {
			r.Headers["X-Novacron-Log-Size"] = &openapi3.HeaderRef{Value: &openapi3.Header{Parameter: openapi3.Parameter{
				Description: "The whole log's size in bytes.", Schema: openapi3.NewIntegerSchema().NewRef()}}}
		} else {
			r.Headers = nil
		}
	case websocket:
		r.WithDescription("A WebSocket (Upgrade: websocket) carrying the serial console's bytes both ways.")
		r.Headers = nil
	}
	return r
}

var (
	indexHeader = &openapi3.HeaderRef{Value: &openapi3.Header{Parameter: openapi3.Parameter{
		Description: "The Raft index the answer reflects (after a write: the write's); pass it back as ?index=N.",
		Schema:      openapi3.NewStringSchema().NewRef()}}}
	linkHeader = &openapi3.HeaderRef{Value: &openapi3.Header{Parameter: openapi3.Parameter{
		Description: `The next page, when there is one: </api/v1/...?after=CURSOR&limit=N>; rel="next".`,
		Schema:      openapi3.NewStringSchema().NewRef()}}}
)

// paramKey is a query parameter's component name: NAME@KIND becomes NAME.KIND.
func paramKey(n string) string { return strings.ReplaceAll(n, "@", ".") }

// errorName names the shared answer of an error status.
func errorName(code int) string {
	return fmt.Sprintf("Error%d", code)
}

// errorResponses are the error answers, one per status, each with the error
// body and the codes docs/API.md lists for it.
func errorResponses(body *openapi3.SchemaRef) openapi3.ResponseBodies {
	out := openapi3.ResponseBodies{}
	for code, codes := range errorCodes {
		r := openapi3.NewResponse().WithDescription(http.StatusText(code) + ": error code " + codes).
			WithJSONSchemaRef(body)
		if code == 499 {
			r.WithDescription("The client went away (nginx's 499): error code " + codes)
		}
		out[errorName(code)] = &openapi3.ResponseRef{Value: r}
	}
	return out
}
