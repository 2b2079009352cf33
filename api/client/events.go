package client

import (
	"bufio"
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

	"github.com/novacron/novacron/internal/version"
)

// Event is one change in the event stream (GET /api/v1/events).
type Event struct {
	// Type is the kind of object: vm, node, migration, image, volume, ...;
	// gap when the server no longer keeps what the reader asked for.
	Type string `json:"type"`
	// Action is the change in snake case: create_vm, update_migration, ...
	Action  string `json:"action"`
	ID      string `json:"id,omitempty"`
	Name    string `json:"name,omitempty"`
	Project string `json:"project,omitempty"`
	VM      string `json:"vm,omitempty"`
	Message string `json:"message,omitempty"`
}

// EventFrame is what one Raft index changed; one without events is a
// heartbeat saying how far the stream has read.
type EventFrame struct {
	Index  uint64    `json:"index"`
	Time   time.Time `json:"time"`
	Events []Event   `json:"events"`
}

// EventsRequest says which events to read.
type EventsRequest struct {
	// After resumes exactly after this Raft index; nil starts with the
	// newest (the last Limit frames without Follow, what comes next with).
	After *uint64
	// Follow keeps the stream open for the changes to come.
	Follow bool
	// Limit bounds the frames of a stream that does not follow (server
	// default 100, at most 10,000).
	Limit int
	// Types keeps these event types; Object one object (ID or name).
	Types  []string
	Object string
}

// Events reads the event stream as newline-delimited JSON and calls fn
// with each frame until the stream ends, ctx ends, or fn returns an error
// (returned as is). A stream that follows ends only with an error: resume
// it with After set to the last frame's index (FollowEvents does).
func (c *Client) Events(ctx context.Context, req EventsRequest, fn func(EventFrame) error) error {
	q := url.Values{"follow": {strconv.FormatBool(req.Follow)}}
	if req.After != nil {
		q.Set("after", strconv.FormatUint(*req.After, 10))
	}
	if req.Limit > 0 {
		q.Set("limit", strconv.Itoa(req.Limit))
	}
	if len(req.Types) > 0 {
		q.Set("type", strings.Join(req.Types, ","))
	}
	if req.Object != "" {
		q.Set("object", req.Object)
	}
	if c.project != "" {
		q.Set("project", c.project)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Address()+apiPrefix+"/events?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	hr.Header.Set("Accept", "application/x-ndjson")
	hr.Header.Set("User-Agent", "novacron-client/"+version.Version)
	if c.token != "" {
		hr.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(hr)
	if err != nil {
		return fmt.Errorf("client: event stream: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return parseAPIError(resp.StatusCode, raw)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var f EventFrame
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			return fmt.Errorf("client: event stream: a frame does not decode: %w", err)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("client: event stream: %w", err)
	}
	if req.Follow {
		return fmt.Errorf("client: event stream: %w", io.ErrUnexpectedEOF)
	}
	return nil
}

// FollowEvents follows the event stream from req.After (req.Follow is
// implied) and, when the connection drops, connects again and resumes
// exactly after the last index it got, every event once and in order.
// onRetry, when set, hears each drop. It returns when ctx ends, fn returns
// an error, or the server refuses the request (an *APIError).
func (c *Client) FollowEvents(ctx context.Context, req EventsRequest, fn func(EventFrame) error, onRetry func(error)) error {
	req.Follow = true
	var fnErr error
	wait := 100 * time.Millisecond
	for {
		err := c.Events(ctx, req, func(f EventFrame) error {
			if fnErr = fn(f); fnErr != nil {
				return fnErr
			}
			next := f.Index
			req.After, wait = &next, 100*time.Millisecond
			return nil
		})
		var apiErr *APIError
		switch {
		case fnErr != nil:
			return fnErr
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &apiErr):
			return err
		}
		if onRetry != nil {
			onRetry(err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}
