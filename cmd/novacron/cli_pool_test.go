package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/novacron/novacron/api/client"
)

func seedPools(f *fakeAPI) {
	f.storage.pools = []client.Pool{
		{Name: "nfs", Type: "shared", Path: "/mnt/novacron", Description: "NAS",
			CapacityBytes: 4 << 40, AvailableBytes: 3 << 40,
			Hosts: []client.PoolUsage{
				{Node: "n-b", NodeName: "node-b", CapacityBytes: 4 << 40, AvailableBytes: 3 << 40},
				{Node: "n-a", NodeName: "node-a", Error: "stat /mnt/novacron: no such file or directory"},
			}},
		{Name: "default", Type: "dir", CapacityBytes: 200 << 30, AvailableBytes: 150 << 30,
			Hosts: []client.PoolUsage{
				{Node: "n-a", NodeName: "node-a", CapacityBytes: 100 << 30, AvailableBytes: 70 << 30},
				{Node: "n-b", NodeName: "node-b", CapacityBytes: 100 << 30, AvailableBytes: 80 << 30},
			}},
	}
}

func TestPoolList_Table(t *testing.T) {
	f := newFakeAPI(t)
	seedPools(f)
	code, stdout, stderr := runCLI(t, f.env(), "storage", "pool", "list")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	want := "" +
		"NAME      TYPE     PATH                     HOSTS         AVAILABLE   CAPACITY   DESCRIPTION\n" +
		"default   dir      DATA_DIR/pools/default   2             150.0GiB    200.0GiB   -\n" +
		"nfs       shared   /mnt/novacron            2 (1 error)   3.0TiB      4.0TiB     NAS\n"
	if stdout != want {
		t.Errorf("stdout =\n%s\nwant\n%s", stdout, want)
	}
	code, stdout, _ = runCLI(t, f.env(), "-o", "json", "storage", "pool", "ls")
	var pools []client.Pool
	if err := json.Unmarshal([]byte(stdout), &pools); code != exitOK || err != nil || len(pools) != 2 || len(pools[0].Hosts) != 2 {
		t.Errorf("-o json: code %d, %v, %s", code, err, stdout)
	}
}

func TestPoolShow_EachHost(t *testing.T) {
	f := newFakeAPI(t)
	seedPools(f)
	code, stdout, stderr := runCLI(t, f.env(), "storage", "pool", "show", "nfs")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	for _, w := range []string{"Type:         shared\n", "Available:    3.0TiB\n",
		"HOST     AVAILABLE   CAPACITY   ERROR\n",
		"node-a   -           -          stat /mnt/novacron: no such file or directory\n",
		"node-b   3.0TiB      4.0TiB     -\n"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("pool show lacks %q:\n%s", w, stdout)
		}
	}
	code, _, stderr = runCLI(t, f.env(), "storage", "pool", "show", "nope")
	if code != exitError || !strings.Contains(stderr, `pool "nope" not found`) {
		t.Errorf("unknown pool: code %d, stderr %q", code, stderr)
	}
}

func TestPoolCreateAndDelete(t *testing.T) {
	f := newFakeAPI(t)
	code, stdout, stderr := runCLI(t, f.env(), "storage", "pool", "create", "nfs", "--type", "shared", "--path", "/mnt/novacron",
		"--description", "NAS")
	if code != exitOK || stdout != "Created pool nfs (shared).\n" {
		t.Fatalf("create: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(f.requests()[0].Body), &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"name": "nfs", "type": "shared", "path": "/mnt/novacron", "description": "NAS"}
	if r := f.requests()[0]; r.Method != "POST" || r.Path != "/api/v1/storage/pools" || !reflect.DeepEqual(body, want) {
		t.Errorf("request = %s %s %v, want %v", r.Method, r.Path, body, want)
	}
	if code, _, stderr = runCLI(t, f.env(), "storage", "pool", "create", "local"); code != exitOK {
		t.Fatalf("create with the default type: code %d, stderr %q", code, stderr)
	}
	if !strings.Contains(f.requests()[1].Body, `"type":"dir"`) {
		t.Errorf("default type: body %s", f.requests()[1].Body)
	}
	for _, args := range [][]string{{"--type", "shared"}, {"--type", "lvm"}} {
		before := len(f.requests())
		code, _, stderr = runCLI(t, f.env(), append([]string{"storage", "pool", "create", "bad"}, args...)...)
		if code != exitUsage || len(f.requests()) != before {
			t.Errorf("%v: code %d, stderr %q; want a usage error and no request", args, code, stderr)
		}
	}
	code, stdout, stderr = runCLI(t, f.env(), "storage", "pool", "delete", "nfs")
	if code != exitOK || stdout != "Deleted pool nfs.\n" {
		t.Errorf("delete: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if r := f.requests(); r[len(r)-1].Method != "DELETE" || r[len(r)-1].Path != "/api/v1/storage/pools/nfs" {
		t.Errorf("delete request = %+v", r[len(r)-1])
	}
}
