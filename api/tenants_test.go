package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
	"github.com/novacron/novacron/internal/ids"
)

// The cross-tenant matrix (issue 14): for every route of the API, a user
// holding each role in project a aims at project b's objects, by ID and by
// name. It is refused (403 or 404) or answered without b's data, and
// nothing changes. The bugs it is built to catch are those of endpoints that
// check the project named in the request instead of the object's own.

// secretB is in every object of project b that a request could show: a VM's
// label, the project's description.
const secretB = "b-secret-marker"

// tenantWorld is a test env with projects a and b, a VM "web" in each and
// "only-b" in b, a migration and a removal of b's VMs, and users who hold
// one role each in a.
type tenantWorld struct {
	*testEnv
	vmA, vmB, onlyB client.VM
	migrationB      string
	removalB        string
	imageB          string
	// volumes: a's detached, b's detached, and b's attaching to only-b.
	volumeA, volumeB, volumeOnB string
	// snapB is a VM of b with two snapshots: one ready, named secretB,
	// and one being taken (an operation of b's, snapshotOpB).
	snapB       client.VM
	snapshotOpB string
	// drainOp is node-2's drain, stuck on a VM of b named secretB that
	// only node-2 may run: a cluster operation whose error names b's VM.
	drainOp     string
	rootKeyID   string
	rootSession string
	alertB      string
	// sessions holds a session secret per user.
	sessions map[string]string
}

func newTenantWorld(t *testing.T, cfg Config) *tenantWorld {
	t.Helper()
	cfg.NodeName = "node-1"
	w := &tenantWorld{testEnv: newTestEnvWith(t, cfg, nil), sessions: map[string]string{}}
	now := time.Now().UTC()
	for _, p := range []string{"a", "b"} {
		w.cluster.mustApply(t, fsm.CreateProject{Project: fsm.Project{Name: p, Description: "project " + p + " " + map[string]string{"a": "", "b": secretB}[p], CreatedAt: now}})
	}
	w.cluster.mustApply(t, fsm.CreateRole{Role: fsm.Role{Name: "starter", Permissions: []string{"vm:read", "vm:write"}, CreatedAt: now}})
	for _, r := range []string{"project-admin", "operator", "viewer", "starter"} {
		user := "u-" + r
		w.cluster.mustApply(t, fsm.CreateUser{User: fsm.User{Name: user, PasswordHash: "$argon2id$unused", CreatedAt: now}})
		w.cluster.mustApply(t, fsm.SetMember{Project: "a", User: user, Role: r})
		w.sessions[user] = w.session(user)
	}
	// A user of b, whose session and key the others aim at.
	w.cluster.mustApply(t, fsm.CreateUser{User: fsm.User{Name: "u-b", PasswordHash: "$argon2id$unused", CreatedAt: now}})
	w.cluster.mustApply(t, fsm.SetMember{Project: "b", User: "u-b", Role: "project-admin"})
	w.sessions["u-b"] = w.session("u-b")
	w.rootSession = w.fsm.Sessions("u-b")[0].ID
	w.rootKeyID = w.fsm.Tokens()[0].ID

	labelled := func(name string) client.VMRequest {
		req := validVM(name)
		req.Labels = map[string]string{"secret": secretB}
		return req
	}
	w.vmA = w.placedIn("a", validVM("web"))
	w.vmB = w.placedIn("b", labelled("web"))
	w.onlyB = w.placedIn("b", labelled("only-b"))
	var m client.Migration
	w.do("POST", "/api/v1/vms/"+w.vmB.ID+"/migrate", w.root, client.MigrateRequest{Target: "node-2"}).expect(t, http.StatusAccepted, &m)
	w.migrationB = m.ID
	gone := w.placedIn("b", labelled("gone"))
	w.do("DELETE", "/api/v1/vms/"+gone.ID, w.root, nil).expect(t, http.StatusOK, nil)
	w.removalB = gone.ID
	// An image in each project; b's source holds the marker, so an answer
	// that leaks the image shows it.
	for _, img := range []struct{ id, project, name, source string }{{ids.New(), "a", "base", "a.qcow2"}, {ids.New(), "b", "b-image", secretB + ".qcow2"}} {
		w.cluster.mustApply(t, fsm.CreateImage{Image: fsm.Image{ID: img.id, Project: img.project, Name: img.name, Source: "/var/lib/novacron/images/" + img.source, Importer: w.nodes[0].ID, CreatedAt: now}})
		w.cluster.mustApply(t, fsm.UpdateImage{ID: img.id, State: fsm.ImageReady, Format: fsm.ImageQCOW2, SizeBytes: 1 << 20, VirtualSizeBytes: 1 << 30, SHA256: strings.Repeat("0", 64), Host: w.nodes[0].ID, At: now})
		w.imageB = img.id
	}
	// Volumes: a's and b's detached, and one of b's attaching to only-b
	// (an operation of b's).
	for _, v := range []struct {
		id            *string
		project, name string
	}{{&w.volumeA, "a", "a-vol"}, {&w.volumeB, "b", "b-free"}, {&w.volumeOnB, "b", "b-vol"}} {
		*v.id = ids.New()
		w.cluster.mustApply(t, fsm.CreateVolume{Volume: fsm.Volume{ID: *v.id, Project: v.project, Name: v.name, SizeGiB: 1, CreatedAt: now}})
	}
	w.cluster.mustApply(t, fsm.AttachVolume{ID: w.volumeOnB, VM: w.onlyB.ID, At: now})
	w.snapB = w.placedIn("b", labelled("snap-b"))
	w.cluster.mustApply(t, fsm.CreateVMSnapshot{VM: w.snapB.ID, Name: secretB, At: now})
	w.cluster.mustApply(t, fsm.ReportVMSnapshot{VM: w.snapB.ID, Name: secretB, Node: w.nodes[0].ID, At: now})
	w.cluster.mustApply(t, fsm.CreateVMSnapshot{VM: w.snapB.ID, Name: "b-taking", Memory: true, At: now})
	w.snapshotOpB = w.snapB.ID + ":b-taking"
	pinned := labelled(secretB)
	pinned.Placement = &client.PlacementSpec{Nodes: []string{"node-2"}}
	var stuck client.VM
	w.do("POST", "/api/v1/vms?project=b", w.root, pinned).expect(t, http.StatusCreated, &stuck)
	w.cluster.mustApply(t, fsm.PlaceVM{ID: stuck.ID, Node: w.nodes[1].ID, Reason: "test", At: now})
	w.cluster.mustApply(t, fsm.ReportVM{ID: stuck.ID, Node: w.nodes[1].ID, Generation: 1, State: fsm.VMRunning, At: now})
	w.cluster.mustApply(t, fsm.SetMaintenance{ID: w.nodes[1].ID, Maintenance: true, Reason: secretB, At: now})
	w.drainOp = "drain:" + w.nodes[1].ID
	// An alert of b's VM, its message naming b's secret.
	w.alertB = "vm_crashed:vm:" + w.vmB.ID
	w.cluster.mustApply(t, fsm.UpdateAlerts{Upserts: []fsm.Alert{{ID: w.alertB, Rule: "vm_crashed", Severity: fsm.SeverityWarning,
		ObjectType: "vm", ObjectID: w.vmB.ID, Project: "b", State: fsm.AlertFiring, Message: secretB, PendingSince: now, FiredAt: now}}, At: now})
	return w
}

// session makes a login session of user straight in the state (a login
// through the API costs an argon2id hash).
func (w *tenantWorld) session(user string) string {
	secret := ids.Secret(sessionPrefix, 24)
	now := time.Now().UTC()
	w.cluster.mustApply(w.t, fsm.CreateSession{Session: fsm.Session{ID: ids.New(), Hash: fsm.HashSecret(secret), User: user, CreatedAt: now, ExpiresAt: now.Add(12 * time.Hour)}})
	return secret
}

// placedIn creates req in project as root, placed and running on node-1.
func (w *tenantWorld) placedIn(project string, req client.VMRequest) client.VM {
	w.t.Helper()
	var vm client.VM
	w.do("POST", "/api/v1/vms?project="+project, w.root, req).expect(w.t, http.StatusCreated, &vm)
	now := time.Now().UTC()
	w.cluster.mustApply(w.t, fsm.PlaceVM{ID: vm.ID, Node: w.nodes[0].ID, Reason: "test", At: now})
	w.cluster.mustApply(w.t, fsm.ReportVM{ID: vm.ID, Node: w.nodes[0].ID, Generation: 1, State: fsm.VMRunning, At: now})
	return vm
}

// probe is one request of the matrix.
type probe struct {
	method, path string
	body         any
}

// expectation says what a route may answer a user of a aiming at b.
type expectation int

const (
	// refused: 403 or 404.
	refused expectation = iota
	// filtered: answered (200), but with nothing of b's.
	filtered
	// ownOnly: the route acts on the caller alone (its own session): it
	// may change that, but answers nothing of b's.
	ownOnly
)

// matrix is every secured route with the requests that aim it at project b
// and what they may get. A route missing here fails the test.
func (w *tenantWorld) matrix() map[string]struct {
	expect expectation
	probes []probe
} {
	type row = struct {
		expect expectation
		probes []probe
	}
	vmRefs := func(suffix string) (out []probe) {
		for _, ref := range []string{w.vmB.ID, w.vmB.ID + "?project=a", w.vmB.ID[:8] + "?project=a", "only-b?project=b", "only-b?project=a", "web?project=b"} {
			path, query, _ := strings.Cut(ref, "?")
			p := "/api/v1/vms/" + path + suffix
			if query != "" {
				p += "?" + query
			}
			out = append(out, probe{path: p})
		}
		return out
	}
	with := func(method string, body any, ps []probe) []probe {
		for i := range ps {
			ps[i].method, ps[i].body = method, body
		}
		return ps
	}
	one := func(method, path string, body any) []probe { return []probe{{method, path, body}} }
	member := client.ProjectMember{User: "u-viewer", Role: "viewer"}
	imageRefs := func() (out []probe) {
		for _, ref := range []string{w.imageB, w.imageB + "?project=a", w.imageB[:8] + "?project=a", "b-image?project=b", "b-image?project=a"} {
			path, query, _ := strings.Cut(ref, "?")
			p := "/api/v1/images/" + path
			if query != "" {
				p += "?" + query
			}
			out = append(out, probe{path: p})
		}
		return out
	}
	volumeRefs := func() (out []probe) {
		for _, id := range []string{w.volumeB, w.volumeOnB} {
			for _, ref := range []string{id, id + "?project=a", id[:8] + "?project=a"} {
				path, query, _ := strings.Cut(ref, "?")
				p := "/api/v1/volumes/" + path
				if query != "" {
					p += "?" + query
				}
				out = append(out, probe{path: p})
			}
		}
		return append(out, probe{path: "/api/v1/volumes/b-free?project=b"}, probe{path: "/api/v1/volumes/b-vol?project=a"})
	}
	// An attach or a detach of a's VM naming b's volume, by ID, prefix or
	// name: the VM is the caller's, the volume is not.
	attachB := func() (out []probe) {
		for _, ref := range []string{w.volumeB, w.volumeB[:8], "b-free"} {
			out = append(out, probe{"POST", "/api/v1/vms/" + w.vmA.ID + "/volumes", client.AttachRequest{Volume: ref}},
				probe{"POST", "/api/v1/vms/web/volumes?project=a", client.AttachRequest{Volume: ref}})
		}
		return out
	}
	detachB := func() (out []probe) {
		for _, ref := range []string{w.volumeOnB, w.volumeOnB[:8], "b-vol", "b-vol?project=b"} {
			out = append(out, probe{"DELETE", "/api/v1/vms/" + w.vmA.ID + "/volumes/" + ref, nil})
		}
		return out
	}
	// b's VM snap-b by ID, prefix or name, then suffix (its snapshots).
	snapRefs := func(suffix string) (out []probe) {
		for _, ref := range []string{w.snapB.ID, w.snapB.ID + "?project=a", w.snapB.ID[:8] + "?project=a", "snap-b?project=b", "snap-b?project=a"} {
			path, query, _ := strings.Cut(ref, "?")
			p := "/api/v1/vms/" + path + suffix
			if query != "" {
				p += "?" + query
			}
			out = append(out, probe{path: p})
		}
		return out
	}
	fromImageB := validVM("from-b")
	fromImageB.Image, fromImageB.DiskGiB = w.imageB, 2
	return map[string]row{
		"GET /api/v1/cluster":        {refused, one("GET", "/api/v1/cluster", nil)},
		"GET /api/v1/cluster/digest": {refused, one("GET", "/api/v1/cluster/digest", nil)},
		"GET /api/v1/nodes":          {refused, one("GET", "/api/v1/nodes", nil)},
		"GET /api/v1/nodes/:id":      {refused, one("GET", "/api/v1/nodes/node-1", nil)},
		"GET /api/v1/vms":            {refused, one("GET", "/api/v1/vms?project=b", nil)},
		"POST /api/v1/vms": {refused, append(one("POST", "/api/v1/vms?project=b", validVM("intruder")),
			// A VM of a made from b's image, by ID or by name.
			probe{"POST", "/api/v1/vms?project=a", fromImageB}, probe{"POST", "/api/v1/vms?project=a", client.VMRequest{Name: "from-b2", VCPUs: 1, MemoryMiB: 64, Image: "b-image"}})},
		"GET /api/v1/storage/pools":          {refused, one("GET", "/api/v1/storage/pools", nil)},
		"POST /api/v1/storage/pools":         {refused, one("POST", "/api/v1/storage/pools", client.PoolRequest{Name: "b-pool", Type: "shared", Path: "/mnt/b"})},
		"DELETE /api/v1/storage/pools/:name": {refused, one("DELETE", "/api/v1/storage/pools/default", nil)},
		"GET /api/v1/images":                 {filtered, one("GET", "/api/v1/images?all-projects=true", nil)},
		"POST /api/v1/images":                {refused, one("POST", "/api/v1/images?project=b", client.ImageRequest{Name: "x", Source: "/var/lib/novacron/images/x.qcow2"})},
		"GET /api/v1/images/:id":             {refused, with("GET", nil, imageRefs())},
		"DELETE /api/v1/images/:id":          {refused, with("DELETE", nil, imageRefs())},
		"GET /api/v1/vms/:id":                {refused, with("GET", nil, vmRefs(""))},
		"PUT /api/v1/vms/:id":                {refused, with("PUT", validVM("renamed"), vmRefs(""))},
		"DELETE /api/v1/vms/:id":             {refused, with("DELETE", nil, vmRefs(""))},
		"POST /api/v1/vms/:id/:action": {refused, slices.Concat(with("POST", nil, vmRefs("/stop")), with("POST", client.MigrateRequest{Target: "node-2"}, vmRefs("/migrate")),
			// a's volume onto b's VM, and b's onto a's.
			with("POST", client.AttachRequest{Volume: w.volumeA}, vmRefs("/volumes")), attachB(),
			// A snapshot of b's VM.
			with("POST", client.SnapshotRequest{Name: "intruder"}, snapRefs("/snapshots")))},
		"GET /api/v1/vms/:id/snapshots":                  {refused, with("GET", nil, snapRefs("/snapshots"))},
		"GET /api/v1/vms/:id/snapshots/:name":            {refused, with("GET", nil, snapRefs("/snapshots/"+secretB))},
		"POST /api/v1/vms/:id/:action/:name/revert":      {refused, with("POST", nil, snapRefs("/snapshots/"+secretB+"/revert"))},
		"DELETE /api/v1/vms/:id/snapshots/:name":         {refused, with("DELETE", nil, slices.Concat(snapRefs("/snapshots/"+secretB), snapRefs("/snapshots/b-taking")))},
		"GET /api/v1/volumes":                            {filtered, []probe{{"GET", "/api/v1/volumes?all-projects=true", nil}, {"GET", "/api/v1/volumes?project=b", nil}}},
		"POST /api/v1/volumes":                           {refused, one("POST", "/api/v1/volumes?project=b", client.VolumeRequest{Name: "intruder", SizeGiB: 1})},
		"GET /api/v1/volumes/:id":                        {refused, with("GET", nil, volumeRefs())},
		"PATCH /api/v1/volumes/:id":                      {refused, with("PATCH", client.VolumeResize{SizeGiB: 2}, volumeRefs())},
		"DELETE /api/v1/volumes/:id":                     {refused, with("DELETE", nil, volumeRefs())},
		"GET /api/v1/vms/:id/volumes":                    {refused, with("GET", nil, vmRefs("/volumes"))},
		"DELETE /api/v1/vms/:id/volumes/:volume":         {refused, append(with("DELETE", nil, vmRefs("/volumes/"+w.volumeOnB)), detachB()...)},
		"GET /api/v1/vms/:id/console":                    {refused, with("GET", nil, vmRefs("/console"))},
		"GET /api/v1/vms/:id/console/log":                {refused, with("GET", nil, vmRefs("/console/log"))},
		"GET /api/v1/operations":                         {filtered, one("GET", "/api/v1/operations", nil)},
		"GET /api/v1/vms/:id/metrics":                    {refused, []probe{{"GET", "/api/v1/vms/" + w.vmB.ID + "/metrics", nil}, {"GET", "/api/v1/vms/web/metrics?project=b", nil}}},
		"GET /api/v1/nodes/:id/metrics":                  {refused, one("GET", "/api/v1/nodes/node-1/metrics", nil)},
		"GET /api/v1/metrics/latest":                     {filtered, one("GET", "/api/v1/metrics/latest", nil)},
		"GET /api/v1/alerts":                             {filtered, []probe{{"GET", "/api/v1/alerts", nil}, {"GET", "/api/v1/alerts?project=b", nil}}},
		"GET /api/v1/alerts/:id":                         {refused, one("GET", "/api/v1/alerts/"+w.alertB, nil)},
		"POST /api/v1/alerts/:id/ack":                    {refused, one("POST", "/api/v1/alerts/"+w.alertB+"/ack", nil)},
		"GET /api/v1/alert-rules":                        {filtered, one("GET", "/api/v1/alert-rules", nil)},
		"POST /api/v1/alert-rules":                       {refused, one("POST", "/api/v1/alert-rules", client.AlertRule{Name: "host_failed", Kind: "event", Event: "host_failed", Severity: "critical", Disabled: true})},
		"DELETE /api/v1/alert-rules/:name":               {refused, one("DELETE", "/api/v1/alert-rules/vm_cpu_high", nil)},
		"GET /api/v1/silences":                           {filtered, one("GET", "/api/v1/silences", nil)},
		"POST /api/v1/silences":                          {refused, one("POST", "/api/v1/silences", client.Silence{Project: "b", Duration: "1h"})},
		"DELETE /api/v1/silences/:id":                    {refused, one("DELETE", "/api/v1/silences/x", nil)},
		"GET /api/v1/alert-targets":                      {refused, one("GET", "/api/v1/alert-targets", nil)},
		"POST /api/v1/alert-targets":                     {refused, one("POST", "/api/v1/alert-targets", client.AlertTarget{Name: "steal", Kind: "webhook", URL: "https://evil.example.com/"})},
		"DELETE /api/v1/alert-targets/:name":             {refused, one("DELETE", "/api/v1/alert-targets/x", nil)},
		"GET /api/v1/events":                             {filtered, []probe{{"GET", "/api/v1/events?after=0&follow=false&limit=10000", nil}, {"GET", "/api/v1/events?project=b&follow=false", nil}, {"GET", "/api/v1/events?object=" + w.vmB.ID + "&after=0&follow=false", nil}}},
		"GET /api/v1/operations/:id":                     {refused, []probe{{"GET", "/api/v1/operations/" + w.migrationB, nil}, {"GET", "/api/v1/operations/" + w.imageB + "?wait=1s", nil}, {"GET", "/api/v1/operations/" + w.onlyB.ID, nil}, {"GET", "/api/v1/operations/" + w.volumeOnB, nil}, {"GET", "/api/v1/operations/" + w.snapshotOpB, nil}, {"GET", "/api/v1/operations/" + w.drainOp + "?wait=1s", nil}, {"GET", "/api/v1/operations/drain:node-2", nil}}},
		"DELETE /api/v1/operations/:id":                  {refused, []probe{{"DELETE", "/api/v1/operations/" + w.migrationB, nil}, {"DELETE", "/api/v1/operations/" + w.snapshotOpB, nil}, {"DELETE", "/api/v1/operations/" + w.drainOp, nil}}},
		"GET /api/v1/migrations":                         {filtered, one("GET", "/api/v1/migrations?vm="+w.vmB.ID, nil)},
		"GET /api/v1/migrations/:id":                     {refused, one("GET", "/api/v1/migrations/"+w.migrationB, nil)},
		"POST /api/v1/migrations/:id/cancel":             {refused, one("POST", "/api/v1/migrations/"+w.migrationB+"/cancel", nil)},
		"GET /api/v1/failovers":                          {refused, one("GET", "/api/v1/failovers", nil)},
		"GET /api/v1/failovers/:id":                      {refused, one("GET", "/api/v1/failovers/x", nil)},
		"POST /api/v1/logout":                            {ownOnly, one("POST", "/api/v1/logout", nil)},
		"GET /api/v1/whoami":                             {filtered, one("GET", "/api/v1/whoami?project=b", nil)},
		"GET /api/v1/auth/can-i":                         {filtered, one("GET", "/api/v1/auth/can-i?perm=vm:read&project=b", nil)},
		"GET /api/v1/sessions":                           {refused, one("GET", "/api/v1/sessions?user=u-b", nil)},
		"DELETE /api/v1/sessions/:id":                    {refused, one("DELETE", "/api/v1/sessions/"+w.rootSession, nil)},
		"GET /api/v1/users":                              {refused, one("GET", "/api/v1/users", nil)},
		"POST /api/v1/users":                             {refused, one("POST", "/api/v1/users", client.UserRequest{Name: "mallory", Password: "a long password"})},
		"GET /api/v1/users/:name":                        {refused, one("GET", "/api/v1/users/u-b", nil)},
		"PUT /api/v1/users/:name":                        {refused, one("PUT", "/api/v1/users/u-b", client.UserRequest{Role: "viewer"})},
		"DELETE /api/v1/users/:name":                     {refused, one("DELETE", "/api/v1/users/u-b", nil)},
		"GET /api/v1/roles":                              {filtered, one("GET", "/api/v1/roles", nil)},
		"GET /api/v1/roles/:name":                        {filtered, one("GET", "/api/v1/roles/starter", nil)},
		"POST /api/v1/roles":                             {refused, one("POST", "/api/v1/roles", client.RoleRequest{Name: "b-all", Permissions: []string{"*:*"}})},
		"DELETE /api/v1/roles/:name":                     {refused, one("DELETE", "/api/v1/roles/starter", nil)},
		"GET /api/v1/projects":                           {filtered, one("GET", "/api/v1/projects", nil)},
		"POST /api/v1/projects":                          {refused, one("POST", "/api/v1/projects", client.ProjectRequest{Name: "c"})},
		"GET /api/v1/projects/:name":                     {refused, one("GET", "/api/v1/projects/b", nil)},
		"PUT /api/v1/projects/:name":                     {refused, one("PUT", "/api/v1/projects/b", client.ProjectRequest{Name: "b"})},
		"DELETE /api/v1/projects/:name":                  {refused, one("DELETE", "/api/v1/projects/b", nil)},
		"GET /api/v1/projects/:name/members":             {refused, one("GET", "/api/v1/projects/b/members", nil)},
		"POST /api/v1/projects/:name/members":            {refused, one("POST", "/api/v1/projects/b/members", member)},
		"DELETE /api/v1/projects/:name/members/:subject": {refused, one("DELETE", "/api/v1/projects/b/members/u-b", nil)},
		"GET /api/v1/audit":                              {filtered, one("GET", "/api/v1/audit?project=b", nil)},
		"GET /api/v1/removals":                           {filtered, one("GET", "/api/v1/removals", nil)},
		"GET /api/v1/removals/:id":                       {refused, one("GET", "/api/v1/removals/"+w.removalB, nil)},
		"GET /api/v1/nodes/:id/drain":                    {refused, one("GET", "/api/v1/nodes/node-1/drain", nil)},
		"POST /api/v1/nodes/:id/drain":                   {refused, one("POST", "/api/v1/nodes/node-1/drain", nil)},
		"POST /api/v1/nodes/:id/undrain":                 {refused, one("POST", "/api/v1/nodes/node-1/undrain", nil)},
		"POST /api/v1/nodes/:id/labels":                  {refused, one("POST", "/api/v1/nodes/node-1/labels", map[string]any{"set": map[string]string{"x": "y"}})},
		"GET /api/v1/nodes/:id/failover-plan":            {refused, one("GET", "/api/v1/nodes/node-1/failover-plan", nil)},
		"GET /api/v1/settings":                           {refused, one("GET", "/api/v1/settings", nil)},
		"PUT /api/v1/settings":                           {refused, one("PUT", "/api/v1/settings", map[string]any{"strategy": "binpack"})},
		"GET /api/v1/rebalance":                          {refused, one("GET", "/api/v1/rebalance", nil)},
		"GET /api/v1/tokens":                             {filtered, one("GET", "/api/v1/tokens", nil)},
		"POST /api/v1/tokens":                            {refused, one("POST", "/api/v1/tokens", client.TokenRequest{Name: "into-b", Project: "b"})},
		"GET /api/v1/tokens/:id":                         {refused, one("GET", "/api/v1/tokens/"+w.rootKeyID, nil)},
		"DELETE /api/v1/tokens/:id":                      {refused, one("DELETE", "/api/v1/tokens/"+w.rootKeyID, nil)},
		"GET /api/v1/join-tokens":                        {refused, one("GET", "/api/v1/join-tokens", nil)},
		"POST /api/v1/join-tokens":                       {refused, one("POST", "/api/v1/join-tokens", map[string]any{"name": "j"})},
		"DELETE /api/v1/join-tokens/:id":                 {refused, one("DELETE", "/api/v1/join-tokens/x", nil)},
		"GET /api/v1/operator/gossip/keyring":            {refused, one("GET", "/api/v1/operator/gossip/keyring", nil)},
		"POST /api/v1/operator/gossip/keyring":           {refused, one("POST", "/api/v1/operator/gossip/keyring", map[string]any{"op": "install", "key": "x"})},
	}
}

func TestTenants_CrossTenantMatrix(t *testing.T) {
	w := newTenantWorld(t, Config{Metrics: &fakeHistory{}})
	matrix := w.matrix()
	for _, r := range w.server.secured {
		if _, ok := matrix[r.method+" "+r.pattern]; !ok {
			t.Errorf("route %s %s is missing from the cross-tenant matrix: add how a user of project a aims it at project b", r.method, r.pattern)
		}
	}
	for key := range matrix {
		if !slices.ContainsFunc(w.server.secured, func(r securedRoute) bool { return r.method+" "+r.pattern == key }) {
			t.Errorf("the matrix has %s, which is no route", key)
		}
	}
	users := []string{"u-project-admin", "u-operator", "u-viewer", "u-starter"}
	for _, user := range users {
		for key, row := range matrix {
			for _, p := range row.probes {
				before, err := w.fsm.Digest()
				if err != nil {
					t.Fatal(err)
				}
				secret := w.sessions[user]
				if row.expect == ownOnly {
					secret = w.session(user) // the probe may end it
				}
				a := w.do(p.method, p.path, secret, p.body)
				what := fmt.Sprintf("%s: %s %s (route %s)", user, p.method, p.path, key)
				// can-i names the project it was asked about, and says no.
				echo := key == "GET /api/v1/auth/can-i"
				if strings.Contains(string(a.body), secretB) || (!echo && strings.Contains(string(a.body), `"project":"b"`)) {
					t.Errorf("%s: the answer shows project b's data: %d %s", what, a.status, a.body)
				}
				if echo && !strings.Contains(string(a.body), `"allowed":false`) {
					t.Errorf("%s: can-i says yes: %s", what, a.body)
				}
				switch row.expect {
				case refused:
					if a.status != http.StatusForbidden && a.status != http.StatusNotFound {
						t.Errorf("%s: status %d, want 403 or 404; body %s", what, a.status, a.body)
					}
				case filtered:
					if a.status != http.StatusOK && a.status != http.StatusForbidden {
						t.Errorf("%s: status %d, want 200 without b's data, or 403; body %s", what, a.status, a.body)
					}
				}
				if row.expect == ownOnly {
					continue
				}
				after, err := w.fsm.Digest()
				if err != nil {
					t.Fatal(err)
				}
				if after.SHA256 != before.SHA256 {
					t.Errorf("%s: the state changed (status %d, body %s)", what, a.status, a.body)
				}
			}
		}
	}
	// The same users do reach their own project: the matrix refuses for
	// the right reason, not because everything is refused.
	w.do("GET", "/api/v1/vms/"+w.vmA.ID, w.sessions["u-viewer"], nil).expect(t, http.StatusOK, nil)
	w.do("GET", "/api/v1/vms/web?project=a", w.sessions["u-viewer"], nil).expect(t, http.StatusOK, nil)
	w.do("POST", "/api/v1/vms/web/stop?project=a", w.sessions["u-operator"], nil).expect(t, http.StatusOK, nil)
	var vms []client.VM
	w.do("GET", "/api/v1/vms?all-projects=true", w.sessions["u-viewer"], nil).expect(t, http.StatusOK, &vms)
	if len(vms) != 1 || vms[0].ID != w.vmA.ID {
		t.Errorf("a viewer of a lists every project's VMs as %+v, want a's web only", vms)
	}
	var vols []client.Volume
	w.do("GET", "/api/v1/volumes?all-projects=true", w.sessions["u-viewer"], nil).expect(t, http.StatusOK, &vols)
	if len(vols) != 1 || vols[0].ID != w.volumeA {
		t.Errorf("a viewer of a lists every project's volumes as %+v, want a's a-vol only", vols)
	}
	var ops []client.Operation
	w.do("GET", "/api/v1/operations", w.root, nil).expect(t, http.StatusOK, &ops)
	if !slices.ContainsFunc(ops, func(op client.Operation) bool { return op.ID == w.volumeOnB && op.Kind == "volume_attach" }) {
		t.Errorf("root's operations %+v lack b-vol's attach: the matrix's operation probe aims at nothing", ops)
	}
	if !slices.ContainsFunc(ops, func(op client.Operation) bool { return op.ID == w.snapshotOpB && op.Kind == "snapshot_create" }) {
		t.Errorf("root's operations %+v lack snap-b's snapshot: the matrix's operation probe aims at nothing", ops)
	}
	if !slices.ContainsFunc(ops, func(op client.Operation) bool {
		return op.ID == w.drainOp && op.State == client.OperationFailed && strings.Contains(op.Error, secretB)
	}) {
		t.Errorf("root's operations %+v lack node-2's drain, stuck on b's VM: the matrix's drain probe aims at nothing", ops)
	}
	// a's users reach a's VM's snapshots: a viewer reads them, an operator
	// takes one, a starter (vm:write) deletes it.
	w.do("GET", "/api/v1/vms/web/snapshots?project=a", w.sessions["u-viewer"], nil).expect(t, http.StatusOK, nil)
	w.do("POST", "/api/v1/vms/web/snapshots?project=a", w.sessions["u-viewer"], client.SnapshotRequest{Name: "s1"}).expectError(t, http.StatusForbidden, client.CodeForbidden, "vm:write")
	w.do("POST", "/api/v1/vms/web/snapshots?project=a", w.sessions["u-operator"], client.SnapshotRequest{Name: "s1"}).expect(t, http.StatusAccepted, nil)
	w.cluster.mustApply(t, fsm.ReportVMSnapshot{VM: w.vmA.ID, Name: "s1", Node: w.nodes[0].ID, At: time.Now().UTC()})
	w.do("DELETE", "/api/v1/vms/web/snapshots/s1?project=a", w.sessions["u-starter"], nil).expect(t, http.StatusAccepted, nil)
	w.cluster.mustApply(t, fsm.ReportVMSnapshot{VM: w.vmA.ID, Name: "s1", Node: w.nodes[0].ID, At: time.Now().UTC()})
	w.do("POST", "/api/v1/vms/web/volumes?project=a", w.sessions["u-operator"], client.AttachRequest{Volume: "a-vol"}).expect(t, http.StatusAccepted, nil)
	w.do("POST", "/api/v1/vms/web/volumes?project=a", w.sessions["u-starter"], client.AttachRequest{Volume: "a-vol"}).expectError(t, http.StatusNotFound, client.CodeNotFound, "a-vol")
}
