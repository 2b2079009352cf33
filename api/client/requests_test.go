package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestClient_RequestsBuiltRight(t *testing.T) {
	ctx := context.Background()
	vmBody := `{"id":"vm-1","name":"web/1","state":"running"}`
	tests := []struct {
		name       string
		answer     string
		call       func(c *Client) (any, error)
		wantMethod string
		wantPath   string
		wantBody   string // JSON; "" means no body
	}{
		{"cluster", `{"leader":"a"}`, func(c *Client) (any, error) { return c.Cluster(ctx) },
			"GET", "/api/v1/cluster", ""},
		{"nodes", `[{"id":"n1"}]`, func(c *Client) (any, error) { return c.Nodes(ctx) },
			"GET", "/api/v1/nodes", ""},
		{"node", `{"id":"n1"}`, func(c *Client) (any, error) { return c.Node(ctx, "host 1") },
			"GET", "/api/v1/nodes/host%201", ""},
		{"vms", `[]`, func(c *Client) (any, error) { return c.VMs(ctx, ListVMsOptions{}) },
			"GET", "/api/v1/vms", ""},
		{"vm", vmBody, func(c *Client) (any, error) { return c.VM(ctx, "web/1") },
			"GET", "/api/v1/vms/web%2F1", ""},
		{"create vm", vmBody, func(c *Client) (any, error) {
			return c.CreateVM(ctx, VMRequest{Name: "web", VCPUs: 2, MemoryMiB: 512, DiskGiB: 3,
				Boot: &BootSource{Disk: "/img/a.qcow2"}, Labels: map[string]string{"tier": "web"}})
		}, "POST", "/api/v1/vms",
			`{"name":"web","vcpus":2,"memory_mib":512,"disk_gib":3,"boot":{"disk":"/img/a.qcow2"},"labels":{"tier":"web"}}`},
		{"update vm", vmBody, func(c *Client) (any, error) {
			return c.UpdateVM(ctx, "vm-1", VMRequest{Name: "web", VCPUs: 4, MemoryMiB: 1024, DiskGiB: 3})
		}, "PUT", "/api/v1/vms/vm-1", `{"name":"web","vcpus":4,"memory_mib":1024,"disk_gib":3}`},
		{"delete vm", vmBody, func(c *Client) (any, error) { return c.DeleteVM(ctx, "vm-1") },
			"DELETE", "/api/v1/vms/vm-1", ""},
		{"action", vmBody, func(c *Client) (any, error) { return c.VMAction(ctx, "vm-1", "stop") },
			"POST", "/api/v1/vms/vm-1/stop", ""},
		{"start", vmBody, func(c *Client) (any, error) { return c.StartVM(ctx, "a?b") },
			"POST", "/api/v1/vms/a%3Fb/start", ""},
		{"stop", vmBody, func(c *Client) (any, error) { return c.StopVM(ctx, "vm-1") },
			"POST", "/api/v1/vms/vm-1/stop", ""},
		{"restart", vmBody, func(c *Client) (any, error) { return c.RestartVM(ctx, "vm-1") },
			"POST", "/api/v1/vms/vm-1/restart", ""},
		{"pause", vmBody, func(c *Client) (any, error) { return c.PauseVM(ctx, "vm-1") },
			"POST", "/api/v1/vms/vm-1/pause", ""},
		{"resume", vmBody, func(c *Client) (any, error) { return c.ResumeVM(ctx, "vm-1") },
			"POST", "/api/v1/vms/vm-1/resume", ""},
		{"tokens", `[]`, func(c *Client) (any, error) { return c.Tokens(ctx) },
			"GET", "/api/v1/tokens", ""},
		{"create token", `{"id":"t1","secret":"nc_x"}`, func(c *Client) (any, error) {
			return c.CreateToken(ctx, TokenRequest{Name: "ci", Role: "reader", TTL: "24h"})
		}, "POST", "/api/v1/tokens", `{"name":"ci","role":"reader","ttl":"24h"}`},
		{"token", `{"id":"t1","name":"ci"}`, func(c *Client) (any, error) { return c.Token(ctx, "self") },
			"GET", "/api/v1/tokens/self", ""},
		{"revoke token", `{"id":"t1"}`, func(c *Client) (any, error) { return c.RevokeToken(ctx, "t1") },
			"DELETE", "/api/v1/tokens/t1", ""},
		{"health", `{"status":"ok"}`, func(c *Client) (any, error) { return c.Health(ctx) },
			"GET", "/healthz", ""},
		{"migrate", `{"id":"m1","state":"pending"}`, func(c *Client) (any, error) {
			return c.MigrateVM(ctx, "web/1", MigrateRequest{Mode: "warm", Target: "n2", MaxDowntimeMs: 300, Parallel: 2, Compression: "zstd"})
		}, "POST", "/api/v1/vms/web%2F1/migrate", `{"mode":"warm","target":"n2","max_downtime_ms":300,"parallel":2,"compression":"zstd"}`},
		{"migrate defaults", `{"id":"m1"}`, func(c *Client) (any, error) { return c.MigrateVM(ctx, "vm-1", MigrateRequest{}) },
			"POST", "/api/v1/vms/vm-1/migrate", `{}`},
		{"migrations", `[{"id":"m1","progress":{"percent":50}}]`, func(c *Client) (any, error) {
			return c.Migrations(ctx, ListMigrationsOptions{})
		}, "GET", "/api/v1/migrations", ""},
		{"migration", `{"id":"m1","result":{"total_ms":900,"downtime_ms":12}}`, func(c *Client) (any, error) { return c.Migration(ctx, "m1") },
			"GET", "/api/v1/migrations/m1", ""},
		{"cancel migration", `{"id":"m1","cancel_requested":true}`, func(c *Client) (any, error) { return c.CancelMigration(ctx, "m1") },
			"POST", "/api/v1/migrations/m1/cancel", ""},
		{"drain", `{"node_id":"n1","maintenance":true,"vms":[]}`, func(c *Client) (any, error) { return c.DrainNode(ctx, "n 1", "upgrade") },
			"POST", "/api/v1/nodes/n%201/drain", `{"reason":"upgrade"}`},
		{"drain no reason", `{"node_id":"n1"}`, func(c *Client) (any, error) { return c.DrainNode(ctx, "n1", "") },
			"POST", "/api/v1/nodes/n1/drain", `{}`},
		{"undrain", `{"id":"n1","maintenance":false}`, func(c *Client) (any, error) { return c.UndrainNode(ctx, "n1") },
			"POST", "/api/v1/nodes/n1/undrain", ""},
		{"drain status", `{"node_id":"n1","done":true}`, func(c *Client) (any, error) { return c.DrainStatus(ctx, "n1") },
			"GET", "/api/v1/nodes/n1/drain", ""},
		{"failover plan", `{"node_id":"n1","moves":[{"vm_id":"v","decision":{"node":"n2","reason":"spread"}}]}`,
			func(c *Client) (any, error) { return c.FailoverPlan(ctx, "n1") }, "GET", "/api/v1/nodes/n1/failover-plan", ""},
		{"settings", `{"strategy":"spread","rebalance":{"mode":"off"}}`, func(c *Client) (any, error) { return c.Settings(ctx) },
			"GET", "/api/v1/settings", ""},
		{"update settings", `{"strategy":"binpack"}`, func(c *Client) (any, error) {
			s, n := "binpack", int64(30)
			return c.UpdateSettings(ctx, SettingsUpdate{Strategy: &s, Rebalance: &RebalanceSettingsUpdate{CooldownSeconds: &n}})
		}, "PUT", "/api/v1/settings", `{"strategy":"binpack","rebalance":{"cooldown_seconds":30}}`},
		{"rebalance", `{"mode":"automatic","recommendations":[{"vm_name":"a","to_name":"n2"}]}`,
			func(c *Client) (any, error) { return c.Rebalance(ctx) }, "GET", "/api/v1/rebalance", ""},
		{"volumes", `[{"id":"v1","name":"data","size_gib":10}]`, func(c *Client) (any, error) { return c.Volumes(ctx, false) },
			"GET", "/api/v1/volumes", ""},
		{"volume", `{"id":"v1","name":"data","attachment":"attached","vm_name":"web"}`, func(c *Client) (any, error) { return c.Volume(ctx, "my data") },
			"GET", "/api/v1/volumes/my%20data", ""},
		{"create volume", `{"id":"v1","name":"data","size_gib":10,"pool":"nfs"}`, func(c *Client) (any, error) {
			return c.CreateVolume(ctx, VolumeRequest{Name: "data", SizeGiB: 10, Pool: "nfs"})
		}, "POST", "/api/v1/volumes", `{"name":"data","size_gib":10,"pool":"nfs"}`},
		{"create volume default pool", `{"id":"v1"}`, func(c *Client) (any, error) {
			return c.CreateVolume(ctx, VolumeRequest{Name: "data", SizeGiB: 1})
		}, "POST", "/api/v1/volumes", `{"name":"data","size_gib":1}`},
		{"resize volume", `{"id":"v1","size_gib":20,"file_gib":10}`, func(c *Client) (any, error) { return c.ResizeVolume(ctx, "data", 20) },
			"PATCH", "/api/v1/volumes/data", `{"size_gib":20}`},
		{"delete volume", `{"id":"v1","deleting":true}`, func(c *Client) (any, error) { return c.DeleteVolume(ctx, "v1") },
			"DELETE", "/api/v1/volumes/v1", ""},
		{"attach volume", `{"id":"v1","vm":"vm-1","target":"vdc","attachment":"attaching"}`, func(c *Client) (any, error) {
			return c.AttachVolume(ctx, "web/1", "data")
		}, "POST", "/api/v1/vms/web%2F1/volumes", `{"volume":"data"}`},
		{"detach volume", `{"id":"v1","attachment":"detaching"}`, func(c *Client) (any, error) { return c.DetachVolume(ctx, "web", "a b") },
			"DELETE", "/api/v1/vms/web/volumes/a%20b", ""},
		{"vm volumes", `[{"id":"v1","target":"vdc"},{"id":"v2","target":"vdd"}]`, func(c *Client) (any, error) { return c.VMVolumes(ctx, "web") },
			"GET", "/api/v1/vms/web/volumes", ""},
		{"vm snapshots", `[{"name":"s1","state":"ready"},{"name":"s2","state":"creating","memory":true}]`,
			func(c *Client) (any, error) { return c.VMSnapshots(ctx, "web/1") }, "GET", "/api/v1/vms/web%2F1/snapshots", ""},
		{"vm snapshot", `{"name":"s 1","state":"ready"}`, func(c *Client) (any, error) { return c.VMSnapshot(ctx, "web", "s 1") },
			"GET", "/api/v1/vms/web/snapshots/s%201", ""},
		{"create snapshot", `{"name":"before-upgrade","memory":true,"state":"creating"}`, func(c *Client) (any, error) {
			return c.CreateVMSnapshot(ctx, "web", SnapshotRequest{Name: "before-upgrade", Memory: true})
		}, "POST", "/api/v1/vms/web/snapshots", `{"name":"before-upgrade","memory":true}`},
		{"create disk snapshot", `{"name":"s1","state":"creating"}`, func(c *Client) (any, error) {
			return c.CreateVMSnapshot(ctx, "vm-1", SnapshotRequest{Name: "s1"})
		}, "POST", "/api/v1/vms/vm-1/snapshots", `{"name":"s1","memory":false}`},
		{"revert snapshot", `{"name":"s1","state":"reverting"}`, func(c *Client) (any, error) { return c.RevertVMSnapshot(ctx, "web", "s1") },
			"POST", "/api/v1/vms/web/snapshots/s1/revert", ""},
		{"delete snapshot", `{"name":"s1","state":"deleting"}`, func(c *Client) (any, error) { return c.DeleteVMSnapshot(ctx, "a?b", "s1") },
			"DELETE", "/api/v1/vms/a%3Fb/snapshots/s1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI(t, http.StatusOK, tt.answer)
			c := newTestClient(t, f, "tok")
			got, err := tt.call(c)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			r := f.last()
			if r.Method != tt.wantMethod || r.Path != tt.wantPath {
				t.Errorf("request = %s %s, want %s %s", r.Method, r.Path, tt.wantMethod, tt.wantPath)
			}
			if r.Query != "" {
				t.Errorf("unexpected query %q", r.Query)
			}
			if tt.wantBody == "" {
				if r.Body != "" {
					t.Errorf("unexpected body %s", r.Body)
				}
			} else {
				assertJSONEqual(t, r.Body, tt.wantBody)
				if ct := r.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q", ct)
				}
			}
			// The answer decodes into the typed result.
			re, _ := json.Marshal(got)
			assertJSONSubset(t, string(re), tt.answer)
		})
	}
}

func TestClient_ListsNeverNil(t *testing.T) {
	f := newFakeAPI(t, http.StatusOK, `null`)
	c := newTestClient(t, f, "t")
	vms, err := c.VMs(context.Background(), ListVMsOptions{})
	if err != nil || vms == nil {
		t.Errorf("VMs on null = %v, %v; want an empty list", vms, err)
	}
	nodes, err := c.Nodes(context.Background())
	if err != nil || nodes == nil {
		t.Errorf("Nodes on null = %v, %v; want an empty list", nodes, err)
	}
	tokens, err := c.Tokens(context.Background())
	if err != nil || tokens == nil {
		t.Errorf("Tokens on null = %v, %v; want an empty list", tokens, err)
	}
	migrations, err := c.Migrations(context.Background(), ListMigrationsOptions{})
	if err != nil || migrations == nil {
		t.Errorf("Migrations on null = %v, %v; want an empty list", migrations, err)
	}
	volumes, err := c.Volumes(context.Background(), true)
	if err != nil || volumes == nil {
		t.Errorf("Volumes on null = %v, %v; want an empty list", volumes, err)
	}
	vmVolumes, err := c.VMVolumes(context.Background(), "web")
	if err != nil || vmVolumes == nil {
		t.Errorf("VMVolumes on null = %v, %v; want an empty list", vmVolumes, err)
	}
	snapshots, err := c.VMSnapshots(context.Background(), "web")
	if err != nil || snapshots == nil {
		t.Errorf("VMSnapshots on null = %v, %v; want an empty list", snapshots, err)
	}
}

func TestClient_EmptyIDRefused(t *testing.T) {
	f := newFakeAPI(t, http.StatusOK, `{}`)
	c := newTestClient(t, f, "t")
	ctx := context.Background()
	calls := map[string]func() error{
		"VM":              func() error { _, err := c.VM(ctx, ""); return err },
		"Node":            func() error { _, err := c.Node(ctx, " "); return err },
		"DeleteVM":        func() error { _, err := c.DeleteVM(ctx, ""); return err },
		"VMAction":        func() error { _, err := c.VMAction(ctx, "vm-1", ""); return err },
		"RevokeToken":     func() error { _, err := c.RevokeToken(ctx, ""); return err },
		"MigrateVM":       func() error { _, err := c.MigrateVM(ctx, "", MigrateRequest{}); return err },
		"Migration":       func() error { _, err := c.Migration(ctx, ""); return err },
		"CancelMigration": func() error { _, err := c.CancelMigration(ctx, " "); return err },
		"DrainNode":       func() error { _, err := c.DrainNode(ctx, "", "x"); return err },
		"UndrainNode":     func() error { _, err := c.UndrainNode(ctx, ""); return err },
		"DrainStatus":     func() error { _, err := c.DrainStatus(ctx, ""); return err },
		"FailoverPlan":    func() error { _, err := c.FailoverPlan(ctx, ""); return err },
		"Volume":          func() error { _, err := c.Volume(ctx, ""); return err },
		"ResizeVolume":    func() error { _, err := c.ResizeVolume(ctx, " ", 2); return err },
		"DeleteVolume":    func() error { _, err := c.DeleteVolume(ctx, ""); return err },
		"AttachVolume":    func() error { _, err := c.AttachVolume(ctx, "web", ""); return err },
		"AttachVolumeVM":  func() error { _, err := c.AttachVolume(ctx, "", "data"); return err },
		"DetachVolume":    func() error { _, err := c.DetachVolume(ctx, "web", " "); return err },
		"DetachVolumeVM":  func() error { _, err := c.DetachVolume(ctx, "", "data"); return err },
		"VMVolumes":       func() error { _, err := c.VMVolumes(ctx, ""); return err },
		"VMSnapshots":     func() error { _, err := c.VMSnapshots(ctx, ""); return err },
		"VMSnapshot":      func() error { _, err := c.VMSnapshot(ctx, "web", ""); return err },
		"VMSnapshotVM":    func() error { _, err := c.VMSnapshot(ctx, " ", "s1"); return err },
		"CreateSnapshot":  func() error { _, err := c.CreateVMSnapshot(ctx, "", SnapshotRequest{Name: "s1"}); return err },
		"RevertSnapshot":  func() error { _, err := c.RevertVMSnapshot(ctx, "web", " "); return err },
		"RevertSnapVM":    func() error { _, err := c.RevertVMSnapshot(ctx, "", "s1"); return err },
		"DeleteSnapshot":  func() error { _, err := c.DeleteVMSnapshot(ctx, "web", ""); return err },
		"DeleteSnapVM":    func() error { _, err := c.DeleteVMSnapshot(ctx, "", "s1"); return err },
	}
	for name, call := range calls {
		if err := call(); err == nil {
			t.Errorf("%s with an empty ID did not fail", name)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) != 0 {
		t.Errorf("requests sent for empty IDs: %+v", f.reqs)
	}
}

func TestClient_ErrorsParsed(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		want    APIError
		wantStr string
	}{
		{"json", 409, `{"error":{"code":"conflict","message":"vm name \"web\" is taken"}}`,
			APIError{409, "conflict", `vm name "web" is taken`}, `vm name "web" is taken (HTTP 409 conflict)`},
		{"not found", 404, `{"error":{"code":"not_found","message":"vm \"x\" not found"}}`,
			APIError{404, "not_found", `vm "x" not found`}, `vm "x" not found (HTTP 404 not_found)`},
		{"plain text", 502, "Bad gateway\n  upstream down\n",
			APIError{502, "", "Bad gateway upstream down"}, "Bad gateway upstream down (HTTP 502)"},
		{"empty", 503, "",
			APIError{503, "", "Service Unavailable"}, "Service Unavailable (HTTP 503)"},
		{"other json", 400, `{"message":"weird"}`,
			APIError{400, "", `{"message":"weird"}`}, `{"message":"weird"} (HTTP 400)`},
		{"binary", 500, "\xff\xfe\x00",
			APIError{500, "", "Internal Server Error"}, "Internal Server Error (HTTP 500)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI(t, tt.status, tt.body)
			_, err := newTestClient(t, f, "t").VM(context.Background(), "x")
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %T %v, want *APIError", err, err)
			}
			if *apiErr != tt.want {
				t.Errorf("APIError = %+v, want %+v", *apiErr, tt.want)
			}
			if err.Error() != tt.wantStr {
				t.Errorf("Error() = %q, want %q", err.Error(), tt.wantStr)
			}
			if got := IsNotFound(err); got != (tt.status == 404) {
				t.Errorf("IsNotFound = %v", got)
			}
			if ErrorCode(err) != tt.want.Code {
				t.Errorf("ErrorCode = %q, want %q", ErrorCode(err), tt.want.Code)
			}
		})
	}
}

func TestClient_LongErrorBodyTruncated(t *testing.T) {
	f := newFakeAPI(t, 500, strings.Repeat("é", 2000))
	_, err := newTestClient(t, f, "t").Cluster(context.Background())
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v", err)
	}
	if len(apiErr.Message) > maxErrorBody+3 || !strings.HasSuffix(apiErr.Message, "...") {
		t.Errorf("message of %d bytes not truncated: %q...", len(apiErr.Message), apiErr.Message[:20])
	}
	if !strings.HasPrefix(apiErr.Message, "éé") || strings.ContainsRune(apiErr.Message, '\uFFFD') {
		t.Errorf("truncation broke a rune")
	}
}

func TestClient_BadSuccessBody(t *testing.T) {
	f := newFakeAPI(t, 200, `<html>not json</html>`)
	_, err := newTestClient(t, f, "t").Cluster(context.Background())
	if err == nil || !strings.Contains(err.Error(), "decode") {
		t.Errorf("err = %v, want a decode error", err)
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		t.Errorf("a decode error is not an APIError")
	}
}

// assertJSONEqual fails unless got and want hold the same JSON value.
func assertJSONEqual(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("body %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %q is not JSON: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("body = %s, want %s", got, want)
	}
}

// assertJSONSubset fails unless every field of want (an object or a list of
// objects) appears with the same value in got.
func assertJSONSubset(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("got %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %q is not JSON: %v", want, err)
	}
	if !subset(g, w) {
		t.Errorf("decoded %s does not hold %s", got, want)
	}
}

func subset(got, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			if !subset(g[k], wv) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !subset(g[i], w[i]) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(got, want)
	}
}
