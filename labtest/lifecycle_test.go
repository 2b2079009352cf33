package labtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// Deadlines of the lifecycle: a stop may take the agent's whole stop timeout
// (30 s: the lab guest ignores ACPI, so the domain is destroyed at its end), a
// restart the driver's reboot timeout (30 s, then a reset).
const (
	runTimeout     = 30 * time.Second
	stopTimeout    = 60 * time.Second
	restartTimeout = 75 * time.Second
	bootTimeout    = 60 * time.Second // TCG guests on 2 shared cores
)

// TestLab_CreateRunsOnAssignedHostOnly follows one VM through its life and
// checks every step in libvirt: its domain runs on the host the API assigned
// and exists nowhere else; stop shuts it off, start, pause and resume change
// its libvirt state; restart reboots the guest inside the same QEMU; delete
// removes the domain from every host.
func TestLab_CreateRunsOnAssignedHostOnly(t *testing.T) {
	l := needLab(t)
	c := l.client(t)
	name := uniqueName("life")
	vm := l.createVM(t, c, l.guest(name, ""))
	start := time.Now()
	p := l.waitRunning(t, c, vm.ID, runTimeout)
	t.Logf("created %s: running on %s in the API and in libvirt after %s", name, p.Host.Name, time.Since(start).Round(time.Millisecond))

	if got, err := p.Host.virsh("domname", vm.ID); err != nil || got != p.Domain {
		t.Errorf("domain of vm %s is named %q (%v), want %q", vm.ID, got, err, p.Domain)
	}

	// step asks for an action with the CLI and waits for the API and libvirt
	// to agree on the outcome, on the assigned host only.
	step := func(action, state, domState string, timeout time.Duration) {
		t.Helper()
		l.cli(t, "vm", action, name)
		took := testutil.EventuallyEvery(t, timeout, virshPoll, fmt.Sprintf("%s: API %s, domain %q", action, state, domState), func() error {
			if _, err := vmIn(c, vm.ID, state, state); err != nil {
				return err
			}
			return l.onlyOn(p.Host, vm.ID, domState)
		})
		t.Logf("%s: %s in the API, %q in libvirt after %s", action, state, domState, took.Round(time.Millisecond))
	}
	step(client.ActionStop, client.StateStopped, "shut off", stopTimeout)
	step(client.ActionStart, client.StateRunning, "running", runTimeout)
	step(client.ActionPause, client.StatePaused, "paused", runTimeout)
	step(client.ActionResume, client.StateRunning, "running", runTimeout)

	// Restart: the guest reboots inside the same QEMU process; its tick counter
	// starts again at 1 in the serial log.
	p.Host.waitTicks(t, p.Domain, 3, bootTimeout)
	pid, err := p.Host.qemuPid(p.Domain)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p.Host.serialLog(p.Domain))
	if err != nil {
		t.Fatal(err)
	}
	l.cli(t, "vm", client.ActionRestart, name)
	took := testutil.EventuallyEvery(t, restartTimeout, virshPoll, "the guest to reboot (tick 1 again in its serial log)", func() error {
		ts, err := ticks(p.Host.serialLog(p.Domain), fi.Size())
		if err != nil {
			return err
		}
		if !slices.Contains(ts, 1) {
			return fmt.Errorf("ticks since the restart: %v", ts)
		}
		return nil
	})
	t.Logf("restart: the guest counted from tick 1 again after %s", took.Round(time.Millisecond))
	if now, err := p.Host.qemuPid(p.Domain); err != nil || now != pid {
		t.Errorf("restart changed the QEMU process: pid %d, was %d (%v); a restart reboots the guest in place", now, pid, err)
	}
	testutil.EventuallyEvery(t, runTimeout, virshPoll, "running after the restart", func() error {
		if _, err := vmIn(c, vm.ID, client.StateRunning, client.StateRunning); err != nil {
			return err
		}
		return l.onlyOn(p.Host, vm.ID, "running")
	})

	l.cli(t, "vm", "delete", name, "--force")
	took = testutil.EventuallyEvery(t, runTimeout, virshPoll, "the domain gone from every host and the vm from the API", func() error {
		if _, err := c.VM(context.Background(), vm.ID); !client.IsNotFound(err) {
			return fmt.Errorf("the API still has the vm (err %v)", err)
		}
		return l.gone(vm.ID)
	})
	t.Logf("delete: domain gone from every host after %s", took.Round(time.Millisecond))
}

// TestLab_BadSpecsRefusedBeforeLibvirt checks that specs no host can run are
// refused by the API with 400 invalid and a message naming the field, and that
// none of them reaches libvirt or the cluster state.
func TestLab_BadSpecsRefusedBeforeLibvirt(t *testing.T) {
	l := needLab(t)
	c := l.client(t)
	nodes, err := c.Nodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	maxVCPUs := 0
	for _, n := range nodes {
		maxVCPUs = max(maxVCPUs, n.Capacity.VCPUs)
	}
	if maxVCPUs == 0 {
		t.Fatalf("no node reports vCPUs: %+v", nodes)
	}
	before := map[string][]string{}
	for _, h := range l.hosts {
		if before[h.Name], err = h.domainIDs(); err != nil {
			t.Fatal(err)
		}
	}

	cases := []struct {
		what  string
		field string // the message must name it
		mod   func(r *client.VMRequest)
	}{
		{"zero memory", "memory_mib", func(r *client.VMRequest) { r.MemoryMiB = 0 }},
		{"more vCPUs than any host", "vcpus", func(r *client.VMRequest) { r.VCPUs = maxVCPUs + 1 }},
		{"missing kernel", "boot.kernel", func(r *client.VMRequest) { r.Boot.Kernel = "/nonexistent/labtest/vmlinuz" }},
		{"unknown network", "nics[0].network", func(r *client.VMRequest) { r.NICs = []client.NIC{{Network: "nope"}} }},
	}
	var names []string
	for _, tc := range cases {
		req := l.guest(uniqueName("bad"), "")
		tc.mod(&req)
		names = append(names, req.Name)
		vm, err := c.CreateVM(context.Background(), req)
		if err == nil {
			t.Cleanup(func() { l.deleteVM(t, vm.ID) })
			t.Errorf("%s: created vm %s on %q, want 400 invalid", tc.what, vm.ID, vm.NodeName)
			continue
		}
		var apiErr *client.APIError
		switch {
		case !errors.As(err, &apiErr):
			t.Errorf("%s: %v, want an API error", tc.what, err)
		case apiErr.Status != 400 || apiErr.Code != client.CodeInvalid:
			t.Errorf("%s: HTTP %d %q (%s), want 400 %q", tc.what, apiErr.Status, apiErr.Code, apiErr.Message, client.CodeInvalid)
		case !strings.Contains(apiErr.Message, tc.field):
			t.Errorf("%s: message %q does not name the field %s", tc.what, apiErr.Message, tc.field)
		default:
			t.Logf("%s: 400 %s: %s", tc.what, apiErr.Code, apiErr.Message)
		}
	}

	// Nothing may reach a host or the cluster state, now or a moment later.
	testutil.HoldsFor(t, 2*time.Second, 500*time.Millisecond, "no trace of the refused specs", func() error {
		for _, h := range l.hosts {
			ids, err := h.domainIDs()
			if err != nil {
				return err
			}
			for _, id := range ids {
				if !slices.Contains(before[h.Name], id) {
					name, _ := h.virsh("domname", id)
					return fmt.Errorf("%s has a new domain %s (%s)", h.Name, id, name)
				}
			}
		}
		for _, n := range names {
			if vm, err := c.VM(context.Background(), n); !client.IsNotFound(err) {
				return fmt.Errorf("the API has vm %s: %+v (err %v)", n, vm, err)
			}
		}
		return nil
	})
}
