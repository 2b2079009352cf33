package diskstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/hypervisor"
	"github.com/novacron/novacron/internal/fetch"
)

// The Manager is the store at work in the cluster: it runs the imports
// this node takes, copies images from other hosts when a VM here needs
// them, answers other hosts' copies, and records what happened through
// Raft. The consumers' interfaces below are what it needs of the rest.

// Cluster writes through Raft (*cluster.Agent).
type Cluster interface {
	Apply(ctx context.Context, cmd fsm.Command) (uint64, error)
}

// Peers reaches other nodes' internal API (*cluster.Agent).
type Peers interface {
	PeerGet(ctx context.Context, nodeID, path string, header http.Header) (*http.Response, error)
}

// State reads the records the store works from (*fsm.FSM).
type State interface {
	Settings() fsm.Settings
	Pool(name string) (fsm.StoragePool, error)
	Pools() []fsm.StoragePool
	Image(id string) (fsm.Image, error)
	Images() []fsm.Image
	// Migration, VM and VolumesOf say which disk files a cold migration's
	// destination may read from this host, once WaitForIndex has brought
	// this node's copy to the record the destination saw.
	WaitForIndex(ctx context.Context, index uint64) error
	Migration(id string) (fsm.Migration, error)
	VM(id string) (fsm.VM, error)
	VolumesOf(vmID string) []fsm.Volume
}

// Files confines imported files to the allowed image folders
// (*hostpath.Confiner); nil refuses every file.
type Files interface {
	Check(path string) (string, error)
}

// Config is what a Manager needs.
type Config struct {
	Store   *Store
	NodeID  string
	Cluster Cluster
	Peers   Peers
	State   State
	Files   Files
	// URLSetting names the allow-list in refusals.
	URLSetting string
	Logger     *slog.Logger
}

// maxImports bounds the imports and copies one node runs at once.
const maxImports = 4

// ImagePathPrefix is the internal route other hosts read images from.
const ImagePathPrefix = "/internal/v1/images/"

// Manager runs imports and copies for one node.
type Manager struct {
	*Store
	cfg     Config
	log     *slog.Logger
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	slots   chan struct{}
	started time.Time
	// copying serialises copies of one image, so two VMs starting at once
	// on this host copy it once.
	copying sync.Map
}

// NewManager returns a Manager; Close stops its imports.
func NewManager(cfg Config) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Manager{Store: cfg.Store, cfg: cfg, log: cfg.Logger.With("component", "diskstore"), ctx: ctx, cancel: cancel,
		slots: make(chan struct{}, maxImports), started: time.Now()}
}

// Close cancels the imports under way and waits for them.
func (m *Manager) Close() {
	m.cancel()
	m.wg.Wait()
}

// source turns an image's source into what Import reads, checking it as
// this node would when the import runs.
func (m *Manager) source(raw, sha string) (Source, error) {
	if sha != "" && !isSHA256(sha) {
		return Source{}, fmt.Errorf("%w: sha256 %q is not 64 hex digits", fsm.ErrInvalid, sha)
	}
	if strings.HasPrefix(raw, "/") {
		if m.cfg.Files == nil {
			return Source{}, fmt.Errorf("%w: source %q: this node has no image folder (--image-dir) to import files from", fsm.ErrInvalid, raw)
		}
		resolved, err := m.cfg.Files.Check(raw)
		if err != nil {
			return Source{}, fmt.Errorf("%w: source %q: %v", fsm.ErrInvalid, raw, err)
		}
		return Source{File: resolved, SHA256: sha}, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return Source{}, fmt.Errorf("%w: source %q is neither an absolute file path nor an http(s) URL", fsm.ErrInvalid, raw)
	}
	if sha == "" {
		return Source{}, fmt.Errorf("%w: an image from a URL needs its sha256", fsm.ErrInvalid)
	}
	set := m.cfg.State.Settings().WithDefaults().Images
	p := fetch.Policy{AllowedHosts: set.URLAllow, MaxBytes: set.MaxBytes, Setting: m.cfg.URLSetting}
	if _, err := p.CheckURL(raw); err != nil {
		return Source{}, fmt.Errorf("%w: %v", fsm.ErrInvalid, err)
	}
	return Source{URL: raw, Policy: p, SHA256: sha}, nil
}

// CheckSource refuses a source this node would not import from, before
// anything is recorded: a file outside the image folders, a URL whose host
// is not on the allow-list, a URL without a checksum.
func (m *Manager) CheckSource(raw, sha string) error {
	_, err := m.source(raw, sha)
	return err
}

// Import runs the import of img, recorded importing with this node as its
// importer, in the background, and records how it ended. A user who
// cancels it (or deletes the image) stops it: its partial file goes.
func (m *Manager) Import(img fsm.Image, sha string) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		ctx, cancel := context.WithCancelCause(m.ctx)
		defer cancel(nil)
		go m.stopWhenCancelled(ctx, cancel, img.ID)
		select {
		case m.slots <- struct{}{}:
			defer func() { <-m.slots }()
		case <-ctx.Done():
		}
		up := fsm.UpdateImage{ID: img.ID, Host: m.cfg.NodeID}
		got, err := m.runImport(ctx, img, sha)
		switch {
		case err != nil && errors.Is(context.Cause(ctx), errImportCancelled):
			m.log.Info("image import cancelled", "image", img.Name, "project", img.Project)
			return // the record says so already
		case err != nil:
			m.log.Warn("image import failed", "image", img.Name, "project", img.Project, "error", err)
			up = fsm.UpdateImage{ID: img.ID, State: fsm.ImageFailed, Error: err.Error()}
		default:
			m.log.Info("image imported", "image", img.Name, "project", img.Project, "format", got.Format, "bytes", got.SizeBytes)
			up.State, up.Format, up.SizeBytes, up.VirtualSizeBytes, up.SHA256 = fsm.ImageReady, got.Format, got.SizeBytes, got.VirtualSizeBytes, got.SHA256
		}
		up.At = time.Now().UTC()
		m.record(&up)
	}()
}

// cancelPoll is how often a running import looks at its image's record.
const cancelPoll = 250 * time.Millisecond

// errImportCancelled ends an import whose image a user cancelled or deleted.
var errImportCancelled = errors.New("import cancelled")

// stopWhenCancelled cancels ctx once image id is no longer importing (a
// user cancelled it, or deleted it after this node's state showed it), or
// returns when ctx ends.
func (m *Manager) stopWhenCancelled(ctx context.Context, cancel context.CancelCauseFunc, id string) {
	tick := time.NewTicker(cancelPoll)
	defer tick.Stop()
	seen := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		img, err := m.cfg.State.Image(id)
		if (err != nil && seen) || (err == nil && img.State != fsm.ImageImporting) {
			cancel(errImportCancelled)
			return
		}
		seen = err == nil
	}
}

func (m *Manager) runImport(ctx context.Context, img fsm.Image, sha string) (Imported, error) {
	src, err := m.source(img.Source, sha)
	if err != nil {
		return Imported{}, err
	}
	p, err := m.cfg.State.Pool(img.Pool)
	if err != nil {
		return Imported{}, err
	}
	return m.Store.Import(ctx, p, img, src, m.cfg.State.Settings().WithDefaults().Images.MaxBytes)
}

// record writes an image update, trying again for a while when there is
// no leader (an import's end must not be lost to an election).
func (m *Manager) record(cmd *fsm.UpdateImage) {
	ctx, cancel := context.WithTimeout(m.ctx, time.Minute)
	defer cancel()
	for {
		_, err := m.cfg.Cluster.Apply(ctx, cmd)
		if err == nil || errors.Is(err, fsm.ErrNotFound) || errors.Is(err, fsm.ErrState) || errors.Is(err, fsm.ErrInvalid) {
			return
		}
		select {
		case <-ctx.Done():
			m.log.Warn("recording an image update", "image", cmd.ID, "error", err)
			return
		case <-time.After(time.Second):
		}
	}
}

// FailStale marks failed the imports this node was running before it
// started (an agent restart ends them): nothing else would finish them.
func (m *Manager) FailStale() {
	for _, img := range m.cfg.State.Images() {
		if img.State == fsm.ImageImporting && img.Importer == m.cfg.NodeID && img.CreatedAt.Before(m.started) {
			m.record(&fsm.UpdateImage{ID: img.ID, State: fsm.ImageFailed, Error: "the importing agent restarted; import it again", At: time.Now().UTC()})
		}
	}
}

// PrepareVM makes vm's volumes, first copying its image from a host that
// holds it when this host has none (a dir pool).
func (m *Manager) PrepareVM(ctx context.Context, vm *fsm.VM, p fsm.StoragePool, img fsm.Image) ([]hypervisor.Disk, error) {
	if vm.Spec.Image != "" && !m.HasImage(p, img) && !p.Shared() {
		if err := m.fetchImage(ctx, p, img); err != nil {
			return nil, err
		}
	}
	return m.Store.PrepareVM(ctx, vm, p, img)
}

// fetchImage copies img from the hosts that hold it, one after the other,
// and records that this host holds it too.
func (m *Manager) fetchImage(ctx context.Context, p fsm.StoragePool, img fsm.Image) error {
	mu, _ := m.copying.LoadOrStore(img.ID, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	if m.HasImage(p, img) {
		return nil
	}
	err := fmt.Errorf("%w: image %s is recorded on no host", ErrImageMissing, img.Name)
	for _, host := range img.Hosts {
		if host == m.cfg.NodeID {
			continue
		}
		start := time.Now()
		err = m.CopyImage(ctx, p, img, m.opener(host, img.ID))
		if err == nil {
			m.log.Info("image copied", "image", img.Name, "from", host, "bytes", img.SizeBytes, "took", time.Since(start))
			m.record(&fsm.UpdateImage{ID: img.ID, Host: m.cfg.NodeID, At: time.Now().UTC()})
			return nil
		}
		m.log.Warn("copying an image", "image", img.Name, "from", host, "error", err)
	}
	return err
}

// opener reads image id from node host, from an offset on.
func (m *Manager) opener(host, id string) OpenFunc {
	return func(ctx context.Context, offset int64) (io.ReadCloser, error) {
		h := http.Header{}
		if offset > 0 {
			h.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
		}
		resp, err := m.cfg.Peers.PeerGet(ctx, host, ImagePathPrefix+url.PathEscape(id), h)
		if err != nil {
			return nil, err
		}
		want := http.StatusOK
		if offset > 0 {
			want = http.StatusPartialContent
		}
		if resp.StatusCode != want {
			resp.Body.Close()
			return nil, fmt.Errorf("%w: node %s answered HTTP %d", errNoHolder, host, resp.StatusCode)
		}
		return resp.Body, nil
	}
}

// ServeHTTP answers GET /internal/v1/images/{id}: other hosts' copies.
func (m *Manager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, ImagePathPrefix)
	img, err := m.cfg.State.Image(id)
	if err != nil || img.State != fsm.ImageReady {
		http.Error(w, "no such image", http.StatusNotFound)
		return
	}
	p, err := m.cfg.State.Pool(img.Pool)
	if err != nil {
		http.Error(w, "no such pool", http.StatusNotFound)
		return
	}
	m.ServeImage(w, r, p, img)
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}
