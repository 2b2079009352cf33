package fsm

//msgp:tag json
//msgp:timezone utc

// The parts of a VM's spec that say what it boots from and what its guest
// reads: its boot files, its network interfaces, its cloud-init data.

// BootSource says what a VM boots from: a kernel and initrd, or a disk image.
// The paths are host paths; hosts accept only files inside their image folders
// (--image-dir), and attach every one of them read-only (a disk image given by
// path is shared by every host; a VM's own writable disk is a volume).
type BootSource struct {
	Kernel  string `json:"kernel,omitempty"`
	Initrd  string `json:"initrd,omitempty"`
	Cmdline string `json:"cmdline,omitempty"`
	Disk    string `json:"disk,omitempty"`
	// DiskFormat is Disk's image format, DiskRaw or DiskQCOW2, recorded when the
	// VM is created (the API detects it once) and handed to the hypervisor as
	// it is: a host never probes it, so a guest that writes a qcow2 header into
	// a raw disk cannot change how the disk is opened. Empty means raw.
	//
	// Added before the first release, so it needs no version gate
	// (fsm/version.go): every node that can join knows it.
	DiskFormat string `json:"disk_format,omitempty"`
}

// Disk image formats (BootSource.DiskFormat).
const (
	DiskRaw   = "raw"
	DiskQCOW2 = "qcow2"
)

// NIC is a VM's network interface: on a hypervisor network or a host bridge.
type NIC struct {
	Network string `json:"network,omitempty"`
	Bridge  string `json:"bridge,omitempty"`
	MAC     string `json:"mac,omitempty"`
}

// CloudInit is what a guest's cloud-init reads (package cloudinit checks
// and writes it; the FSM bounds its size).
type CloudInit struct {
	Hostname      string   `json:"hostname,omitempty"`
	UserData      string   `json:"user_data,omitempty"`
	SSHKeys       []string `json:"ssh_keys,omitempty"`
	NetworkConfig string   `json:"network_config,omitempty"`
}
