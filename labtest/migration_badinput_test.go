package labtest

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// migrationView is what a refused migration request must leave as it was:
// every migration record and the VM's placement.
type migrationView struct {
	Migrations []string // "ID state index"
	Node       string
	State      string
	Generation uint64
	Migration  string
	UpdatedAt  time.Time
}

func viewOf(c *client.Client, vmID string) (migrationView, error) {
	ms, err := c.Migrations(context.Background(), client.ListMigrationsOptions{})
	if err != nil {
		return migrationView{}, err
	}
	vm, err := c.VM(context.Background(), vmID)
	if err != nil {
		return migrationView{}, err
	}
	v := migrationView{Node: vm.Node, State: vm.State, Generation: vm.Generation, Migration: vm.Migration, UpdatedAt: vm.UpdatedAt}
	for _, m := range ms {
		v.Migrations = append(v.Migrations, fmt.Sprintf("%s %s %d", m.ID, m.State, m.Index))
	}
	return v, nil
}

// refused runs one bad request and checks its answer's status and code, that
// the message names what is wrong, and that nothing changed.
func refused(t *testing.T, c *client.Client, vmID, what string, status int, code, mention string, call func() error) {
	t.Helper()
	before, err := viewOf(c, vmID)
	if err != nil {
		t.Fatal(err)
	}
	err = call()
	var apiErr *client.APIError
	switch {
	case err == nil:
		t.Errorf("%s: accepted, want %d %s", what, status, code)
	case !asAPIError(err, &apiErr):
		t.Errorf("%s: %v, want an API error %d %s", what, err, status, code)
	case apiErr.Status != status || apiErr.Code != code:
		t.Errorf("%s: %d %s (%s), want %d %s", what, apiErr.Status, apiErr.Code, apiErr.Message, status, code)
	case !strings.Contains(strings.ToLower(apiErr.Message), strings.ToLower(mention)):
		t.Errorf("%s: message %q does not mention %q", what, apiErr.Message, mention)
	default:
		t.Logf("%s: %d %s: %s", what, apiErr.Status, apiErr.Code, apiErr.Message)
	}
	after, err := viewOf(c, vmID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Errorf("%s changed the cluster:\nbefore %+v\nafter  %+v", what, before, after)
	}
}

// TestLab_MigrationBadInput sends the migrations the API must refuse to a real
// cluster: to the VM's own node, to a node in maintenance, to a node that is
// down, to a node without room, a live move of a stopped VM, unknown VMs, nodes
// and migrations, and bad options. Each gets its 4xx with the reason, and
// leaves every migration record and the VM as they were.
func TestLab_MigrationBadInput(t *testing.T) {
	l := needLab(t)
	cl, err := l.client(t).Cluster(context.Background())
	if err != nil || cl.Leader == "" {
		t.Fatalf("no leader: %+v %v", cl, err)
	}
	// A: the mover's host; B: full; C: in maintenance, then down. C is not
	// the leader, so stopping its agent leaves the cluster as it is.
	var a, b, down *labHost
	for _, h := range l.hosts {
		switch {
		case down == nil && h.Name != cl.Leader:
			down = h
		case a == nil:
			a = h
		default:
			b = h
		}
	}
	// Every request goes through an agent that stays up.
	c := l.client(t, down.Name)
	filler := l.guest(uniqueName("bad-filler"), "")
	filler.MemoryMiB = 1990 // of the 2048 a lab host offers: 58 left
	filler.Placement = &client.PlacementSpec{Nodes: []string{b.Name}}
	fillerVM := l.createVM(t, c, filler)
	moverReq := l.guest(uniqueName("bad-mover"), "")
	moverReq.Placement = &client.PlacementSpec{PreferredNodes: []string{a.Name}}
	mover := l.createVM(t, c, moverReq)
	if p := l.waitRunning(t, c, fillerVM.ID, runTimeout); p.Host != b {
		t.Fatalf("filler runs on %s, want %s", p.Host.Name, b.Name)
	}
	if p := l.waitRunning(t, c, mover.ID, runTimeout); p.Host != a {
		t.Fatalf("mover runs on %s, want %s", p.Host.Name, a.Name)
	}
	migrate := func(vm string, req client.MigrateRequest) func() error {
		return func() error {
			_, err := c.MigrateVM(context.Background(), vm, req)
			return err
		}
	}
	live := func(target string) client.MigrateRequest {
		return client.MigrateRequest{Mode: client.MigrateLive, Target: target}
	}
	id := mover.ID

	refused(t, c, id, "to its own node", 400, client.CodeInvalid, "already runs", migrate(id, live(a.Name)))
	refused(t, c, id, "to a node without room", 409, client.CodeInvalidState, "memory", migrate(id, live(b.Name)))
	refused(t, c, id, "unknown vm", 404, client.CodeNotFound, "no-such-vm", migrate("no-such-vm", live(b.Name)))
	refused(t, c, id, "unknown target", 404, client.CodeNotFound, "no-such-node", migrate(id, live("no-such-node")))
	unknown := "00000000-0000-4000-8000-000000000000"
	refused(t, c, id, "show an unknown migration", 404, client.CodeNotFound, unknown, func() error {
		_, err := c.Migration(context.Background(), unknown)
		return err
	})
	refused(t, c, id, "cancel an unknown migration", 404, client.CodeNotFound, unknown, func() error {
		_, err := c.CancelMigration(context.Background(), unknown)
		return err
	})
	for _, bad := range []struct {
		what    string
		req     client.MigrateRequest
		mention string
	}{
		{"mode teleport", client.MigrateRequest{Mode: "teleport", Target: down.Name}, "mode"},
		{"negative max downtime", client.MigrateRequest{Target: down.Name, MaxDowntimeMs: -1}, "max_downtime_ms"},
		{"max downtime over 10 minutes", client.MigrateRequest{Target: down.Name, MaxDowntimeMs: 600_001}, "max_downtime_ms"},
		{"bandwidth too high", client.MigrateRequest{Target: down.Name, BandwidthMiBps: 1<<20 + 1}, "bandwidth_mibps"},
		{"65 connections", client.MigrateRequest{Target: down.Name, Parallel: 65}, "parallel"},
		{"unknown compression", client.MigrateRequest{Target: down.Name, Compression: "lz4"}, "compression"},
		{"zstd without parallel", client.MigrateRequest{Target: down.Name, Compression: "zstd"}, "parallel"},
		{"cold with a bandwidth", client.MigrateRequest{Mode: client.MigrateCold, Target: down.Name, BandwidthMiBps: 10}, "cold"},
	} {
		refused(t, c, id, bad.what, 400, client.CodeInvalid, bad.mention, migrate(id, bad.req))
	}
	for _, raw := range []struct{ what, body, code string }{
		{"an unknown field", `{"target":"` + down.Name + `","speed":"fast"}`, "bad_json"},
		{"a wrong type", `{"target":"` + down.Name + `","parallel":"four"}`, "bad_json"},
		{"trailing data", `{"target":"` + down.Name + `"} {}`, "bad_json"},
	} {
		refused(t, c, id, "a body with "+raw.what, 400, raw.code, "", func() error {
			status, body := l.rawPost(t, "/api/v1/vms/"+id+"/migrate", raw.body)
			if status < 400 {
				return nil
			}
			return apiErrorOf(status, body)
		})
	}

	// Maintenance: drain the empty host C, then undrain it.
	if _, err := c.DrainNode(context.Background(), down.Name, "labtest bad input"); err != nil {
		t.Fatal(err)
	}
	undrained := false
	t.Cleanup(func() {
		if !undrained {
			_, _ = c.UndrainNode(context.Background(), down.Name)
		}
	})
	refused(t, c, id, "to a node in maintenance", 409, client.CodeInvalidState, "maintenance", migrate(id, live(down.Name)))
	if _, err := c.UndrainNode(context.Background(), down.Name); err != nil {
		t.Fatal(err)
	}
	undrained = true

	// Down: stop C's agent until the cluster no longer counts it alive.
	proc := down.killAgent(t)
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			down.restartAgent(t, proc)
		}
	})
	testutil.EventuallyEvery(t, 60*time.Second, 250*time.Millisecond, "node "+down.Name+" to be seen down", func() error {
		n, err := c.Node(context.Background(), down.Name)
		if err != nil {
			return err
		}
		if n.Status == "alive" {
			return fmt.Errorf("node %s is %s", n.Name, n.Status)
		}
		return nil
	})
	refused(t, c, id, "to a node that is down", 409, client.CodeInvalidState, down.Name, migrate(id, live(down.Name)))
	down.restartAgent(t, proc)
	restarted = true
	testutil.EventuallyEvery(t, 60*time.Second, 250*time.Millisecond, "node "+down.Name+" alive again", func() error {
		n, err := c.Node(context.Background(), down.Name)
		if err == nil && n.Status != "alive" {
			err = fmt.Errorf("node %s is %s", n.Name, n.Status)
		}
		return err
	})

	// Stopped: no live or warm move; its state says why.
	if _, err := c.StopVM(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	testutil.EventuallyEvery(t, stopTimeout, virshPoll, "the mover stopped", func() error {
		if _, err := vmIn(c, id, client.StateStopped, client.StateStopped); err != nil {
			return err
		}
		return l.onlyOn(a, id, "shut off")
	})
	refused(t, c, id, "a stopped vm live", 409, client.CodeInvalidState, "stopped", migrate(id, live(down.Name)))
	refused(t, c, id, "a stopped vm warm", 409, client.CodeInvalidState, "stopped",
		migrate(id, client.MigrateRequest{Mode: client.MigrateWarm, Target: down.Name}))
	if err := l.onlyOn(a, id, "shut off"); err != nil {
		t.Error(err)
	}
}
