package sampler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
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

// LatestPath is the internal route of a node's newest samples, which the
// leader's alert rules read.
const LatestPath = "/internal/v1/metrics-latest"

// maxLatestKeys bounds the series one answer of the newest samples holds.
const maxLatestKeys = 20_000

// latestWindow is how far back a newest sample may be.
const latestWindow = time.Minute

// Latest returns node's newest sample of each series: key → field → value
// (a field without a value in the last minute is left out).
func (h *History) Latest(ctx context.Context, node string) (map[string]map[string]float64, error) {
	if node == h.Self {
		return h.localLatest(), nil
	}
	resp, err := h.Peers.PeerGet(ctx, node, LatestPath, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("node %s answered HTTP %d", node, resp.StatusCode)
	}
	out := map[string]map[string]float64{}
	err = json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&out)
	return out, err
}

// ServeLatest answers the leader's read of this node's newest samples.
func (h *History) ServeLatest(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(h.localLatest())
}

func (h *History) localLatest() map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	if h.Local == nil {
		return out
	}
	now := time.Now()
	for i, key := range h.Local.Keys() {
		if i >= maxLatestKeys {
			break
		}
		res, err := h.Local.Query(key, now.Add(-latestWindow), now.Add(time.Second), 10*time.Second)
		if err != nil {
			continue
		}
		fields := map[string]float64{}
		for _, p := range res.Points {
			for j, name := range res.Fields {
				if j < len(p.Avg) && !math.IsNaN(p.Avg[j]) {
					fields[name] = p.Avg[j] // later points overwrite earlier ones
				}
			}
		}
		if len(fields) > 0 {
			out[key] = fields
		}
	}
	return out
}
