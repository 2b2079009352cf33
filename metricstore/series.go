package metricstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
)

// series is one key's file and the open bucket of each tier. Its mutex
// guards everything below it; the Store's mutex is always taken first.
type series struct {
	key  string
	path string

	mu     sync.Mutex
	gone   bool     // deleted, collected, closed or failed: look the key up again
	f      *os.File // nil until first used
	fields []string
	lay    layout
	newest int64
	open   [len(tiers)]acc // the newest bucket of each tier, as on disk
	late   acc             // scratch for a sample older than a tier's open bucket
	slot   []byte          // scratch slot image
	nb     [8]byte         // scratch for the header's newest time
}

// load opens the series' existing file and resumes each tier's open bucket
// from it (four reads, once per process), so a restart in the middle of a
// bucket keeps what the bucket had.
func (ser *series) load() error {
	f, err := os.OpenFile(ser.path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	h, l, err := readHeader(f, ser.key)
	if err != nil {
		f.Close()
		return err
	}
	ser.attach(f, h, l)
	for i, t := range tiers {
		if h.newest == 0 {
			break
		}
		if err := ser.readSlot(i, t.bucket(h.newest), &ser.open[i]); err != nil {
			ser.detach()
			return err
		}
	}
	return nil
}

// create writes a new, empty file for the series. It is built under a
// temporary name and renamed, so a crash never leaves a half-made file
// under the real name.
func (ser *series) create(fields []string) error {
	tmp := ser.path + tmpSuffix
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	h := header{key: ser.key, fields: append([]string(nil), fields...)}
	l := newLayout(len(fields))
	_, err = f.WriteAt(h.encode(), 0)
	if err == nil {
		// Sparse until written: a new series costs a page, not 900 KiB.
		err = f.Truncate(l.size)
	}
	if err == nil {
		err = os.Rename(tmp, ser.path)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	ser.attach(f, h, l)
	return nil
}

func (ser *series) attach(f *os.File, h header, l layout) {
	ser.f, ser.fields, ser.lay, ser.newest = f, h.fields, l, h.newest
	for i := range ser.open {
		ser.open[i] = newAcc(l.nfields)
	}
	ser.late = newAcc(l.nfields)
	ser.slot = make([]byte, l.slotSize)
}

// detach closes the file; the series must be marked gone or loaded again.
func (ser *series) detach() {
	if ser.f != nil {
		ser.f.Close()
		ser.f = nil
	}
}

// readSlot loads into a the bucket starting at b of tier ti, or empties a
// for b if the slot holds another (stale) bucket.
func (ser *series) readSlot(ti int, b int64, a *acc) error {
	t := tiers[ti]
	if _, err := ser.f.ReadAt(ser.slot, ser.lay.slotOff(ti, t.index(b))); err != nil {
		return fmt.Errorf("metricstore: read %s: %w", ser.key, err)
	}
	if slotStart(ser.slot) != b {
		a.reset(b)
		return nil
	}
	a.decode(ser.slot)
	return nil
}

func (ser *series) writeSlot(ti int, a *acc) error {
	a.encode(ser.slot)
	if _, err := ser.f.WriteAt(ser.slot, ser.lay.slotOff(ti, tiers[ti].index(a.start))); err != nil {
		return fmt.Errorf("metricstore: write %s: %w", ser.key, err)
	}
	return nil
}

// errTooOld is what add reports when no tier's ring still holds the sample.
var errTooOld = errors.New("older than every tier keeps")

// add folds one sample taken at sec (Unix seconds) into every tier. The
// header's newest time is written before the slots, so after a crash it is
// never behind what the slots hold, and load resumes the right buckets.
func (ser *series) add(sec int64, vals []float64) error {
	if sec > ser.newest {
		binary.LittleEndian.PutUint64(ser.nb[:], uint64(sec))
		if _, err := ser.f.WriteAt(ser.nb[:], offNewest); err != nil {
			return fmt.Errorf("metricstore: write %s: %w", ser.key, err)
		}
		ser.newest = sec
	}
	kept := false
	for i := range tiers {
		ok, err := ser.addTier(i, sec, vals)
		if err != nil {
			return err
		}
		kept = kept || ok
	}
	if !kept {
		return errTooOld
	}
	return nil
}

// addTier folds a sample into tier ti and reports whether the tier kept it.
// The open bucket is updated in memory and written out whole: one pwrite.
// A late sample costs a read and a write of its slot, and is dropped if its
// bucket has already left the ring (its slot holds a newer bucket).
func (ser *series) addTier(ti int, sec int64, vals []float64) (bool, error) {
	t := tiers[ti]
	b := t.bucket(sec)
	a := &ser.open[ti]
	switch {
	case b == a.start:
	case b > a.start:
		// Nothing newer than the open bucket is on disk, so the slot
		// can only hold a stale bucket: no need to read it.
		a.reset(b)
	default:
		if a.start-b >= t.span() {
			return false, nil
		}
		a = &ser.late
		if err := ser.readSlot(ti, b, a); err != nil {
			return false, err
		}
	}
	a.fold(vals)
	return true, ser.writeSlot(ti, a)
}
