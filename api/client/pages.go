package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// AfterParam is the query parameter of a list page's cursor, as the server
// names it in the Link header of the page before.
const AfterParam = "after"

// listAll reads every page of a list route: it follows each answer's
// Link rel="next" until there is none, so callers get the whole list, in the
// server's order. Each page is its own read: an item created or deleted while
// the pages are read may be missing, but none appears twice.
func listAll[T any](ctx context.Context, c *Client, path string, query url.Values) ([]T, error) {
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	out := []T{}
	seen := map[string]bool{}
	for {
		var page []T
		h, err := c.doHeader(ctx, http.MethodGet, path, c.readQuery(q), nil, &page)
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		after := nextCursor(h)
		if after == "" {
			return out, nil
		}
		if seen[after] {
			return nil, fmt.Errorf("client: GET %s: the server named cursor %q twice", path, after)
		}
		seen[after] = true
		q.Set(AfterParam, after)
	}
}

// nextCursor is the ?after cursor of the Link rel="next" in h, or "" when the
// answer was the last page. Only the cursor is taken from the link, so a
// client behind a path prefix keeps its own base address.
func nextCursor(h http.Header) string {
	for _, v := range h.Values("Link") {
		for _, link := range strings.Split(v, ",") {
			target, params, ok := strings.Cut(strings.TrimSpace(link), ";")
			if !ok || !hasRelNext(params) {
				continue
			}
			target = strings.TrimSpace(target)
			if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			u, err := url.Parse(target[1 : len(target)-1])
			if err != nil {
				continue
			}
			if after := u.Query().Get(AfterParam); after != "" {
				return after
			}
		}
	}
	return ""
}

// hasRelNext reports whether a Link's parameters include rel="next".
func hasRelNext(params string) bool {
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(strings.TrimSpace(k), "rel") {
			for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(v), `"`)) {
				if strings.EqualFold(rel, "next") {
					return true
				}
			}
		}
	}
	return false
}
