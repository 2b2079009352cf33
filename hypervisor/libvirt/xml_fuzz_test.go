package libvirt

import (
	"testing"

	"libvirt.org/go/libvirtxml"

	"github.com/novacron/novacron/hypervisor"
)

// FuzzDomainXML renders a domain from arbitrary user-controlled text (name,
// kernel command line, boot paths, label, NIC network): whatever the text, the
// XML either is refused or parses back with exactly that text in its place
// and no element the spec did not ask for, so no input can inject a disk, a
// device or an attribute.
func FuzzDomainXML(f *testing.F) {
	f.Add("web-1", "console=ttyS0", "/img/vmlinuz", "/img/disk.raw", "default", "tier=web")
	f.Add("x", "a</cmdline><disk type='file'><source file='/etc/shadow'/></disk><cmdline>", "/k", "", "n", "v")
	f.Add("a\"b'c<d>&e", "]]><!--", "/k'\"", "/d<x/>", "n&amp;", "<label/>")
	f.Fuzz(func(t *testing.T, name, cmdline, kernel, disk, network, label string) {
		spec := hypervisor.DomainSpec{
			ID: testID, Name: name, VCPUs: 1, MemoryMiB: 96,
			Boot:   &hypervisor.BootSource{Kernel: kernel, Cmdline: cmdline, Disk: disk},
			NICs:   []hypervisor.NIC{{Network: network}},
			Labels: map[string]string{"l": label},
		}
		doc, err := domainXML(spec, xmlParams{VirtType: "qemu", Arch: "x86_64"})
		if err != nil {
			return // refused: fine
		}
		var dom libvirtxml.Domain
		if err := dom.Unmarshal(doc); err != nil {
			t.Fatalf("rendered XML does not parse: %v\n%s", err, doc)
		}
		wantCmdline := cmdline
		switch {
		case kernel == "":
			wantCmdline = "" // a command line goes with a kernel only
		case cmdline == "":
			wantCmdline = defaultCmdline
		}
		if dom.OS == nil || dom.OS.Kernel != kernel || dom.OS.Cmdline != wantCmdline {
			t.Fatalf("boot text changed on its way into the XML:\nkernel %q -> %q\ncmdline %q -> %q", kernel, dom.OS.Kernel, cmdline, dom.OS.Cmdline)
		}
		wantDisks := 0
		if disk != "" {
			wantDisks = 1
		}
		if dom.Devices == nil || len(dom.Devices.Disks) != wantDisks || len(dom.Devices.Interfaces) != 1 ||
			len(dom.Devices.Filesystems) != 0 || len(dom.Devices.Hostdevs) != 0 {
			t.Fatalf("the XML has devices the spec did not ask for:\n%s", doc)
		}
		if wantDisks == 1 && (dom.Devices.Disks[0].Source == nil || dom.Devices.Disks[0].Source.File == nil ||
			dom.Devices.Disks[0].Source.File.File != disk || dom.Devices.Disks[0].ReadOnly == nil) {
			t.Fatalf("the disk is not the one asked for, read-only:\n%s", doc)
		}
	})
}
