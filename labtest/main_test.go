package labtest

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/internal/labrun"
	"github.com/novacron/novacron/internal/testutil"
)

// labHosts is how many libvirt hosts (and agents) the lab runs.
const labHosts = 3

// Deadlines of the harness itself.
const (
	upTimeout    = 5 * time.Minute // the first `up` on a machine probes QEMU
	downTimeout  = 2 * time.Minute
	nodesTimeout = 60 * time.Second // for every node to register its capacity
)

// requireEnv turns the skip reasons into failures when set (CI, where the lab
// must run).
const requireEnv = "NOVACRON_LABTEST_REQUIRE"

var (
	// theLab is the running lab; nil when the package skips.
	theLab *lab
	// skipReason says why every test skips; "" when the lab runs.
	skipReason string
)

// TestMain starts the lab once for the whole package and always stops it.
func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	defer testutil.RemoveBinary() // after the lab is down (defers run last-in first-out)
	if reason := labUnavailable(); reason != "" {
		if os.Getenv(requireEnv) != "" {
			fmt.Fprintf(os.Stderr, "labtest: %s (and %s is set, so this is a failure)\n", reason, requireEnv)
			return 1
		}
		skipReason = reason
		return m.Run()
	}
	// One run at a time on this machine: the lab's agents take fixed
	// addresses and ports. A second run fails here after a bounded wait,
	// naming the holder (CI must not skip silently).
	lock, err := labrun.MachineLock()
	if err != nil {
		fmt.Fprintf(os.Stderr, "labtest: %v\n", err)
		return 1
	}
	l, err := startLab(lock)
	if err != nil {
		fmt.Fprintf(os.Stderr, "labtest: the lab did not start: %v\n", err)
		if l != nil {
			l.stop(true)
		}
		return 1
	}
	theLab = l
	code := 1
	defer func() { l.stop(code != 0) }() // a panic in TestMain's own goroutine
	code = m.Run()
	return code
}

// needLab skips tb with the package's skip reason, or returns the running lab.
func needLab(tb testing.TB) *lab {
	tb.Helper()
	if skipReason != "" {
		tb.Skip("labtest: " + skipReason)
	}
	if theLab == nil {
		tb.Fatal("labtest: the lab is not running")
	}
	return theLab
}

// labUnavailable says why the lab cannot run here, "" when it can.
func labUnavailable() string {
	if testing.Short() {
		return "starts real libvirt hosts and QEMU guests; skipped with -short"
	}
	if os.Geteuid() != 0 {
		return "not root: the lab starts libvirtd and mounts folders (run as root: sudo go test -tags libvirt_dlopen ./labtest/)"
	}
	var missing []string
	for _, c := range []string{"qemu-system-x86_64", "libvirtd", "virtlogd", "virsh", "unshare", "nsenter", "busybox", "cpio", "curl", "bash", "iptables", "setpriv"} {
		if _, err := lookPath(c); err != nil {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return "missing " + strings.Join(missing, ", ") + ": run `sudo deploy/lab/lab.sh deps` (or `sudo make deps`)"
	}
	cache := labCache()
	for _, f := range []string{"vmlinuz", "initrd.img"} {
		if fi, err := os.Stat(filepath.Join(cache, f)); err != nil || fi.Size() == 0 {
			return "the lab guest image is not built (" + filepath.Join(cache, f) + "): run `sudo deploy/lab/lab.sh deps`"
		}
	}
	if out, err := exec.Command("unshare", "-m", "--propagation", "private", "true").CombinedOutput(); err != nil {
		return fmt.Sprintf("cannot create a mount namespace here (unshare -m: %v %s)", err, bytes.TrimSpace(out))
	}
	return ""
}

// lookPath finds a command also in the sbin folders, where libvirtd lives.
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

// labCache is the guest image cache lab.sh uses.
func labCache() string {
	if c := os.Getenv("NOVACRON_LAB_CACHE"); c != "" {
		return c
	}
	return "/var/cache/novacron-lab"
}

// startLab builds the binary (once per test process) and runs `lab.sh up` in
// a fresh lab folder, its watchdog holding lock too. On an error after the
// folder exists it returns the lab too, for stop.
func startLab(lock *labrun.Lock) (*lab, error) {
	root, err := testutil.ModuleRoot()
	if err != nil {
		return nil, err
	}
	if err := checkPorts(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "novacron-labtest-")
	if err != nil {
		return nil, err
	}
	// A unix socket path has at most 107 bytes; keep the libvirt sockets short.
	if len(dir+"/hosts/host1/run/libvirt-sock") > 100 {
		os.RemoveAll(dir)
		if dir, err = os.MkdirTemp("/tmp", "novacron-labtest-"); err != nil {
			return nil, err
		}
	}
	bin, err := testutil.Binary()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	l := &lab{Lab: &labrun.Lab{Root: root, Dir: dir, Bin: bin, Lock: lock}}
	if err := l.StartWatchdog(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "labtest: starting a %d-host lab in %s\n", labHosts, dir)
	start := time.Now()
	stdout, stderr, err := l.Command(upTimeout, "up", "--hosts", strconv.Itoa(labHosts))
	if err != nil {
		return l, fmt.Errorf("lab.sh up: %v\n%s", err, stderr)
	}
	if err := l.parseEnv(stdout); err != nil {
		return l, fmt.Errorf("lab.sh up printed no usable env lines: %v\nstdout:\n%s", err, stdout)
	}
	if err := l.waitNodes(nodesTimeout); err != nil {
		return l, err
	}
	fmt.Fprintf(os.Stderr, "labtest: lab up in %s\n", time.Since(start).Round(100*time.Millisecond))
	return l, nil
}

// checkPorts fails when a port the lab's agents need is taken: lab.sh uses
// fixed addresses and ports (host I's agent on 127.0.1.I), and another lab
// (say the default one, /var/lib/novacron-lab) would hold them.
func checkPorts() error {
	var taken []string
	for i := 1; i <= labHosts; i++ {
		gossip, raft, http := 7946+10*(i-1), 7947+10*(i-1), 8090+i
		addr := fmt.Sprintf("127.0.1.%d", i)
		for _, p := range []int{gossip, raft, http} {
			if l, err := net.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(p))); err != nil {
				taken = append(taken, fmt.Sprintf("tcp %d", p))
			} else {
				l.Close()
			}
		}
		if u, err := net.ListenPacket("udp", net.JoinHostPort(addr, strconv.Itoa(gossip))); err != nil {
			taken = append(taken, fmt.Sprintf("udp %d", gossip))
		} else {
			u.Close()
		}
	}
	if len(taken) > 0 {
		return fmt.Errorf("ports the lab needs are taken (%s): is another lab up? "+
			"see `deploy/lab/lab.sh status` and stop it with `NOVACRON_LAB_DIR=<its dir> deploy/lab/lab.sh down`",
			strings.Join(taken, ", "))
	}
	return nil
}

// stop prints and keeps the agents' logs when something failed, then runs
// `lab.sh down`. The folder is removed only when down succeeded.
func (l *lab) stop(failed bool) {
	if failed {
		l.printLogTails(40)
		if kept, err := l.KeepLogs("novacron-labtest-logs-"); err == nil {
			fmt.Fprintf(os.Stderr, "labtest: the lab's logs are kept in %s\n", kept)
		}
	}
	_, stderr, err := l.Command(downTimeout, "down")
	if err != nil {
		fmt.Fprintf(os.Stderr, "labtest: lab.sh down failed: %v\n%s\nlabtest: %s is kept; its watchdog runs down again when this process ends\n", err, stderr, l.Dir)
		return
	}
	l.StopWatchdog()
	os.RemoveAll(l.Dir)
}

// printLogTails prints the last n lines of every agent's log.
func (l *lab) printLogTails(n int) {
	for i := 1; i <= labHosts; i++ {
		path := filepath.Join(l.hostDir(i), "agent.log")
		fmt.Fprintf(os.Stderr, "\n---- tail of %s ----\n%s\n", path, testutil.LogTail(path, n))
	}
}
