package host

import (
	"fmt"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
)

// BootFiles confines the host files a VM boots from to the folders the
// operator allowed (--image-dir); *hostpath.Confiner implements it. The API
// checks the same on the node it reaches, but the host that opens the files
// checks again: its folders are its own, and a file may have changed since.
type BootFiles interface {
	// Check returns the resolved path of an allowed file, or an error that
	// does not tell whether the file exists.
	Check(path string) (string, error)
	// CheckDisk is Check for a disk image of the given format ("raw" or
	// "qcow2"), which also refuses a qcow2 image that names a backing file.
	CheckDisk(path, format string) (string, error)
}

// startSpec is the spec the driver starts vm with: with BootFiles configured
// (and for this node's own driver, not a simulated fleet host's, which opens
// no file), every boot file must pass the check and is replaced by its
// resolved path, so a symlink changed after the check is not followed. A
// refusal wraps hypervisor.ErrInvalidSpec and becomes the VM's error.
func (h *hostReconciler) startSpec(vm *fsm.VM) (hypervisor.DomainSpec, error) {
	spec := domainSpec(vm)
	files := h.host.cfg.BootFiles
	if files == nil || spec.Boot == nil || h.driver != h.host.driver {
		return spec, nil
	}
	b := *spec.Boot
	for _, f := range []struct {
		field string
		path  *string
	}{{"boot.kernel", &b.Kernel}, {"boot.initrd", &b.Initrd}, {"boot.disk", &b.Disk}} {
		if *f.path == "" {
			continue
		}
		var resolved string
		var err error
		if f.field == "boot.disk" {
			resolved, err = files.CheckDisk(*f.path, b.DiskFormat)
		} else {
			resolved, err = files.Check(*f.path)
		}
		if err != nil {
			return spec, fmt.Errorf("%w: %s %q: %w", hypervisor.ErrInvalidSpec, f.field, *f.path, err)
		}
		*f.path = resolved
	}
	spec.Boot = &b
	return spec, nil
}
