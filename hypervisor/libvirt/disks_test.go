package libvirt

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/novacron/novacron/hypervisor"
)

func volumeSpec(disks ...hypervisor.Disk) hypervisor.DomainSpec {
	spec := kernelSpec()
	spec.Boot = nil
	spec.Disks = disks
	return spec
}

func targetsOf(t *testing.T, spec hypervisor.DomainSpec) []string {
	t.Helper()
	var out []string
	for _, d := range render(t, spec, xmlParams{VirtType: "qemu", Arch: "x86_64"}).Devices.Disks {
		out = append(out, d.Target.Dev)
	}
	return out
}

// TestDomainXML_VolumeTargets: a volume with a Target keeps it; the others
// are named by their place, after the boot image when there is one.
func TestDomainXML_VolumeTargets(t *testing.T) {
	root := hypervisor.Disk{Path: "/v/root.qcow2", Format: "qcow2"}
	seed := hypervisor.Disk{Path: "/v/seed.iso", Format: "raw", ReadOnly: true}
	data := hypervisor.Disk{Path: "/v/data.qcow2", Format: "qcow2", Target: "vdf"}
	got := targetsOf(t, volumeSpec(root, seed, data))
	if fmt.Sprint(got) != "[vda vdb vdf]" {
		t.Fatalf("targets %v, want [vda vdb vdf]", got)
	}
	withImage := volumeSpec(root, data)
	withImage.Boot = &hypervisor.BootSource{Disk: "/img/base.raw"}
	if got := targetsOf(t, withImage); fmt.Sprint(got) != "[vda vdb vdf]" {
		t.Fatalf("with a boot image: targets %v, want [vda vdb vdf]", got)
	}
}

// TestDomainXML_BootOrderOnlyWhenBootingFromVolumes: the first volume gets
// boot order 1 only when it is the boot disk, whatever its name; a kernel
// or a boot image keep their own way to boot.
func TestDomainXML_BootOrderOnlyWhenBootingFromVolumes(t *testing.T) {
	root := hypervisor.Disk{Path: "/v/root.qcow2", Format: "qcow2", Target: "vdc"}
	data := hypervisor.Disk{Path: "/v/data.qcow2", Format: "qcow2", Target: "vda"}
	dom := render(t, volumeSpec(root, data), xmlParams{VirtType: "qemu", Arch: "x86_64"})
	disks := dom.Devices.Disks
	if len(dom.OS.BootDevices) != 0 || disks[0].Target.Dev != "vdc" || disks[0].Boot == nil || disks[0].Boot.Order != 1 || disks[1].Boot != nil {
		t.Fatalf("os boot %+v, disks %+v %+v", dom.OS.BootDevices, disks[0].Boot, disks[1].Boot)
	}
	kernel := kernelSpec()
	kernel.Disks = []hypervisor.Disk{root}
	dom = render(t, kernel, xmlParams{VirtType: "qemu", Arch: "x86_64"})
	if len(dom.OS.BootDevices) != 0 || dom.Devices.Disks[0].Boot != nil {
		t.Fatalf("kernel boot: os boot %+v, disk boot %+v", dom.OS.BootDevices, dom.Devices.Disks[0].Boot)
	}
	image := volumeSpec(root)
	image.Boot = &hypervisor.BootSource{Disk: "/img/base.raw"}
	dom = render(t, image, xmlParams{VirtType: "qemu", Arch: "x86_64"})
	if len(dom.OS.BootDevices) != 1 || dom.OS.BootDevices[0].Dev != "hd" || dom.Devices.Disks[1].Boot != nil {
		t.Fatalf("image boot: os boot %+v, volume boot %+v", dom.OS.BootDevices, dom.Devices.Disks[1].Boot)
	}
}

func TestDomainXML_RejectsBadTargets(t *testing.T) {
	disk := func(target string) hypervisor.Disk {
		return hypervisor.Disk{Path: "/v/" + target + ".qcow2", Format: "qcow2", Target: target}
	}
	image := func(s hypervisor.DomainSpec) hypervisor.DomainSpec {
		s.Boot = &hypervisor.BootSource{Disk: "/img/base.raw"}
		return s
	}
	many := make([]hypervisor.Disk, maxDisks)
	for i := range many {
		many[i] = hypervisor.Disk{Path: fmt.Sprintf("/v/%d.qcow2", i), Format: "qcow2"}
	}
	cases := map[string]struct {
		spec hypervisor.DomainSpec
		says string
	}{
		"sda":                         {volumeSpec(disk("sda")), `"sda"`},
		"vd":                          {volumeSpec(disk("vd")), `"vd"`},
		"vdaa":                        {volumeSpec(disk("vdaa")), `"vdaa"`},
		"VDA":                         {volumeSpec(disk("VDA")), `"VDA"`},
		"two named alike":             {volumeSpec(disk("vdc"), disk("vdc")), "taken by disk 0"},
		"named as another's place":    {volumeSpec(hypervisor.Disk{Path: "/v/r", Format: "raw"}, disk("vda")), "vda is taken by disk 0"},
		"named as the boot image":     {image(volumeSpec(disk("vda"))), "taken by the boot image"},
		"26 volumes and a boot image": {image(volumeSpec(many...)), "at most 26"},
	}
	for name, c := range cases {
		_, err := domainXML(c.spec, xmlParams{VirtType: "qemu", Arch: "x86_64"})
		if !errors.Is(err, hypervisor.ErrInvalidSpec) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v, want ErrInvalidSpec saying %s", name, err, c.says)
		}
	}
	if _, err := domainXML(volumeSpec(many...), xmlParams{VirtType: "qemu", Arch: "x86_64"}); err != nil {
		t.Errorf("26 volumes: %v", err)
	}
}

// TestVolumeDisk_HotplugMatchesStart: AttachDisk renders the element Start
// gives the same volume, so a hotplugged disk and the next start agree.
func TestVolumeDisk_HotplugMatchesStart(t *testing.T) {
	for _, d := range []hypervisor.Disk{
		{Path: "/v/data.qcow2", Format: "qcow2", Target: "vdc"},
		{Path: "/pool/data.raw", Format: "raw", Target: "vdd", Shared: true},
		{Path: "/v/seed.iso", Format: "raw", Target: "vde", ReadOnly: true},
	} {
		started := render(t, volumeSpec(hypervisor.Disk{Path: "/v/root.qcow2", Format: "qcow2"}, d), xmlParams{VirtType: "qemu", Arch: "x86_64"})
		want, err := xmlOf(started.Devices.Disks[1])
		if err != nil {
			t.Fatal(err)
		}
		got, err := xmlOf(volumeDisk(d, d.Target))
		if err != nil || got != want {
			t.Fatalf("hotplug xml %s (%v), start xml %s", got, err, want)
		}
	}
}

func TestCheckHotplugDisk(t *testing.T) {
	ok := hypervisor.Disk{Path: "/v/data.qcow2", Format: "qcow2", Target: "vdz"}
	if err := checkHotplugDisk(ok); err != nil {
		t.Fatalf("%+v: %v", ok, err)
	}
	for name, mutate := range map[string]func(*hypervisor.Disk){
		"no target":     func(d *hypervisor.Disk) { d.Target = "" },
		"sda":           func(d *hypervisor.Disk) { d.Target = "sda" },
		"vd":            func(d *hypervisor.Disk) { d.Target = "vd" },
		"relative path": func(d *hypervisor.Disk) { d.Path = "data.qcow2" },
		"control char":  func(d *hypervisor.Disk) { d.Path = "/v/\x00.qcow2" },
		"format vmdk":   func(d *hypervisor.Disk) { d.Format = "vmdk" },
		"no format":     func(d *hypervisor.Disk) { d.Format = "" },
	} {
		d := ok
		mutate(&d)
		if err := checkHotplugDisk(d); !errors.Is(err, hypervisor.ErrInvalidSpec) {
			t.Errorf("%s: %v, want ErrInvalidSpec", name, err)
		}
	}
}
