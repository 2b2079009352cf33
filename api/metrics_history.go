package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/metricstore"
)

// Metrics history (issue 16): GET /api/v1/vms/{id}/metrics and
// GET /api/v1/nodes/{id}/metrics answer on any node, from the hosts that
// hold the samples (each host keeps its own and its VMs'), a VM's
// stitched from every host that ran it.

// MetricsHistory reads a node's history (*sampler.History).
type MetricsHistory interface {
	Query(ctx context.Context, node, key string, from, to time.Time, step time.Duration) (metricstore.Result, error)
	// Latest is node's newest sample of each series: key → field → value.
	Latest(ctx context.Context, node string) (map[string]map[string]float64, error)
}

// OldMetrics reads from PostgreSQL what the hosts no longer keep: older
// than their year, or of hosts that are gone.
type OldMetrics interface {
	QueryOld(ctx context.Context, key string, from, to time.Time, step time.Duration) (metricstore.Result, error)
}

// localSpan is how far back the hosts' own history reaches.
const localSpan = 365 * 24 * time.Hour

// maxMetricsSince bounds how far back a query reaches: the history keeps
// a year.
const maxMetricsSince = 400 * 24 * time.Hour

// maxHistoryHosts bounds the hosts asked for one VM's history.
const maxHistoryHosts = 16

func (s *Server) vmMetrics(r *http.Request, ps httprouter.Params) (any, error) {
	vm, err := s.findVM(r, ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	return s.history(r, "vm/"+vm.ID, s.vmHosts(vm))
}

func (s *Server) nodeMetrics(r *http.Request, ps httprouter.Params) (any, error) {
	n, err := s.findNode(ps.ByName("id"))
	if err != nil {
		return nil, err
	}
	return s.history(r, "node/"+n.ID, []string{n.ID})
}

// vmHosts are the nodes that may hold vm's samples: where it runs, and the
// ends of its migrations and failovers still on record.
func (s *Server) vmHosts(vm fsm.VM) []string {
	var hosts []string
	add := func(id string) {
		if id != "" && !slices.Contains(hosts, id) && len(hosts) < maxHistoryHosts {
			hosts = append(hosts, id)
		}
	}
	add(vm.Node)
	for _, m := range s.state.Migrations() {
		if m.VMID == vm.ID {
			add(m.Source)
			add(m.Target)
		}
	}
	for _, f := range s.state.Failovers() {
		for _, fv := range f.VMs {
			if fv.VMID == vm.ID {
				add(f.Node)
				add(fv.Node)
			}
		}
	}
	return hosts
}

// history answers key's samples over the request's window from hosts:
// the first host's answer sets the step, the others are asked with it.
func (s *Server) history(r *http.Request, key string, hosts []string) (any, error) {
	if s.cfg.Metrics == nil {
		return nil, errorf(fsm.ErrState, "this node reads no metrics history")
	}
	from, to, step, err := metricsWindow(r, time.Now())
	if err != nil {
		return nil, err
	}
	empty := metricstore.Result{Step: step}
	if len(hosts) == 0 {
		return empty, nil
	}
	ctx := r.Context()
	var results []metricstore.Result
	var firstErr error
	rest := hosts
	for len(rest) > 0 && len(results) == 0 {
		res, err := s.cfg.Metrics.Query(ctx, rest[0], key, from, to, step)
		rest = rest[1:]
		if err != nil {
			firstErr = cmp(firstErr, err)
			continue
		}
		results, step = append(results, res), res.Step
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, h := range rest {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := s.cfg.Metrics.Query(ctx, h, key, from, to, step)
			mu.Lock()
			defer mu.Unlock()
			if err == nil && res.Step == step {
				results = append(results, res)
			}
		}()
	}
	wg.Wait()
	results = s.oldHistory(ctx, key, from, to, step, results)
	if len(results) == 0 {
		if errors.Is(firstErr, metricstore.ErrNotFound) || firstErr == nil {
			return empty, nil // nothing sampled yet
		}
		return nil, metricsError(firstErr)
	}
	return metricstore.Stitch(results), nil
}

// oldHistory adds PostgreSQL's samples to the hosts': those older than the
// hosts keep, or the whole window when no host had any.
func (s *Server) oldHistory(ctx context.Context, key string, from, to time.Time, step time.Duration, results []metricstore.Result) []metricstore.Result {
	if s.cfg.OldMetrics == nil {
		return results
	}
	end := time.Now().Add(-localSpan)
	if to.Before(end) || len(results) == 0 {
		end = to
	}
	if !from.Before(end) {
		return results
	}
	old, err := s.cfg.OldMetrics.QueryOld(ctx, key, from, end, step)
	if err != nil || len(old.Points) == 0 || (len(results) > 0 && old.Step != results[0].Step) {
		return results // PostgreSQL is optional: what the hosts have is the answer
	}
	return append(results, old)
}

// cmp keeps the first error.
func cmp(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// metricsError maps the history's refusals to the API's.
func metricsError(err error) error {
	switch {
	case errors.Is(err, metricstore.ErrTooManyPoints), errors.Is(err, metricstore.ErrRange), errors.Is(err, metricstore.ErrBadKey):
		return invalidf("%v", err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return errorf(fsm.ErrState, "reading the metrics history: %v", err)
}

// metricsWindow reads ?since=1h, or ?from= and ?to= (RFC 3339 or Unix
// seconds), and ?step= (a duration; empty lets the history choose about
// 500 points). The default is the last hour.
func metricsWindow(r *http.Request, now time.Time) (from, to time.Time, step time.Duration, err error) {
	q := r.URL.Query()
	to, from = now, now.Add(-time.Hour)
	if v := q.Get("since"); v != "" {
		d, perr := time.ParseDuration(v)
		if perr != nil || d <= 0 || d > maxMetricsSince {
			return from, to, 0, invalidf("query parameter since: %q is not a duration from 1s to %s (such as 1h, 24h, 168h)", v, maxMetricsSince)
		}
		from = now.Add(-d)
	}
	for name, dst := range map[string]*time.Time{"from": &from, "to": &to} {
		if v := q.Get(name); v != "" {
			t, perr := parseTimeParam(v)
			if perr != nil {
				return from, to, 0, invalidf("query parameter %s: %q is neither RFC 3339 nor Unix seconds", name, v)
			}
			*dst = t
		}
	}
	if !from.Before(to) || to.Sub(from) > maxMetricsSince {
		return from, to, 0, invalidf("the window from %s to %s must run forwards and span at most %s", from.Format(time.RFC3339), to.Format(time.RFC3339), maxMetricsSince)
	}
	if v := q.Get("step"); v != "" {
		d, perr := time.ParseDuration(v)
		if perr != nil || d < 10*time.Second {
			return from, to, 0, invalidf("query parameter step: %q is not a duration of at least 10s", v)
		}
		step = d
	}
	return from, to, step, nil
}

func parseTimeParam(v string) (time.Time, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Parse(time.RFC3339, v)
}
