package libvirt

import (
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"syscall"

	"libvirt.org/go/libvirtxml"
)

// Virt types a Config may ask for.
const (
	VirtAuto = "auto"
	VirtKVM  = "kvm"
	VirtQEMU = "qemu"
	// VirtTest is the domain type of libvirt's built-in test driver (test:///);
	// auto picks it there, since that driver accepts no other.
	VirtTest = "test"
)

// hostFacts is what the driver learns about the host once, at New.
type hostFacts struct {
	arch string
	// kvmOffered: libvirt offers domain type kvm for the host's arch.
	kvmOffered bool
	// nested: the host CPU carries the "hypervisor" flag, i.e. the host is
	// itself a virtual machine.
	nested bool
}

// parseCaps extracts hostFacts from libvirt's capabilities XML.
func parseCaps(capsXML string) (hostFacts, error) {
	var caps libvirtxml.Caps
	if err := caps.Unmarshal(capsXML); err != nil {
		return hostFacts{}, fmt.Errorf("parse libvirt capabilities: %w", err)
	}
	var f hostFacts
	if cpu := caps.Host.CPU; cpu != nil {
		f.arch = cpu.Arch
		for _, feat := range cpu.FeatureFlags {
			if feat.Name == "hypervisor" {
				f.nested = true
			}
		}
	}
	for _, g := range caps.Guests {
		if g.OSType != "hvm" || g.Arch.Name != f.arch {
			continue
		}
		for _, dom := range g.Arch.Domains {
			if dom.Type == VirtKVM {
				f.kvmOffered = true
			}
		}
	}
	return f, nil
}

// resolveVirtType turns the configured virt type into the one domains get, and
// says why. driverType is libvirt's name for the connection's driver ("QEMU",
// "TEST", ...); probe checks /dev/kvm on this machine and is nil when the URI
// names another machine.
//
// auto chooses kvm only when every one of these holds: libvirt offers kvm for
// the host's arch, the host CPU does not carry the "hypervisor" flag (nested
// KVM is known to hang guests at boot on the project's lab machines, so a
// virtual host gets TCG unless kvm is forced), and, for a local URI, /dev/kvm
// opens and creates a VM. Otherwise it chooses qemu (TCG): slower, always works.
func resolveVirtType(want, driverType string, f hostFacts, probe func() error) (string, string, error) {
	if want == "" {
		want = VirtAuto
	}
	test := strings.EqualFold(driverType, "test")
	switch want {
	case VirtAuto:
	case VirtKVM:
		if !f.kvmOffered && !test {
			return "", "", fmt.Errorf("virt type kvm was asked for, but libvirt offers no kvm domains for arch %q on this host", f.arch)
		}
		return want, "configured", nil
	case VirtQEMU, VirtTest:
		return want, "configured", nil
	default:
		return "", "", fmt.Errorf("unknown virt type %q: want auto, kvm or qemu", want)
	}
	switch {
	case test:
		return VirtTest, "libvirt test driver", nil
	case !f.kvmOffered:
		return VirtQEMU, "libvirt offers no kvm domains", nil
	case f.nested:
		return VirtQEMU, "host is a virtual machine (cpu flag 'hypervisor'); nested kvm is not trusted, force kvm to use it", nil
	case probe != nil:
		if err := probe(); err != nil {
			return VirtQEMU, "kvm probe failed: " + err.Error(), nil
		}
		return VirtKVM, "kvm offered and /dev/kvm works", nil
	}
	return VirtKVM, "kvm offered by the remote host", nil
}

// ioctl numbers from <linux/kvm.h>.
const (
	kvmGetAPIVersion = 0xAE00
	kvmCreateVM      = 0xAE01
	kvmAPIVersion    = 12
)

// probeKVM opens /dev/kvm and creates (and drops) an empty VM: proof that the
// kernel module answers, not that a guest will boot.
func probeKVM() error {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	v, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), kvmGetAPIVersion, 0)
	if errno != 0 {
		return fmt.Errorf("KVM_GET_API_VERSION: %w", errno)
	}
	if v != kvmAPIVersion {
		return fmt.Errorf("KVM API version %d, want %d", v, kvmAPIVersion)
	}
	vm, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), kvmCreateVM, 0)
	if errno != 0 {
		return fmt.Errorf("KVM_CREATE_VM: %w", errno)
	}
	return syscall.Close(int(vm))
}

// isLocalURI reports whether uri reaches a hypervisor on this machine, so that
// host paths (kernels, disks, bridges, /dev/kvm) can be checked here.
func isLocalURI(uri string) bool {
	u, err := url.Parse(uri)
	if err != nil {
		return false
	}
	if strings.HasPrefix(u.Scheme, "test") {
		return false // the test driver's host is imaginary
	}
	return u.Host == "" || slices.Contains([]string{"localhost", "127.0.0.1", "::1"}, u.Hostname())
}
