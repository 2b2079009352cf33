package diskstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/internal/qemuimg"
)

// Data volumes are blank qcow2 files named by the volume's ID,
// volumes/<volume-id>-data.qcow2 in their pool's folder. The format is
// the one their record holds (qcow2, made here); nothing here probes it.

// DataVolume is the path of data volume id in pool p.
func (s *Store) DataVolume(p fsm.StoragePool, id string) string {
	return filepath.Join(s.PoolDir(p), "volumes", id+"-data.qcow2")
}

// PrepareVolume makes data volume v here if its file is missing (blank, of
// its size) and grows it when its record grew, and returns it as the disk
// its VM attaches, with its size in GiB now. A running VM's disk is grown
// through the hypervisor instead (qemu-img cannot take its lock).
func (s *Store) PrepareVolume(ctx context.Context, p fsm.StoragePool, v fsm.Volume) (hypervisor.Disk, error) {
	if err := checkID(v.ID); err != nil {
		return hypervisor.Disk{}, err
	}
	if v.Format != fsm.DiskQCOW2 {
		return hypervisor.Disk{}, fmt.Errorf("%w: volume %s is %q; only qcow2 data volumes are made here", hypervisor.ErrInvalidSpec, v.Name, v.Format)
	}
	if err := s.Realise(p); err != nil {
		return hypervisor.Disk{}, err
	}
	path := s.DataVolume(p, v.ID)
	size := v.SizeGiB << 30
	switch _, err := os.Stat(path); {
	case err == nil:
		if err := growTo(ctx, path, size); err != nil {
			return hypervisor.Disk{}, fmt.Errorf("growing volume %s: %w", v.Name, err)
		}
	case errors.Is(err, os.ErrNotExist):
		if err := qemuimg.CreateBlank(ctx, path, size); err != nil {
			return hypervisor.Disk{}, fmt.Errorf("making volume %s: %w", v.Name, err)
		}
	default:
		return hypervisor.Disk{}, err
	}
	return hypervisor.Disk{Path: path, Format: v.Format, Shared: p.Shared(), Target: v.Target}, nil
}

// ResetVolume replaces data volume v here with a blank file of its size:
// the destination of a migration, whose blocks the source then copies.
// An older file (an earlier try) would keep blocks the copy does not
// overwrite.
func (s *Store) ResetVolume(ctx context.Context, p fsm.StoragePool, v fsm.Volume) (hypervisor.Disk, error) {
	if err := s.RemoveVolume(p, v.ID); err != nil {
		return hypervisor.Disk{}, err
	}
	return s.PrepareVolume(ctx, p, v)
}

// GrowVolume grows data volume v's file, not in use by a running guest, to
// its recorded size.
func (s *Store) GrowVolume(ctx context.Context, p fsm.StoragePool, v fsm.Volume) error {
	if err := checkID(v.ID); err != nil {
		return err
	}
	return growTo(ctx, s.DataVolume(p, v.ID), v.SizeGiB<<30)
}

// RemoveVolume deletes data volume id from pool p here; a missing file is
// no error.
func (s *Store) RemoveVolume(p fsm.StoragePool, id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	if err := os.Remove(s.DataVolume(p, id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
