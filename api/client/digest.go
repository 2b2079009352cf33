package client

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrDiverged marks two nodes that show different state at one applied index.
var ErrDiverged = errors.New("replicas diverged")

// CompareDigests asks every API once for its state digest (GET
// /api/v1/cluster/digest) and returns them, in the order of apis, when all
// answer the same applied index and the same SHA-256. Two that answer the same
// index with different digests diverged, whatever the cluster writes
// meanwhile (each digest is taken at its own index): the error wraps
// ErrDiverged. Any other error means they are not there yet (different
// indexes, a node that does not answer): ask again.
func CompareDigests(ctx context.Context, apis []*Client) ([]Digest, error) {
	if len(apis) == 0 {
		return nil, errors.New("no API to ask")
	}
	out := make([]Digest, 0, len(apis))
	for _, c := range apis {
		d, err := c.Digest(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.Address(), err)
		}
		out = append(out, *d)
	}
	first := out[0]
	for _, d := range out[1:] {
		switch {
		case d.AppliedIndex != first.AppliedIndex:
			return nil, fmt.Errorf("%s at index %d, %s at %d", first.Node, first.AppliedIndex, d.Node, d.AppliedIndex)
		case d.SHA256 != first.SHA256:
			return out, fmt.Errorf("%w: %s and %s hold different state at index %d:\n %+v\n %+v", ErrDiverged, first.Node, d.Node, d.AppliedIndex, first, d)
		}
	}
	return out, nil
}

// WaitSameState asks again every interval until the digests agree (returned),
// two diverge (an error wrapping ErrDiverged, at once), or ctx ends (the last
// error).
func WaitSameState(ctx context.Context, apis []*Client, interval time.Duration) ([]Digest, error) {
	tick := time.NewTicker(max(interval, 10*time.Millisecond))
	defer tick.Stop()
	for {
		ds, err := CompareDigests(ctx, apis)
		if err == nil || errors.Is(err, ErrDiverged) {
			return ds, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-tick.C:
		}
	}
}
