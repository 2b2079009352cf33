// Package hypervisor defines the Driver interface through which an agent runs VMs
// on its host, and the types that cross it. Implementations live in sub-packages:
// hypervisor/sim (in-process simulated host for dev mode, tests and fleet
// simulation) and hypervisor/libvirt (production).
//
// A driver knows nothing about the cluster: the host reconciler in package cluster
// compares what the FSM wants with what the driver reports and calls the driver to
// close the gap.
package hypervisor

import (
	"context"
	"errors"
	"time"
)

// Errors a driver returns; callers match them with errors.Is.
var (
	// ErrNotFound: no managed domain with that ID on this host.
	ErrNotFound = errors.New("domain not found")
	// ErrInsufficientResources: the host cannot fit the domain right now.
	ErrInsufficientResources = errors.New("insufficient host resources")
	// ErrInvalidSpec: the spec cannot be run on this host (bad boot file, ...).
	ErrInvalidSpec = errors.New("invalid domain spec")
	// ErrUnavailable: the hypervisor cannot be reached right now (libvirtd
	// restarting); the call may succeed later and says nothing about the VM.
	ErrUnavailable = errors.New("hypervisor unavailable")
)

// DomainState is what the hypervisor reports for a domain.
type DomainState string

// Domain states.
const (
	StateRunning DomainState = "running"
	StatePaused  DomainState = "paused"
	StateStopped DomainState = "stopped"
	// StateCrashed: the guest died without being asked to (crash, destroyed behind
	// the agent's back). A guest that powered itself off is StateStopped.
	StateCrashed DomainState = "crashed"
)

// BootSource is what a domain boots from: a kernel+initrd or a disk image.
type BootSource struct {
	Kernel  string
	Initrd  string
	Cmdline string
	Disk    string
	// DiskFormat is Disk's format as the VM's spec records it ("raw" when
	// empty); drivers pass it on and never probe the image.
	DiskFormat string
}

// Disk is one volume attached to a domain: a file on the host, of a format
// recorded when it was made (drivers never probe it).
type Disk struct {
	Path   string
	Format string
	// ReadOnly attaches it read-only (a cloud-init seed).
	ReadOnly bool
	// Shared: the file is on storage every host reaches (a shared pool); the
	// host's page cache is bypassed so a host that takes the guest over
	// reads every write.
	Shared bool
	// Target is the disk's name in the domain ("vdc"); empty names it by its
	// place in DomainSpec.Disks (vda, vdb, ...). Data volumes carry theirs,
	// fixed when attached, so a hotplug and the next start agree.
	Target string
}

// NIC is one network interface: on a hypervisor network, or on a host bridge.
type NIC struct {
	Network string
	Bridge  string
	// MAC is optional; the hypervisor picks one when empty.
	MAC string
}

// DomainSpec is everything a driver needs to define and start a domain.
type DomainSpec struct {
	// ID is the VM ID; drivers name and tag the domain with it.
	ID   string
	Name string
	// Generation is the VM's placement generation, stored with the domain so a
	// restarted agent knows which order a running domain came from.
	Generation uint64
	VCPUs      int
	MemoryMiB  int64
	DiskGiB    int64
	Boot       *BootSource
	// Disks are the domain's volumes in order (the first is the boot disk
	// when Boot is nil), each a file its host prepared.
	Disks  []Disk
	NICs   []NIC
	Labels map[string]string
}

// Domain is a managed domain as the hypervisor sees it.
type Domain struct {
	ID         string
	Name       string
	Generation uint64
	State      DomainState
	VCPUs      int
	MemoryMiB  int64
	// Reason explains the state when the hypervisor gives one (crashed, ...).
	Reason string
}

// Capacity is the host's size and what is free now.
type Capacity struct {
	VCPUs         int
	MemoryMiB     int64
	FreeMemoryMiB int64
	DiskGiB       int64
	// Networks are the hypervisor networks that are active on the host; a VM
	// whose NIC names a network is only placed where it exists.
	Networks []string
}

// Stats are a domain's counters at one moment.
type Stats struct {
	CPUTime    time.Duration
	MemoryMiB  int64
	DiskRead   uint64
	DiskWrite  uint64
	NetRxBytes uint64
	NetTxBytes uint64
}

// Event tells the agent a domain changed state without being asked (or as a
// result of its own call); the agent re-inspects and reports.
type Event struct {
	ID    string
	State DomainState
	// Reason is the hypervisor's own word for the change ("destroyed", "crashed").
	Reason string
}

// Driver runs domains on one host. Methods are safe for concurrent use. Every
// method acts only on domains this driver manages; foreign domains are left alone.
type Driver interface {
	// Name is the driver's name: "sim" or "libvirt".
	Name() string
	// URI is where the driver reaches its hypervisor ("" for sim).
	URI() string
	// Capacity reports the host's size and free memory.
	Capacity(ctx context.Context) (Capacity, error)
	// Labels are facts about the host the driver knows (arch, virt type, ...).
	Labels() map[string]string
	// List returns every managed domain on the host.
	List(ctx context.Context) ([]Domain, error)
	// Foreign names the domains on the host that NovaCron does not manage; they
	// are left alone and only shown.
	Foreign(ctx context.Context) ([]string, error)
	// Inspect returns one managed domain, or ErrNotFound.
	Inspect(ctx context.Context, id string) (Domain, error)
	// Start defines the domain from spec (replacing a stopped definition) and
	// starts it. Starting a running domain is a no-op.
	Start(ctx context.Context, spec DomainSpec) error
	// Shutdown asks the guest to power off and destroys it after timeout.
	Shutdown(ctx context.Context, id string, timeout time.Duration) error
	// Destroy stops the domain at once.
	Destroy(ctx context.Context, id string) error
	// Reboot restarts the running guest.
	Reboot(ctx context.Context, id string) error
	// Suspend pauses the guest's vCPUs; Resume continues them.
	Suspend(ctx context.Context, id string) error
	Resume(ctx context.Context, id string) error
	// Undefine removes a stopped domain's definition.
	Undefine(ctx context.Context, id string) error
	// Stats returns counters for every running managed domain.
	Stats(ctx context.Context) (map[string]Stats, error)
	// Migrate moves the running (or paused) domain id to the host at opts.DestURI
	// and reports progress about once a second while it copies. On success the
	// domain runs on the destination, persistent there and undefined here; on any
	// error it is still here, in the state it had. Cancelling ctx aborts the job
	// (the error then wraps ctx.Err()).
	Migrate(ctx context.Context, id string, opts MigrateOptions, progress func(MigrateProgress)) (MigrateResult, error)
	// InspectRemote looks up managed domain id on another host's hypervisor, so
	// an agent that restarted mid-migration can find where the guest really runs.
	InspectRemote(ctx context.Context, uri, id string) (Domain, error)
	// Events delivers state changes; the channel is closed by Close.
	Events() <-chan Event
	// Close releases the driver's connections.
	Close() error
}

// DiskHotplug is what a driver implements when it can change a running
// domain's disks (libvirt: virtio-blk hotplug). The sim driver's domains
// have no disk files, so their volumes exist as records only and a host
// attaches them without a call.
type DiskHotplug interface {
	// AttachDisk adds disk (its Target set) to the running or paused domain
	// id and to its definition. Attaching a target the domain already has
	// with the same file is a no-op.
	AttachDisk(ctx context.Context, id string, disk Disk) error
	// DetachDisk asks the guest to release the disk named target and removes
	// it from the definition. It returns nil once the disk is gone, and
	// ErrDetachPending when the guest has not released it yet (the call may
	// be repeated); a target the domain lacks is no error.
	DetachDisk(ctx context.Context, id, target string) error
	// ResizeDisk grows the disk named target of the running domain id to
	// bytes (the guest sees the new size at once).
	ResizeDisk(ctx context.Context, id, target string, bytes int64) error
	// DiskTargets names the domain's disks as it runs now.
	DiskTargets(ctx context.Context, id string) ([]string, error)
}

// Snapshotter is what a driver implements when it can snapshot a domain's
// disks (libvirt: internal qcow2 snapshots). Snapshots are named, and live
// in the domain's disk files on its host.
type Snapshotter interface {
	// CreateSnapshot snapshots every writable disk of domain id, consistent
	// across them: a running or paused guest is paused for the instant and
	// its memory state is saved too (that is how a consistent snapshot of a
	// running guest is taken); a stopped domain's disks alone. Creating a
	// name the domain already has is a no-op.
	CreateSnapshot(ctx context.Context, id, name string) error
	// RevertSnapshot returns domain id's disks to snapshot name. With memory
	// (and a snapshot taken running) the guest goes on from that instant;
	// without, a guest that was running then restarts from its disks as
	// they were (its memory state is not used). running says whether the
	// domain should run afterwards.
	RevertSnapshot(ctx context.Context, id, name string, memory, running bool) error
	// DeleteSnapshot removes snapshot name; a name the domain lacks is no
	// error.
	DeleteSnapshot(ctx context.Context, id, name string) error
	// Snapshots names the domain's snapshots.
	Snapshots(ctx context.Context, id string) ([]string, error)
}

// StatsReader is what a driver implements when it can read every domain's
// counters in one call (libvirt: bulk stats, one round trip however many
// domains run), so a host can sample all its VMs every few seconds without
// a call per domain. Rates (see Rates) come from two samples.
type StatsReader interface {
	// DomainStats returns a sample of every running or paused managed
	// domain; stopped domains have no counters and are left out.
	DomainStats(ctx context.Context) ([]DomainStats, error)
}

// DomainStats is one domain's counters at one moment. Counters are
// cumulative since the domain's process started: they go back to zero when
// the domain starts again or arrives by migration, and sums over devices
// drop when a device is removed (see Rates).
type DomainStats struct {
	// ID is the VM ID, as Domain.ID names it.
	ID string
	// At is when the sample was read (the driver's clock).
	At time.Time
	// State is StateRunning or StatePaused.
	State DomainState
	// CPUTime is the guest's cumulative CPU time: every vCPU's, plus the
	// hypervisor's own threads for it (libvirt's cpu.time).
	CPUTime time.Duration
	// VCPUs is the number of vCPUs online now.
	VCPUs int
	// MemoryMaxBytes is the memory the domain may have (balloon maximum);
	// BalloonBytes what the balloon gives it now (balloon current).
	MemoryMaxBytes uint64
	BalloonBytes   uint64
	// MemoryUsedBytes is what the guest uses, when its balloon driver
	// reports its memory (GuestMemory true): its total less what it could
	// free at once (caches included, as Linux's MemAvailable), or less its
	// free memory when it does not say. Otherwise it is BalloonBytes, all
	// the host can tell, and GuestMemory is false.
	MemoryUsedBytes uint64
	GuestMemory     bool
	// Disk and network counters are summed over the domain's disks and
	// interfaces (bytes, requests, packets), as the guest sees them: Rx is
	// what it received, Read what it read.
	DiskReadBytes  uint64
	DiskWriteBytes uint64
	DiskReadOps    uint64
	DiskWriteOps   uint64
	NetRxBytes     uint64
	NetTxBytes     uint64
	NetRxPackets   uint64
	NetTxPackets   uint64
	// CPUMissing, DiskMissing and NetMissing say the driver could not read
	// that group this time (libvirt skips the disk counters of a domain
	// busy with another job rather than wait for it). Its counters then
	// read zero, and Rates gives no rate for an interval that begins or
	// ends with the sample, rather than a drop and a leap.
	CPUMissing  bool
	DiskMissing bool
	NetMissing  bool
}

// ErrDetachPending: the guest has not released a disk it was asked to
// (it may be busy, or ignore hot-unplug requests).
var ErrDetachPending = errors.New("the guest has not released the disk yet")

// MigrateOptions say where and how a domain moves. Zero values mean the
// hypervisor's defaults.
type MigrateOptions struct {
	// DestURI is the destination host's hypervisor URI, as its node publishes it.
	DestURI string
	// MigrateURI is where the destination accepts the migration stream
	// ("tcp://10.0.0.2"); "" lets the hypervisor choose.
	MigrateURI string
	// Live keeps the guest running during the copy (pre-copy); false pauses it
	// for the copy (a warm migration) and resumes it on the destination.
	Live bool
	// Generation is written into the domain's metadata on the destination: the
	// placement generation the VM has once the move is recorded.
	Generation uint64
	// MaxDowntime bounds the final pause of a live migration.
	MaxDowntime time.Duration
	// BandwidthMiBps caps the copy rate, in MiB/s.
	BandwidthMiBps uint64
	// AutoConverge throttles the guest's vCPUs when it dirties memory faster
	// than the copy goes.
	AutoConverge bool
	// PostCopy switches to post-copy (the guest runs on the destination and
	// pulls the remaining pages) when pre-copy does not converge.
	PostCopy bool
	// Parallel is the number of connections for the copy (multifd); 0 or 1 is one.
	Parallel int
	// Compression is "", "xbzrle", or with Parallel > 1 "zlib" or "zstd".
	Compression string
	// CopyDisks names the disks (by target, "vda") whose top layer is
	// copied with the memory: the destination holds an empty overlay on
	// the same backing image at the same path. Other disks are the
	// destination's own (a shared pool, a seed it wrote).
	CopyDisks []string
	// SharedStorage: the domain's writable disks are on storage both hosts
	// reach (a pool the operator declared shared, which each host reported
	// realised at the same path), so nothing is copied; the hypervisor's
	// own guess of what is shared (a local folder is not) is overridden.
	SharedStorage bool
	// DestPaths moves folders: a disk file under a key (a folder on this
	// host) is under its value on the destination. Empty when both hosts
	// keep their volumes at the same paths (the usual case).
	DestPaths map[string]string
}

// MigrateProgress is a running migration job's figures at one moment.
type MigrateProgress struct {
	Elapsed       time.Duration
	DataTotal     uint64
	DataProcessed uint64
	DataRemaining uint64
	// DirtyRate is the guest's memory dirtying rate in bytes per second.
	DirtyRate uint64
	// Iteration counts the memory copy passes.
	Iteration uint64
}

// MigrateResult is a completed migration job's final figures.
type MigrateResult struct {
	// Total is the job's whole duration; Downtime the time the guest was paused.
	Total           time.Duration
	Downtime        time.Duration
	DataTransferred uint64
	DataTotal       uint64
	Iterations      uint64
}

// ErrMigrationUnsupported: the driver cannot reach the destination host (the sim
// driver migrates only between hosts in the same process).
var ErrMigrationUnsupported = errors.New("migration not supported to that host")
