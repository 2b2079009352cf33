// Package asset serves a file that never changes while the process runs
// (the dashboard's files, the OpenAPI document): gzipped once when it is
// worth it, with an ETag so that a client keeps its copy and asks again
// with If-None-Match (a 304 costs nothing; "no-cache" makes it ask, since
// a rolling upgrade changes the file behind the same address).
package asset

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
)

// Asset is one file, ready to send.
type Asset struct {
	body, gzipped []byte
	etag, ctype   string
}

// New prepares body, of Content-Type ctype; it compresses text and JSON
// of more than 512 bytes.
func New(body []byte, ctype string) *Asset {
	sum := sha256.Sum256(body)
	a := &Asset{body: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, ctype: ctype}
	if len(body) > 512 && compressible(ctype) {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		zw.Write(body)
		zw.Close()
		a.gzipped = b.Bytes()
	}
	return a
}

func compressible(ctype string) bool {
	for _, t := range []string{"text/", "javascript", "json", "svg"} {
		if strings.Contains(ctype, t) {
			return true
		}
	}
	return false
}

// Serve answers a GET or HEAD of the asset.
func (a *Asset) Serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("ETag", a.etag)
	h.Set("Cache-Control", "no-cache")
	h.Add("Vary", "Accept-Encoding")
	if etagMatches(r.Header.Get("If-None-Match"), a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", a.ctype)
	body := a.body
	if a.gzipped != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		body = a.gzipped
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method != http.MethodHead {
		w.Write(body)
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
