package libvirt

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	golibvirt "libvirt.org/go/libvirt"

	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/internal/testutil"
)

func TestMigrateFlagsAndParams_FollowTheOptions(t *testing.T) {
	opts := hypervisor.MigrateOptions{
		DestURI: "qemu+tcp://h2/system", MigrateURI: "tcp://10.0.0.2", Live: true, AutoConverge: true,
		PostCopy: true, Parallel: 4, Compression: "zstd", BandwidthMiBps: 100,
	}
	f := migrateFlags(opts)
	for name, flag := range map[string]golibvirt.DomainMigrateFlags{
		"peer2peer": golibvirt.MIGRATE_PEER2PEER, "persist": golibvirt.MIGRATE_PERSIST_DEST,
		"undefine": golibvirt.MIGRATE_UNDEFINE_SOURCE, "live": golibvirt.MIGRATE_LIVE,
		"auto-converge": golibvirt.MIGRATE_AUTO_CONVERGE, "postcopy": golibvirt.MIGRATE_POSTCOPY,
		"parallel": golibvirt.MIGRATE_PARALLEL, "compressed": golibvirt.MIGRATE_COMPRESSED,
	} {
		if f&flag == 0 {
			t.Errorf("flag %s missing from %b", name, f)
		}
	}
	p := migrateParams(opts, "<dest/>", "<persist/>")
	if !p.DestXMLSet || p.DestXML != "<dest/>" || !p.PersistXMLSet || p.PersistXML != "<persist/>" ||
		!p.URISet || p.URI != opts.MigrateURI || !p.BandwidthSet || p.Bandwidth != 100 ||
		!p.ParallelConnectionsSet || p.ParallelConnections != 4 || !p.CompressionSet || p.Compression != "zstd" {
		t.Fatalf("params %+v", p)
	}
	warm := migrateFlags(hypervisor.MigrateOptions{DestURI: "x://"})
	if warm&(golibvirt.MIGRATE_LIVE|golibvirt.MIGRATE_PARALLEL|golibvirt.MIGRATE_COMPRESSED|golibvirt.MIGRATE_POSTCOPY) != 0 {
		t.Fatalf("zero options set extra flags: %b", warm)
	}
	if p := migrateParams(hypervisor.MigrateOptions{Parallel: 1}, "<d/>", ""); p.URISet || p.BandwidthSet || p.ParallelConnectionsSet || p.PersistXMLSet {
		t.Fatalf("zero options set params: %+v", p)
	}
}

func TestWithMeta_ReplacesOnlyTheNovaCronElement(t *testing.T) {
	id := "0b9e6f4c-1d2e-4f3a-8b5c-6d7e8f9a0b1c"
	doc := `<domain type='qemu'>
  <name>novacron-0b9e6f4c-web</name>
  <uuid>` + id + `</uuid>
  <metadata>
    <other:thing xmlns:other="https://example.com/x"><other:vm>keep me</other:vm></other:thing>
    <novacron:vm xmlns:novacron="` + MetadataNamespace + `">
      <novacron:id>` + id + `</novacron:id>
      <novacron:name>web</novacron:name>
      <novacron:generation>4</novacron:generation>
      <novacron:stop-requested>true</novacron:stop-requested>
    </novacron:vm>
  </metadata>
  <devices><vm>not metadata</vm></devices>
</domain>`
	out, err := withMeta(doc, vmMeta{ID: id, Name: "web", Generation: 9})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"keep me", "<devices><vm>not metadata</vm></devices>", "<novacron:generation>9</novacron:generation>", "<name>novacron-0b9e6f4c-web</name>"} {
		if !strings.Contains(out, want) {
			t.Errorf("result lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "stop-requested") || strings.Contains(out, ">4<") {
		t.Errorf("old metadata left in:\n%s", out)
	}
	start, end := strings.Index(out, "<novacron:vm"), strings.Index(out, "</novacron:vm>")
	if start < 0 || end < start {
		t.Fatalf("no novacron element in:\n%s", out)
	}
	m, err := parseMetadata(out[start : end+len("</novacron:vm>")])
	if err != nil || m.ID != id || m.Generation != 9 || m.StopRequested {
		t.Fatalf("metadata after: %+v, %v", m, err)
	}
	if _, err := withMeta(`<domain><metadata/></domain>`, vmMeta{ID: id}); err == nil {
		t.Fatal("a domain without novacron metadata was accepted")
	}
}

func TestIncomingFailed_IsNotACrash(t *testing.T) {
	d := &Driver{incoming: map[string]bool{}}
	ev := func(kind golibvirt.DomainEventType, detail int) rawEvent {
		return rawEvent{id: "x", kind: kind, detail: detail}
	}
	started := ev(golibvirt.DOMAIN_EVENT_STARTED, int(golibvirt.DOMAIN_EVENT_STARTED_MIGRATED))
	failed := ev(golibvirt.DOMAIN_EVENT_STOPPED, int(golibvirt.DOMAIN_EVENT_STOPPED_FAILED))
	if d.incomingFailed(started) || !d.incomingFailed(failed) {
		t.Fatal("an incoming migration killed by libvirt is not recognised")
	}
	// Once arrived (defined and resumed), a later failure is a crash again.
	d.incomingFailed(started)
	d.incomingFailed(ev(golibvirt.DOMAIN_EVENT_DEFINED, int(golibvirt.DOMAIN_EVENT_DEFINED_ADDED)))
	if d.incomingFailed(failed) {
		t.Fatal("a domain that had arrived is still treated as incoming")
	}
	// A booted domain was never incoming.
	d.incomingFailed(ev(golibvirt.DOMAIN_EVENT_STARTED, int(golibvirt.DOMAIN_EVENT_STARTED_BOOTED)))
	if d.incomingFailed(failed) {
		t.Fatal("a booted domain is treated as incoming")
	}
	// The source's side of a migration: paused, then stopped, never crashed.
	if st, why, _ := translate(golibvirt.DOMAIN_EVENT_STOPPED, int(golibvirt.DOMAIN_EVENT_STOPPED_MIGRATED), false); st != hypervisor.StateStopped || why != "migrated" {
		t.Fatalf("migrated away: %s %q", st, why)
	}
	if st, why, _ := translate(golibvirt.DOMAIN_EVENT_SUSPENDED, int(golibvirt.DOMAIN_EVENT_SUSPENDED_MIGRATED), false); st != hypervisor.StatePaused || why != "migrated" {
		t.Fatalf("paused for the switch-over: %s %q", st, why)
	}
}

func TestTestDriver_MigrateRefusesWhatCannotMove(t *testing.T) {
	d := newTestDriver(t)
	ctx := ctxT(t, 30*time.Second)
	dest := hypervisor.MigrateOptions{DestURI: "test:///elsewhere", Live: true}
	if _, err := d.Migrate(ctx, newID(t), dest, nil); !errors.Is(err, hypervisor.ErrNotFound) {
		t.Fatalf("unknown domain: %v, want ErrNotFound", err)
	}
	spec := testSpec(t, "mover")
	if err := d.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Migrate(ctx, spec.ID, hypervisor.MigrateOptions{DestURI: dest.DestURI, Parallel: -2}, nil); !errors.Is(err, hypervisor.ErrInvalidSpec) {
		t.Fatalf("bad options: %v, want ErrInvalidSpec", err)
	}
	// libvirt's test driver has no migration.
	_, err := d.Migrate(ctx, spec.ID, dest, nil)
	if !errors.Is(err, hypervisor.ErrMigrationUnsupported) {
		t.Fatalf("migrate on the test driver: %v, want ErrMigrationUnsupported", err)
	}
	if got := wantState(t, d, spec.ID, hypervisor.StateRunning); got.Generation != spec.Generation {
		t.Fatalf("after the failed migration: %+v", got)
	}
	if err := d.Destroy(ctx, spec.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Migrate(ctx, spec.ID, dest, nil); !errors.Is(err, ErrState) {
		t.Fatalf("migrate a stopped domain: %v, want ErrState", err)
	}
}

func TestTestDriver_InspectRemote(t *testing.T) {
	d := newTestDriver(t)
	ctx := ctxT(t, 30*time.Second)
	spec := testSpec(t, "far")
	spec.Generation = 5
	if err := d.Start(ctx, spec); err != nil {
		t.Fatal(err)
	}
	// test:///default is one in-process host shared by every connection, so
	// it stands for "another host" here.
	got, err := d.InspectRemote(ctx, testURI, spec.ID)
	if err != nil || got.State != hypervisor.StateRunning || got.Generation != 5 || got.Name != "far" {
		t.Fatalf("InspectRemote = %+v, %v", got, err)
	}
	if _, err := d.InspectRemote(ctx, testURI, newID(t)); !errors.Is(err, hypervisor.ErrNotFound) {
		t.Fatalf("unknown domain: %v, want ErrNotFound", err)
	}
	gone := "qemu+unix:///system?socket=" + filepath.Join(t.TempDir(), "no-such-sock")
	if _, err := d.InspectRemote(ctx, gone, spec.ID); !errors.Is(err, hypervisor.ErrUnavailable) {
		t.Fatalf("unreachable host: %v, want ErrUnavailable", err)
	}
	// A call's goroutine gives its reference back just after its caller
	// has the answer (call in conn.go), so the count is read until it
	// settles: a reference InspectRemote kept would never go.
	testutil.Eventually(t, 10*time.Second, "the main connection without references", func() error {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.conn == nil || d.conn.refs != 0 {
			return fmt.Errorf("InspectRemote touched the main connection: %+v", d.conn)
		}
		return nil
	})
}

// TestMigrate_StorageCopy: a VM with its root volume on its host's own disk
// moves its overlay's blocks (incremental: the destination has the image),
// and its disk files point at the folder the destination prepared.
func TestMigrate_StorageCopy(t *testing.T) {
	opts := hypervisor.MigrateOptions{CopyDisks: []string{"vda"}, DestPaths: map[string]string{"/data/h1/pools/default": "/data/h2/pools/default"}}
	if f := migrateFlags(opts); f&golibvirt.MIGRATE_NON_SHARED_INC == 0 || f&golibvirt.MIGRATE_NON_SHARED_DISK != 0 {
		t.Fatalf("flags %b: want an incremental storage copy", f)
	}
	if p := migrateParams(opts, "<domain/>", ""); !p.MigrateDisksSet || len(p.MigrateDisks) != 1 || p.MigrateDisks[0] != "vda" {
		t.Fatalf("params copy disks %v", p.MigrateDisks)
	}
	if f := migrateFlags(hypervisor.MigrateOptions{}); f&(golibvirt.MIGRATE_NON_SHARED_INC|golibvirt.MIGRATE_UNSAFE) != 0 {
		t.Fatal("a VM without volumes must neither copy storage nor skip libvirt's safety checks")
	}
	if f := migrateFlags(hypervisor.MigrateOptions{SharedStorage: true}); f&golibvirt.MIGRATE_UNSAFE == 0 || f&golibvirt.MIGRATE_NON_SHARED_INC != 0 {
		t.Fatalf("flags %b: a shared pool's VM moves nothing and its storage is taken as shared", f)
	}
	doc := `<domain><devices><disk><source file='/data/h1/pools/default/volumes/v-root.qcow2'/>` +
		`<backingStore><source file="/data/h1/pools/default/images/i1"/></backingStore></disk>` +
		`<disk><source file='/data/h1/pools/defaults/other'/></disk><kernel>/data/h1/pools/default-k</kernel></devices></domain>`
	got := movePaths(doc, opts.DestPaths)
	want := `<domain><devices><disk><source file='/data/h2/pools/default/volumes/v-root.qcow2'/>` +
		`<backingStore><source file="/data/h2/pools/default/images/i1"/></backingStore></disk>` +
		`<disk><source file='/data/h1/pools/defaults/other'/></disk><kernel>/data/h1/pools/default-k</kernel></devices></domain>`
	if got != want {
		t.Fatalf("moved paths:\n got %s\nwant %s", got, want)
	}
}
