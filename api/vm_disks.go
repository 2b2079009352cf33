package api

import (
	"fmt"

	"github.com/novacron/novacron/cloudinit"
	"github.com/novacron/novacron/fsm"
)

// checkDisks completes and checks the storage part of a new VM's spec: the
// image, named in the request by name, ID or ID prefix in the VM's project,
// becomes its ID; the pool defaults to the image's; disk_gib defaults to
// the image's size; the cloud-init configuration is checked as its host
// will write it; and a pool that no host has room in is refused now (409
// naming the pool and the sizes) rather than left pending.
func (s *Server) checkDisks(project string, spec *fsm.VMSpec) error {
	if err := checkCloudInit(spec.CloudInit); err != nil {
		return err
	}
	if spec.Image == "" {
		return nil
	}
	img, err := s.state.ImageByName(project, spec.Image)
	if err != nil {
		img, err = findRecord(s, "image", spec.Image, s.state.Image, nil, func(i fsm.Image) string { return i.Name })
	}
	if err != nil || img.Project != project {
		return errorf(fsm.ErrNotFound, "image %q not found in project %s", spec.Image, project)
	}
	if img.State != fsm.ImageReady {
		return errorf(fsm.ErrState, "image %s is %s, not ready", img.Name, img.State)
	}
	spec.Image = img.ID
	if spec.Pool == "" {
		spec.Pool = img.Pool
	}
	if spec.DiskGiB == 0 {
		spec.DiskGiB = (img.VirtualSizeBytes + 1<<30 - 1) >> 30
	}
	if img.VirtualSizeBytes > spec.DiskGiB<<30 {
		return invalidf("disk_gib %d is smaller than image %s (%s)", spec.DiskGiB, img.Name, gib(img.VirtualSizeBytes))
	}
	return s.checkPoolRoom(spec.EffectivePool(), spec.DiskGiB)
}

// checkCloudInit checks a cloud-init configuration as the VM's host will
// write it, so a bad one is refused with the request, not at the start.
func checkCloudInit(ci *fsm.CloudInit) error {
	if ci == nil {
		return nil
	}
	cfg := cloudinit.Config{Hostname: ci.Hostname, UserData: ci.UserData, SSHKeys: ci.SSHKeys, NetworkConfig: ci.NetworkConfig}
	if err := cfg.Validate(); err != nil {
		return invalidf("cloud_init: %v", err)
	}
	return nil
}

// checkPoolRoom refuses a root volume larger than the free space any live
// host reports in its pool. Hosts that report no pools (sim) are not
// counted; with none reporting, the scheduler decides.
func (s *Server) checkPoolRoom(pool string, diskGiB int64) error {
	var best int64 = -1
	bestHost := ""
	for _, n := range s.state.Nodes() {
		if n.Status != fsm.NodeAlive {
			continue
		}
		for _, u := range n.Pools {
			if u.Pool == pool && u.Error == "" && u.AvailableBytes > best {
				best, bestHost = u.AvailableBytes, n.Name
			}
		}
	}
	if best >= 0 && best < diskGiB<<30 {
		return errorf(fsm.ErrConflict, "pool %s has no room for a %d GiB root volume: the most free on any host is %s (%s)", pool, diskGiB, gib(best), bestHost)
	}
	return nil
}

// gib formats bytes as GiB with one decimal.
func gib(b int64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }
