package libvirt

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/hypervisor"
)

const qemuURI = "qemu:///system"

// requireQEMU skips unless this is root and the system libvirtd answers.
func requireQEMU(t *testing.T) {
	t.Helper()
	requireLibvirt(t)
	if os.Geteuid() != 0 {
		t.Skip("real QEMU tests need root (qemu:///system)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := run(ctx, "", "virsh", "-c", qemuURI, "version"); err == nil {
		return
	}
	// No systemd on these machines (and in CI): start the daemons as an
	// operator would, then wait for libvirtd to answer.
	startDaemon(ctx, "virtlogd")
	startDaemon(ctx, "libvirtd")
	deadline := time.Now().Add(45 * time.Second)
	tick := time.NewTicker(200 * time.Millisecond) // polling the daemon's start, with a deadline
	defer tick.Stop()
	for {
		out, err := run(ctx, "", "virsh", "-c", qemuURI, "version")
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Skipf("libvirtd does not answer at %s, even after starting it (virtlogd -d; libvirtd -d): %v %s", qemuURI, err, out)
		}
		<-tick.C
	}
}

// startDaemon runs "NAME -d" when the binary exists; a daemon that already runs
// refuses to start twice, which is fine.
func startDaemon(ctx context.Context, name string) {
	if _, err := exec.LookPath(name); err == nil {
		run(ctx, "", name, "-d")
	}
}

func newQEMUDriver(t *testing.T) *Driver {
	t.Helper()
	requireQEMU(t)
	d, err := New(Config{
		URI: qemuURI, VirtType: VirtQEMU, HostName: "lab", Logger: testLogger(),
		ResyncInterval: time.Second, ShutdownPoll: 100 * time.Millisecond, RebootTimeout: 3 * time.Second,
	})
	if err != nil {
		t.Fatalf("New(%s): %v", qemuURI, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// guestSpec is a 96 MiB, 1 vCPU spec booting the test guest. Its domain is
// destroyed and undefined with virsh when the test ends, whatever happened.
func guestSpec(t *testing.T, name string) (hypervisor.DomainSpec, string) {
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
		run(ctx, "", "virsh", "-c", qemuURI, "destroy", dom)
		run(ctx, "", "virsh", "-c", qemuURI, "undefine", "--nvram", dom)
		os.Remove(consolePath(dom))
	})
	return spec, dom
}

func virsh(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := run(ctx, "", "virsh", append([]string{"-q", "-c", qemuURI}, args...)...)
	return strings.TrimSpace(out), err
}

// domstate is virsh's word for the domain's state: the independent witness.
func domstate(t *testing.T, dom string) string {
	t.Helper()
	out, err := virsh(t, "domstate", dom)
	if err != nil {
		return "error: " + err.Error()
	}
	return out
}

func waitDomstate(t *testing.T, dom, want string, within time.Duration) {
	t.Helper()
	eventually(t, within, "virsh domstate "+dom+" = "+want, func() error {
		if got := domstate(t, dom); got != want {
			return fmt.Errorf("virsh says %q", got)
		}
		return nil
	})
}

func consolePath(dom string) string {
	return filepath.Join(DefaultConfig().ConsoleLogDir, dom+"-serial.log")
}

func console(dom string) string {
	b, _ := os.ReadFile(consolePath(dom))
	return string(b)
}

// waitConsole waits until the guest's console log holds at least n copies of s.
func waitConsole(t *testing.T, dom, s string, n int, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	eventually(t, within, "console of "+dom+" shows "+s, func() error {
		if c := strings.Count(console(dom), s); c < n {
			return fmt.Errorf("seen %d times", c)
		}
		return nil
	})
	return time.Since(start)
}

// qemuPid is the pid of the domain's QEMU process, as libvirtd recorded it.
func qemuPid(t *testing.T, dom string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/var/run/libvirt/qemu", dom+".pid"))
	if err != nil {
		t.Fatalf("qemu pid of %s: %v", dom, err)
	}
	return strings.TrimSpace(string(b))
}

func percentile(ds []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(p*float64(len(s)-1)+0.5)]
}
