package labtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// virshTimeout bounds one virsh run; a libvirtd that is being restarted makes
// virsh wait for its socket.
const virshTimeout = 20 * time.Second

// virsh runs `virsh -q -c URI args...` on the host and returns its trimmed stdout.
func (h *labHost) virsh(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), virshTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "virsh", append([]string{"-q", "-c", h.URI}, args...)...).CombinedOutput()
	s := strings.TrimSpace(string(out))
	if err != nil {
		return s, fmt.Errorf("%s: virsh %s: %v: %s", h.Name, strings.Join(args, " "), err, s)
	}
	return s, nil
}

// domState is `virsh domstate` of the domain whose UUID is the VM ID: running,
// paused, shut off, ...
func (h *labHost) domState(id string) (string, error) {
	return h.virsh("domstate", id)
}

// domainIDs lists the UUIDs of every domain on the host, running or not.
func (h *labHost) domainIDs() ([]string, error) {
	out, err := h.virsh("list", "--all", "--uuid")
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}

// domainNames lists the names of every domain on the host, running or not.
func (h *labHost) domainNames() ([]string, error) {
	out, err := h.virsh("list", "--all", "--name")
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}

// whereDefined names the hosts that have a domain with this UUID.
func (l *lab) whereDefined(id string) ([]string, error) {
	var where []string
	for _, h := range l.hosts {
		ids, err := h.domainIDs()
		if err != nil {
			return nil, err
		}
		if slices.Contains(ids, strings.ToLower(id)) {
			where = append(where, h.Name)
		}
	}
	return where, nil
}

// onlyOn checks that the VM's domain is in state on host h and defined on no
// other host.
func (l *lab) onlyOn(h *labHost, id, state string) error {
	where, err := l.whereDefined(id)
	if err != nil {
		return err
	}
	if len(where) != 1 || where[0] != h.Name {
		return fmt.Errorf("domain %s is defined on %v, want on %s only", id, where, h.Name)
	}
	st, err := h.domState(id)
	if err != nil {
		return err
	}
	if st != state {
		return fmt.Errorf("domain %s on %s is %q, want %q", id, h.Name, st, state)
	}
	return nil
}

// gone checks that no host has a domain with this UUID.
func (l *lab) gone(id string) error {
	where, err := l.whereDefined(id)
	if err != nil {
		return err
	}
	if len(where) > 0 {
		return fmt.Errorf("domain %s is still defined on %v", id, where)
	}
	return nil
}

// nameCharRE and domainName restate the libvirt driver's naming rule
// (hypervisor/libvirt/xml.go): "novacron-" + the first 8 hex digits of the VM ID
// + "-" + the name with other characters than [A-Za-z0-9._-] replaced by "-",
// at most 64 characters. Users find their VMs in `virsh list` by it.
var nameCharRE = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func domainName(id, name string) string {
	short := strings.ToLower(strings.ReplaceAll(id, "-", ""))
	if len(short) > 8 {
		short = short[:8]
	}
	base := "novacron-" + short
	clean := strings.Trim(nameCharRE.ReplaceAllString(name, "-"), "-")
	if clean == "" {
		return base
	}
	if room := 64 - len(base) - 1; len(clean) > room {
		clean = clean[:room]
	}
	return base + "-" + clean
}

// qemuPid is the pid of the QEMU process running the domain, from the pid file
// libvirtd keeps in the host's /run/libvirt/qemu, checked against the process's
// command line.
func (h *labHost) qemuPid(domain string) (int, error) {
	path := filepath.Join(h.Dir, "run", "qemu", domain+".pid")
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("%s: no QEMU pid file: %w", h.Name, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("%s: pid file %s: %w", h.Name, path, err)
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return 0, fmt.Errorf("%s: QEMU pid %d of %s is gone: %w", h.Name, pid, domain, err)
	}
	if !strings.Contains(string(cmdline), "guest="+domain) {
		return 0, fmt.Errorf("%s: pid %d is not the QEMU of %s", h.Name, pid, domain)
	}
	return pid, nil
}

// serialLog is where virtlogd writes the domain's serial console: the driver
// logs it under the host's /var/log/libvirt/qemu, which is hosts/hostI/log.
func (h *labHost) serialLog(domain string) string {
	return filepath.Join(h.Dir, "log", "qemu", domain+"-serial.log")
}

// ticks returns the lab guest's `tick N` counters in the serial log from byte
// offset on, in order.
func ticks(path string, offset int64) ([]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if offset > int64(len(b)) {
		return nil, fmt.Errorf("%s is shorter (%d bytes) than offset %d: truncated by a new QEMU?", path, len(b), offset)
	}
	var out []int
	for _, line := range strings.Split(string(b[offset:]), "\n") {
		line = strings.TrimSpace(line)
		if n, ok := strings.CutPrefix(line, "tick "); ok {
			if v, err := strconv.Atoi(n); err == nil {
				out = append(out, v)
			}
		}
	}
	return out, nil
}

// waitTicks waits until the guest's serial log shows tick n: the guest booted
// to its /init and counts.
func (h *labHost) waitTicks(tb testing.TB, domain string, n int, timeout time.Duration) {
	tb.Helper()
	testutil.EventuallyEvery(tb, timeout, virshPoll, fmt.Sprintf("tick %d in %s's serial log", n, domain), func() error {
		ts, err := ticks(h.serialLog(domain), 0)
		if err != nil {
			return err
		}
		if len(ts) == 0 || ts[len(ts)-1] < n {
			return fmt.Errorf("ticks so far: %v", ts)
		}
		return nil
	})
}

// placed is a VM the test created, with the host the API assigned it to.
type placed struct {
	ID, Name string
	Domain   string
	Host     *labHost
}

// createVM creates a VM through the API and deletes it when the test ends,
// checking that its domain is then gone from every host.
func (l *lab) createVM(tb testing.TB, c *client.Client, req client.VMRequest) *client.VM {
	tb.Helper()
	vm, err := c.CreateVM(context.Background(), req)
	if err != nil {
		tb.Fatalf("create vm %s: %v", req.Name, err)
	}
	tb.Cleanup(func() { l.deleteVM(tb, vm.ID) })
	return vm
}

// deleteVM deletes a VM through any agent that answers and waits until its
// domain is gone from every host.
func (l *lab) deleteVM(tb testing.TB, id string) {
	tb.Helper()
	var err error
	for _, h := range l.hosts {
		c, cerr := l.newClient(h.Addr, l.token, 10*time.Second)
		if cerr != nil {
			continue
		}
		if _, err = c.DeleteVM(context.Background(), id); err == nil || client.IsNotFound(err) {
			err = nil
			break
		}
	}
	if err != nil {
		tb.Errorf("cleanup: delete vm %s: %v", id, err)
		return
	}
	if _, gerr := testutil.Poll(30*time.Second, virshPoll, func() error { return l.gone(id) }); gerr != nil {
		tb.Errorf("cleanup: vm %s deleted, but after 30s: %v", id, gerr)
	}
}

// waitRunning waits until the API shows the VM running on a node and its
// domain runs on that node's host and is defined on no other host.
func (l *lab) waitRunning(tb testing.TB, c *client.Client, id string, timeout time.Duration) placed {
	tb.Helper()
	var p placed
	testutil.EventuallyEvery(tb, timeout, virshPoll, "vm "+id+" running in the API and in libvirt on its host only", func() error {
		vm, err := vmIn(c, id, client.StateRunning, client.StateRunning)
		if err != nil {
			return err
		}
		if vm.NodeName == "" {
			return errors.New("the API names no node for the running vm")
		}
		h := l.host(tb, vm.NodeName)
		p = placed{ID: vm.ID, Name: vm.Name, Domain: domainName(vm.ID, vm.Name), Host: h}
		return l.onlyOn(h, id, "running")
	})
	return p
}
