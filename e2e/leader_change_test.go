package e2e

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// Creates through the CLI, given every agent's address, go on while the
// leader is killed: each one either makes its VM or fails with a clear
// message, none is answered "name already taken" by its own retry, none
// shows an internal route, and the VMs are exactly the creates that
// succeeded.
func TestE2E_CreatesAcrossALeaderKill(t *testing.T) {
	c := startCluster(t, 3, nil)
	leader := c.leader()
	// The leader first, so that its death hits the creates in flight.
	addrs := []string{leader.addr()}
	for _, a := range c.followers(leader) {
		addrs = append(addrs, a.addr())
	}
	env := testutil.CleanEnv("NOVACRON_ADDR="+strings.Join(addrs, ","), "NOVACRON_TOKEN="+c.token, "NOVACRON_CACERT="+testCAFile(t))

	const creates = 30
	var mu sync.Mutex
	made := map[string]bool{}
	var failures []string
	var wg sync.WaitGroup
	started := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range creates {
			if i == creates/3 {
				close(started)
			}
			name := fmt.Sprintf("lc-%02d", i)
			// Acknowledged is what counts here, not running: --no-wait.
			res := testutil.RunCLI(t, novacronBin, env, "vm", "create", name, "--vcpus", "1", "--memory", "64", "--disk", "1", "--no-wait")
			mu.Lock()
			if res.Code == 0 {
				made[name] = true
			} else {
				failures = append(failures, name+": "+res.Stderr)
			}
			mu.Unlock()
		}
	}()
	<-started
	leader.kill()
	wg.Wait()

	for _, f := range failures {
		if strings.Contains(f, "already taken") {
			t.Errorf("a create's own retry was refused as a duplicate: %s", f)
		}
		if strings.Contains(f, "/internal/") || strings.Contains(f, "/api/v1") {
			t.Errorf("an error shows a route: %s", f)
		}
	}
	if len(failures) > creates/3 {
		t.Errorf("%d of %d creates failed across one leader kill: %q", len(failures), creates, failures)
	}
	survivor := c.followers(leader)[0]
	var vms []client.VM
	testutil.Eventually(t, formTimeout, "the survivors to list the VMs", func() error {
		return cliJSON(t, survivor.addr(), c.token, &vms, "vm", "list")
	})
	var listed, want []string
	for _, vm := range vms {
		listed = append(listed, vm.Name)
	}
	for name := range made {
		want = append(want, name)
	}
	sort.Strings(listed)
	sort.Strings(want)
	// A failed create may still have been made (its answer lost after the
	// retries ran out): listed may hold more than want, never less.
	for _, name := range want {
		if !slices.Contains(listed, name) {
			t.Errorf("create of %s succeeded but the VM is not listed", name)
		}
	}
	t.Logf("%d creates made, %d failed, %d VMs listed", len(want), len(failures), len(listed))
}
