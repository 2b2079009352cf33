package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"
)

// Query parameters of every list route: ?limit=N items per page and the
// opaque cursor ?after= that the Link header of the previous page names.
const (
	limitParam = "limit"
	afterParam = "after"
)

// listOrder is how one list is ordered, as a string key per item: items sort by
// their keys, ascending or (desc) descending, and a cursor is the key of the last
// item of a page. A key is unique per item (it ends with the item's ID), so the
// order is total and stable across pages, whatever was created or deleted in
// between: the next page starts after the cursor's place, not at an offset.
type listOrder[T any] struct {
	key  func(T) string
	desc bool
}

// keySep joins the parts of a key. It sorts below every character a name, an
// ID or a formatted time may hold, so comparing joined keys compares the parts
// in turn.
const keySep = "\x00"

// byName orders by name, then ID (as fsm sorts nodes and VMs).
func byName[T any](name, id func(T) string) listOrder[T] {
	return listOrder[T]{key: func(v T) string { return name(v) + keySep + id(v) }}
}

// byTime orders by a time, then ID; desc puts the newest first (as fsm sorts
// migrations and failovers) and ascending the oldest first (tokens).
func byTime[T any](at func(T) time.Time, id func(T) string, desc bool) listOrder[T] {
	return listOrder[T]{key: func(v T) string { return timeKey(at(v)) + keySep + id(v) }, desc: desc}
}

// timeKey formats t at fixed width so that string order is time order.
func timeKey(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z")
}

// pageParams are a list request's validated ?limit and ?after.
type pageParams struct {
	limit    int
	after    string
	hasAfter bool
}

// parsePage validates ?limit (1 to MaxPageLimit, default PageLimit) and ?after.
func (s *Server) parsePage(r *http.Request) (pageParams, error) {
	q := r.URL.Query()
	p := pageParams{limit: s.cfg.PageLimit}
	if q.Has(limitParam) {
		n, err := strconv.Atoi(q.Get(limitParam))
		if err != nil || n < 1 || n > s.cfg.MaxPageLimit {
			return p, invalidf("query parameter limit: %q is not an integer from 1 to %d", q.Get(limitParam), s.cfg.MaxPageLimit)
		}
		p.limit = n
	}
	if q.Has(afterParam) {
		raw, err := base64.RawURLEncoding.DecodeString(q.Get(afterParam))
		if err != nil || len(raw) == 0 {
			return p, invalidf("query parameter after: %q is not a cursor from a Link header", q.Get(afterParam))
		}
		p.after, p.hasAfter = string(raw), true
	}
	return p, nil
}

// paginate answers one page of items (already filtered) as a JSON array of
// their conversions, in order's order, with a Link header to the next page
// when there is one. A page ends at the limit or once its encoding passes
// MaxPageBytes (with at least one item), so one answer never holds more than
// about MaxPageBytes however large the items are: a client that reads slowly
// pins at most that much until the write timeout drops it. Only the page's
// items are converted and encoded.
func paginate[T, C any](s *Server, r *http.Request, items []T, order listOrder[T], conv func(T) C) (any, error) {
	p, err := s.parsePage(r)
	if err != nil {
		return nil, err
	}
	type keyed struct {
		key  string
		item int
	}
	ks := make([]keyed, 0, len(items))
	for i, it := range items {
		k := order.key(it)
		if p.hasAfter && (order.desc && k >= p.after || !order.desc && k <= p.after) {
			continue
		}
		ks = append(ks, keyed{key: k, item: i})
	}
	sort.Slice(ks, func(i, j int) bool {
		if order.desc {
			return ks[i].key > ks[j].key
		}
		return ks[i].key < ks[j].key
	})
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	buf.WriteByte('[')
	next := ""
	for n, k := range ks {
		if n == p.limit || (n > 0 && int64(buf.Len()) >= s.cfg.MaxPageBytes) {
			next = ks[n-1].key
			break
		}
		if n > 0 {
			buf.WriteByte(',')
		}
		if err := enc.Encode(conv(items[k.item])); err != nil {
			return nil, err
		}
		buf.Truncate(buf.Len() - 1) // the encoder's newline
	}
	buf.WriteString("]\n")
	resp := &response{status: http.StatusOK, raw: buf.Bytes()}
	if next != "" {
		q := r.URL.Query()
		q.Set(afterParam, base64.RawURLEncoding.EncodeToString([]byte(next)))
		u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
		resp.link = "<" + u.String() + `>; rel="next"`
	}
	return resp, nil
}
