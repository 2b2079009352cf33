package diskstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/testutil"
)

// fakeState is the records a Manager reads, as the FSM would hold them.
type fakeState struct {
	mu       sync.Mutex
	settings fsm.Settings
	pools    map[string]fsm.StoragePool
	images   map[string]fsm.Image
	// migrations, vms and volumes are what a cold migration's source
	// checks before it serves disk files.
	migrations map[string]fsm.Migration
	vms        map[string]fsm.VM
	volumes    map[string][]fsm.Volume
}

func newFakeState(pools ...fsm.StoragePool) *fakeState {
	st := &fakeState{settings: fsm.DefaultSettings(), pools: map[string]fsm.StoragePool{}, images: map[string]fsm.Image{},
		migrations: map[string]fsm.Migration{}, vms: map[string]fsm.VM{}, volumes: map[string][]fsm.Volume{}}
	for _, p := range pools {
		st.pools[p.Name] = p
	}
	return st
}

func (f *fakeState) Settings() fsm.Settings {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.settings
}

func (f *fakeState) Pool(name string) (fsm.StoragePool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.pools[name]
	if !ok {
		return fsm.StoragePool{}, fmt.Errorf("%w: pool %q", fsm.ErrNotFound, name)
	}
	return p, nil
}

func (f *fakeState) Pools() []fsm.StoragePool {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fsm.StoragePool
	for _, p := range f.pools {
		out = append(out, p)
	}
	return out
}

func (f *fakeState) Image(id string) (fsm.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	img, ok := f.images[id]
	if !ok {
		return fsm.Image{}, fmt.Errorf("%w: image %q", fsm.ErrNotFound, id)
	}
	return img, nil
}

func (f *fakeState) Images() []fsm.Image {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fsm.Image
	for _, img := range f.images {
		out = append(out, img)
	}
	return out
}

func (f *fakeState) Migration(id string) (fsm.Migration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.migrations[id]
	if !ok {
		return fsm.Migration{}, fmt.Errorf("%w: migration %q", fsm.ErrNotFound, id)
	}
	return m, nil
}

func (f *fakeState) VM(id string) (fsm.VM, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	vm, ok := f.vms[id]
	if !ok {
		return fsm.VM{}, fmt.Errorf("%w: vm %q", fsm.ErrNotFound, id)
	}
	return vm, nil
}

// WaitForIndex: the fake's records are all there at once.
func (f *fakeState) WaitForIndex(context.Context, uint64) error { return nil }

func (f *fakeState) VolumesOf(vmID string) []fsm.Volume {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.volumes[vmID]
}

func (f *fakeState) putImage(img fsm.Image) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.images[img.ID] = img
}

// fakeCluster records the commands a Manager writes through Raft.
type fakeCluster struct {
	mu   sync.Mutex
	cmds []fsm.Command
}

func (c *fakeCluster) Apply(_ context.Context, cmd fsm.Command) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cmds = append(c.cmds, cmd)
	return uint64(len(c.cmds)), nil
}

// updates are the image updates applied so far.
func (c *fakeCluster) updates() []fsm.UpdateImage {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []fsm.UpdateImage
	for _, cmd := range c.cmds {
		switch u := cmd.(type) {
		case *fsm.UpdateImage:
			out = append(out, *u)
		case fsm.UpdateImage:
			out = append(out, u)
		}
	}
	return out
}

// waitUpdate waits for the first image update about id and returns it.
func (c *fakeCluster) waitUpdate(t *testing.T, id string) fsm.UpdateImage {
	t.Helper()
	var got fsm.UpdateImage
	testutil.Eventually(t, 30*time.Second, "an UpdateImage for "+id, func() error {
		for _, u := range c.updates() {
			if u.ID == id {
				got = u
				return nil
			}
		}
		return errors.New("none recorded")
	})
	return got
}

// fakeFiles confines files to one folder, as hostpath.Confiner does to the
// configured image folders.
type fakeFiles struct{ dir string }

func (f fakeFiles) Check(path string) (string, error) {
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(resolved, f.dir+string(filepath.Separator)) {
		return "", fmt.Errorf("%s is not under the image folder %s", path, f.dir)
	}
	return resolved, nil
}

// fakePeers reaches other nodes' internal API in process: each node is an
// http.Handler (its Manager), called through a recorder.
type fakePeers struct {
	mu    sync.Mutex
	nodes map[string]http.Handler
	seen  []*http.Request
}

func (p *fakePeers) PeerGet(ctx context.Context, nodeID, path string, header http.Header) (*http.Response, error) {
	p.mu.Lock()
	h, ok := p.nodes[nodeID]
	p.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("node %s unreachable", nodeID)
	}
	req := httptest.NewRequest(http.MethodGet, path, nil).WithContext(ctx)
	for k, v := range header {
		req.Header[k] = v
	}
	p.mu.Lock()
	p.seen = append(p.seen, req)
	p.mu.Unlock()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result(), nil
}

func (p *fakePeers) requests() []*http.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*http.Request(nil), p.seen...)
}

// newTestManager is a Manager for node over store s with fakes around it;
// it is closed when the test ends.
func newTestManager(t *testing.T, node string, s *Store, st *fakeState, peers Peers, files Files) (*Manager, *fakeCluster) {
	t.Helper()
	c := &fakeCluster{}
	m := NewManager(Config{Store: s, NodeID: node, Cluster: c, Peers: peers, State: st, Files: files,
		URLSetting: "--image-url-allow", Logger: testutil.Logger(t)})
	t.Cleanup(m.Close)
	return m, c
}
