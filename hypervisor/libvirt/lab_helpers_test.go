package libvirt

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/novacron/novacron/hypervisor"
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

// testLab is a lab of libvirt hosts without agents, in a folder of its own.
type testLab struct {
	dir, labSh     string
	kernel, initrd string
	hosts          []labHost
}

// startTestLab runs `lab.sh up --hosts n --no-agents` in a fresh folder and
// `lab.sh down` when the test ends; a watchdog process runs down too if the
// test process dies first (a panic, -timeout). It skips unless this is root
// with the lab's commands installed. Other labs (labtest runs one at the same
// time in `go test ./...`) do not collide: each has its own folder, sockets,
// namespaces and pid files; without agents this lab takes no TCP port but
// migration ports, which every libvirtd picks free ones of (it tries to bind
// them first).
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
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	// A unix socket path has at most 107 bytes: keep the folder short.
	dir, err := os.MkdirTemp("/tmp", "novacron-migtest-")
	if err != nil {
		t.Fatal(err)
	}
	l := &testLab{dir: dir, labSh: filepath.Join(root, "deploy", "lab", "lab.sh")}
	watchdog := l.startWatchdog(t)
	t.Cleanup(func() {
		if t.Failed() {
			l.keepLogs(t)
		}
		if out, err := l.run(2*time.Minute, "down"); err != nil {
			t.Errorf("lab.sh down: %v\n%s\n(%s is kept; the watchdog runs down again when this process ends)", err, out, dir)
			return
		}
		_ = watchdog.Process.Kill()
		os.RemoveAll(dir)
	})
	out, err := l.run(5*time.Minute, "up", "--hosts", strconv.Itoa(n), "--no-agents")
	if err != nil {
		t.Fatalf("lab.sh up: %v\n%s", err, out)
	}
	env := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^export (NOVACRON_LAB_\w+)='([^']*)'$`).FindAllStringSubmatch(out, -1) {
		env[m[1]] = m[2]
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

// run runs lab.sh for this lab's folder; stdout and stderr come back together.
func (l *testLab) run(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, l.labSh, args...)
	cmd.Env = l.env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// env is the caller's environment without its NOVACRON_ variables (but the
// image cache), plus this lab's folder.
func (l *testLab) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NOVACRON_") || strings.HasPrefix(kv, "NOVACRON_LAB_CACHE=") {
			env = append(env, kv)
		}
	}
	return append(env, "NOVACRON_LAB_DIR="+l.dir, "PATH="+os.Getenv("PATH")+":/usr/sbin:/sbin")
}

// startWatchdog starts a process, in a session of its own, that runs
// `lab.sh down` once this test process is gone.
func (l *testLab) startWatchdog(t *testing.T) *exec.Cmd {
	t.Helper()
	script := `while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec "$2" down`
	cmd := exec.Command("bash", "-c", script, "migtest-watchdog", strconv.Itoa(os.Getpid()), l.labSh)
	cmd.Env = l.env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(l.dir)
		t.Fatalf("start the lab watchdog: %v", err)
	}
	go cmd.Wait() //nolint:errcheck // reaped when killed
	return cmd
}

// keepLogs copies the hosts' libvirtd and QEMU logs where down leaves them.
func (l *testLab) keepLogs(t *testing.T) {
	kept, err := os.MkdirTemp("", "novacron-migtest-logs-")
	if err != nil {
		return
	}
	for _, h := range l.hosts {
		files, _ := filepath.Glob(filepath.Join(h.dir, "log", "qemu", "*.log"))
		files = append(files, filepath.Join(h.dir, "log", "libvirtd.log"))
		for _, f := range files {
			if b, err := os.ReadFile(f); err == nil {
				_ = os.WriteFile(filepath.Join(kept, h.name+"-"+filepath.Base(f)), b, 0o600)
			}
		}
	}
	t.Logf("the lab's logs are kept in %s", kept)
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
