package diskstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/qemuimg"
)

// Cold migrations move a VM's disks from a dir pool on the source to the
// same pool on the destination: once the source has shut the guest down,
// the destination reads each file of its disks (the root overlay and its
// data volumes) from the source over the internal API (mutual TLS),
// resumable and verified against the SHA-256 the source computed, then
// points the root overlay at its own copy of the image.

// MigrationPathPrefix is the internal route a destination reads a cold
// migration's disk files from: PREFIX/<migration-id>/<file>.
const MigrationPathPrefix = "/internal/v1/migrations/"

// rootFile names the root overlay among a VM's disk files; a data volume's
// file is named by the volume's ID.
const rootFile = "root"

// DiskFiles are vm's disk files in pool p here that a cold migration moves:
// its root overlay (with an image) and its data volumes, by the names the
// source serves them under.
func (s *Store) DiskFiles(p fsm.StoragePool, vm *fsm.VM, data []fsm.Volume) map[string]string {
	files := map[string]string{}
	if vm.Spec.Image != "" {
		files[rootFile] = s.RootVolume(p, vm.ID)
	}
	for _, v := range data {
		files[v.ID] = s.DataVolume(p, v.ID)
	}
	return files
}

// fileSum is a disk file's size and SHA-256, as its source answers them.
type fileSum struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// progressHash hashes, and counts each write as progress of the answer.
type progressHash struct {
	hash.Hash
	sw *streamWriter
}

func (p progressHash) Write(b []byte) (int, error) {
	p.sw.progress()
	return p.Hash.Write(b)
}

// ServeMigrationDisk answers a cold migration's destination (route GET
// PREFIX{id}/{file}): ?sum gives the file's size and SHA-256, and without it
// the file, with ranges. Only the source of a cold migration under way
// whose guest it has shut down serves, and only that VM's disk files.
func (m *Manager) ServeMigrationDisk(w http.ResponseWriter, r *http.Request) {
	id, name := r.PathValue("id"), r.PathValue("file")
	if idx, err := strconv.ParseUint(r.Header.Get(indexHeader), 10, 64); err == nil {
		ctx, cancel := context.WithTimeout(r.Context(), indexWait)
		m.cfg.State.WaitForIndex(ctx, idx)
		cancel()
	}
	mig, err := m.cfg.State.Migration(id)
	if err != nil || mig.Source != m.cfg.NodeID || mig.Mode != fsm.MigrateCold || mig.State != fsm.MigrationRunning || !mig.SourceStopped {
		http.Error(w, "no cold migration of this host serves disks under that id", http.StatusNotFound)
		return
	}
	vm, err := m.cfg.State.VM(mig.VMID)
	if err != nil {
		http.Error(w, "the migration's vm is gone", http.StatusNotFound)
		return
	}
	p, err := m.cfg.State.Pool(vm.Spec.EffectivePool())
	if err != nil {
		http.Error(w, "the vm's pool is gone", http.StatusNotFound)
		return
	}
	path, ok := m.DiskFiles(p, &vm, m.cfg.State.VolumesOf(vm.ID))[name]
	if !ok {
		http.Error(w, "no such disk file of the vm", http.StatusNotFound)
		return
	}
	f, err := os.Open(path)
	if err != nil {
		http.Error(w, "disk file not readable on this host", http.StatusNotFound)
		return
	}
	defer f.Close()
	sw := newStreamWriter(w)
	if _, ok := r.URL.Query()["sum"]; ok {
		// Hashing a large disk takes a while before the first byte of the
		// answer: each buffer hashed counts as progress.
		h := sha256.New()
		n, err := io.CopyBuffer(progressHash{h, sw}, f, make([]byte, copyBuffer))
		if err != nil {
			http.Error(w, "reading the disk file: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(fileSum{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))})
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(sw, r, "", mig.CreatedAt, f)
}

// PullDisks copies vm's disk files from the source of cold migration mig
// into pool p here, then rebases the root overlay onto this host's copy of
// img (fetched first if this host has none). Every file is verified; on
// failure nothing of them is left here.
func (m *Manager) PullDisks(ctx context.Context, mig fsm.Migration, vm *fsm.VM, data []fsm.Volume, p fsm.StoragePool, img fsm.Image) (err error) {
	if err := m.Realise(p); err != nil {
		return err
	}
	files := m.DiskFiles(p, vm, data)
	defer func() {
		if err != nil { // the migration fails: leave nothing half copied
			for _, dest := range files {
				os.Remove(dest + ".copy")
				os.Remove(dest)
			}
		}
	}()
	if vm.Spec.Image != "" && !m.HasImage(p, img) {
		if err := m.fetchImage(ctx, p, img); err != nil {
			return err
		}
	}
	for name, dest := range files {
		sum, err := m.diskSum(ctx, mig, name)
		if err != nil {
			return err
		}
		os.Remove(dest) // an older copy: the source's is the one
		if err := copyVerified(ctx, dest, sum.Size, sum.SHA256, "disk file "+name+" of vm "+vm.Spec.Name, m.diskOpener(mig, name)); err != nil {
			return err
		}
		if name == rootFile {
			if err := qemuimg.Rebase(ctx, dest, m.ImagePath(p, img.ID), img.Format); err != nil {
				return fmt.Errorf("pointing the root volume at this host's image: %w", err)
			}
		}
	}
	return nil
}

// indexHeader carries the Raft index of the migration record the
// destination acts on: the source's own copy of the state may show that
// the guest is down a moment after the destination's did, so the source
// waits until it has applied that index before it judges.
const (
	indexHeader = "X-Novacron-Index"
	indexWait   = 5 * time.Second
)

// migrationHeader is what every read of a cold migration's disk files
// sends: the index of the record the destination saw.
func migrationHeader(mig fsm.Migration) http.Header {
	return http.Header{indexHeader: {strconv.FormatUint(mig.Index, 10)}}
}

func (m *Manager) diskSum(ctx context.Context, mig fsm.Migration, name string) (fileSum, error) {
	resp, err := m.cfg.Peers.PeerGet(ctx, mig.Source, MigrationPathPrefix+url.PathEscape(mig.ID)+"/"+url.PathEscape(name)+"?sum", migrationHeader(mig))
	if err != nil {
		return fileSum{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fileSum{}, fmt.Errorf("the source answered HTTP %d for disk file %s", resp.StatusCode, name)
	}
	var sum fileSum
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&sum); err != nil {
		return fileSum{}, fmt.Errorf("the source's sum of disk file %s: %w", name, err)
	}
	if sum.Size < 0 || !isSHA256(sum.SHA256) {
		return fileSum{}, errors.New("the source's sum of disk file " + name + " is malformed")
	}
	return sum, nil
}

func (m *Manager) diskOpener(mig fsm.Migration, name string) OpenFunc {
	return func(ctx context.Context, offset int64) (io.ReadCloser, error) {
		h := migrationHeader(mig)
		want := http.StatusOK
		if offset > 0 {
			h.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
			want = http.StatusPartialContent
		}
		resp, err := m.cfg.Peers.PeerGet(ctx, mig.Source, MigrationPathPrefix+url.PathEscape(mig.ID)+"/"+url.PathEscape(name), h)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != want {
			resp.Body.Close()
			return nil, fmt.Errorf("the source answered HTTP %d for disk file %s", resp.StatusCode, name)
		}
		return resp.Body, nil
	}
}
