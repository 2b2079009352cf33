package api

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/api/openapi"
)

// servedDocument is the API described, ready to send: its bytes, gzipped
// once (the document is about 250 KiB of JSON and never changes while the
// process runs), and the ETag that lets a client keep its copy.
type servedDocument struct {
	plain, gzipped []byte
	etag           string
}

var apiDocument = sync.OnceValue(func() servedDocument {
	d := servedDocument{plain: openapi.Document()}
	sum := sha256.Sum256(d.plain)
	d.etag = `"` + hex.EncodeToString(sum[:8]) + `"`
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(d.plain)
	_ = zw.Close()
	d.gzipped = buf.Bytes()
	return d
})

// serveOpenAPI answers GET /api/v1/openapi.json: the API described
// (OpenAPI 3.1), public like /healthz, so that tools and the dashboard can
// read it before logging in. The tests validate their requests and answers
// against it (api/openapi), which keeps it true.
func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	d := apiDocument()
	h := w.Header()
	h.Set("ETag", d.etag)
	// no-cache: keep it, but ask again (a 304 costs nothing): a rolling
	// upgrade changes the document behind the same address.
	h.Set("Cache-Control", "public, no-cache")
	h.Set("Vary", "Accept-Encoding")
	if etagMatches(r.Header.Get("If-None-Match"), d.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json")
	body := d.plain
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		body = d.gzipped
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// etagMatches reads an If-None-Match list (or *).
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// acceptsGzip reads Accept-Encoding: gzip, unless given q=0.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			q := strings.ReplaceAll(params, " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}
