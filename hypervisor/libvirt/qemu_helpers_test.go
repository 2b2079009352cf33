package libvirt

import (
	"context"
	"fmt"
	"github.com/novacron/novacron/internal/testutil"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/hypervisor"
)

// qemuHost is a test's own libvirt host running real QEMU: a one-host lab
// (`lab.sh up --hosts 1 --no-agents`), whose libvirtd and virtlogd run in a
// mount namespace of their own over the lab's folders. The test's domains,
// the daemons and their mounts are gone when the test ends, pass or fail.
// No test uses the machine's own libvirtd (qemu:///system): it may run
// someone's guests, and these tests kill, freeze and restart libvirtd.
type qemuHost struct {
	lab *testLab
	labHost
}

// newQEMUHost starts the test's private host, or skips where the lab cannot
// run (see startTestLab: -short, not root, commands missing).
func newQEMUHost(t *testing.T) *qemuHost {
	t.Helper()
	l := startTestLab(t, 1)
	return &qemuHost{lab: l, labHost: l.hosts[0]}
}

// driver opens a driver on the host as an agent would, closed when the test
// ends. It checks boot files and bridges itself (the private libvirtd sees
// the same ones: only libvirt's own folders are its own).
func (h *qemuHost) driver(t *testing.T) *Driver {
	t.Helper()
	d, err := New(Config{
		URI: h.uri, VirtType: VirtQEMU, HostName: "lab", Logger: testLogger(),
		ResyncInterval: time.Second, ShutdownPoll: 100 * time.Millisecond, RebootTimeout: 3 * time.Second,
	})
	if err != nil {
		t.Fatalf("New(%s): %v", h.uri, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// guestSpec is a 96 MiB, 1 vCPU spec booting the test guest. Its domain is
// destroyed and undefined when the test ends, whatever happened (before the
// lab goes down, which would remove it too).
func (h *qemuHost) guestSpec(t *testing.T, name string) (hypervisor.DomainSpec, string) {
	t.Helper()
	kernel, initrd := testGuest(t)
	spec := hypervisor.DomainSpec{
		ID: newID(t), Name: name, Generation: 1, VCPUs: 1, MemoryMiB: 96,
		Boot: &hypervisor.BootSource{Kernel: kernel, Initrd: initrd, Cmdline: "console=ttyS0"},
	}
	dom := domainName(spec.ID, name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		run(ctx, "", "virsh", "-c", h.uri, "destroy", dom)
		run(ctx, "", "virsh", "-c", h.uri, "undefine", "--nvram", dom)
	})
	return spec, dom
}

func (h *qemuHost) virsh(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := run(ctx, "", "virsh", append([]string{"-q", "-c", h.uri}, args...)...)
	return strings.TrimSpace(out), err
}

// domstate is virsh's word for the domain's state: the independent witness.
func (h *qemuHost) domstate(t *testing.T, dom string) string {
	t.Helper()
	out, err := h.virsh(t, "domstate", dom)
	if err != nil {
		return "error: " + err.Error()
	}
	return out
}

func (h *qemuHost) waitDomstate(t *testing.T, dom, want string, within time.Duration) {
	t.Helper()
	testutil.EventuallyEvery(t, within, pollEvery, "virsh domstate "+dom+" = "+want, func() error {
		if got := h.domstate(t, dom); got != want {
			return fmt.Errorf("virsh says %q", got)
		}
		return nil
	})
}

func (h *qemuHost) console(dom string) string {
	b, _ := os.ReadFile(h.consoleLog(dom))
	return string(b)
}

// waitConsole waits until the guest's console log holds at least n copies of s.
func (h *qemuHost) waitConsole(t *testing.T, dom, s string, n int, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	testutil.EventuallyEvery(t, within, pollEvery, "console of "+dom+" shows "+s, func() error {
		if c := strings.Count(h.console(dom), s); c < n {
			return fmt.Errorf("seen %d times", c)
		}
		return nil
	})
	return time.Since(start)
}

// qemuPid is the pid of the domain's QEMU process, as the host's libvirtd
// recorded it (its /run/libvirt/qemu is the host's run/qemu).
func (h *qemuHost) qemuPid(t *testing.T, dom string) string {
	t.Helper()
	b, err := os.ReadFile(h.runFile("qemu", dom+".pid"))
	if err != nil {
		t.Fatalf("qemu pid of %s: %v", dom, err)
	}
	return strings.TrimSpace(string(b))
}

// libvirtdPid is the pid of the host's libvirtd.
func (h *qemuHost) libvirtdPid(t *testing.T) int {
	t.Helper()
	path := h.file("libvirtd.pid")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the lab host's libvirtd pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("bad %s: %v", path, err)
	}
	if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) != "libvirtd" {
		t.Fatalf("pid %d from %s is not libvirtd", pid, path)
	}
	return pid
}

// startLibvirtd starts the host's libvirtd again after it stopped, leaving
// its QEMUs running, and returns once it answers (`lab.sh start-libvirtd`).
func (h *qemuHost) startLibvirtd(t *testing.T) {
	t.Helper()
	if _, stderr, err := h.lab.Command(2*time.Minute, "start-libvirtd", h.name); err != nil {
		t.Fatalf("lab.sh start-libvirtd %s: %v\n%s", h.name, err, stderr)
	}
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(p*float64(len(s)-1)+0.5)]
}
