package cluster

import "errors"

// Errors of the distributed core; the API maps them to status codes.
var (
	// ErrNoLeader: no leader is known right now (election in progress, or this
	// node is cut off from the majority). Retrying later may succeed.
	ErrNoLeader = errors.New("no cluster leader")
	// ErrNotReady: this node has not caught up with the cluster yet: a node
	// that just started, or a new leader before it has applied the previous
	// terms' entries (it can neither serve a read index nor check a caller's
	// token). Retrying shortly succeeds.
	ErrNotReady = errors.New("node not ready")
	// ErrShutdown: the agent is stopping.
	ErrShutdown = errors.New("agent is shutting down")
)
