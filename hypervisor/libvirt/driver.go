// Package libvirt is the production hypervisor.Driver: it runs NovaCron's VMs as
// libvirt domains through libvirt.org/go/libvirt.
//
// Build with `-tags libvirt_dlopen`: the binding then loads libvirt.so.0 when
// New is first called instead of linking it, so the binary builds and runs (with
// the sim driver) on machines without libvirt; New fails with a clear error there.
//
// A domain is managed when its definition carries NovaCron's <metadata> element
// (namespace MetadataNamespace) with the VM ID, name and placement generation;
// its UUID is the VM ID. Every other domain is foreign: no method touches it, and
// Foreign lists their names. Nothing is kept on disk: after an agent restart New
// and List find the running domains again, and Start on a running domain does
// nothing, so a VM is never started twice on one host.
//
// The connection is watched (close callback, keepalive); when libvirtd goes away
// every call returns an error wrapping ErrDisconnected until a background loop
// has reconnected (with backoff) and registered the event callbacks again. A
// periodic resync emits an Event for every managed domain whose state changed
// since it was last seen, which covers events lost while disconnected.
package libvirt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	golibvirt "libvirt.org/go/libvirt"

	"github.com/novacron/novacron/hypervisor"
)

// Errors the libvirt driver returns beside the hypervisor package's own.
var (
	// ErrDisconnected: the connection to libvirt is lost; the driver is
	// reconnecting in the background and the call may be retried later.
	ErrDisconnected = fmt.Errorf("libvirt connection lost: %w", hypervisor.ErrUnavailable)
	// ErrState: the domain's state does not allow the call (reboot a stopped
	// domain, undefine a running one, ...).
	ErrState = errors.New("domain state does not allow this operation")
	// ErrClosed: the driver was closed.
	ErrClosed = errors.New("libvirt driver is closed")
)

// Config says which libvirt to use and how. Zero fields take DefaultConfig's
// values.
type Config struct {
	// URI is the libvirt connection URI.
	URI string
	// VirtType is "kvm", "qemu" or "auto". auto picks kvm only when libvirt
	// offers kvm domains for the host's arch, the host CPU lacks the
	// "hypervisor" flag (nested KVM hangs guests on the lab machines), and, for
	// a local URI, /dev/kvm opens and creates a VM; otherwise qemu (TCG). On
	// libvirt's test driver it picks "test". VirtType() reports the outcome.
	VirtType string
	// HostName names the host in logs and error messages.
	HostName string
	// Logger receives the driver's logs, with component=libvirt.
	Logger *slog.Logger
	// ResyncInterval is how often every managed domain's state is compared
	// with the last one seen, to emit events that libvirt's were lost.
	ResyncInterval time.Duration
	// ShutdownPoll is how often Shutdown checks whether the guest is off.
	ShutdownPoll time.Duration
	// RebootTimeout is how long Reboot's graceful (ACPI) reboot may take before
	// the domain is reset.
	RebootTimeout time.Duration
	// ConnectTimeout bounds one attempt to open the connection.
	ConnectTimeout time.Duration
	// ConsoleLogDir is where, on the hypervisor host, libvirt logs each
	// domain's serial console (NAME-serial.log); NoConsoleLog turns it off.
	ConsoleLogDir string
	NoConsoleLog  bool
	// ConsoleLogReadDir is where this agent reads those logs, when it sees
	// the hypervisor host's files elsewhere (the lab's hosts, which run in
	// mount namespaces of their own); empty means ConsoleLogDir.
	ConsoleLogReadDir string
	// ImageDir is the folder whose file system Capacity reports as disk.
	ImageDir string
	// NoPathChecks turns off Start's checks, on a local URI, that boot files
	// exist and bridges are bridges; set it when libvirtd sees another file
	// system than this process (a daemon in its own mount namespace).
	NoPathChecks bool
	// EventBuffer is the capacity of the Events channel; events beyond it are
	// dropped (the resync and the agent's own resync catch up).
	EventBuffer int
}

// DefaultConfig is the local system libvirt with auto virt type.
func DefaultConfig() Config {
	return Config{
		URI: "qemu:///system", VirtType: VirtAuto, Logger: slog.Default(),
		ResyncInterval: 5 * time.Second, ShutdownPoll: 250 * time.Millisecond,
		RebootTimeout: 30 * time.Second, ConnectTimeout: 10 * time.Second,
		ConsoleLogDir: "/var/log/libvirt/qemu", ImageDir: "/var/lib/libvirt/images",
		EventBuffer: 256,
	}
}

func (cfg Config) withDefaults() Config {
	def := DefaultConfig()
	set := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	setDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	set(&cfg.URI, def.URI)
	set(&cfg.VirtType, def.VirtType)
	set(&cfg.ConsoleLogDir, def.ConsoleLogDir)
	set(&cfg.ImageDir, def.ImageDir)
	setDur(&cfg.ResyncInterval, def.ResyncInterval)
	setDur(&cfg.ShutdownPoll, def.ShutdownPoll)
	setDur(&cfg.RebootTimeout, def.RebootTimeout)
	setDur(&cfg.ConnectTimeout, def.ConnectTimeout)
	if cfg.NoConsoleLog {
		cfg.ConsoleLogDir = ""
	}
	if cfg.Logger == nil {
		cfg.Logger = def.Logger
	}
	if cfg.EventBuffer <= 0 {
		cfg.EventBuffer = def.EventBuffer
	}
	return cfg
}

// Driver runs domains through libvirt. Create it with New; methods are safe for
// concurrent use.
type Driver struct {
	cfg    Config
	logger *slog.Logger
	local  bool
	// checkPaths: Start checks boot files and bridges on this machine.
	checkPaths bool
	// Set once in New.
	virtType, virtReason, arch string
	labels                     map[string]string

	mu        sync.Mutex
	conn      *lconn // nil while disconnected
	connErr   error  // why conn is nil
	connSeq   uint64
	closed    bool
	requested map[string]bool          // IDs this driver stopped on request since their last Start
	known     map[string]bool          // IDs of managed domains seen
	rebooted  map[string]chan struct{} // Reboot waiting for the guest's reboot event
	unplugs   map[string]time.Time     // when DetachDisk last asked for "id/target" (see disks.go)

	events    chan hypervisor.Event
	raw       chan rawEvent
	broken    chan struct{}
	resyncNow chan struct{}
	stop      chan struct{}
	// bg bounds the watcher's calls; Close cancels it.
	bg        context.Context
	cancelBg  context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	// Owned by the watcher goroutine: the last state emitted per managed
	// domain, and the UUIDs of foreign domains whose events were seen.
	seen    map[string]hypervisor.DomainState
	foreign map[string]bool
	// incoming holds the IDs of domains arriving by migration (see
	// incomingFailed); also the watcher's.
	incoming map[string]bool
}

var _ hypervisor.Driver = (*Driver)(nil)

// New connects to cfg.URI, learns the host (arch, virt type), takes note of
// the managed domains' states and starts watching events. It fails when
// libvirt.so.0 cannot be loaded or the URI does not answer.
func New(cfg Config) (*Driver, error) {
	cfg = cfg.withDefaults()
	if err := Available(); err != nil {
		return nil, err
	}
	d := &Driver{
		cfg: cfg, local: isLocalURI(cfg.URI), checkPaths: isLocalURI(cfg.URI) && !cfg.NoPathChecks,
		logger:    cfg.Logger.With("component", "libvirt", "uri", cfg.URI),
		requested: map[string]bool{}, known: map[string]bool{}, rebooted: map[string]chan struct{}{},
		events: make(chan hypervisor.Event, cfg.EventBuffer), raw: make(chan rawEvent, 1024),
		broken: make(chan struct{}, 1), resyncNow: make(chan struct{}, 1), stop: make(chan struct{}),
		seen: map[string]hypervisor.DomainState{}, foreign: map[string]bool{}, incoming: map[string]bool{},
	}
	d.bg, d.cancelBg = context.WithCancel(context.Background())
	if cfg.HostName != "" {
		d.logger = d.logger.With("host", cfg.HostName)
	}
	lc, err := d.dial(cfg.ConnectTimeout, d.stop)
	if err != nil {
		return nil, fmt.Errorf("libvirt driver: %w", err)
	}
	d.conn = lc
	if err := d.learnHost(lc.c); err != nil {
		d.Close()
		return nil, fmt.Errorf("libvirt driver on %s: %w", cfg.URI, err)
	}
	d.labels = map[string]string{"hypervisor": "libvirt", "virt-type": d.virtType, "arch": d.arch}
	d.resync(false)
	d.wg.Add(2)
	go d.reconnectLoop()
	go d.watch()
	d.logger.Info("libvirt driver ready", "virt_type", d.virtType, "why", d.virtReason, "arch", d.arch, "managed", len(d.seen))
	return d, nil
}

// learnHost reads the capabilities and settles the virt type.
func (d *Driver) learnHost(c *golibvirt.Connect) error {
	capsXML, err := c.GetCapabilities()
	if err != nil {
		return fmt.Errorf("read capabilities: %w", err)
	}
	facts, err := parseCaps(capsXML)
	if err != nil {
		return err
	}
	driverType, err := c.GetType()
	if err != nil {
		return fmt.Errorf("read driver type: %w", err)
	}
	var probe func() error
	if d.local {
		probe = probeKVM
	}
	d.virtType, d.virtReason, err = resolveVirtType(d.cfg.VirtType, driverType, facts, probe)
	d.arch = facts.arch
	return err
}

// Name is "libvirt".
func (d *Driver) Name() string { return "libvirt" }

// URI is the libvirt connection URI.
func (d *Driver) URI() string { return d.cfg.URI }

// VirtType is the domain type this driver defines domains with: "kvm" or
// "qemu" ("test" on libvirt's test driver).
func (d *Driver) VirtType() string { return d.virtType }

// Labels are "hypervisor"="libvirt", "virt-type" and "arch".
func (d *Driver) Labels() map[string]string { return maps.Clone(d.labels) }

// Events delivers managed domains' state changes; Close closes the channel.
func (d *Driver) Events() <-chan hypervisor.Event { return d.events }

// Close stops the watcher and the reconnect loop, closes the connection and
// then the Events channel. Later calls return ErrClosed; a second Close is a
// no-op.
func (d *Driver) Close() error {
	d.closeOnce.Do(func() {
		d.mu.Lock()
		d.closed = true
		lc := d.conn
		d.conn = nil
		closeNow := lc != nil && d.retireLocked(lc)
		d.mu.Unlock()
		close(d.stop)
		d.cancelBg()
		d.wg.Wait()
		if closeNow {
			closeConn(lc, d)
		}
		close(d.events)
	})
	return nil
}

// where names the host in errors.
func (d *Driver) where() string {
	if d.cfg.HostName != "" {
		return fmt.Sprintf("host %q", d.cfg.HostName)
	}
	return d.cfg.URI
}

func (d *Driver) notFound(id string) error {
	return fmt.Errorf("%w: no managed domain %q on %s", hypervisor.ErrNotFound, id, d.where())
}

func (d *Driver) isRequested(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.requested[id]
}

func (d *Driver) setRequested(id string, on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if on {
		d.requested[id] = true
	} else {
		delete(d.requested, id)
	}
}

func (d *Driver) setKnown(id string, on bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if on {
		d.known[id] = true
	} else {
		delete(d.known, id)
	}
}
