// Package diskstore keeps a host's disks as files: the storage pools the
// cluster declares, realised as folders on this host, the images imported
// into them, and the volumes of the VMs that run here (a qcow2 overlay of
// an image for the root disk, an ISO 9660 cloud-init seed). It decides no
// placement and writes no cluster state; the host agent calls it before it
// starts a domain and after it removes one, and reports what Usage measures.
//
// Layout of a pool folder:
//
//	images/<image-id>            the image, in the format its record holds
//	volumes/<vm-id>-root.qcow2   a VM's root volume, backed by its image
//	volumes/<vm-id>-cidata.iso   a VM's cloud-init seed, rebuilt at each start
//	volumes/<volume-id>-data.qcow2  a data volume, blank when made
package diskstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/novacron/novacron/cloudinit"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/internal/qemuimg"
)

// Errors the store returns; callers match them with errors.Is.
var (
	// ErrImageMissing: the image a VM needs has no verified copy on this
	// host (yet).
	ErrImageMissing = errors.New("image not on this host")
)

// errBadID refuses an ID that could not name a file of its own.
var errBadID = errors.New("id cannot name a file")

// checkID refuses IDs that would leave their folder when joined to it. The
// FSM makes image IDs names and the API makes VM IDs UUIDs; this is the
// last guard before a path is built from one.
func checkID(id string) error {
	if id == "" || len(id) > 128 || strings.ContainsAny(id, "/\\\x00") || strings.HasPrefix(id, ".") {
		return fmt.Errorf("%w: %q", errBadID, id)
	}
	return nil
}

// Store is one host's disks.
type Store struct {
	dataDir string
}

// New returns the store of the agent whose data dir is dataDir: dir pools
// without a path of their own live in dataDir/pools/NAME.
func New(dataDir string) *Store { return &Store{dataDir: dataDir} }

// PoolDir is where pool p lives on this host.
func (s *Store) PoolDir(p fsm.StoragePool) string {
	if p.Path != "" {
		return p.Path
	}
	return filepath.Join(s.dataDir, "pools", p.Name)
}

// ImagePath is where image img is kept in pool p.
func (s *Store) ImagePath(p fsm.StoragePool, imageID string) string {
	return filepath.Join(s.PoolDir(p), "images", imageID)
}

// RootVolume is the path of a VM's root volume in pool p.
func (s *Store) RootVolume(p fsm.StoragePool, vmID string) string {
	return filepath.Join(s.PoolDir(p), "volumes", vmID+"-root.qcow2")
}

// Seed is the path of a VM's cloud-init seed in pool p.
func (s *Store) Seed(p fsm.StoragePool, vmID string) string {
	return filepath.Join(s.PoolDir(p), "volumes", vmID+"-cidata.iso")
}

// Realise makes pool p's folders on this host. A shared pool's folder must
// already exist (it is a mount the operator made on every host); a dir
// pool's is created.
func (s *Store) Realise(p fsm.StoragePool) error {
	dir := s.PoolDir(p)
	if p.Shared() {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return fmt.Errorf("shared pool %s: %s is not a folder on this host (mount it at the same path on every host)", p.Name, dir)
		}
	}
	for _, sub := range []string{"images", "volumes"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o711); err != nil {
			return fmt.Errorf("pool %s: %w", p.Name, err)
		}
	}
	return nil
}

// Usage realises and measures every pool, for the host's report.
func (s *Store) Usage(pools []fsm.StoragePool) []fsm.PoolUsage {
	out := make([]fsm.PoolUsage, 0, len(pools))
	for _, p := range pools {
		u := fsm.PoolUsage{Pool: p.Name}
		if err := s.Realise(p); err != nil {
			u.Error = err.Error()
		} else {
			var st syscall.Statfs_t
			if err := syscall.Statfs(s.PoolDir(p), &st); err != nil {
				u.Error = fmt.Sprintf("pool %s: %v", p.Name, err)
			} else {
				u.CapacityBytes = int64(st.Blocks) * st.Bsize
				u.AvailableBytes = int64(st.Bavail) * st.Bsize
			}
		}
		out = append(out, u)
	}
	return out
}

// HasImage reports whether a complete copy of img is in pool p here.
func (s *Store) HasImage(p fsm.StoragePool, img fsm.Image) bool {
	if checkID(img.ID) != nil {
		return false
	}
	fi, err := os.Stat(s.ImagePath(p, img.ID))
	return err == nil && fi.Mode().IsRegular() && fi.Size() == img.SizeBytes
}

// PrepareVM makes the volumes vm needs on this host and returns them as
// the domain's disks: its root volume (made once, a qcow2 overlay of its
// image sized to the spec, grown when the spec grew) and its cloud-init
// seed (written anew each time, so a changed configuration takes effect at
// the next start). img is the zero Image for a VM without one.
func (s *Store) PrepareVM(ctx context.Context, vm *fsm.VM, p fsm.StoragePool, img fsm.Image) ([]hypervisor.Disk, error) {
	if err := checkID(vm.ID); err != nil {
		return nil, err
	}
	if err := s.Realise(p); err != nil {
		return nil, err
	}
	var disks []hypervisor.Disk
	if vm.Spec.Image != "" {
		root, err := s.prepareRoot(ctx, vm, p, img)
		if err != nil {
			return nil, err
		}
		disks = append(disks, hypervisor.Disk{Path: root, Format: fsm.ImageQCOW2, Shared: p.Shared()})
	}
	if vm.Spec.CloudInit != nil {
		seed, err := s.writeSeed(vm, p)
		if err != nil {
			return nil, err
		}
		disks = append(disks, hypervisor.Disk{Path: seed, Format: fsm.ImageRaw, ReadOnly: true})
	}
	return disks, nil
}

func (s *Store) prepareRoot(ctx context.Context, vm *fsm.VM, p fsm.StoragePool, img fsm.Image) (string, error) {
	root := s.RootVolume(p, vm.ID)
	size := vm.Spec.DiskGiB << 30
	if _, err := os.Stat(root); err == nil {
		// The volume is the VM's: its format is ours (qcow2), recorded, never
		// probed. Grow it if the spec grew.
		return root, growTo(ctx, root, size)
	}
	if img.ID == "" || !s.HasImage(p, img) {
		return "", fmt.Errorf("%w: image %s (%s) in pool %s", ErrImageMissing, img.Name, vm.Spec.Image, p.Name)
	}
	if err := qemuimg.CreateOverlay(ctx, s.ImagePath(p, img.ID), img.Format, root, size); err != nil {
		return "", fmt.Errorf("root volume of vm %s: %w", vm.Spec.Name, err)
	}
	return root, nil
}

// growTo grows the qcow2 volume at path to size, if it is smaller.
func growTo(ctx context.Context, path string, size int64) error {
	info, err := qemuimg.Inspect(ctx, path, fsm.ImageQCOW2)
	if err != nil {
		return err
	}
	if info.VirtualSize >= size {
		return nil
	}
	return qemuimg.Resize(ctx, path, fsm.ImageQCOW2, size)
}

// writeSeed writes vm's cloud-init seed, replacing the last one.
func (s *Store) writeSeed(vm *fsm.VM, p fsm.StoragePool) (string, error) {
	ci := vm.Spec.CloudInit
	cfg := cloudinit.Config{Hostname: ci.Hostname, UserData: ci.UserData, SSHKeys: ci.SSHKeys, NetworkConfig: ci.NetworkConfig}
	files, err := cloudinit.Files(vm.ID, vm.Spec.Name, cfg)
	if err != nil {
		return "", fmt.Errorf("%w: cloud_init: %w", hypervisor.ErrInvalidSpec, err)
	}
	seed := s.Seed(p, vm.ID)
	tmp := seed + ".new"
	os.Remove(tmp)
	if err := cloudinit.WriteISO(tmp, files); err != nil {
		return "", fmt.Errorf("cloud-init seed of vm %s: %w", vm.Spec.Name, err)
	}
	if err := os.Rename(tmp, seed); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return seed, nil
}

// RemoveVM deletes vm's volumes from pool p here: the root volume unless
// keepRoot, and the seed. Missing files are no error.
func (s *Store) RemoveVM(p fsm.StoragePool, vmID string, keepRoot bool) error {
	if err := checkID(vmID); err != nil {
		return err
	}
	paths := []string{s.Seed(p, vmID)}
	if !keepRoot {
		paths = append(paths, s.RootVolume(p, vmID))
	}
	var errs []error
	for _, path := range paths {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
