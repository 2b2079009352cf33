package storage

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// RaftStores are the durable stores Raft needs: the log and stable store in one
// bolt file (raft-boltdb), and a folder of file snapshots.
type RaftStores struct {
	Log       raft.LogStore
	Stable    raft.StableStore
	Snapshots raft.SnapshotStore
	bolt      *raftboltdb.BoltStore
}

// snapshotsRetained is how many snapshots are kept on disk.
const snapshotsRetained = 2

// logCacheSize is how many recent entries are served from memory, as Consul does.
const logCacheSize = 512

// OpenRaftStores opens (or creates) the Raft stores under dir. A damaged bolt file
// is reported as ErrCorruptDataDir and left as it is.
func OpenRaftStores(dir string, logOutput io.Writer) (*RaftStores, error) {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("create raft dir: %w", err)
	}
	if _, err := tighten(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "raft.db")
	bolt, err := openBolt(path)
	if err != nil {
		return nil, err
	}
	snaps, err := raft.NewFileSnapshotStore(dir, snapshotsRetained, logOutput)
	if err != nil {
		bolt.Close()
		return nil, fmt.Errorf("%w: snapshot store in %s: %v", ErrCorruptDataDir, dir, err)
	}
	// hashicorp/raft creates its snapshot folder 0755; snapshots hold the
	// whole cluster state, secrets included.
	if _, err := tighten(filepath.Join(dir, "snapshots")); err != nil {
		bolt.Close()
		return nil, err
	}
	cached, err := raft.NewLogCache(logCacheSize, bolt)
	if err != nil {
		bolt.Close()
		return nil, err
	}
	return &RaftStores{Log: cached, Stable: bolt, Snapshots: snaps, bolt: bolt}, nil
}

// openBolt opens the bolt file, turning bbolt's panics on garbage into an error.
func openBolt(path string) (store *raftboltdb.BoltStore, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s cannot be read (%v); refusing to start, restore it from a backup or move the data dir aside", ErrCorruptDataDir, path, r)
		}
	}()
	store, err = raftboltdb.New(raftboltdb.Options{
		Path:        path,
		BoltOptions: &bbolt.Options{Timeout: 2 * time.Second},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %s cannot be opened (%v); refusing to start, restore it from a backup or move the data dir aside", ErrCorruptDataDir, path, err)
	}
	return store, nil
}

// Close closes the bolt file.
func (s *RaftStores) Close() error { return s.bolt.Close() }
