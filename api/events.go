package api

import (
	"context"
	"errors"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/authz"
	"github.com/novacron/novacron/eventlog"
	"github.com/novacron/novacron/fsm"
)

// The event stream (issue 16): GET /api/v1/events serves every change
// this node applies, keyed by its Raft index, as a WebSocket of text
// messages (when asked to upgrade) or as newline-delimited JSON, one frame
// per line: {"index":N,"time":"...","events":[...]}. ?after=N resumes
// exactly after index N; a frame without events is a heartbeat carrying the
// index read so far. A caller gets only the events of objects it may read.

// Events serves the event stream (*eventlog.Journal).
type Events interface {
	Stream(ctx context.Context, opts eventlog.StreamOptions, f eventlog.Filter, send func([]byte) error) error
}

// eventResource is the permission resource that reading an event of a type
// needs, in the event's project.
var eventResource = map[string]string{
	"vm": "vm", "node": "node", "migration": "migration", "image": "image", "volume": "volume", "pool": "pool",
	"project": "project", "user": "user", "session": "user", "token": "token", "join_token": "token", "role": "role",
	"failover": "failover", "audit": "audit", "settings": "settings", "retention": "settings", "cluster": "cluster",
	"gossip_keyring": "cluster", "alert": "alert", "alert_rule": "alert", "silence": "alert", "alert_target": "settings",
}

// maxEventLimit bounds a stream that does not follow.
const maxEventLimit = 10_000

func (s *Server) streamEvents(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	if s.cfg.Events == nil {
		return errorf(fsm.ErrState, "this node serves no event stream")
	}
	opts, filter, err := eventQuery(r)
	if err != nil {
		return err
	}
	pr := caller(r.Context())
	filter.Allowed = func(ev eventlog.Event) bool {
		res, ok := eventResource[ev.Type]
		if !ok {
			res = "cluster"
		}
		return pr.Allowed(ev.Project, authz.Read(res))
	}
	opts.Heartbeat = s.cfg.EventHeartbeat
	s.eventStreams.Add(1)
	defer s.eventStreams.Add(-1)
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Time{}) // the reader sends nothing more
	if r.Header.Get("Upgrade") != "" {
		return s.streamEventsWS(w, r, opts, filter)
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // a proxy must pass each line on
	w.WriteHeader(http.StatusOK)
	rc.Flush()
	// Frames read together go out in one write. Each write gets from 90 %
	// to all of EventWriteLimit to leave: the deadline moves on at most ten
	// times a limit, since moving it costs more than a frame's encoding
	// (with 1,000 readers, every frame moves 1,000 deadlines).
	limit := s.cfg.EventWriteLimit
	var moved time.Time
	var failed error // the write that ended the stream, if one did
	opts.Flush = func() error {
		failed = rc.Flush()
		return failed
	}
	s.cfg.Events.Stream(r.Context(), opts, filter, func(b []byte) error {
		if now := time.Now(); now.Sub(moved) >= limit/10 {
			rc.SetWriteDeadline(now.Add(limit))
			moved = now
		}
		_, failed = w.Write(append(b, '\n'))
		return failed
	})
	if errors.Is(failed, os.ErrDeadlineExceeded) {
		s.eventReadersDropped.Inc()
	}
	return nil
}

// streamEventsWS serves the stream over a WebSocket, one frame a text
// message. A browser's origin must be this node's (the library's check),
// so that no page elsewhere reads the stream in a user's name.
func (s *Server) streamEventsWS(w http.ResponseWriter, r *http.Request, opts eventlog.StreamOptions, f eventlog.Filter) error {
	http.NewResponseController(w).SetWriteDeadline(time.Time{})
	hj := &batchHijacker{ResponseWriter: w}
	c, err := websocket.Accept(hj, r, &websocket.AcceptOptions{Subprotocols: []string{client.WebSocketProtocol}})
	if err != nil {
		return nil // Accept answered the client itself
	}
	defer c.CloseNow()
	c.SetReadLimit(4 << 10)
	opts.Follow = true
	// CloseRead reads (and answers) the control frames and ends ctx when the
	// client closes or sends a message: the stream is one way.
	ctx := c.CloseRead(r.Context())
	// One watchdog, armed while frames are being written, drops the
	// connection of a reader too slow to take them: a timer per frame
	// cost a tenth of the fan-out to 1,000 readers.
	watchdog := time.AfterFunc(time.Hour, func() {
		s.eventReadersDropped.Inc()
		c.CloseNow()
	})
	watchdog.Stop()
	// Each write gets from 90 % to all of EventWriteLimit, as over NDJSON:
	// a reader catching up takes many batches without a pause between
	// them, and the watchdog moves on at most ten times a limit.
	limit := s.cfg.EventWriteLimit
	var armed time.Time // zero while no write is under way
	opts.Flush = func() error {
		err := hj.conn.release()
		if !armed.IsZero() && !watchdog.Stop() && err == nil {
			err = context.DeadlineExceeded // it fired as the batch went out
		}
		armed = time.Time{}
		return err
	}
	s.cfg.Events.Stream(ctx, opts, f, func(b []byte) error {
		if now := time.Now(); now.Sub(armed) >= limit/10 {
			watchdog.Reset(limit)
			armed = now
		}
		return hj.conn.writeText(b)
	})
	watchdog.Stop()
	c.Close(websocket.StatusNormalClosure, "")
	return nil
}

// eventQuery reads ?after, ?follow, ?limit, ?type, ?project and ?object.
func eventQuery(r *http.Request) (eventlog.StreamOptions, eventlog.Filter, error) {
	q := r.URL.Query()
	opts := eventlog.StreamOptions{Follow: true}
	var f eventlog.Filter
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return opts, f, invalidf("query parameter after: %q is not a Raft index", v)
		}
		opts.After = &n
	}
	if v := q.Get("follow"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return opts, f, invalidf("query parameter follow: %q is not true or false", v)
		}
		opts.Follow = b
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxEventLimit {
			return opts, f, invalidf("query parameter limit: %q is not a number from 1 to %d", v, maxEventLimit)
		}
		opts.Limit = n
	}
	for _, v := range q["type"] {
		for _, t := range strings.Split(v, ",") {
			if _, ok := eventResource[t]; !ok {
				known := make([]string, 0, len(eventResource))
				for k := range eventResource {
					known = append(known, k)
				}
				slices.Sort(known)
				return opts, f, invalidf("query parameter type: %q is not an event type (%s)", t, strings.Join(known, ", "))
			}
			if f.Types == nil {
				f.Types = map[string]bool{}
			}
			f.Types[t] = true
		}
	}
	f.Project, f.Object = q.Get(projectParam), q.Get("object")
	if len(f.Project) > 128 || len(f.Object) > 256 {
		return opts, f, invalidf("query parameters project and object: too long")
	}
	return opts, f, nil
}
