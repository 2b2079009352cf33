package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
)

// decodeBody reads the request body as exactly one JSON object into v. It refuses
// a body larger than MaxBodyBytes (413, the limit is set by route), a Content-Type
// that announces another format such as XML (415), an
// empty body, unknown fields, wrong types and trailing data (400), each with a
// message that names the field or the offset at fault.
func (s *Server) decodeBody(r *http.Request, v any) error {
	return s.decode(r, v, true)
}

// decodeOptionalBody is decodeBody for routes whose body may be left out: an
// empty body leaves v as it is.
func (s *Server) decodeOptionalBody(r *http.Request, v any) error {
	return s.decode(r, v, false)
}

func (s *Server) decode(r *http.Request, v any, required bool) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !acceptedMediaType(mt) {
			return errorf(errUnsupportedMediaType, "Content-Type %q is not supported: send application/json", ct)
		}
	}
	if r.Body == nil {
		if !required {
			return nil
		}
		return errorf(errBadJSON, "request body is required")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return errorf(errBodyTooLarge, "request body is larger than %d bytes", tooLarge.Limit)
		}
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if !required {
			return nil
		}
		return errorf(errBadJSON, "request body is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	end := dec.InputOffset()
	if rest := bytes.TrimLeft(body[end:], " \t\r\n"); len(rest) > 0 {
		return errorf(errBadJSON, "unexpected data after the JSON object at offset %d", len(body)-len(rest))
	}
	return nil
}

// jsonError turns a decoding error into a bad_json error people can act on.
func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return errorf(errBadJSON, "malformed JSON at offset %d: %s", syntax.Offset, syntax.Error())
	case errors.As(err, &typ):
		got := typ.Value
		if typ.Field == "" {
			return errorf(errBadJSON, "request body: expected %s, got %s", jsonKind(typ.Type), got)
		}
		return errorf(errBadJSON, "field %q: expected %s, got %s", typ.Field, jsonKind(typ.Type), got)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errorf(errBadJSON, "malformed JSON: the body ends in the middle of a value")
	}
	// encoding/json has no typed error for an unknown field; its message already
	// reads `json: unknown field "foo"`, so only the package prefix is dropped.
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if field, ok := strings.CutPrefix(msg, "unknown field "); ok {
		if hint, owned := serverOwned[strings.Trim(field, `"`)]; owned {
			return errorf(errBadJSON, "field %s is set by the server, not by a request%s", field, hint)
		}
	}
	return errorf(errBadJSON, "%s", msg)
}

// serverOwned are the fields the server sets on the objects it answers
// with; a request body that sets one is refused naming it (no mass
// assignment, issue 14), with a hint where there is another way.
var serverOwned = map[string]string{
	"project": ": choose the project with ?project=NAME", "id": "", "node": ": choose a node with placement.node_selector, or migrate the VM",
	"node_name": "", "owner": "", "state": ": use the VM's actions (start, stop, ...)", "desired_state": ": use the VM's actions (start, stop, ...)",
	"generation": "", "created_at": "", "updated_at": "", "index": "", "usage": "",
}

// jsonKind names the JSON type a Go type is decoded from.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	}
	return t.String()
}

// acceptedMediaType reports whether a body announced as mt is read as JSON. Besides
// JSON itself it takes text/plain and the form type that `curl -d` sends by
// default, so the README's curl examples work; the body must still be JSON.
func acceptedMediaType(mt string) bool {
	switch {
	case mt == "application/json", strings.HasSuffix(mt, "+json"),
		mt == "text/plain", mt == "application/x-www-form-urlencoded":
		return true
	}
	return false
}
