package labtest

import (
	"context"
	"crypto/tls"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/labrun"
	"github.com/novacron/novacron/internal/pki"
	"github.com/novacron/novacron/internal/testutil"
)

// lab is the running lab: its folder, the env lines `lab.sh up` printed, and
// the hosts.
type lab struct {
	// Lab runs lab.sh; its Bin is the novacron binary the agents and the CLI run.
	*labrun.Lab

	env            map[string]string
	addr, token    string
	caCert         string // NOVACRON_CACERT: the lab's CA (lab.sh runs the agents with TLS)
	kernel, initrd string
	// image is the lab's boot disk (NOVACRON_LAB_IMAGE), in --image-dir.
	image string
	hosts []*labHost
}

// labHost is one lab host: its libvirtd and its agent. Its node name in the
// cluster is Name.
type labHost struct {
	Index int
	Name  string // hostI
	URI   string // libvirt URI, from NOVACRON_LAB_HOSTI_URI
	Dir   string // $NOVACRON_LAB_DIR/hosts/hostI
	Addr  string // the agent's API address, from NOVACRON_LAB_HOSTI_ADDR
	CA    string // the lab's CA, from NOVACRON_CACERT

	// killed and cut say what a chaos test did to the host (lab.sh kill, cut)
	// and has not undone yet.
	killed, cut bool
}

func (l *lab) hostDir(i int) string {
	return filepath.Join(l.Dir, "hosts", "host"+strconv.Itoa(i))
}

// parseEnv reads the env lines of `lab.sh up` and sets up the hosts.
func (l *lab) parseEnv(out string) error {
	env, err := labrun.ParseEnv(out)
	if err != nil {
		return err
	}
	l.env = env
	for name, dst := range map[string]*string{
		"NOVACRON_ADDR": &l.addr, "NOVACRON_TOKEN": &l.token, "NOVACRON_CACERT": &l.caCert,
		"NOVACRON_LAB_KERNEL": &l.kernel, "NOVACRON_LAB_INITRD": &l.initrd, "NOVACRON_LAB_IMAGE": &l.image,
	} {
		if *dst = l.env[name]; *dst == "" {
			return fmt.Errorf("no %s", name)
		}
	}
	for i := 1; i <= labHosts; i++ {
		uri := l.env[fmt.Sprintf("NOVACRON_LAB_HOST%d_URI", i)]
		if uri == "" {
			return fmt.Errorf("no NOVACRON_LAB_HOST%d_URI", i)
		}
		// lab.sh: host I's agent serves HTTP on 127.0.1.I:8090+I.
		addr := l.env[fmt.Sprintf("NOVACRON_LAB_HOST%d_ADDR", i)]
		if addr == "" {
			return fmt.Errorf("no NOVACRON_LAB_HOST%d_ADDR", i)
		}
		l.hosts = append(l.hosts, &labHost{
			Index: i, Name: "host" + strconv.Itoa(i), URI: uri, Dir: l.hostDir(i), Addr: addr, CA: l.caCert,
		})
	}
	return nil
}

// waitNodes waits until the API lists every host as an alive node with its
// capacity: only then can the leader place a VM on any of them.
func (l *lab) waitNodes(timeout time.Duration) error {
	c, err := l.newClient(l.addr, l.token, 5*time.Second)
	if err != nil {
		return err
	}
	_, err = testutil.Poll(timeout, 200*time.Millisecond, func() error {
		nodes, err := c.Nodes(context.Background())
		if err != nil {
			return err
		}
		alive := 0
		for _, n := range nodes {
			if n.Status == "alive" && n.Capacity.VCPUs > 0 && n.Capacity.MemoryMiB > 0 && n.Hypervisor.Driver == "libvirt" {
				alive++
			}
		}
		if alive != labHosts {
			return fmt.Errorf("%d of %d nodes alive with a libvirt capacity: %+v", alive, labHosts, nodes)
		}
		// The tests find a VM's domain through its node's name: node hostI
		// must drive NOVACRON_LAB_HOSTI_URI.
		for _, n := range nodes {
			i := slices.IndexFunc(l.hosts, func(h *labHost) bool { return h.Name == n.Name })
			if i < 0 || l.hosts[i].URI != n.Hypervisor.URI {
				return fmt.Errorf("node %s drives %q, which is not the lab's URI for a host of that name", n.Name, n.Hypervisor.URI)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("the nodes did not all register within %s: %w", timeout, err)
	}
	return nil
}

// tlsConfig trusts the lab's CA.
func (l *lab) tlsConfig() (*tls.Config, error) {
	return pki.ClientConfig(pki.Files{CA: l.caCert})
}

// newClient is an API client of the agent at addr, over HTTPS with the lab's CA.
func (l *lab) newClient(addr, token string, timeout time.Duration) (*client.Client, error) {
	return newLabClient(addr, l.caCert, token, timeout)
}

// newLabClient is an API client of the agent at addr that trusts the CA in caCert.
func newLabClient(addr, caCert, token string, timeout time.Duration) (*client.Client, error) {
	cfg, err := pki.ClientConfig(pki.Files{CA: caCert})
	if err != nil {
		return nil, err
	}
	return client.New(addr, token, client.WithTimeout(timeout), client.WithTLS(cfg))
}

// host returns the lab host whose node name is name.
func (l *lab) host(tb testing.TB, name string) *labHost {
	tb.Helper()
	for _, h := range l.hosts {
		if h.Name == name {
			return h
		}
	}
	tb.Fatalf("no lab host named %q (a VM placed on a node the lab did not start?)", name)
	return nil
}

// client returns an API client of the first host not named in avoid: a test
// that kills an agent reads and writes through another one.
func (l *lab) client(tb testing.TB, avoid ...string) *client.Client {
	tb.Helper()
	for _, h := range l.hosts {
		if !slices.Contains(avoid, h.Name) {
			c, err := l.newClient(h.Addr, l.token, 15*time.Second)
			if err != nil {
				tb.Fatal(err)
			}
			return c
		}
	}
	tb.Fatal("no lab host left to talk to")
	return nil
}

// guest is the request for a VM that boots the lab's guest image.
func (l *lab) guest(name, policy string) client.VMRequest {
	return client.VMRequest{
		Name: name, VCPUs: 1, MemoryMiB: 96, DiskGiB: 1, RestartPolicy: policy,
		Boot: &client.BootSource{Kernel: l.kernel, Initrd: l.initrd, Cmdline: "console=ttyS0"},
	}
}

// uniqueName makes VM names that do not collide between tests and runs.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1_000_000_000)
}

// cli runs `novacron args...` against the lab as a user's shell after
// `eval "$(lab.sh up)"` would, and requires exit 0.
func (l *lab) cli(tb testing.TB, args ...string) testutil.CLIResult {
	tb.Helper()
	res := testutil.RunCLI(tb, l.Bin, testutil.CleanEnv("NOVACRON_ADDR="+l.addr, "NOVACRON_TOKEN="+l.token, "NOVACRON_CACERT="+l.caCert), args...)
	if res.Code != 0 {
		tb.Fatalf("%s", res)
	}
	return res
}

// virshPoll is how often a wait looks again at a condition that runs virsh (a
// process each time, on 2 cores shared with TCG guests); an API-only condition
// is polled every testutil.PollInterval.
const virshPoll = 250 * time.Millisecond

// vmIn reads a VM and checks its observed state (and desired state, when
// desired is not "").
func vmIn(c *client.Client, id, state, desired string) (*client.VM, error) {
	vm, err := c.VM(context.Background(), id)
	if err != nil {
		return nil, err
	}
	if vm.State != state || (desired != "" && vm.DesiredState != desired) {
		return vm, fmt.Errorf("vm %s is %s (desired %s, error %q), want %s (desired %s)",
			vm.Name, vm.State, vm.DesiredState, vm.Error, state, orAny(desired))
	}
	return vm, nil
}

func orAny(s string) string {
	if s == "" {
		return "any"
	}
	return s
}
