// Package openapitest checks real requests and answers against the API
// described (package openapi), for the API's tests and the e2e tests: a
// request the document refuses must be refused by the server too, and every
// answer, errors included, must have a status and a body the document lists.
package openapitest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/novacron/novacron/api/openapi"
)

// Validator holds the loaded document and its router.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
}

var (
	shared     *Validator
	sharedErr  error
	sharedOnce sync.Once
)

// Shared returns the Validator of the embedded document, loaded once.
func Shared() (*Validator, error) {
	sharedOnce.Do(func() { shared, sharedErr = New(openapi.Document()) })
	return shared, sharedErr
}

// New loads and checks doc.
func New(doc []byte) (*Validator, error) {
	t, err := openapi3.NewLoader().LoadFromData(doc)
	if err != nil {
		return nil, fmt.Errorf("loading the document: %w", err)
	}
	if err := t.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("the document is not valid OpenAPI: %w", err)
	}
	r, err := gorillamux.NewRouter(t)
	if err != nil {
		return nil, err
	}
	return &Validator{doc: t, router: r}, nil
}

// Exchange is one request and its answer, bodies read whole.
type Exchange struct {
	Request     *http.Request
	RequestBody []byte
	Status      int
	Header      http.Header
	Body        []byte
}

// Check returns why ex does not match the document, or nil. A request the
// document refuses is fine when the server refused it too (a 4xx: tests send
// bad requests on purpose); an answer is always checked: its status must be
// listed for the operation, its body match that status's schema.
func (v *Validator) Check(ex Exchange) error {
	req := ex.Request.Clone(context.Background())
	where := fmt.Sprintf("%s %s answered %d", req.Method, req.URL.Path, ex.Status)
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		switch ex.Status {
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusMethodNotAllowed:
			// No such route (or VM action), and the server says so (the credential is
			// checked before a VM's :action is): TestRoutes_InDocument
			// proves every route it serves is in the document.
			if isErrorBody(ex.Body) {
				return nil
			}
		}
		return fmt.Errorf("%s: not in the document (%v)", where, err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}
	if ex.RequestBody != nil {
		req.Body = io.NopCloser(bytes.NewReader(ex.RequestBody))
		// The server reads any body as JSON when its type is left out or
		// is curl's default (api/decode.go): so does the check.
		if mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type")); mt == "" || mt == "text/plain" || mt == "application/x-www-form-urlencoded" {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil && ex.Status < 400 {
		return fmt.Errorf("%s: the document refuses the request: %v", where, err)
	}
	if ex.Status == http.StatusSwitchingProtocols {
		if route.Operation.Responses.Status(ex.Status) == nil {
			return fmt.Errorf("%s: status not in the document", where)
		}
		return nil
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: ex.Status, Header: ex.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	if ex.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(ex.Body))
		if err == nil {
			ex.Body, err = io.ReadAll(zr)
		}
		if err != nil {
			return fmt.Errorf("%s: a gzip body that does not decompress: %v", where, err)
		}
	}
	ndjson := strings.HasPrefix(ex.Header.Get("Content-Type"), "application/x-ndjson")
	out.Options.ExcludeResponseBody = ndjson
	out.SetBodyBytes(ex.Body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return fmt.Errorf("%s: the answer does not match the document: %v; body: %.400s", where, err, ex.Body)
	}
	if ndjson {
		return v.checkLines(route, ex, where)
	}
	return nil
}

// checkLines checks each line of an NDJSON answer against the schema of
// one frame: OpenAPI 3.1 has no schema for a sequence (3.2's itemSchema).
func (v *Validator) checkLines(route *routers.Route, ex Exchange, where string) error {
	mt := route.Operation.Responses.Status(ex.Status).Value.Content.Get("application/x-ndjson")
	if mt == nil || mt.Schema == nil {
		return fmt.Errorf("%s: no NDJSON schema in the document", where)
	}
	for i, line := range bytes.Split(bytes.TrimSpace(ex.Body), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var val any
		if err := json.Unmarshal(line, &val); err != nil {
			return fmt.Errorf("%s: line %d is not JSON: %v", where, i+1, err)
		}
		if err := mt.Schema.Value.VisitJSON(val, openapi3.EnableJSONSchema2020()); err != nil {
			return fmt.Errorf("%s: line %d does not match the document: %v; line: %.400s", where, i+1, err, line)
		}
	}
	return nil
}

// isErrorBody tells whether b is the API's error body.
func isErrorBody(b []byte) bool {
	var e struct {
		Error struct{ Code, Message string }
	}
	return json.Unmarshal(b, &e) == nil && e.Error.Code != ""
}

// Transport returns an http.RoundTripper that sends through base (nil:
// http.DefaultTransport) and hands report what does not match the document.
// Answers that stream (the event stream when it follows) are checked only
// for their status and headers: their bodies never end.
func (v *Validator) Transport(base http.RoundTripper, report func(error)) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{v: v, base: base, report: report}
}

type transport struct {
	v      *Validator
	base   http.RoundTripper
	report func(error)
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		reqBody = b
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil || streaming(req, resp) {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return resp, nil // the reader sees the cut body as before; nothing to check
	}
	if cerr := t.v.Check(Exchange{Request: req, RequestBody: reqBody, Status: resp.StatusCode, Header: resp.Header, Body: body}); cerr != nil {
		t.report(cerr)
	}
	return resp, nil
}

// streaming tells whether an answer's body may never end: a WebSocket, an
// event stream that follows, a console.
func streaming(req *http.Request, resp *http.Response) bool {
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return true
	}
	return strings.HasPrefix(resp.Header.Get("Content-Type"), "application/x-ndjson") &&
		req.URL.Query().Get("follow") != "false"
}
