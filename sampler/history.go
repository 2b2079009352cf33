package sampler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/novacron/novacron/metricstore"
)

// PathPrefix is the internal route a node's history is read from:
// PathPrefix + "vm/<id>" or "node/<id>", ?from=&to= (Unix seconds) and
// ?step= (seconds).
const PathPrefix = "/internal/v1/metrics/"

// Peers reaches another node's internal routes (cluster.Agent).
type Peers interface {
	PeerGet(ctx context.Context, nodeID, path string, header http.Header) (*http.Response, error)
}

// History reads the metrics history of any node: this one's from its own
// store, another's over the internal API (mutual TLS).
type History struct {
	Self  string
	Local *metricstore.Store
	Peers Peers
}

// Query reads key's history on node.
func (h *History) Query(ctx context.Context, node, key string, from, to time.Time, step time.Duration) (metricstore.Result, error) {
	if node == h.Self {
		if h.Local == nil {
			return metricstore.Result{}, fmt.Errorf("%w: this node keeps no metrics", metricstore.ErrNotFound)
		}
		return h.Local.Query(key, from, to, step)
	}
	q := url.Values{"from": {strconv.FormatInt(from.Unix(), 10)}, "to": {strconv.FormatInt(to.Unix(), 10)},
		"step": {strconv.FormatInt(int64(step/time.Second), 10)}}
	resp, err := h.Peers.PeerGet(ctx, node, PathPrefix+key+"?"+q.Encode(), nil)
	if err != nil {
		return metricstore.Result{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return metricstore.Result{}, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		var res metricstore.Result
		err := json.Unmarshal(body, &res)
		return res, err
	case http.StatusNotFound:
		return metricstore.Result{}, fmt.Errorf("%w on node %s", metricstore.ErrNotFound, node)
	default:
		return metricstore.Result{}, fmt.Errorf("node %s answered HTTP %d: %s", node, resp.StatusCode, strings.TrimSpace(string(body)))
	}
}

// ServeHTTP answers another node's read of this node's history.
func (h *History) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(r.URL.Path, PathPrefix)
	q := r.URL.Query()
	from, err1 := strconv.ParseInt(q.Get("from"), 10, 64)
	to, err2 := strconv.ParseInt(q.Get("to"), 10, 64)
	step, err3 := strconv.ParseInt(q.Get("step"), 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		http.Error(w, "from, to and step must be whole seconds", http.StatusBadRequest)
		return
	}
	if h.Local == nil {
		http.Error(w, "this node keeps no metrics", http.StatusNotFound)
		return
	}
	res, err := h.Local.Query(key, time.Unix(from, 0), time.Unix(to, 0), time.Duration(step)*time.Second)
	switch {
	case errors.Is(err, metricstore.ErrNotFound):
		http.Error(w, err.Error(), http.StatusNotFound)
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadRequest)
	default:
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(res)
	}
}
