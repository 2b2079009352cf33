package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
	"github.com/novacron/novacron/internal/testutil/pgtest"
)

// The PostgreSQL record on a real 3-agent cluster (issue 16): a workload of
// creates, stops, migrations and deletes while the leader is killed twice
// and PostgreSQL is stopped and started again; afterwards the exported VMs
// are the cluster's, every Raft index that made an event is in the events
// table once, and no write waited on PostgreSQL while it was down.
func TestE2E_PostgresRecordFollowsTheCluster(t *testing.T) {
	requireBinary(t)
	t.Parallel()
	pg := pgtest.Start(t)
	dsnFile := filepath.Join(t.TempDir(), "dsn")
	if err := os.WriteFile(dsnFile, []byte(pg.DSN()), 0o600); err != nil {
		t.Fatal(err)
	}
	c := startCluster(t, 3, func(_ int, cfg *agentConfig) {
		cfg.extra = append(cfg.extra, "--postgres-dsn-file", dsnFile, "--fence-timeout", "2s", "--heartbeat-interval", "250ms")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// write runs one change through whichever agent answers, again until
	// it is accepted (an election may be under way), and says how long
	// the accepted try took.
	write := func(what string, fn func(*client.Client) error) time.Duration {
		t.Helper()
		var took time.Duration
		testutil.Eventually(t, 30*time.Second, what, func() error {
			var errs []error
			for _, a := range c.running() {
				start := time.Now()
				err := fn(a.client(c.token))
				if err == nil {
					took = time.Since(start)
					return nil
				}
				errs = append(errs, err)
			}
			return errors.Join(errs...)
		})
		return took
	}
	seq := 0
	var slowest time.Duration
	round := func(n int) {
		for range n {
			seq++
			name := fmt.Sprintf("pg-%02d", seq)
			var vm *client.VM
			d := write("create "+name, func(cl *client.Client) (err error) {
				vm, err = cl.CreateVM(ctx, client.VMRequest{Name: name, VCPUs: 1, MemoryMiB: 64, DiskGiB: 1})
				var apiErr *client.APIError
				if errors.As(err, &apiErr) && apiErr.Status == 409 {
					vm, err = cl.VM(ctx, name) // made by a try that timed out
				}
				return err
			})
			slowest = max(slowest, d)
			switch seq % 4 {
			case 1:
				write("stop "+name, func(cl *client.Client) error { _, err := cl.StopVM(ctx, vm.ID); return err })
			case 2:
				write("delete "+name, func(cl *client.Client) error {
					_, err := cl.DeleteVM(ctx, vm.ID)
					var apiErr *client.APIError
					if errors.As(err, &apiErr) && apiErr.Status == 404 {
						return nil
					}
					return err
				})
			}
		}
	}
	round(6)
	first := c.leader()
	first.kill()
	round(6)
	first.start()
	c.waitFormed(3)

	pg.Stop()
	slowest = 0
	round(8)
	downSlowest := slowest
	pg.Restart()

	second := c.leader()
	second.kill()
	round(6)
	second.start()
	c.waitFormed(3)
	t.Logf("slowest accepted write while PostgreSQL was down: %s", downSlowest)
	if downSlowest > 5*time.Second {
		t.Errorf("a write took %s while PostgreSQL was down: the cluster waited on it", downSlowest)
	}

	conn, err := pgx.Connect(ctx, pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	api := c.leader().client(c.token)
	testutil.Eventually(t, 2*time.Minute, "PostgreSQL's VMs to be the cluster's", func() error {
		vms, err := api.VMs(ctx, client.ListVMsOptions{AllProjects: true})
		if err != nil {
			return err
		}
		var want []string
		for _, vm := range vms {
			want = append(want, vm.ID+" "+vm.Name)
		}
		got, err := pgStrings(ctx, conn, `SELECT id || ' ' || name FROM vms WHERE deleted_at IS NULL`)
		if err != nil {
			return err
		}
		sort.Strings(want)
		if !slices.Equal(got, want) {
			return fmt.Errorf("PostgreSQL has %d VMs, the cluster %d", len(got), len(want))
		}
		return nil
	})

	// Every index whose change the leader's stream shows is in PostgreSQL
	// once; PostgreSQL holds no index the stream does not.
	var streamed []string
	after := uint64(0)
	err = api.Events(ctx, client.EventsRequest{After: &after, Limit: 10000}, func(f client.EventFrame) error {
		if len(f.Events) > 0 && f.Events[0].Type != "gap" {
			streamed = append(streamed, fmt.Sprint(f.Index))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, time.Minute, "every streamed index in PostgreSQL", func() error {
		exported, err := pgStrings(ctx, conn, `SELECT DISTINCT raft_index::text FROM events WHERE type <> 'gap'`)
		if err != nil {
			return err
		}
		for _, i := range streamed {
			if !slices.Contains(exported, i) {
				return fmt.Errorf("index %s is not in PostgreSQL (%d exported, %d streamed)", i, len(exported), len(streamed))
			}
		}
		return nil
	})
	var rows, distinct int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT (raft_index, seq)) FROM events`).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if rows != distinct || rows == 0 {
		t.Fatalf("%d event rows, %d distinct", rows, distinct)
	}
}

// pgStrings runs a query of one text column, sorted.
func pgStrings(ctx context.Context, conn *pgx.Conn, q string) ([]string, error) {
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	sort.Strings(out)
	return out, err
}
