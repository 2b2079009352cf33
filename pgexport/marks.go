package pgexport

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// marksFile is the file in HostConfig.StateDir that keeps the marks.
const marksFile = "pgexport-metrics.json"

// marks are the times up to which each series is exported (exclusive):
// the next round reads from there.
type marks struct {
	path string // "" keeps them in memory only

	mu sync.Mutex
	m  map[string]time.Time
}

func newMarks(dir string) *marks {
	k := &marks{m: map[string]time.Time{}}
	if dir != "" {
		k.path = filepath.Join(dir, marksFile)
	}
	return k
}

// marksJSON is the file's shape.
type marksJSON struct {
	Series map[string]time.Time `json:"series"`
}

// load reads the file; a missing one is no marks yet.
func (k *marks) load() error {
	if k.path == "" {
		return nil
	}
	b, err := os.ReadFile(k.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var f marksJSON
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("%s: %w", k.path, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for key, t := range f.Series {
		k.m[key] = t
	}
	return nil
}

// save writes the file atomically: a new file synced, then renamed over
// the old, so a crash leaves the old marks or the new, never half of one.
func (k *marks) save() error {
	if k.path == "" {
		return nil
	}
	k.mu.Lock()
	b, err := json.Marshal(marksJSON{Series: k.m})
	k.mu.Unlock()
	if err != nil {
		return err
	}
	dir := filepath.Dir(k.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, marksFile+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, there is nothing to remove
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), k.path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // the rename itself survives a power cut
		d.Close()
	}
	return nil
}

func (k *marks) get(key string) time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.m[key]
}

// set moves marks forward, never back.
func (k *marks) set(m map[string]time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for key, t := range m {
		if t.After(k.m[key]) {
			k.m[key] = t
		}
	}
}

// keepOnly forgets the series no longer in the history (deleted VMs).
func (k *marks) keepOnly(keys []string) {
	live := make(map[string]bool, len(keys))
	for _, key := range keys {
		live[key] = true
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for key := range k.m {
		if !live[key] {
			delete(k.m, key)
		}
	}
}
