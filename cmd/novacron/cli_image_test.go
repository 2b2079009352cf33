package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
)

// fakeStorage is the fake API's pools and images. An imported image turns
// into importEnd (its state, error and figures) at its readsToEnd-th read;
// an empty importEnd.State leaves it importing.
type fakeStorage struct {
	pools      []client.Pool
	images     []*client.Image
	importEnd  client.Image
	readsToEnd int
	reads      map[string]int
}

// routeStorage adds the fake's pool and image routes to mux.
func (f *fakeAPI) routeStorage(mux *http.ServeMux) {
	f.storage.reads = map[string]int{}
	f.storage.readsToEnd = 2
	mux.HandleFunc("GET /api/v1/storage/pools", f.handle(func(*http.Request) (any, int, error) {
		return append([]client.Pool{}, f.storage.pools...), 200, nil
	}))
	mux.HandleFunc("POST /api/v1/storage/pools", f.handle(f.createPool))
	mux.HandleFunc("DELETE /api/v1/storage/pools/{name}", f.handle(f.deletePool))
	mux.HandleFunc("GET /api/v1/images", f.handle(f.listImages))
	mux.HandleFunc("POST /api/v1/images", f.handle(f.importImage))
	mux.HandleFunc("GET /api/v1/images/{id}", f.handle(f.getImage))
	mux.HandleFunc("DELETE /api/v1/images/{id}", f.handle(f.deleteImage))
}

func (f *fakeAPI) createPool(r *http.Request) (any, int, error) {
	var req client.PoolRequest
	if err := decodeStrict(r, &req); err != nil {
		return nil, 0, err
	}
	p := client.Pool{Name: req.Name, Type: req.Type, Path: req.Path, Description: req.Description, Hosts: []client.PoolUsage{}}
	f.storage.pools = append(f.storage.pools, p)
	f.index++
	return p, 201, nil
}

func (f *fakeAPI) deletePool(r *http.Request) (any, int, error) {
	name := r.PathValue("name")
	for i, p := range f.storage.pools {
		if p.Name == name {
			f.storage.pools = append(f.storage.pools[:i], f.storage.pools[i+1:]...)
			f.index++
			return p, 200, nil
		}
	}
	return nil, 0, notFound("pool", name)
}

func (f *fakeAPI) findImage(ref string) (*client.Image, error) {
	for _, img := range f.storage.images {
		if img.ID == ref || img.Name == ref {
			return img, nil
		}
	}
	return nil, notFound("image", ref)
}

func (f *fakeAPI) listImages(*http.Request) (any, int, error) {
	out := []client.Image{}
	for _, img := range f.storage.images {
		out = append(out, *img)
	}
	return out, 200, nil
}

func (f *fakeAPI) importImage(r *http.Request) (any, int, error) {
	var req client.ImageRequest
	if err := decodeStrict(r, &req); err != nil {
		return nil, 0, err
	}
	if _, err := f.findImage(req.Name); err == nil {
		return nil, 0, &apiErr{409, "conflict", fmt.Sprintf("project default already has an image named %s", req.Name)}
	}
	pool := req.Pool
	if pool == "" {
		pool = "default"
	}
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	img := &client.Image{ID: fmt.Sprintf("img-%d", len(f.storage.images)+1), Project: "default", Name: req.Name, Pool: pool,
		Source: req.Source, State: imageImporting, Hosts: []string{}, CreatedAt: at, UpdatedAt: at}
	f.storage.images = append(f.storage.images, img)
	f.index++
	return *img, 202, nil
}

func (f *fakeAPI) getImage(r *http.Request) (any, int, error) {
	img, err := f.findImage(r.PathValue("id"))
	if err != nil {
		return nil, 0, err
	}
	return *img, 200, nil
}

// advanceImage counts a read of img's import operation: at the
// readsToEnd-th the import ends as importEnd says.
func (f *fakeAPI) advanceImage(img *client.Image) {
	f.storage.reads[img.ID]++
	end := f.storage.importEnd
	if img.State == imageImporting && end.State != "" && f.storage.reads[img.ID] >= f.storage.readsToEnd {
		img.State, img.Error, img.Format, img.SizeBytes, img.VirtualSizeBytes, img.SHA256, img.Hosts =
			end.State, end.Error, end.Format, end.SizeBytes, end.VirtualSizeBytes, end.SHA256, end.Hosts
	}
}

func (f *fakeAPI) deleteImage(r *http.Request) (any, int, error) {
	img, err := f.findImage(r.PathValue("id"))
	if err != nil {
		return nil, 0, err
	}
	for i := range f.storage.images {
		if f.storage.images[i] == img {
			f.storage.images = append(f.storage.images[:i], f.storage.images[i+1:]...)
			break
		}
	}
	f.index++
	return *img, 200, nil
}

// readyImport makes the fake's imports end ready, as a qcow2 of 64 MiB
// (1 GiB virtual) on node-a, at their third read.
func readyImport(f *fakeAPI) {
	f.storage.readsToEnd = 3
	f.storage.importEnd = client.Image{State: imageReady, Format: "qcow2", SizeBytes: 64 << 20, VirtualSizeBytes: 1 << 30,
		SHA256: "ab12", Hosts: []string{"node-a"}}
}

func TestImageImport_WaitsUntilReady(t *testing.T) {
	f := newFakeAPI(t)
	readyImport(f)
	code, stdout, stderr := runCLI(t, f.env(), "image", "import", "lab-disk", "/var/lib/novacron/images/lab.qcow2",
		"--sha256", "AB12", "--pool", "fast")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	want := "Importing image lab-disk (img-1) from /var/lib/novacron/images/lab.qcow2...\n" +
		"importing lab-disk: running\n" +
		"Image lab-disk is ready: qcow2, 64.0MiB (virtual 1.0GiB) in pool fast on node-a.\n"
	if stdout != want {
		t.Errorf("stdout =\n%s\nwant\n%s", stdout, want)
	}
	reqs := f.requests()
	if len(reqs) != 5 {
		t.Fatalf("saw %d requests, want the import, 3 questions about its operation and the image: %+v", len(reqs), reqs)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(reqs[0].Body), &body); err != nil {
		t.Fatal(err)
	}
	wantBody := map[string]any{"name": "lab-disk", "source": "/var/lib/novacron/images/lab.qcow2", "sha256": "AB12", "pool": "fast"}
	if reqs[0].Method != "POST" || reqs[0].Path != "/api/v1/images" || !reflect.DeepEqual(body, wantBody) {
		t.Errorf("import = %s %s %v, want POST /api/v1/images %v", reqs[0].Method, reqs[0].Path, body, wantBody)
	}
	for _, r := range reqs[1:4] {
		// Every read waits for the import's index (101), so any node
		// answers it; the server answers once the import ended, or with
		// its progress after a while.
		if r.Method != "GET" || r.Path != "/api/v1/operations/img-1" || r.Query != "index=101&wait=1s" {
			t.Errorf("poll = %+v, want GET /api/v1/operations/img-1?index=101&wait=1s", r)
		}
	}
	if r := reqs[4]; r.Method != "GET" || r.Path != "/api/v1/images/img-1" || r.Query != "index=101" {
		t.Errorf("last read = %+v, want GET /api/v1/images/img-1?index=101", r)
	}
	// --wait is the default, accepted for the scripts that pass it;
	// --wait=false is --no-wait.
	if code, _, stderr := runCLI(t, f.env(), "image", "import", "again", "/images/a.qcow2", "--wait"); code != exitOK {
		t.Errorf("--wait: code %d, stderr %q", code, stderr)
	}
	n := len(f.requests())
	if code, stdout, _ := runCLI(t, f.env(), "image", "import", "quick", "/images/q.qcow2", "--wait=false"); code != exitOK ||
		!strings.Contains(stdout, "follow it with") || len(f.requests()) != n+1 {
		t.Errorf("--wait=false: code %d, stdout %q", code, stdout)
	}
	if code, _, _ := runCLI(t, f.env(), "image", "import", "x", "/images/x.qcow2", "--wait", "--no-wait"); code != exitUsage {
		t.Errorf("--wait --no-wait: code %d, want %d", code, exitUsage)
	}
}

func TestImageImport_FailedExitsWithTheImagesError(t *testing.T) {
	f := newFakeAPI(t)
	f.storage.importEnd = client.Image{State: imageFailed, Error: "sha256 is 9f2c..., want ab12..."}
	code, stdout, stderr := runCLI(t, f.env(), "image", "import", "bad", "/images/bad.qcow2")
	if code != exitError {
		t.Errorf("code = %d, want %d", code, exitError)
	}
	if want := "Error: image bad failed to import: sha256 is 9f2c..., want ab12...\n"; stderr != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	if !strings.HasPrefix(stdout, "Importing image bad (img-1) from /images/bad.qcow2...\nimporting bad: running\n") {
		t.Errorf("stdout = %q", stdout)
	}
	// -o json prints the failed image, and still fails.
	code, stdout, _ = runCLI(t, f.env(), "-o", "json", "image", "import", "bad-2", "/images/bad.qcow2")
	var img client.Image
	if err := json.Unmarshal([]byte(stdout), &img); code != exitError || err != nil || img.State != imageFailed || img.Error == "" {
		t.Errorf("-o json: code %d, %v, %+v", code, err, img)
	}
}

func TestImageImport_NoWaitAndTimeout(t *testing.T) {
	f := newFakeAPI(t)
	code, stdout, stderr := runCLI(t, f.env(), "image", "import", "lab-disk", "/images/lab.qcow2", "--no-wait")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	if want := "Importing image lab-disk (img-1) from /images/lab.qcow2; follow it with 'novacron image show lab-disk'.\n"; stdout != want {
		t.Errorf("stdout = %q, want %q", stdout, want)
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("--no-wait made %d requests, want 1", n)
	}
	// importEnd is empty: the import never ends.
	code, _, stderr = runCLI(t, f.env(), "image", "import", "slow", "/images/slow.qcow2", "--timeout", "50ms")
	if code != exitError || !strings.Contains(stderr, "timed out after 50ms waiting for image slow to import; it goes on") {
		t.Errorf("timeout: code %d, stderr %q", code, stderr)
	}
	if code, _, _ = runCLI(t, f.env(), "image", "import", "x", "/images/x.qcow2", "--timeout", "0s"); code != exitUsage {
		t.Errorf("--timeout 0s: code %d, want %d", code, exitUsage)
	}
}

func seedImages(f *fakeAPI) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	f.storage.images = []*client.Image{
		{ID: "img-2", Project: "default", Name: "lab-disk", Pool: "default", Source: "/images/lab.qcow2", State: imageReady,
			Format: "qcow2", SizeBytes: 64 << 20, VirtualSizeBytes: 1 << 30, SHA256: "ab12", Hosts: []string{"node-a", "node-b"},
			CreatedAt: at, UpdatedAt: at},
		{ID: "img-1", Project: "default", Name: "debian", Pool: "nfs", Source: "https://cloud.debian.org/d.qcow2", State: imageImporting,
			Hosts: []string{}, CreatedAt: at, UpdatedAt: at},
	}
}

func TestImageList_Table(t *testing.T) {
	f := newFakeAPI(t)
	seedImages(f)
	code, stdout, stderr := runCLI(t, f.env(), "image", "list")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	want := "" +
		"NAME       PROJECT   STATE       FORMAT   SIZE      VIRTUAL   POOL      HOSTS\n" +
		"debian     default   importing   -        -         -         nfs       -\n" +
		"lab-disk   default   ready       qcow2    64.0MiB   1.0GiB    default   node-a,node-b\n"
	if stdout != want {
		t.Errorf("stdout =\n%s\nwant\n%s", stdout, want)
	}
	if code, _, _ = runCLI(t, f.env(), "image", "ls", "--all-projects"); code != exitOK {
		t.Fatalf("--all-projects: code %d", code)
	}
	if r := f.requests(); r[len(r)-1].Query != "all-projects=true" {
		t.Errorf("--all-projects query = %q", r[len(r)-1].Query)
	}
	code, stdout, _ = runCLI(t, f.env(), "-o", "json", "image", "list")
	var imgs []client.Image
	if err := json.Unmarshal([]byte(stdout), &imgs); code != exitOK || err != nil || len(imgs) != 2 {
		t.Errorf("-o json: code %d, %v, %s", code, err, stdout)
	}
}

func TestImageShowAndDelete(t *testing.T) {
	f := newFakeAPI(t)
	seedImages(f)
	code, stdout, stderr := runCLI(t, f.env(), "image", "show", "lab-disk")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	for _, w := range []string{"ID:            img-2\n", "State:         ready\n", "Format:        qcow2\n",
		"Virtual size:  1.0GiB\n", "Hosts:         node-a, node-b\n", "Source:        /images/lab.qcow2\n"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("image show lacks %q:\n%s", w, stdout)
		}
	}
	code, stdout, stderr = runCLI(t, f.env(), "image", "delete", "lab-disk")
	if code != exitOK || stdout != "Deleted image lab-disk (img-2).\n" {
		t.Errorf("delete: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, _, stderr = runCLI(t, f.env(), "image", "show", "lab-disk")
	if code != exitError || !strings.Contains(stderr, `image "lab-disk" not found`) {
		t.Errorf("show after delete: code %d, stderr %q", code, stderr)
	}
}

// The --project flag reaches the image routes as ?project=, as for VMs.
func TestImageImport_Project(t *testing.T) {
	f := newFakeAPI(t)
	if code, _, stderr := runCLI(t, f.env(), "--project", "prod", "image", "import", "a", "/images/a.qcow2", "--no-wait"); code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	if q := f.requests()[0].Query; q != "project=prod" {
		t.Errorf("query = %q, want project=prod", q)
	}
}
