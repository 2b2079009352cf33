package libvirt

import (
	"encoding/xml"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"libvirt.org/go/libvirtxml"

	"github.com/novacron/novacron/hypervisor"
)

// MetadataNamespace is the XML namespace of the <metadata> element that marks a
// domain as managed by NovaCron and carries the VM's identity.
const MetadataNamespace = "https://novacron.dev/xmlns/domain/1"

// metadataPrefix is the namespace prefix used in domain XML.
const metadataPrefix = "novacron"

// DomainNamePrefix starts the libvirt name of every managed domain.
const DomainNamePrefix = "novacron-"

// maxDomainName bounds libvirt domain names: QEMU and log file names derive
// from them, and readable names beat long ones.
const maxDomainName = 64

// defaultCmdline is the kernel command line when a spec gives none: the serial
// port is the only console a managed domain has.
const defaultCmdline = "console=ttyS0"

var (
	uuidRE     = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	nameCharRE = regexp.MustCompile(`[^A-Za-z0-9._-]+`)
	macRE      = regexp.MustCompile(`^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$`)
	// targetRE is a virtio disk's name: what diskTarget makes, and all a
	// volume's Target may be (anything else reaches another bus or none).
	targetRE = regexp.MustCompile(`^vd[a-z]$`)
)

// vmMeta is the content of the NovaCron metadata element.
type vmMeta struct {
	XMLName    xml.Name `xml:"vm"`
	ID         string   `xml:"id"`
	Name       string   `xml:"name"`
	Generation uint64   `xml:"generation"`
	// StopRequested is set in the persistent definition just before this
	// driver stops the domain, so that a later agent still tells "destroyed on
	// request" from "destroyed behind our back". The next Start redefines the
	// domain without it.
	StopRequested bool `xml:"stop-requested,omitempty"`
}

// metadataXML renders m as the element that goes inside <metadata> in domain
// XML, namespace declared on the element itself.
func metadataXML(m vmMeta) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<%s:vm xmlns:%s="%s">`, metadataPrefix, metadataPrefix, MetadataNamespace)
	elem := func(name, value string) {
		fmt.Fprintf(&b, "<%s:%s>", metadataPrefix, name)
		_ = xml.EscapeText(&b, []byte(value))
		fmt.Fprintf(&b, "</%s:%s>", metadataPrefix, name)
	}
	elem("id", m.ID)
	elem("name", m.Name)
	elem("generation", strconv.FormatUint(m.Generation, 10))
	if m.StopRequested {
		elem("stop-requested", "true")
	}
	fmt.Fprintf(&b, "</%s:vm>", metadataPrefix)
	return b.String()
}

// metadataElement renders m for virDomainSetMetadata, which takes the element
// without a namespace and puts it in MetadataNamespace itself.
func metadataElement(m vmMeta) ([]byte, error) {
	return xml.Marshal(m)
}

// parseMetadata reads the element GetMetadata returns. Child elements match
// whatever namespace they carry: libvirt keeps the prefix on children defined
// through domain XML but not on children set through SetMetadata.
func parseMetadata(s string) (vmMeta, error) {
	var m vmMeta
	if err := xml.Unmarshal([]byte(s), &m); err != nil {
		return vmMeta{}, fmt.Errorf("parse novacron metadata: %w", err)
	}
	if m.ID == "" {
		return vmMeta{}, fmt.Errorf("novacron metadata has no id: %q", s)
	}
	return m, nil
}

// domainName is the libvirt name of a VM's domain: readable, and unique through
// the ID prefix.
func domainName(id, name string) string {
	short := strings.ReplaceAll(id, "-", "")
	if len(short) > 8 {
		short = short[:8]
	}
	clean := strings.Trim(nameCharRE.ReplaceAllString(name, "-"), "-")
	base := DomainNamePrefix + strings.ToLower(short)
	if clean == "" {
		return base
	}
	if room := maxDomainName - len(base) - 1; len(clean) > room {
		clean = clean[:room]
	}
	return base + "-" + clean
}

// xmlParams are the host's choices that go into every domain's XML.
type xmlParams struct {
	VirtType string
	Arch     string
	// ConsoleLogDir, when set, is where libvirt (virtlogd) writes each
	// domain's serial console, as a path on the hypervisor host.
	ConsoleLogDir string
}

// checkSpec refuses specs no host could run; the error wraps ErrInvalidSpec.
func checkSpec(spec hypervisor.DomainSpec) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", hypervisor.ErrInvalidSpec, fmt.Sprintf(format, args...))
	}
	switch {
	case !uuidRE.MatchString(spec.ID):
		return bad("vm id %q is not a UUID", spec.ID)
	case spec.VCPUs <= 0:
		return bad("vm %q needs at least one vCPU, has %d", spec.Name, spec.VCPUs)
	case spec.MemoryMiB <= 0:
		return bad("vm %q needs memory, has %d MiB", spec.Name, spec.MemoryMiB)
	case spec.Boot == nil && len(spec.Disks) == 0:
		return bad("vm %q has no boot source: give a kernel, a disk image or a volume", spec.Name)
	case spec.Boot == nil:
		spec.Boot = &hypervisor.BootSource{}
	case spec.Boot.Kernel == "" && spec.Boot.Disk == "" && len(spec.Disks) == 0:
		return bad("vm %q has no boot source: give a kernel, a disk image or a volume", spec.Name)
	}
	switch {
	case len(spec.Disks)+bootImages(spec) > maxDisks:
		return bad("vm %q has %d disks, at most %d", spec.Name, len(spec.Disks)+bootImages(spec), maxDisks)
	case spec.Boot.Initrd != "" && spec.Boot.Kernel == "":
		return bad("vm %q has an initrd but no kernel", spec.Name)
	case spec.Boot.DiskFormat != "" && spec.Boot.DiskFormat != "raw" && spec.Boot.DiskFormat != "qcow2":
		return bad("vm %q: disk format %q is neither raw nor qcow2", spec.Name, spec.Boot.DiskFormat)
	}
	texts := map[string]string{"name": spec.Name, "boot.kernel": spec.Boot.Kernel, "boot.initrd": spec.Boot.Initrd,
		"boot.cmdline": spec.Boot.Cmdline, "boot.disk": spec.Boot.Disk}
	for k, v := range spec.Labels {
		texts["label "+k] = k + v
	}
	for i, d := range spec.Disks {
		texts[fmt.Sprintf("disk %d", i)] = d.Path
		if !filepath.IsAbs(d.Path) || (d.Format != "raw" && d.Format != "qcow2") {
			return bad("vm %q disk %d: %q must be an absolute path of format raw or qcow2, not %q", spec.Name, i, d.Path, d.Format)
		}
	}
	if err := checkTargets(spec); err != nil {
		return bad("vm %q: %v", spec.Name, err)
	}
	for i, nic := range spec.NICs {
		texts[fmt.Sprintf("nic %d", i)] = nic.Network + nic.Bridge
	}
	for field, v := range texts {
		if !xmlText(v) {
			// XML cannot carry it as given: encoding/xml would silently put
			// U+FFFD in its place, and the domain would get other text than
			// the spec says.
			return bad("vm %q: %s holds a control character or invalid UTF-8", spec.Name, field)
		}
	}
	for i, nic := range spec.NICs {
		switch {
		case (nic.Network == "") == (nic.Bridge == ""):
			return bad("vm %q nic %d: give exactly one of network and bridge", spec.Name, i)
		case nic.MAC != "" && !macRE.MatchString(nic.MAC):
			return bad("vm %q nic %d: mac %q is not of the form 52:54:00:12:34:56", spec.Name, i, nic.MAC)
		}
	}
	return nil
}

// xmlText reports whether s is valid UTF-8 without control characters, so it
// goes into the domain XML exactly as it is.
func xmlText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// domainXML renders the libvirt definition of spec.
func domainXML(spec hypervisor.DomainSpec, p xmlParams) (string, error) {
	if err := checkSpec(spec); err != nil {
		return "", err
	}
	port := uint(0)
	serial := libvirtxml.DomainSerial{
		Source: &libvirtxml.DomainChardevSource{Pty: &libvirtxml.DomainChardevSourcePty{}},
		Target: &libvirtxml.DomainSerialTarget{Type: "isa-serial", Port: &port},
	}
	name := domainName(spec.ID, spec.Name)
	if p.ConsoleLogDir != "" {
		serial.Log = &libvirtxml.DomainChardevLog{File: filepath.Join(p.ConsoleLogDir, name+"-serial.log"), Append: "off"}
	}
	dom := &libvirtxml.Domain{
		Type: p.VirtType,
		Name: name,
		UUID: strings.ToLower(spec.ID),
		Metadata: &libvirtxml.DomainMetadata{XML: metadataXML(vmMeta{
			ID: strings.ToLower(spec.ID), Name: spec.Name, Generation: spec.Generation,
		})},
		Memory:        &libvirtxml.DomainMemory{Value: uint(spec.MemoryMiB), Unit: "MiB"},
		CurrentMemory: &libvirtxml.DomainCurrentMemory{Value: uint(spec.MemoryMiB), Unit: "MiB"},
		VCPU:          &libvirtxml.DomainVCPU{Placement: "static", Value: uint(spec.VCPUs)},
		OS:            &libvirtxml.DomainOS{Type: &libvirtxml.DomainOSType{Arch: p.Arch, Type: "hvm"}},
		Features: &libvirtxml.DomainFeatureList{
			ACPI: &libvirtxml.DomainFeature{}, APIC: &libvirtxml.DomainFeatureAPIC{},
		},
		Clock:      &libvirtxml.DomainClock{Offset: "utc"},
		OnPoweroff: "destroy",
		OnReboot:   "restart",
		OnCrash:    "destroy",
		Devices: &libvirtxml.DomainDeviceList{
			Serials: []libvirtxml.DomainSerial{serial},
			Consoles: []libvirtxml.DomainConsole{{
				Source: &libvirtxml.DomainChardevSource{Pty: &libvirtxml.DomainChardevSourcePty{}},
				Target: &libvirtxml.DomainConsoleTarget{Type: "serial", Port: &port},
			}},
			// The balloon's stats period makes QEMU poll the guest's memory
			// figures, which DomainStats reports as its used memory.
			MemBalloon: &libvirtxml.DomainMemBalloon{Model: "virtio", Stats: &libvirtxml.DomainMemBalloonStats{Period: 10}},
		},
	}
	b := spec.Boot
	if b == nil {
		b = &hypervisor.BootSource{}
	}
	// bootVolume: the domain boots from the first of its volumes, marked
	// by a per-disk boot order. With <boot dev='hd'/> SeaBIOS tries only
	// the disk first on the PCI bus, and libvirt sorts disks by name: a data
	// volume named before the root (vda beside a root vdb) would be tried,
	// and the guest not boot. libvirt refuses both forms together, so <os>
	// has none then.
	bootVolume := b.Kernel == "" && b.Disk == "" && len(spec.Disks) > 0
	switch {
	case b.Kernel != "":
		dom.OS.Kernel, dom.OS.Initrd, dom.OS.Cmdline = b.Kernel, b.Initrd, b.Cmdline
		if dom.OS.Cmdline == "" {
			dom.OS.Cmdline = defaultCmdline
		}
	case !bootVolume:
		dom.OS.BootDevices = []libvirtxml.DomainBootDevice{{Dev: "hd"}}
	}
	if b.Disk != "" {
		// The format comes from the spec, never from the image's first bytes
		// (a guest could write a qcow2 header into a raw disk). The image is
		// shared by every host the VM may run on, so it is attached read-only;
		// a VM's own writable disk is a volume.
		format := b.DiskFormat
		if format == "" {
			format = "raw"
		}
		dom.Devices.Disks = []libvirtxml.DomainDisk{{
			Device:   "disk",
			Driver:   &libvirtxml.DomainDiskDriver{Name: "qemu", Type: format},
			Source:   &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: b.Disk}},
			Target:   &libvirtxml.DomainDiskTarget{Dev: "vda", Bus: "virtio"},
			ReadOnly: &libvirtxml.DomainDiskReadOnly{},
		}}
	}
	for i, target := range volumeTargets(spec) {
		disk := volumeDisk(spec.Disks[i], target)
		if bootVolume && i == 0 {
			disk.Boot = &libvirtxml.DomainDeviceBoot{Order: 1}
		}
		dom.Devices.Disks = append(dom.Devices.Disks, disk)
	}
	for _, nic := range spec.NICs {
		iface := libvirtxml.DomainInterface{
			Model: &libvirtxml.DomainInterfaceModel{Type: "virtio"},
		}
		if nic.Network != "" {
			iface.Source = &libvirtxml.DomainInterfaceSource{Network: &libvirtxml.DomainInterfaceSourceNetwork{Network: nic.Network}}
		} else {
			iface.Source = &libvirtxml.DomainInterfaceSource{Bridge: &libvirtxml.DomainInterfaceSourceBridge{Bridge: nic.Bridge}}
		}
		if nic.MAC != "" {
			iface.MAC = &libvirtxml.DomainInterfaceMAC{Address: strings.ToLower(nic.MAC)}
		}
		dom.Devices.Interfaces = append(dom.Devices.Interfaces, iface)
	}
	out, err := dom.Marshal()
	if err != nil {
		return "", fmt.Errorf("render domain xml for vm %q: %w", spec.Name, err)
	}
	return out, nil
}

// volumeDisk is the <disk> element of a volume at target, the same at
// define time and at hotplug (AttachDisk) so that both give the guest the
// same device. The format is the spec's, never probed.
func volumeDisk(d hypervisor.Disk, target string) libvirtxml.DomainDisk {
	disk := libvirtxml.DomainDisk{
		Device: "disk",
		Driver: &libvirtxml.DomainDiskDriver{Name: "qemu", Type: d.Format},
		Source: &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: d.Path}},
		Target: &libvirtxml.DomainDiskTarget{Dev: target, Bus: "virtio"},
	}
	if d.ReadOnly {
		disk.ReadOnly = &libvirtxml.DomainDiskReadOnly{}
	} else if d.Shared {
		disk.Driver.Cache = "none"
	}
	return disk
}

// maxDisks bounds a domain's disks: vda to vdz.
const maxDisks = 26

// diskTarget names the i-th virtio disk: vda, vdb, ...
func diskTarget(i int) string { return "vd" + string(rune('a'+i)) }

// bootImages is 1 when the spec boots from a disk image (it takes vda), else 0.
func bootImages(spec hypervisor.DomainSpec) int {
	if spec.Boot != nil && spec.Boot.Disk != "" {
		return 1
	}
	return 0
}

// volumeTargets names spec.Disks in the domain: each its own Target, or
// else by its place among the domain's disks (after the boot image).
func volumeTargets(spec hypervisor.DomainSpec) []string {
	out := make([]string, len(spec.Disks))
	for i, d := range spec.Disks {
		out[i] = d.Target
		if out[i] == "" {
			out[i] = diskTarget(bootImages(spec) + i)
		}
	}
	return out
}

// checkTargets refuses targets that are not virtio disk names and two disks
// with one name: libvirt would refuse the second only when the domain is
// defined, or (a hotplug) take the wrong disk for the one asked for.
func checkTargets(spec hypervisor.DomainSpec) error {
	holder := map[string]string{}
	if bootImages(spec) == 1 {
		holder[diskTarget(0)] = "the boot image"
	}
	for i, target := range volumeTargets(spec) {
		if !targetRE.MatchString(target) {
			return fmt.Errorf("disk %d: target %q is not a virtio disk name (vda to vdz)", i, target)
		}
		if other, ok := holder[target]; ok {
			return fmt.Errorf("disk %d: target %s is taken by %s", i, target, other)
		}
		holder[target] = fmt.Sprintf("disk %d", i)
	}
	return nil
}
