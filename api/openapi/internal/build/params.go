package build

import (
	"net/http"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// pathParamDoc says what each path parameter accepts.
var pathParamDoc = map[string]string{
	"id":      "An ID, a name where the kind has names, or the start of an ID (at least 4 characters).",
	"name":    "The name.",
	"volume":  "The data volume's ID or name.",
	"subject": "A user's name, or group:NAME.",
}

// queryParams are the query parameters by the key the table names them by;
// a key NAME@KIND is the parameter NAME where it means something else than
// the plain key (?limit of the audit log, ?after of the event stream).
var queryParams = map[string]*openapi3.Parameter{
	"index":        query("index", "Wait (up to 10 s, or ?wait) until the node has applied this Raft index.", intSchema(0, 0)),
	"wait":         query("wait", "Bounds the wait of ?index or ?consistent: a Go duration such as 500ms or 5s.", openapi3.NewStringSchema()),
	"consistent":   flag("consistent", "Read through the leader (linearizable): the node first applies everything the leader had."),
	"limit":        query("limit", "Items per page: 1 to 5,000 (default 500).", intSchema(1, 0)),
	"after":        query("after", "The opaque cursor of the next page, from the previous page's Link header.", openapi3.NewStringSchema()),
	"project":      query("project", "The project (default: default, or a project key's own).", openapi3.NewStringSchema()),
	"all-projects": query("all-projects", "true: every project the caller may read.", openapi3.NewBoolSchema()),
	"node":         query("node", "Only those of this node (ID or name).", openapi3.NewStringSchema()),
	"state":        query("state", "Only those in this state.", openapi3.NewStringSchema()),
	"label":        queryList("label", "key=value: only VMs carrying this label; may repeat (at most 16)."),
	"keep_volumes": query("keep_volumes", "true leaves the VM's root volume in its pool.", openapi3.NewBoolSchema()),
	"since":        query("since", "How far back: a duration such as 1h (default 1h).", openapi3.NewStringSchema()),
	"from":         query("from", "Start of the range: an RFC 3339 time.", openapi3.NewStringSchema()),
	"to":           query("to", "End of the range: an RFC 3339 time.", openapi3.NewStringSchema()),
	"step":         query("step", "The resolution: a duration such as 1m.", openapi3.NewStringSchema()),
	"offset":       query("offset", "The byte of the log to start at (default 0).", intSchema(0, 0)),
	"vm":           query("vm", "Only those of this VM (ID or name).", openapi3.NewStringSchema()),
	"user":         query("user", "Another user's (needs user:read).", openapi3.NewStringSchema()),
	"perm":         query("perm", "The permission RESOURCE:ACTION, such as vm:write.", openapi3.NewStringSchema()),
	"actor":        query("actor", "Only the entries of this user or key.", openapi3.NewStringSchema()),
	"action":       query("action", "Only the entries of this action.", openapi3.NewStringSchema()),
	"before":       query("before", "Only entries before this seq (the next page).", openapi3.NewStringSchema()),
	"since@audit":  query("since", "Only entries since: a duration such as 1h, or an RFC 3339 time.", openapi3.NewStringSchema()),
	"limit@audit":  query("limit", "At most this many entries (default 100).", intSchema(1, 0)),
	"wait@op":      query("wait", "Answer once the operation has ended, or after this duration (at most 30 s); it also bounds ?index and ?consistent.", openapi3.NewStringSchema()),
	"after@events": query("after", "Resume exactly after this Raft index.", intSchema(0, 0)),
	"limit@events": query("limit", "Frames of a stream that does not follow: 1 to 10,000 (default 100).", intSchema(1, 10000)),
	"follow":       query("follow", "Keep the stream open for the changes to come (default true).", openapi3.NewBoolSchema()),
	"type":         queryList("type", "Only events of these types (comma-separated or repeated)."),
	"object":       query("object", "Only the events of this object (ID or name).", openapi3.NewStringSchema()),
}

func query(name, doc string, s *openapi3.Schema) *openapi3.Parameter {
	return openapi3.NewQueryParameter(name).WithDescription(doc).WithSchema(s)
}

func queryList(name, doc string) *openapi3.Parameter {
	return query(name, doc, openapi3.NewArraySchema().WithItems(openapi3.NewStringSchema()))
}

// flag is a parameter that counts by being there (?consistent), value or not.
func flag(name, doc string) *openapi3.Parameter {
	p := query(name, doc, openapi3.NewStringSchema())
	p.AllowEmptyValue = true
	return p
}

func intSchema(minimum, maximum float64) *openapi3.Schema {
	s := openapi3.NewIntegerSchema().WithMin(minimum)
	if maximum > 0 {
		s.WithMax(maximum)
	}
	return s
}

// errorCodes are the error statuses with the codes (internal/errcode) that
// each answers, as api/errors.go maps them.
var errorCodes = map[int]string{
	400: "bad_json, invalid or malformed_command",
	401: "unauthenticated",
	403: "forbidden or quota_exceeded",
	404: "not_found",
	405: "method_not_allowed",
	409: "conflict, invalid_state, stale_generation, upgrade_required or duplicate_request",
	413: "body_too_large",
	415: "unsupported_media_type",
	429: "too_many_requests (Retry-After says when to try again)",
	499: "canceled",
	500: "internal",
	503: "no_leader, not_ready or shutting_down",
	504: "timeout or index_timeout",
}

// errorStatuses are the error statuses o may answer: those of its kind
// (authenticated, a read, a write, with a body, naming an object) and its own.
func errorStatuses(o op) []int {
	codes := []int{http.StatusInternalServerError}
	add := func(c ...int) { codes = append(codes, c...) }
	if o.auth == bearer {
		// The credential is checked, through the leader when this node lost
		// touch with it; the request's own timeout bounds every handler.
		add(400, 401, 403, 503, 504)
	}
	refers := func(q string) bool { return slices.Contains([]string{"project", "node", "vm", "user", "object"}, q) }
	if strings.Contains(o.path, "{") || slices.ContainsFunc(o.query, refers) {
		add(404)
	}
	if o.in != nil {
		add(400, 413, 415)
	}
	if o.method != http.MethodGet {
		add(400, 409, 503, 504)
	}
	add(o.errs...)
	slices.Sort(codes)
	return slices.Compact(codes)
}
