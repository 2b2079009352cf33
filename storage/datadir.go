package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/novacron/novacron/internal/ids"
)

// Errors from opening a data dir.
var (
	// ErrForeignDataDir: the folder holds files but is not a NovaCron data dir.
	ErrForeignDataDir = errors.New("not a NovaCron data dir")
	// ErrCorruptDataDir: the folder is a NovaCron data dir but cannot be read.
	ErrCorruptDataDir = errors.New("corrupt NovaCron data dir")
	// ErrDataDirInUse: another agent holds the folder's lock.
	ErrDataDirInUse = errors.New("data dir in use")
)

// metaFile names the identity file of a data dir.
const metaFile = "novacron.json"

// dataDirFormat is the layout version this build reads and writes.
const dataDirFormat = 1

// meta is the content of novacron.json.
type meta struct {
	Format    int       `json:"format"`
	NodeID    string    `json:"node_id"`
	CreatedAt time.Time `json:"created_at"`
}

// DataDir is an opened, locked data dir.
type DataDir struct {
	path string
	meta meta
	lock *os.File
	// loosened is the mode the folder had when it let others in, before
	// OpenDataDir tightened it; zero when it was already private.
	loosened os.FileMode
}

// dirMode is the mode of the data dir and of the Raft folders in it: the
// token hashes and every VM's spec are in there.
const dirMode = 0o700

// OpenDataDir opens path as a data dir, creating it (and a new node ID) when it
// is missing or empty. It takes an exclusive lock so two agents never share one.
// The folder is made private (0700): a new one is created so, and an existing
// one that others could read is tightened (Loosened says from what), rather
// than refused, so an upgrade or an operator's mkdir never stops a node.
func OpenDataDir(path string) (*DataDir, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: no data dir given", ErrForeignDataDir)
	}
	if err := os.MkdirAll(path, dirMode); err != nil {
		return nil, fmt.Errorf("create data dir %s: %w", path, err)
	}
	m, err := readMeta(path)
	if errors.Is(err, os.ErrNotExist) {
		m, err = initDataDir(path)
	}
	if err != nil {
		return nil, err
	}
	// Only now, once the folder is known to be empty or NovaCron's own.
	loosened, err := tighten(path)
	if err != nil {
		return nil, err
	}
	lock, err := lockDir(path)
	if err != nil {
		return nil, err
	}
	return &DataDir{path: path, meta: m, lock: lock, loosened: loosened}, nil
}

// tighten makes the folder at path private (dirMode) when group or others
// have any access to it, and returns the mode it had then (zero otherwise).
func tighten(path string) (os.FileMode, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("data dir %s: %w", path, err)
	}
	mode := st.Mode().Perm()
	if mode&0o077 == 0 {
		return 0, nil
	}
	if err := os.Chmod(path, dirMode); err != nil {
		return 0, fmt.Errorf("data dir %s has mode %#o, which lets others read it, and cannot be made %#o: %w", path, mode, dirMode, err)
	}
	return mode, nil
}

// readMeta reads and checks novacron.json. It returns os.ErrNotExist only when the
// folder is empty, so that only an empty folder is ever initialised.
func readMeta(path string) (meta, error) {
	var m meta
	b, err := os.ReadFile(filepath.Join(path, metaFile))
	if errors.Is(err, os.ErrNotExist) {
		entries, derr := os.ReadDir(path)
		if derr != nil {
			return m, fmt.Errorf("read data dir %s: %w", path, derr)
		}
		if len(entries) > 0 {
			return m, fmt.Errorf("%w: %s holds %d entries (for example %q) but no %s; refusing to use it, point --data-dir at an empty folder or an existing NovaCron data dir",
				ErrForeignDataDir, path, len(entries), entries[0].Name(), metaFile)
		}
		return m, os.ErrNotExist
	}
	if err != nil {
		return m, fmt.Errorf("%w: read %s: %v", ErrCorruptDataDir, filepath.Join(path, metaFile), err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%w: %s is not valid JSON (%v); refusing to start, restore it from a backup or move the data dir aside", ErrCorruptDataDir, filepath.Join(path, metaFile), err)
	}
	if m.Format != dataDirFormat {
		return m, fmt.Errorf("%w: %s has format %d, this build reads format %d", ErrCorruptDataDir, filepath.Join(path, metaFile), m.Format, dataDirFormat)
	}
	if m.NodeID == "" {
		return m, fmt.Errorf("%w: %s has no node_id", ErrCorruptDataDir, filepath.Join(path, metaFile))
	}
	return m, nil
}

// initDataDir writes a new identity file atomically (temp file, fsync, rename).
func initDataDir(path string) (meta, error) {
	m := meta{Format: dataDirFormat, NodeID: ids.New(), CreatedAt: time.Now().UTC()}
	b, _ := json.MarshalIndent(m, "", "  ")
	tmp := filepath.Join(path, metaFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return m, fmt.Errorf("init data dir %s: %w", path, err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(path, metaFile))
	}
	if err != nil {
		os.Remove(tmp)
		return m, fmt.Errorf("init data dir %s: %w", path, err)
	}
	return m, nil
}

func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(path, "LOCK"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data dir %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s is locked by another novacron agent", ErrDataDirInUse, path)
	}
	return f, nil
}

// Loosened is the mode the data dir had when OpenDataDir found it readable by
// others and tightened it to 0700 (for the agent to warn about), or zero.
func (d *DataDir) Loosened() os.FileMode { return d.loosened }

// Path is the data dir's folder.
func (d *DataDir) Path() string { return d.path }

// NodeID is the node's stable identity, kept across restarts.
func (d *DataDir) NodeID() string { return d.meta.NodeID }

// GuardLeasePath is the lease file this node's agent shares with its fencing
// guard (package guard).
func (d *DataDir) GuardLeasePath() string { return filepath.Join(d.path, "guard.lease") }

// RaftDir is where the Raft stores live.
func (d *DataDir) RaftDir() string { return filepath.Join(d.path, "raft") }

// Close releases the lock.
func (d *DataDir) Close() error {
	if d.lock == nil {
		return nil
	}
	err := d.lock.Close()
	d.lock = nil
	return err
}
