//go:build linux

package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
)

// BenchmarkAPIRequestFloor measures what one HTTP request to an agent costs
// when it does next to nothing, with 64 clients on the leader as in
// BenchmarkAPICreateVM: "healthz" is GET /healthz (no token, no state),
// "vm-get" is GET /api/v1/vms/{name} of one VM (token checked, one read of the
// state, the VM encoded). A create cannot cost the servers less CPU than
// these plus its Raft entry, so they are the floor under the write path's
// server-cpu-us/write (here per request). tls and insecure side by side.
func BenchmarkAPIRequestFloor(b *testing.B) {
	for _, security := range []string{"tls", "insecure"} {
		for _, request := range []string{"healthz", "vm-get"} {
			name := fmt.Sprintf("%s/%s/clients=64", security, request)
			runWithFixture(b, name, openAgents(security == "insecure"), (*agentCluster).close,
				func(b *testing.B, c *agentCluster) {
					leader, err := c.waitReady(60 * time.Second)
					if err != nil {
						b.Fatal(err)
					}
					// The fixture outlives one call of the body: create the VM once.
					if _, err := leader.api.VM(context.Background(), "bench-0"); err != nil {
						if err := createVM(context.Background(), leader.api, 0); err != nil {
							b.Fatal(err)
						}
					}
					call := func(ctx context.Context, api *client.Client) error {
						_, err := api.Health(ctx)
						return err
					}
					if request == "vm-get" {
						call = func(ctx context.Context, api *client.Client) error {
							_, err := api.VM(ctx, "bench-0")
							return err
						}
					}
					cpu := startCPU(c.pids()...)
					st := benchLoad(b, 64, func(ctx context.Context, _ int, _ uint64) error {
						return call(ctx, leader.api)
					})
					reportCPU(b, cpu, st.Ops)
				})
		}
	}
}
