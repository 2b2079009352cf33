package libvirt

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/internal/labrun"
)

// labHost is one libvirt host of a lab started by deploy/lab/lab.sh.
type labHost struct {
	name, uri string
	// dir is the host's folder: its libvirtd sees dir/log as /var/log/libvirt.
	dir string
}

// consoleLog is where the host's virtlogd writes domain dom's serial console.
func (h labHost) consoleLog(dom string) string {
	return filepath.Join(h.dir, "log", "qemu", dom+"-serial.log")
}

// file is a path in the host's folder (its pid files, start.log).
func (h labHost) file(name string) string { return filepath.Join(h.dir, name) }

// runFile is a path in what the host's libvirtd sees as /run/libvirt.
func (h labHost) runFile(elem ...string) string {
	return filepath.Join(append([]string{h.dir, "run"}, elem...)...)
}

// testLab is a lab of libvirt hosts without agents, in a folder of its own.
type testLab struct {
	*labrun.Lab
	kernel, initrd string
	hosts          []labHost
}

// startTestLab runs `lab.sh up --hosts n --no-agents` in a fresh folder and
// `lab.sh down` when the test ends; a watchdog process runs down too if the
// test process dies first (a panic, -timeout). It skips unless this is root
// with the lab's commands installed. Other labs of the same run (labtest runs
// one at the same time in `go test ./...`) do not collide: each has its own
// folder, sockets, namespaces and pid files; without agents this lab takes no
// TCP port but migration ports, which every libvirtd picks free ones of (it
// tries to bind them first). Another run's labs are kept out by the
// machine-wide lab lock, which this process takes before its first lab and
// holds until it exits: the test fails (it does not skip) when another run
// holds it beyond labrun.DefaultLockWait.
func startTestLab(t *testing.T, n int) *testLab {
	t.Helper()
	requireLibvirt(t)
	if testing.Short() {
		t.Skip("starts libvirt hosts and QEMU guests; skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("the lab needs root (it starts libvirtd and mounts folders)")
	}
	for _, c := range []string{"qemu-system-x86_64", "libvirtd", "virtlogd", "virsh", "unshare", "busybox", "cpio"} {
		if _, err := exec.LookPath(c); err != nil {
			if _, err := os.Stat(filepath.Join("/usr/sbin", c)); err != nil {
				t.Skipf("%s is not installed: run `sudo deploy/lab/lab.sh deps` (or `sudo make deps`)", c)
			}
		}
	}
	lock, err := labrun.MachineLock()
	if err != nil {
		t.Fatalf("lab lock: %v", err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	// A unix socket path has at most 107 bytes: keep the folder short.
	dir, err := os.MkdirTemp("/tmp", "novacron-migtest-")
	if err != nil {
		t.Fatal(err)
	}
	l := &testLab{Lab: &labrun.Lab{Root: root, Dir: dir, Lock: lock}}
	if err := l.StartWatchdog(); err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			if kept, err := l.KeepLogs("novacron-migtest-logs-"); err == nil {
				t.Logf("the lab's logs are kept in %s", kept)
			}
		}
		if _, stderr, err := l.Command(2*time.Minute, "down"); err != nil {
			t.Errorf("lab.sh down: %v\n%s\n(%s is kept; the watchdog runs down again when this process ends)", err, stderr, dir)
			return
		}
		l.StopWatchdog()
		os.RemoveAll(dir)
	})
	out, stderr, err := l.Command(5*time.Minute, "up", "--hosts", strconv.Itoa(n), "--no-agents")
	if err != nil {
		t.Fatalf("lab.sh up: %v\n%s", err, stderr)
	}
	env, err := labrun.ParseEnv(out)
	if err != nil {
		t.Fatalf("lab.sh up printed no usable env lines: %v\n%s", err, out)
	}
	l.kernel, l.initrd = env["NOVACRON_LAB_KERNEL"], env["NOVACRON_LAB_INITRD"]
	for i := 1; i <= n; i++ {
		uri := env[fmt.Sprintf("NOVACRON_LAB_HOST%d_URI", i)]
		if uri == "" || l.kernel == "" {
			t.Fatalf("lab.sh up printed no usable env lines:\n%s", out)
		}
		l.hosts = append(l.hosts, labHost{name: fmt.Sprintf("host%d", i), uri: uri, dir: filepath.Join(dir, "hosts", fmt.Sprintf("host%d", i))})
	}
	return l
}

// driver opens a libvirt driver on host h, closed when the test ends.
func (l *testLab) driver(t *testing.T, h labHost) *Driver {
	t.Helper()
	d, err := New(Config{
		URI: h.uri, VirtType: VirtQEMU, HostName: h.name, Logger: testLogger(), NoPathChecks: true,
		ResyncInterval: time.Second, ShutdownPoll: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("New(%s): %v", h.uri, err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// freeMigrationPort is a TCP port on 127.0.0.1 nothing listens on now, for a
// migration URI of its own: libvirtds pick their migration ports from 49152
// up, all the same first one, and another lab may migrate at the same time.
func freeMigrationPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// eventLog collects a driver's events (it is their only reader).
type eventLog struct {
	mu  sync.Mutex
	evs []hypervisor.Event
}

func recordEvents(d *Driver) *eventLog {
	l := &eventLog{}
	go func() {
		for ev := range d.Events() {
			l.mu.Lock()
			l.evs = append(l.evs, ev)
			l.mu.Unlock()
		}
	}()
	return l
}

// of returns the events about id so far.
func (l *eventLog) of(id string) []hypervisor.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []hypervisor.Event
	for _, ev := range l.evs {
		if ev.ID == id {
			out = append(out, ev)
		}
	}
	return out
}

// ticks returns the numbers of the `tick N` lines in a console log and how
// many times the guest's init started.
func ticks(path string) (nums []int, boots int) {
	b, _ := os.ReadFile(path)
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if strings.Contains(line, "init started") {
			boots++
		}
		if n, err := strconv.Atoi(strings.TrimPrefix(line, "tick ")); err == nil && strings.HasPrefix(line, "tick ") {
			nums = append(nums, n)
		}
	}
	return nums, boots
}

// lastTick is the last tick number in a console log, 0 if none.
func lastTick(path string) int {
	nums, _ := ticks(path)
	if len(nums) == 0 {
		return 0
	}
	return nums[len(nums)-1]
}
