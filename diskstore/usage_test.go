package diskstore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/novacron/novacron/fsm"
)

// Usage realises each pool and measures it; a pool this host cannot hold
// reports why, naming the folder, and does not hide the others.
func TestStore_Usage_MeasuresAndNamesWhatIsMissing(t *testing.T) {
	s := newStore(t)
	mount := t.TempDir()
	missing := filepath.Join(t.TempDir(), "not-mounted")
	pools := []fsm.StoragePool{
		defaultPool,
		{Name: "nfs", Type: fsm.PoolShared, Path: missing},
		{Name: "san", Type: fsm.PoolShared, Path: mount},
	}
	got := s.Usage(pools)
	if len(got) != len(pools) {
		t.Fatalf("Usage = %+v, want one per pool", got)
	}
	for i, u := range got {
		if u.Pool != pools[i].Name {
			t.Errorf("usage %d is of pool %q, want %q", i, u.Pool, pools[i].Name)
		}
	}
	for _, i := range []int{0, 2} {
		u := got[i]
		if u.Error != "" || u.CapacityBytes <= 0 || u.AvailableBytes <= 0 || u.AvailableBytes > u.CapacityBytes {
			t.Errorf("pool %s: %+v, want capacity >= available > 0 and no error", u.Pool, u)
		}
		for _, sub := range []string{"images", "volumes"} {
			dir := filepath.Join(s.PoolDir(pools[i]), sub)
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				t.Errorf("pool %s: %s not made: %v", u.Pool, dir, err)
			}
		}
	}
	if s.PoolDir(defaultPool) != filepath.Join(s.dataDir, "pools", "default") {
		t.Errorf("the default pool lives in %s, not DATA/pools/default", s.PoolDir(defaultPool))
	}
	if u := got[1]; !strings.Contains(u.Error, missing) || u.CapacityBytes != 0 || u.AvailableBytes != 0 {
		t.Errorf("a shared pool whose folder is missing: %+v, want an error naming %s", u, missing)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("Usage created the shared pool's mount point %s: %v", missing, err)
	}
}
