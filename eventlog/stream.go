package eventlog

import (
	"context"
	"strconv"
	"time"
)

// Filter chooses the events one reader gets.
type Filter struct {
	// Types are the event types asked for; empty asks for every type.
	Types map[string]bool
	// Project, when set, keeps the events of that project's objects.
	Project string
	// Object, when set, keeps the events of the object with that ID or name.
	Object string
	// Allowed says whether the reader may read the object an event is
	// about (its rights, in the event's project); nil allows every event.
	Allowed func(Event) bool
}

// Match reports whether ev passes the filter. A gap always does: the reader
// must know that it missed something, whatever it asked for.
func (f Filter) Match(ev Event) bool {
	if ev.Type == "gap" {
		return true
	}
	switch {
	case len(f.Types) > 0 && !f.Types[ev.Type]:
		return false
	case f.Project != "" && ev.Project != f.Project:
		return false
	case f.Object != "" && ev.ID != f.Object && ev.Name != f.Object && ev.VM != f.Object:
		return false
	}
	return f.Allowed == nil || f.Allowed(ev)
}

// StreamOptions say where a stream starts and whether it goes on.
type StreamOptions struct {
	// After is the index to resume after; nil starts with the newest
	// frames (the last Limit of them) without following, or with what
	// comes next when following.
	After *uint64
	// Follow keeps the stream open for the changes to come; without it the
	// stream ends once it has sent what is kept (at most Limit frames).
	Follow bool
	// Limit bounds the frames sent by a stream that does not follow.
	Limit int
	// Heartbeat is how often an idle followed stream sends a frame without
	// events, carrying the index read so far (0: never; a followed stream
	// always starts with one).
	Heartbeat time.Duration
	// Flush, when set, is called once the frames read together have been
	// sent: a transport that buffers sends them in one write (the changes
	// of a burst, such as a VM's creation and its host's report).
	Flush func() error
}

// DefaultLimit is how many frames a stream that does not follow sends when
// it is not told.
const DefaultLimit = 100

// readBatch is how many frames one read takes.
const readBatch = 256

// Stream sends the frames after opts.After that match f, each encoded
// (AppendFrame), through send, until ctx ends, send fails (the reader went
// away: nil, or ctx's error) or, without Follow, what is kept has been
// sent. send must not keep the slice it is given.
func (j *Journal) Stream(ctx context.Context, opts StreamOptions, f Filter, send func([]byte) error) error {
	if !opts.Follow && opts.Limit <= 0 {
		opts.Limit = DefaultLimit
	}
	cursor := j.start(opts, f)
	sent := 0
	var tick <-chan time.Time
	if opts.Follow && opts.Heartbeat > 0 {
		t := time.NewTicker(opts.Heartbeat)
		defer t.Stop()
		tick = t.C
	}
	var buf []byte
	var events [][]byte // reused from frame to frame
	if opts.Follow {
		// A first heartbeat tells the reader where it starts, so that it
		// can resume from there even if nothing happens before it drops.
		beat := Frame{Index: cursor, Time: time.Now().UTC()}
		if buf = AppendFrame(buf, &beat, nil); send(buf) != nil || (opts.Flush != nil && opts.Flush() != nil) {
			return ctx.Err()
		}
	}
	for {
		frames, gap, last, wake := j.read(cursor, readBatch)
		if gap != nil {
			keep, most := j.Limits()
			g := gap.frame(keep, most)
			if buf = AppendFrame(buf[:0], &g.Frame, g.encodedEvents()); send(buf) != nil {
				return ctx.Err()
			}
			cursor = gap.Floor
		}
		for _, fr := range frames {
			if !opts.Follow && sent >= opts.Limit {
				return nil
			}
			cursor = fr.Index
			events = matching(events[:0], fr, f)
			if len(events) == 0 {
				continue
			}
			if buf = AppendFrame(buf[:0], &fr.Frame, events); send(buf) != nil {
				return ctx.Err()
			}
			sent++
		}
		if len(frames) == readBatch {
			continue // more to read before waiting
		}
		if opts.Flush != nil && opts.Flush() != nil {
			return ctx.Err()
		}
		cursor = max(cursor, last)
		if !opts.Follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		case <-tick:
			beat := Frame{Index: cursor, Time: time.Now().UTC()}
			if buf = AppendFrame(buf[:0], &beat, nil); send(buf) != nil || (opts.Flush != nil && opts.Flush() != nil) {
				return ctx.Err()
			}
		}
	}
}

// start is the cursor a stream begins after.
func (j *Journal) start(opts StreamOptions, f Filter) uint64 {
	if opts.After != nil {
		return *opts.After
	}
	if opts.Follow {
		return j.Last()
	}
	return j.tailCursor(opts.Limit, f)
}

// tailCursor is the index after which the last n matching frames begin.
func (j *Journal) tailCursor(n int, f Filter) uint64 {
	j.mu.RLock()
	defer j.mu.RUnlock()
	kept := j.frames[j.head:]
	for i := len(kept) - 1; i >= 0; i-- {
		if len(matching(nil, kept[i], f)) == 0 {
			continue
		}
		if n--; n == 0 {
			return kept[i].Index - 1
		}
	}
	return j.floor
}

// matching appends the encoded events of fr that pass f to out.
func matching(out [][]byte, fr *frame, f Filter) [][]byte {
	enc := fr.encodedEvents()
	for i, ev := range fr.Events {
		if f.Match(ev) {
			out = append(out, enc[i])
		}
	}
	return out
}

// AppendFrame appends fr's JSON, with only the given encoded events, to b:
// {"index":N,"time":"...","events":[...]}.
func AppendFrame(b []byte, fr *Frame, events [][]byte) []byte {
	b = append(b, `{"index":`...)
	b = strconv.AppendUint(b, fr.Index, 10)
	b = append(b, `,"time":"`...)
	b = fr.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","events":[`...)
	for i, e := range events {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e...)
	}
	return append(b, "]}"...)
}
