package fsm

import (
	"fmt"
	"regexp"
	"strings"
)

// Limits on user input. They keep every record small and every name printable.
const (
	MaxNameLen       = 63
	MaxLabels        = 64
	MaxLabelKeyLen   = 63
	MaxLabelValueLen = 255
	MaxVCPUs         = 1024
	MaxMemoryMiB     = 16 << 20 // 16 TiB
	MaxDiskGiB       = 1 << 20  // 1 PiB
	MaxPathLen       = 4096
	MaxNICs          = 16
)

var macRE = regexp.MustCompile(`^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$`)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$`)

// ValidateName checks a VM, node or token name: 1 to 63 letters, digits, '.', '_'
// or '-', starting and ending with a letter or digit.
func ValidateName(field, name string) error {
	switch {
	case name == "":
		return errorf(ErrInvalid, "%s is required", field)
	case len(name) > MaxNameLen:
		return errorf(ErrInvalid, "%s is %d characters long, at most %d are allowed", field, len(name), MaxNameLen)
	case !nameRE.MatchString(name):
		return errorf(ErrInvalid, "%s %q may only hold letters, digits, '.', '_' and '-', and must start and end with a letter or digit", field, name)
	}
	return nil
}

// ValidateLabels checks label count and sizes.
func ValidateLabels(field string, labels map[string]string) error {
	if len(labels) > MaxLabels {
		return errorf(ErrInvalid, "%s has %d entries, at most %d are allowed", field, len(labels), MaxLabels)
	}
	for k, v := range labels {
		if k == "" || len(k) > MaxLabelKeyLen || !nameRE.MatchString(k) {
			return errorf(ErrInvalid, "%s key %q must be 1 to %d letters, digits, '.', '_' or '-'", field, k, MaxLabelKeyLen)
		}
		if len(v) > MaxLabelValueLen {
			return errorf(ErrInvalid, "%s value of %q is longer than %d characters", field, k, MaxLabelValueLen)
		}
	}
	return nil
}

// ValidateSpec checks a VM spec as the API receives it. The same check runs inside
// Apply, so a spec that slipped past a stale node is still refused deterministically.
func ValidateSpec(s VMSpec) error {
	if err := ValidateName("name", s.Name); err != nil {
		return err
	}
	if err := ValidatePlacement(s.Placement); err != nil {
		return err
	}
	if err := ValidateHA(s.HA); err != nil {
		return err
	}
	if s.VCPUs <= 0 || s.VCPUs > MaxVCPUs {
		return errorf(ErrInvalid, "vcpus must be between 1 and %d, got %d", MaxVCPUs, s.VCPUs)
	}
	if s.MemoryMiB <= 0 || s.MemoryMiB > MaxMemoryMiB {
		return errorf(ErrInvalid, "memory_mib must be between 1 and %d, got %d", MaxMemoryMiB, s.MemoryMiB)
	}
	if s.DiskGiB <= 0 || s.DiskGiB > MaxDiskGiB {
		return errorf(ErrInvalid, "disk_gib must be between 1 and %d, got %d", MaxDiskGiB, s.DiskGiB)
	}
	if b := s.Boot; b != nil {
		if b.Disk != "" && b.Kernel != "" {
			return errorf(ErrInvalid, "boot: give either disk or kernel, not both")
		}
		if b.Disk == "" && b.Kernel == "" {
			return errorf(ErrInvalid, "boot: give a disk or a kernel")
		}
		if b.Kernel == "" && (b.Initrd != "" || b.Cmdline != "") {
			return errorf(ErrInvalid, "boot: initrd and cmdline need a kernel")
		}
		for field, p := range map[string]string{"boot.kernel": b.Kernel, "boot.initrd": b.Initrd, "boot.disk": b.Disk, "boot.cmdline": b.Cmdline} {
			if len(p) > MaxPathLen {
				return errorf(ErrInvalid, "%s is longer than %d characters", field, MaxPathLen)
			}
		}
		for _, f := range []struct{ field, path string }{{"boot.kernel", b.Kernel}, {"boot.initrd", b.Initrd}, {"boot.disk", b.Disk}} {
			if f.path != "" && !strings.HasPrefix(f.path, "/") {
				return errorf(ErrInvalid, "%s %q must be an absolute path", f.field, f.path)
			}
		}
		switch {
		case b.DiskFormat != "" && b.Disk == "":
			return errorf(ErrInvalid, "boot.disk_format needs a boot.disk")
		case b.DiskFormat != "" && b.DiskFormat != DiskRaw && b.DiskFormat != DiskQCOW2:
			return errorf(ErrInvalid, "boot.disk_format %q: use %s or %s", b.DiskFormat, DiskRaw, DiskQCOW2)
		}
	}
	if err := validateDisk(&s); err != nil {
		return err
	}
	switch s.RestartPolicy {
	case "", RestartAlways, RestartOnFailure, RestartNever:
	default:
		return errorf(ErrInvalid, "restart_policy %q: use always, on-failure or never", s.RestartPolicy)
	}
	if len(s.NICs) > MaxNICs {
		return errorf(ErrInvalid, "nics has %d entries, at most %d are allowed", len(s.NICs), MaxNICs)
	}
	for i, nic := range s.NICs {
		if (nic.Network == "") == (nic.Bridge == "") {
			return errorf(ErrInvalid, "nics[%d]: give either network or bridge", i)
		}
		if nic.Network != "" {
			if err := ValidateName(fmt.Sprintf("nics[%d].network", i), nic.Network); err != nil {
				return err
			}
		}
		if nic.Bridge != "" {
			if err := ValidateName(fmt.Sprintf("nics[%d].bridge", i), nic.Bridge); err != nil {
				return err
			}
		}
		if nic.MAC != "" && !macRE.MatchString(nic.MAC) {
			return errorf(ErrInvalid, "nics[%d].mac %q is not a MAC address like 52:54:00:12:34:56", i, nic.MAC)
		}
	}
	return ValidateLabels("labels", s.Labels)
}

// Bounds on a spec's cloud-init data; package cloudinit checks the content
// (at the API, and again on the host that writes the seed).
const (
	MaxUserData      = 64 << 10
	MaxNetworkConfig = 16 << 10
	MaxSSHKeys       = 32
	MaxSSHKeyLen     = 16 << 10
)

// validateDisk checks the spec's image, pool and cloud-init fields for form;
// applyCreateVM checks that the image and pool exist.
func validateDisk(s *VMSpec) error {
	if s.Image != "" && s.Boot != nil && s.Boot.Disk != "" {
		return errorf(ErrInvalid, "give either image or boot.disk, not both")
	}
	if s.Image != "" && len(s.Image) > MaxNameLen {
		return errorf(ErrInvalid, "image is %d characters long, at most %d", len(s.Image), MaxNameLen)
	}
	if s.Pool != "" {
		if err := ValidateName("pool", s.Pool); err != nil {
			return err
		}
	}
	ci := s.CloudInit
	if ci == nil {
		return nil
	}
	switch {
	case len(ci.Hostname) > MaxNameLen:
		return errorf(ErrInvalid, "cloud_init.hostname is %d characters long, at most %d", len(ci.Hostname), MaxNameLen)
	case len(ci.UserData) > MaxUserData:
		return errorf(ErrInvalid, "cloud_init.user_data is %d bytes, at most %d", len(ci.UserData), MaxUserData)
	case len(ci.NetworkConfig) > MaxNetworkConfig:
		return errorf(ErrInvalid, "cloud_init.network_config is %d bytes, at most %d", len(ci.NetworkConfig), MaxNetworkConfig)
	case len(ci.SSHKeys) > MaxSSHKeys:
		return errorf(ErrInvalid, "cloud_init.ssh_keys has %d keys, at most %d", len(ci.SSHKeys), MaxSSHKeys)
	}
	for i, k := range ci.SSHKeys {
		if len(k) > MaxSSHKeyLen {
			return errorf(ErrInvalid, "cloud_init.ssh_keys[%d] is %d bytes, at most %d", i, len(k), MaxSSHKeyLen)
		}
	}
	return nil
}
