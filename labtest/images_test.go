package labtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/internal/testutil"
)

// Images, root volumes and cloud-init on real hosts (issue 15). The
// witnesses are libvirt (virsh domblklist: which files the domain really
// has), qemu-img (what those files are) and the guest's own serial console
// (what cloud-init made of its seed).

const importTimeout = 2 * time.Minute

// importLabImage imports the lab's boot disk under a unique name through
// the agent c talks to, waits until it is ready, and deletes it when the
// test ends (after its VMs, which are deleted first).
func (l *lab) importLabImage(tb testing.TB, c *client.Client) *client.Image {
	tb.Helper()
	img, err := c.ImportImage(context.Background(), client.ImageRequest{Name: uniqueName("lab-disk"), Source: l.image})
	if err != nil {
		tb.Fatalf("import %s: %v", l.image, err)
	}
	tb.Cleanup(func() { c.DeleteImage(context.Background(), img.ID) })
	return waitImage(tb, c, img.ID, "ready")
}

// waitImage waits until the image is in state, and returns it.
func waitImage(tb testing.TB, c *client.Client, id, state string) *client.Image {
	tb.Helper()
	var img *client.Image
	testutil.Eventually(tb, importTimeout, "image "+id+" "+state, func() error {
		var err error
		if img, err = c.Image(context.Background(), id); err != nil {
			return err
		}
		if img.State != state {
			return fmt.Errorf("image is %s (%s)", img.State, img.Error)
		}
		return nil
	})
	return img
}

// blockDevices lists a domain's disks as libvirt has them: target → file.
func (h *labHost) blockDevices(domain string) (map[string]string, error) {
	out, err := h.virsh("domblklist", domain, "--details")
	if err != nil {
		return nil, err
	}
	disks := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[0] == "file" {
			disks[f[2]] = f[3]
		}
	}
	return disks, nil
}

// qemuImgInfo is what qemu-img says of an image file.
type qemuImgInfo struct {
	Format      string `json:"format"`
	VirtualSize int64  `json:"virtual-size"`
	Backing     string `json:"full-backing-filename"`
}

func imgInfo(path string) (qemuImgInfo, error) {
	out, err := exec.Command("qemu-img", "info", "-U", "--output=json", path).Output()
	if err != nil {
		return qemuImgInfo{}, fmt.Errorf("qemu-img info %s: %w", path, err)
	}
	var info qemuImgInfo
	return info, json.Unmarshal(out, &info)
}

func fileSHA256(tb testing.TB, path string) string {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestLab_VMFromImageWithCloudInit: an image imported on one host; a VM
// made from it on another host copies the image there over the cluster's
// channel, boots from its own qcow2 overlay of it (qemu-img shows the image
// as backing file), and its serial console shows the hostname cloud-init
// set and the output of its user-data script. Deleting the VM removes its
// volumes.
func TestLab_VMFromImageWithCloudInit(t *testing.T) {
	l := needLab(t)
	importer := l.hosts[0]
	c := l.clientOf(t, importer)
	img := l.importLabImage(t, c)
	if img.Format != "qcow2" || img.SHA256 != fileSHA256(t, l.image) || !slices.Equal(img.Hosts, []string{importer.Name}) {
		t.Fatalf("imported image %+v: want qcow2, the file's SHA-256, held by %s", img, importer.Name)
	}
	target := l.hosts[1]
	name := uniqueName("ci")
	hostname := "guest-" + name[len(name)-6:]
	vm := l.createVM(t, c, client.VMRequest{
		Name: name, VCPUs: 1, MemoryMiB: 96, Image: img.Name,
		Placement: &client.PlacementSpec{Nodes: []string{target.Name}},
		CloudInit: &client.CloudInit{Hostname: hostname, UserData: "#!/bin/sh\necho user-data says $((6 * 7))\n"},
	})
	if vm.Image != img.ID || vm.DiskGiB != 1 || vm.Pool != "default" {
		t.Fatalf("vm %+v: want image %s, a 1 GiB root volume (the image's size) in pool default", vm, img.ID)
	}
	p := l.waitRunning(t, c, vm.ID, bootTimeout)
	if p.Host != target {
		t.Fatalf("vm runs on %s, want %s", p.Host.Name, target.Name)
	}
	testutil.EventuallyEvery(t, bootTimeout, virshPoll, "cloud-init's hostname and the user-data's output on the serial console", func() error {
		b, err := os.ReadFile(p.Host.serialLog(p.Domain))
		if err != nil {
			return err
		}
		for _, want := range []string{"cloud-init: hostname=" + hostname, "user-data says 42", "tick 2"} {
			if !strings.Contains(string(b), want) {
				return fmt.Errorf("no %q yet", want)
			}
		}
		return nil
	})

	disks, err := p.Host.blockDevices(p.Domain)
	if err != nil {
		t.Fatal(err)
	}
	root, seed := disks["vda"], disks["vdb"]
	info, err := imgInfo(root)
	if err != nil {
		t.Fatal(err)
	}
	if info.Format != "qcow2" || info.VirtualSize != 1<<30 || filepath.Base(info.Backing) != img.ID || !strings.Contains(root, vm.ID) {
		t.Fatalf("root volume %s: %+v; want a 1 GiB qcow2 of its own backed by image %s", root, info, img.ID)
	}
	if out, err := exec.Command("blkid", "-o", "value", "-s", "LABEL", seed).Output(); err != nil || strings.TrimSpace(string(out)) != "cidata" {
		t.Fatalf("seed %s: label %q (%v), want cidata", seed, out, err)
	}
	// The target copied the image and says so.
	if got := waitImage(t, c, img.ID, "ready"); !slices.Contains(got.Hosts, target.Name) {
		t.Fatalf("image hosts %v, want %s among them after its copy", got.Hosts, target.Name)
	}
	if sum := fileSHA256(t, info.Backing); sum != img.SHA256 {
		t.Fatalf("the copy on %s has SHA-256 %s, want %s", target.Name, sum, img.SHA256)
	}

	l.deleteVM(t, vm.ID)
	testutil.Eventually(t, runTimeout, "the vm's volumes removed from "+target.Name, func() error {
		for _, f := range []string{root, seed} {
			if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("%s still there (%v)", f, err)
			}
		}
		return nil
	})
	if _, err := os.Stat(info.Backing); err != nil {
		t.Fatalf("the image itself must stay: %v", err)
	}
}

// TestLab_PoolTooSmallRefused: a root volume larger than any host's pool is
// refused with 409 naming the pool and the sizes, and nothing is created.
func TestLab_PoolTooSmallRefused(t *testing.T) {
	l := needLab(t)
	c := l.client(t)
	img := l.importLabImage(t, c)
	name := uniqueName("huge")
	_, err := c.CreateVM(context.Background(), client.VMRequest{Name: name, VCPUs: 1, MemoryMiB: 96, Image: img.Name, DiskGiB: 1 << 19})
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 409 || !strings.Contains(apiErr.Message, "pool default") || !strings.Contains(apiErr.Message, "524288 GiB") {
		t.Fatalf("create with a 512 TiB root volume: %v; want 409 naming pool default and the size", err)
	}
	vms, err := c.VMs(context.Background(), client.ListVMsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, vm := range vms {
		if vm.Name == name {
			t.Fatalf("the refused vm exists: %+v", vm)
		}
	}
}

// TestLab_ImageURLs: an agent fetches an image URL only from a host on the
// allow-list (a cluster setting), never from a loopback, private,
// link-local or metadata address that the list does not name as an IP,
// and keeps the image only when its SHA-256 is the one asked for.
func TestLab_ImageURLs(t *testing.T) {
	l := needLab(t)
	c := l.client(t)
	ctx := context.Background()
	body, err := os.ReadFile(l.image)
	if err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int64
	// /stall.qcow2 sends a part of the image, then nothing until the
	// importer hangs up: an import that only a cancel ends.
	stalled, hungUp, stop := make(chan struct{}), make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.URL.Path == "/stall.qcow2" {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.Write(body[:len(body)/2])
			w.(http.Flusher).Flush()
			close(stalled)
			select {
			case <-r.Context().Done():
				close(hungUp)
			case <-stop:
			}
			return
		}
		http.ServeContent(w, r, "lab-disk.qcow2", time.Time{}, bytes.NewReader(body))
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) }) // before srv.Close waits for the handler
	sum := sha256.Sum256(body)
	good := hex.EncodeToString(sum[:])
	u, _ := url.Parse(srv.URL)
	_, port, _ := net.SplitHostPort(u.Host)

	before, err := c.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	allow := func(hosts ...string) {
		t.Helper()
		if _, err := c.UpdateSettings(ctx, client.SettingsUpdate{Images: &client.ImageSettingsUpdate{URLAllow: &hosts}}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { allow(before.Images.URLAllow...) })
	importURL := func(rawURL, sha string) (*client.Image, error) {
		img, err := c.ImportImage(ctx, client.ImageRequest{Name: uniqueName("url"), Source: rawURL, SHA256: sha})
		if err == nil {
			t.Cleanup(func() { c.DeleteImage(ctx, img.ID) })
		}
		return img, err
	}
	refused := func(what string, err error, says string) {
		t.Helper()
		var apiErr *client.APIError
		if !errors.As(err, &apiErr) || apiErr.Status != 400 || !strings.Contains(apiErr.Message, says) {
			t.Fatalf("%s: %v; want 400 saying %q", what, err, says)
		}
	}

	allow()
	_, err = importURL(srv.URL+"/lab-disk.qcow2", good)
	refused("a URL with an empty allow-list", err, "not allowed")
	allow("127.0.0.1")
	_, err = importURL(srv.URL+"/lab-disk.qcow2", "")
	refused("a URL without its sha256", err, "sha256")
	for _, bad := range []string{"http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/disk.qcow2", "http://192.168.1.1/disk.qcow2", "file:///etc/shadow"} {
		_, err = importURL(bad, good)
		refused(bad, err, "")
	}
	if n := requests.Load(); n != 0 {
		t.Fatalf("the image server saw %d requests for refused imports", n)
	}

	// Allow-listed: a wrong checksum fails the import and keeps nothing; the
	// right one makes a ready image of the same bytes.
	img, err := importURL(srv.URL+"/lab-disk.qcow2", strings.Repeat("0", 64))
	if err != nil {
		t.Fatal(err)
	}
	if got := waitImage(t, c, img.ID, "failed"); !strings.Contains(got.Error, "checksum") {
		t.Fatalf("image with a wrong checksum: error %q, want one naming the checksum", got.Error)
	}
	img, err = importURL(srv.URL+"/lab-disk.qcow2", good)
	if err != nil {
		t.Fatal(err)
	}
	if got := waitImage(t, c, img.ID, "ready"); got.SHA256 != good || got.SizeBytes != int64(len(body)) || got.Format != "qcow2" {
		t.Fatalf("image from URL: %+v", got)
	}

	// A name on the list that resolves to loopback is not enough: the
	// address is checked when the agent connects.
	allow("localhost")
	img, err = importURL("http://localhost:"+port+"/lab-disk.qcow2", good)
	if err != nil {
		t.Fatal(err)
	}
	if got := waitImage(t, c, img.ID, "failed"); !strings.Contains(got.Error, "loopback") {
		t.Fatalf("image from localhost: error %q, want one naming the loopback address", got.Error)
	}

	// An import under way is cancelled through its operation: the importer
	// hangs up on the source and no host keeps a part of it.
	allow("127.0.0.1")
	img, err = importURL(srv.URL+"/stall.qcow2", good)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-stalled:
	case <-time.After(time.Minute):
		t.Fatal("the import never reached the source")
	}
	op, err := c.CancelOperation(ctx, img.ID)
	if err != nil || op.State != client.OperationCancelled {
		t.Fatalf("cancelling the import: %+v, %v", op, err)
	}
	select {
	case <-hungUp:
	case <-time.After(30 * time.Second):
		t.Fatal("the importer still reads the source 30 s after the cancel")
	}
	testutil.Eventually(t, 30*time.Second, "no host keeping a part of the cancelled import", func() error {
		for _, h := range l.hosts {
			if left, _ := filepath.Glob(filepath.Join(h.Dir, "agent", "pools", "*", "images", img.ID+"*")); len(left) > 0 {
				return fmt.Errorf("%s keeps %v", h.Name, left)
			}
		}
		return nil
	})
	if got := waitImage(t, c, img.ID, "cancelled"); got.Error != "import cancelled" {
		t.Fatalf("cancelled image %+v", got)
	}
}
