package libvirt

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	golibvirt "libvirt.org/go/libvirt"
	"libvirt.org/go/libvirtxml"

	"github.com/novacron/novacron/hypervisor"
)

const testID = "3f2a9c4e-1b2d-4e5f-8a9b-0c1d2e3f4a5b"

func kernelSpec() hypervisor.DomainSpec {
	return hypervisor.DomainSpec{
		ID: testID, Name: "web-1", Generation: 7, VCPUs: 2, MemoryMiB: 96,
		Boot: &hypervisor.BootSource{Kernel: "/boot/vmlinuz", Initrd: "/boot/initrd.img"},
	}
}

// render builds the XML and parses it back with libvirtxml.
func render(t *testing.T, spec hypervisor.DomainSpec, p xmlParams) *libvirtxml.Domain {
	t.Helper()
	doc, err := domainXML(spec, p)
	if err != nil {
		t.Fatalf("domainXML: %v", err)
	}
	var dom libvirtxml.Domain
	if err := dom.Unmarshal(doc); err != nil {
		t.Fatalf("parse generated xml: %v\n%s", err, doc)
	}
	return &dom
}

func TestDomainXML_KernelBoot(t *testing.T) {
	dom := render(t, kernelSpec(), xmlParams{VirtType: "qemu", Arch: "x86_64", ConsoleLogDir: "/var/log/libvirt/qemu"})
	if dom.Type != "qemu" || dom.UUID != testID || dom.Name != "novacron-3f2a9c4e-web-1" {
		t.Fatalf("type/uuid/name = %q %q %q", dom.Type, dom.UUID, dom.Name)
	}
	if dom.Memory.Value != 96 || dom.Memory.Unit != "MiB" || dom.VCPU.Value != 2 {
		t.Fatalf("memory %d %s, vcpus %d", dom.Memory.Value, dom.Memory.Unit, dom.VCPU.Value)
	}
	os := dom.OS
	if os.Type.Arch != "x86_64" || os.Type.Type != "hvm" || os.Kernel != "/boot/vmlinuz" || os.Initrd != "/boot/initrd.img" {
		t.Fatalf("os = %+v", os)
	}
	if os.Cmdline != defaultCmdline {
		t.Fatalf("cmdline = %q, want the default %q", os.Cmdline, defaultCmdline)
	}
	if dom.OnPoweroff != "destroy" || dom.OnReboot != "restart" || dom.OnCrash != "destroy" {
		t.Fatalf("lifecycle actions = %s/%s/%s", dom.OnPoweroff, dom.OnReboot, dom.OnCrash)
	}
	devs := dom.Devices
	if len(devs.Disks) != 0 || len(devs.Interfaces) != 0 {
		t.Fatalf("unexpected disks %d or nics %d", len(devs.Disks), len(devs.Interfaces))
	}
	if len(devs.Serials) != 1 || devs.Serials[0].Source.Pty == nil || len(devs.Consoles) != 1 || devs.Consoles[0].Target.Type != "serial" {
		t.Fatalf("want one pty serial and a serial console, got %+v %+v", devs.Serials, devs.Consoles)
	}
	if log := devs.Serials[0].Log; log == nil || log.File != "/var/log/libvirt/qemu/novacron-3f2a9c4e-web-1-serial.log" {
		t.Fatalf("serial log = %+v", log)
	}
	m, err := parseMetadata(dom.Metadata.XML)
	if err != nil {
		t.Fatalf("metadata: %v (%s)", err, dom.Metadata.XML)
	}
	if m.ID != testID || m.Name != "web-1" || m.Generation != 7 || m.StopRequested {
		t.Fatalf("metadata = %+v", m)
	}
	if !strings.Contains(dom.Metadata.XML, `xmlns:novacron="`+MetadataNamespace+`"`) {
		t.Fatalf("metadata lacks the namespace: %s", dom.Metadata.XML)
	}
}

func TestDomainXML_CmdlineAndNoConsoleLog(t *testing.T) {
	spec := kernelSpec()
	spec.Boot.Cmdline = "console=ttyS0 quiet"
	dom := render(t, spec, xmlParams{VirtType: "kvm", Arch: "x86_64"})
	if dom.Type != "kvm" || dom.OS.Cmdline != "console=ttyS0 quiet" || dom.Devices.Serials[0].Log != nil {
		t.Fatalf("type %q cmdline %q log %+v", dom.Type, dom.OS.Cmdline, dom.Devices.Serials[0].Log)
	}
}

func TestDomainXML_DiskBoot(t *testing.T) {
	spec := kernelSpec()
	spec.Boot = &hypervisor.BootSource{Disk: "/var/lib/libvirt/images/web.qcow2", DiskFormat: "qcow2"}
	dom := render(t, spec, xmlParams{VirtType: "qemu", Arch: "x86_64"})
	if dom.OS.Kernel != "" || len(dom.OS.BootDevices) != 1 || dom.OS.BootDevices[0].Dev != "hd" {
		t.Fatalf("os = %+v", dom.OS)
	}
	if len(dom.Devices.Disks) != 1 {
		t.Fatalf("disks = %+v", dom.Devices.Disks)
	}
	disk := dom.Devices.Disks[0]
	if disk.Source.File.File != spec.Boot.Disk || disk.Driver.Type != "qcow2" || disk.Target.Bus != "virtio" || disk.Target.Dev != "vda" {
		t.Fatalf("disk = %+v %+v %+v %+v", disk.Source.File, disk.Driver, disk.Target, disk)
	}
	if disk.ReadOnly == nil {
		t.Fatal("a disk image given by path is shared by every host and must be attached read-only")
	}
}

// TestDomainXML_DiskFormatFromSpecNeverProbed: the format in the XML is the
// spec's, whatever the image holds; a raw image whose first bytes are a qcow2
// header (a guest may write one) stays raw.
func TestDomainXML_DiskFormatFromSpecNeverProbed(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "guest-wrote-a-header.img")
	if err := os.WriteFile(img, []byte("QFI\xfb\x00\x00\x00\x03"), 0o644); err != nil {
		t.Fatal(err)
	}
	qcow2Named := filepath.Join(dir, "named.qcow2")
	for _, tc := range []struct{ disk, format, want string }{
		{img, "", "raw"}, {img, "raw", "raw"}, {qcow2Named, "", "raw"}, {img, "qcow2", "qcow2"},
	} {
		spec := kernelSpec()
		spec.Boot = &hypervisor.BootSource{Disk: tc.disk, DiskFormat: tc.format}
		doc, err := domainXML(spec, xmlParams{VirtType: "qemu", Arch: "x86_64"})
		if err != nil {
			t.Fatal(err)
		}
		want := "<driver name=\"qemu\" type=\"" + tc.want + "\"></driver>"
		if !strings.Contains(doc, want) || !strings.Contains(doc, "<readonly></readonly>") {
			t.Fatalf("disk %s format %q: xml lacks %s or <readonly>:\n%s", filepath.Base(tc.disk), tc.format, want, doc)
		}
	}
}

// TestDomainXML_KernelBootHasNoWritableFile: kernel and initrd go to <os>
// (QEMU only reads them); no disk is attached.
func TestDomainXML_KernelBootHasNoWritableFile(t *testing.T) {
	dom := render(t, kernelSpec(), xmlParams{VirtType: "qemu", Arch: "x86_64"})
	if len(dom.Devices.Disks) != 0 || len(dom.Devices.Filesystems) != 0 {
		t.Fatalf("kernel boot attached disks %+v or filesystems %+v", dom.Devices.Disks, dom.Devices.Filesystems)
	}
}

func TestDomainXML_NICs(t *testing.T) {
	spec := kernelSpec()
	spec.NICs = []hypervisor.NIC{{Network: "default"}, {Bridge: "br0", MAC: "52:54:00:AA:BB:CC"}}
	ifs := render(t, spec, xmlParams{VirtType: "qemu", Arch: "x86_64"}).Devices.Interfaces
	if len(ifs) != 2 {
		t.Fatalf("interfaces = %d", len(ifs))
	}
	if ifs[0].Source.Network == nil || ifs[0].Source.Network.Network != "default" || ifs[0].MAC != nil || ifs[0].Model.Type != "virtio" {
		t.Fatalf("nic 0 = %+v", ifs[0])
	}
	if ifs[1].Source.Bridge == nil || ifs[1].Source.Bridge.Bridge != "br0" || ifs[1].MAC.Address != "52:54:00:aa:bb:cc" || ifs[1].Model.Type != "virtio" {
		t.Fatalf("nic 1 = %+v", ifs[1])
	}
}

func TestDomainXML_RejectsBadSpecs(t *testing.T) {
	cases := map[string]func(*hypervisor.DomainSpec){
		"id not a uuid":     func(s *hypervisor.DomainSpec) { s.ID = "vm-1" },
		"no vcpus":          func(s *hypervisor.DomainSpec) { s.VCPUs = 0 },
		"no memory":         func(s *hypervisor.DomainSpec) { s.MemoryMiB = 0 },
		"no boot":           func(s *hypervisor.DomainSpec) { s.Boot = nil },
		"empty boot":        func(s *hypervisor.DomainSpec) { s.Boot = &hypervisor.BootSource{} },
		"initrd, no kernel": func(s *hypervisor.DomainSpec) { s.Boot = &hypervisor.BootSource{Initrd: "/i", Disk: "/d"} },
		"nic with both":     func(s *hypervisor.DomainSpec) { s.NICs = []hypervisor.NIC{{Network: "n", Bridge: "b"}} },
		"nic with neither":  func(s *hypervisor.DomainSpec) { s.NICs = []hypervisor.NIC{{}} },
		"bad mac":           func(s *hypervisor.DomainSpec) { s.NICs = []hypervisor.NIC{{Network: "n", MAC: "zz"}} },
		"unknown format":    func(s *hypervisor.DomainSpec) { s.Boot = &hypervisor.BootSource{Disk: "/d", DiskFormat: "vmdk"} },
	}
	for name, mutate := range cases {
		spec := kernelSpec()
		mutate(&spec)
		if _, err := domainXML(spec, xmlParams{VirtType: "qemu"}); !errors.Is(err, hypervisor.ErrInvalidSpec) {
			t.Errorf("%s: err = %v, want ErrInvalidSpec", name, err)
		}
	}
}

func TestMetadata_RoundTripBothForms(t *testing.T) {
	m := vmMeta{ID: testID, Name: "a<b&c", Generation: 42}
	got, err := parseMetadata(metadataXML(m))
	if err != nil || got.ID != m.ID || got.Name != m.Name || got.Generation != 42 || got.StopRequested {
		t.Fatalf("prefixed form: %+v, %v", got, err)
	}
	m.StopRequested = true
	el, err := metadataElement(m)
	if err != nil {
		t.Fatal(err)
	}
	// libvirt hands SetMetadata's element back in the namespace, children bare.
	back := strings.Replace(string(el), "<vm>", `<novacron:vm xmlns:novacron="`+MetadataNamespace+`">`, 1)
	back = strings.Replace(back, "</vm>", "</novacron:vm>", 1)
	got, err = parseMetadata(back)
	if err != nil || got.ID != m.ID || got.Generation != 42 || !got.StopRequested {
		t.Fatalf("bare form %s: %+v, %v", back, got, err)
	}
	if _, err := parseMetadata(`<novacron:vm xmlns:novacron="x"></novacron:vm>`); err == nil {
		t.Fatal("metadata without id parsed")
	}
}

func TestDomainName_CleanAndBounded(t *testing.T) {
	if got := domainName(testID, "db/primary"); got != "novacron-3f2a9c4e-db-primary" {
		t.Fatalf("got %q", got)
	}
	if got := domainName(testID, "///"); got != "novacron-3f2a9c4e" {
		t.Fatalf("got %q", got)
	}
	if got := domainName(testID, strings.Repeat("x", 200)); len(got) != maxDomainName {
		t.Fatalf("len %d: %q", len(got), got)
	}
}

func TestResolveVirtType_AutoAndForced(t *testing.T) {
	ok := func() error { return nil }
	broken := func() error { return errors.New("no /dev/kvm") }
	bare := hostFacts{arch: "x86_64", kvmOffered: true}
	nested := hostFacts{arch: "x86_64", kvmOffered: true, nested: true}
	cases := []struct {
		name, want, driver string
		facts              hostFacts
		probe              func() error
		expect             string
	}{
		{"bare metal, kvm works", "auto", "QEMU", bare, ok, "kvm"},
		{"empty means auto", "", "QEMU", bare, ok, "kvm"},
		{"probe fails", "auto", "QEMU", bare, broken, "qemu"},
		{"nested host", "auto", "QEMU", nested, ok, "qemu"},
		{"no kvm offered", "auto", "QEMU", hostFacts{arch: "x86_64"}, ok, "qemu"},
		{"remote, kvm offered", "auto", "QEMU", bare, nil, "kvm"},
		{"test driver", "auto", "TEST", hostFacts{arch: "i686"}, nil, "test"},
		{"forced kvm on nested", "kvm", "QEMU", nested, broken, "kvm"},
		{"forced qemu", "qemu", "QEMU", bare, ok, "qemu"},
	}
	for _, c := range cases {
		got, why, err := resolveVirtType(c.want, c.driver, c.facts, c.probe)
		if err != nil || got != c.expect || why == "" {
			t.Errorf("%s: got %q (%s), %v; want %q", c.name, got, why, err, c.expect)
		}
	}
	if _, _, err := resolveVirtType("kvm", "QEMU", hostFacts{arch: "x86_64"}, ok); err == nil {
		t.Error("forced kvm without kvm offered: no error")
	}
	if _, _, err := resolveVirtType("xen", "QEMU", bare, ok); err == nil {
		t.Error("unknown virt type: no error")
	}
}

func TestParseCaps_NestedAndKVM(t *testing.T) {
	caps := `<capabilities><host><cpu><arch>x86_64</arch><feature name='hypervisor'/></cpu></host>
<guest><os_type>hvm</os_type><arch name='x86_64'><domain type='qemu'/><domain type='kvm'/></arch></guest></capabilities>`
	f, err := parseCaps(caps)
	if err != nil || f.arch != "x86_64" || !f.kvmOffered || !f.nested {
		t.Fatalf("facts %+v, %v", f, err)
	}
}

func TestClassify_DestroyedIsCrashedUnlessRequested(t *testing.T) {
	cases := []struct {
		st        golibvirt.DomainState
		reason    int
		requested bool
		want      hypervisor.DomainState
		word      string
	}{
		{golibvirt.DOMAIN_RUNNING, int(golibvirt.DOMAIN_RUNNING_BOOTED), false, hypervisor.StateRunning, "booted"},
		{golibvirt.DOMAIN_PAUSED, int(golibvirt.DOMAIN_PAUSED_USER), false, hypervisor.StatePaused, "user"},
		{golibvirt.DOMAIN_SHUTOFF, int(golibvirt.DOMAIN_SHUTOFF_UNKNOWN), false, hypervisor.StateStopped, "unknown"},
		{golibvirt.DOMAIN_SHUTOFF, int(golibvirt.DOMAIN_SHUTOFF_SHUTDOWN), false, hypervisor.StateStopped, "shutdown"},
		{golibvirt.DOMAIN_SHUTOFF, int(golibvirt.DOMAIN_SHUTOFF_DESTROYED), false, hypervisor.StateCrashed, "destroyed"},
		{golibvirt.DOMAIN_SHUTOFF, int(golibvirt.DOMAIN_SHUTOFF_DESTROYED), true, hypervisor.StateStopped, "destroyed"},
		{golibvirt.DOMAIN_SHUTOFF, int(golibvirt.DOMAIN_SHUTOFF_CRASHED), false, hypervisor.StateCrashed, "crashed"},
		{golibvirt.DOMAIN_SHUTOFF, int(golibvirt.DOMAIN_SHUTOFF_FAILED), false, hypervisor.StateCrashed, "failed"},
		{golibvirt.DOMAIN_CRASHED, int(golibvirt.DOMAIN_CRASHED_PANICKED), false, hypervisor.StateCrashed, "panicked"},
	}
	for _, c := range cases {
		got, word := classify(c.st, c.reason, c.requested)
		if got != c.want || word != c.word {
			t.Errorf("classify(%d, %d, %v) = %s %q, want %s %q", c.st, c.reason, c.requested, got, word, c.want, c.word)
		}
	}
}

func TestTranslate_LifecycleEvents(t *testing.T) {
	st, why, ok := translate(golibvirt.DOMAIN_EVENT_STOPPED, int(golibvirt.DOMAIN_EVENT_STOPPED_DESTROYED), false)
	if !ok || st != hypervisor.StateCrashed || why != "destroyed" {
		t.Fatalf("destroyed behind our back: %s %q %v", st, why, ok)
	}
	if st, _, _ := translate(golibvirt.DOMAIN_EVENT_STOPPED, int(golibvirt.DOMAIN_EVENT_STOPPED_DESTROYED), true); st != hypervisor.StateStopped {
		t.Fatalf("destroyed on request: %s", st)
	}
	if st, why, _ := translate(golibvirt.DOMAIN_EVENT_SUSPENDED, int(golibvirt.DOMAIN_EVENT_SUSPENDED_PAUSED), false); st != hypervisor.StatePaused || why != "paused" {
		t.Fatalf("suspended: %s %q", st, why)
	}
	if _, _, ok := translate(golibvirt.DOMAIN_EVENT_DEFINED, 0, false); ok {
		t.Fatal("defined event changes no state but was translated")
	}
}

func TestIsLocalURI(t *testing.T) {
	for uri, want := range map[string]bool{
		"qemu:///system": true, "qemu+unix:///system?socket=/x/libvirt-sock": true,
		"qemu+ssh://root@host2/system": false, "test:///default": false, "qemu+tcp://localhost/system": true,
	} {
		if got := isLocalURI(uri); got != want {
			t.Errorf("isLocalURI(%s) = %v", uri, got)
		}
	}
}

// TestDomainXML_VolumesBootFromTheFirst: a VM made from an image boots from
// its own writable root volume; the cloud-init seed follows, read-only.
func TestDomainXML_VolumesBootFromTheFirst(t *testing.T) {
	spec := kernelSpec()
	spec.Boot = nil
	spec.Disks = []hypervisor.Disk{
		{Path: "/var/lib/novacron/pools/default/volumes/root.qcow2", Format: "qcow2"},
		{Path: "/var/lib/novacron/pools/default/volumes/cidata.iso", Format: "raw", ReadOnly: true},
	}
	dom := render(t, spec, xmlParams{VirtType: "qemu", Arch: "x86_64"})
	// The root volume carries the boot order; <os> has no boot device
	// (libvirt refuses both).
	if dom.OS.Kernel != "" || len(dom.OS.BootDevices) != 0 {
		t.Fatalf("os = %+v", dom.OS)
	}
	if len(dom.Devices.Disks) != 2 {
		t.Fatalf("disks = %+v", dom.Devices.Disks)
	}
	root, seed := dom.Devices.Disks[0], dom.Devices.Disks[1]
	if root.Boot == nil || root.Boot.Order != 1 || seed.Boot != nil {
		t.Fatalf("boot order: root %+v, seed %+v; want 1 on the root only", root.Boot, seed.Boot)
	}
	if root.Target.Dev != "vda" || root.ReadOnly != nil || root.Driver.Type != "qcow2" || root.Source.File.File != spec.Disks[0].Path {
		t.Fatalf("root disk %+v %+v %+v", root.Target, root.Driver, root.Source.File)
	}
	if seed.Target.Dev != "vdb" || seed.ReadOnly == nil || seed.Driver.Type != "raw" {
		t.Fatalf("seed disk %+v %+v", seed.Target, seed.Driver)
	}
	if root.Driver.Cache != "" {
		t.Fatalf("a local root volume has cache %q, want the default", root.Driver.Cache)
	}
	spec.Disks[0].Shared = true
	if dom := render(t, spec, xmlParams{VirtType: "qemu", Arch: "x86_64"}); dom.Devices.Disks[0].Driver.Cache != "none" {
		t.Fatalf("a root volume in a shared pool has cache %q, want none", dom.Devices.Disks[0].Driver.Cache)
	}
	for _, bad := range []hypervisor.Disk{{Path: "relative.qcow2", Format: "qcow2"}, {Path: "/x.img", Format: "vmdk"}} {
		spec.Disks = []hypervisor.Disk{bad}
		if _, err := domainXML(spec, xmlParams{VirtType: "qemu", Arch: "x86_64"}); !errors.Is(err, hypervisor.ErrInvalidSpec) {
			t.Errorf("disk %+v: got %v, want ErrInvalidSpec", bad, err)
		}
	}
}

// TestCheckHostPaths_Volumes: a VM that boots from its volumes has no boot
// source; its volumes must exist on the host.
func TestCheckHostPaths_Volumes(t *testing.T) {
	spec := kernelSpec()
	spec.Boot = nil
	root := filepath.Join(t.TempDir(), "root.qcow2")
	if err := os.WriteFile(root, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	spec.Disks = []hypervisor.Disk{{Path: root, Format: "qcow2"}}
	if err := checkHostPaths(spec); err != nil {
		t.Fatalf("existing volume: %v", err)
	}
	spec.Disks = append(spec.Disks, hypervisor.Disk{Path: root + ".missing", Format: "raw", ReadOnly: true})
	if err := checkHostPaths(spec); !errors.Is(err, hypervisor.ErrInvalidSpec) || !strings.Contains(err.Error(), "volume 1") {
		t.Fatalf("missing volume: %v, want ErrInvalidSpec naming volume 1", err)
	}
}
