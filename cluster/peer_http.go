package cluster

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// Peer routes: internal routes that any node answers (not only the leader),
// for data that lives on one host, such as an image another host copies.
// They sit behind the same node authentication as the leader's routes.

// ErrPeerUnknown: gossip knows no API address for the node asked for.
var ErrPeerUnknown = errors.New("node not known to gossip")

// HandlePeer adds a route to the internal API that this node answers
// whether it leads or not. Register routes before the node serves
// InternalHandler.
func (a *Agent) HandlePeer(pattern string, h http.Handler) {
	a.forwarder.mux.Handle(pattern, h)
}

// PeerGet makes a GET to another node's internal path with the node's own
// credentials and returns the response as it came (the caller closes it).
func (a *Agent) PeerGet(ctx context.Context, nodeID, path string, header http.Header) (*http.Response, error) {
	m, ok := a.gossip.memberByID(nodeID)
	if !ok || m.Meta.API == "" {
		return nil, fmt.Errorf("%w: %s", ErrPeerUnknown, nodeID)
	}
	scheme := "http://"
	if a.cfg.TLS != nil {
		scheme = "https://"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+m.Meta.API+path, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := a.forwarder.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("node %s (%s): %w", m.Name, m.Meta.API, err)
	}
	return resp, nil
}

// PeerURL is the address of another node's internal path and the HTTP
// client (with this node's credentials) to reach it with, for calls that
// are no plain GET (a WebSocket).
func (a *Agent) PeerURL(nodeID, path string) (string, *http.Client, error) {
	m, ok := a.gossip.memberByID(nodeID)
	if !ok || m.Meta.API == "" {
		return "", nil, fmt.Errorf("%w: %s", ErrPeerUnknown, nodeID)
	}
	scheme := "http://"
	if a.cfg.TLS != nil {
		scheme = "https://"
	}
	return scheme + m.Meta.API + path, a.forwarder.client, nil
}
