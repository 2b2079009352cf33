package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/novacron/novacron/api/client"
	"github.com/novacron/novacron/fsm"
)

func TestOperations_FollowTheirRecords(t *testing.T) {
	e, _ := newImageEnv(t)
	// A VM's creation is an operation until its host reports it.
	var vm client.VM
	e.do("POST", "/api/v1/vms", e.root, validVM("web")).expect(t, http.StatusCreated, &vm)
	var op client.Operation
	e.do("GET", "/api/v1/operations/"+vm.ID, e.root, nil).expect(t, http.StatusOK, &op)
	if op.Kind != "vm_create" || op.State != client.OperationPending || op.Object.Name != "web" || op.MayCancel {
		t.Fatalf("create operation %+v", op)
	}
	now := time.Now().UTC()
	e.cluster.mustApply(t, fsm.PlaceVM{ID: vm.ID, Node: e.nodes[0].ID, Reason: "test", At: now})
	e.do("GET", "/api/v1/operations/"+vm.ID, e.root, nil).expect(t, http.StatusOK, &op)
	if op.State != client.OperationRunning {
		t.Fatalf("placed vm's create: %s, want running", op.State)
	}
	e.cluster.mustApply(t, fsm.ReportVM{ID: vm.ID, Node: e.nodes[0].ID, Generation: 1, State: fsm.VMRunning, At: now})
	e.do("GET", "/api/v1/operations/"+vm.ID, e.root, nil).expectError(t, http.StatusNotFound, client.CodeNotFound, "not found")

	// A migration is an operation that may be cancelled; cancelling it
	// cancels the migration.
	var m client.Migration
	e.do("POST", "/api/v1/vms/web/migrate", e.root, client.MigrateRequest{Target: "node-2"}).expect(t, http.StatusAccepted, &m)
	e.do("GET", "/api/v1/operations/"+m.ID, e.root, nil).expect(t, http.StatusOK, &op)
	if op.Kind != "migration" || op.State != client.OperationPending || !op.MayCancel || op.Links["migration"] != "/api/v1/migrations/"+m.ID {
		t.Fatalf("migration operation %+v", op)
	}
	reader := e.tokenFor("reader")
	e.do("DELETE", "/api/v1/operations/"+m.ID, reader, nil).expectError(t, http.StatusForbidden, client.CodeForbidden, "migration:write")
	e.do("DELETE", "/api/v1/operations/"+m.ID, e.root, nil).expect(t, http.StatusAccepted, &op)
	if op.State != client.OperationCancelled || op.MayCancel {
		t.Fatalf("cancelled operation %+v", op)
	}
	if got, _ := e.fsm.Migration(m.ID); got.State != fsm.MigrationCancelled {
		t.Fatalf("migration is %s after its operation's cancel", got.State)
	}
	e.do("DELETE", "/api/v1/operations/"+m.ID, e.root, nil).expectError(t, http.StatusConflict, client.CodeInvalidState, "cannot be cancelled")

	// An image import is one until the image is ready; ?wait answers at once
	// for an ended operation, and after the wait for one that goes on.
	var img client.Image
	e.do("POST", "/api/v1/images", e.root, client.ImageRequest{Name: "debian", Source: "/images/debian.qcow2"}).expect(t, http.StatusAccepted, &img)
	start := time.Now()
	e.do("GET", "/api/v1/operations/"+img.ID+"?wait=300ms", e.root, nil).expect(t, http.StatusOK, &op)
	if op.Kind != "image_import" || op.State != client.OperationRunning || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("import operation %+v after %s: want running after the whole wait", op, time.Since(start))
	}
	e.ready(img.ID, 1<<30)
	e.do("GET", "/api/v1/operations/"+img.ID+"?wait=30s", e.root, nil).expect(t, http.StatusOK, &op)
	if op.State != client.OperationSucceeded || op.Progress != 100 {
		t.Fatalf("import operation %+v, want succeeded", op)
	}
	e.do("GET", "/api/v1/operations/"+img.ID+"?wait=forever", e.root, nil).expectError(t, http.StatusBadRequest, client.CodeInvalid, "wait")
	e.do("DELETE", "/api/v1/operations/"+img.ID, e.root, nil).expectError(t, http.StatusConflict, client.CodeInvalidState, "cannot be cancelled")

	// An import under way may be cancelled, by one who may write images:
	// the image stays, cancelled, and is no base for a VM.
	var slow client.Image
	e.do("POST", "/api/v1/images", e.root, client.ImageRequest{Name: "slow", Source: "/images/slow.qcow2"}).expect(t, http.StatusAccepted, &slow)
	e.do("GET", "/api/v1/operations/"+slow.ID, e.root, nil).expect(t, http.StatusOK, &op)
	if !op.MayCancel {
		t.Fatalf("import under way: %+v, want may_cancel", op)
	}
	e.do("DELETE", "/api/v1/operations/"+slow.ID, reader, nil).expectError(t, http.StatusForbidden, client.CodeForbidden, "image:write")
	e.do("DELETE", "/api/v1/operations/"+slow.ID, e.root, nil).expect(t, http.StatusAccepted, &op)
	if op.State != client.OperationCancelled || op.MayCancel || op.Error != "import cancelled" {
		t.Fatalf("cancelled import %+v", op)
	}
	e.do("GET", "/api/v1/images/"+slow.ID, e.root, nil).expect(t, http.StatusOK, &slow)
	if slow.State != "cancelled" {
		t.Fatalf("image %+v after its import's cancel, want cancelled", slow)
	}
	req := validVM("on-slow")
	req.Image = "slow"
	e.do("POST", "/api/v1/vms", e.root, req).expectError(t, http.StatusConflict, client.CodeInvalidState, "cancelled")

	var ops []client.Operation
	e.do("GET", "/api/v1/operations", e.root, nil).expect(t, http.StatusOK, &ops)
	kinds := map[string]int{}
	for _, o := range ops {
		kinds[o.Kind]++
	}
	if kinds["migration"] != 1 || kinds["image_import"] != 2 || kinds["vm_create"] != 0 || !strings.HasPrefix(ops[0].CreatedAt.String(), "20") {
		t.Fatalf("operations %+v", ops)
	}
}

// refusingConsoles is a host whose consoles cannot be opened.
type refusingConsoles struct{}

func (refusingConsoles) Serve(http.ResponseWriter, *http.Request, string, string) error {
	return errors.New("the domain is gone")
}

func (refusingConsoles) Log(context.Context, string, string, int64) ([]byte, int64, error) {
	return []byte("tick 1\n"), 7, nil
}

// TestConsole_AttachIsAudited: a console session changes nothing through the
// API but types into a guest, so it is recorded like a write; reading the
// log is not. A VM that is not running has no console (409).
func TestConsole_AttachIsAudited(t *testing.T) {
	e := newTestEnvWith(t, Config{NodeName: "node-1", AuditQueue: 1000, Consoles: refusingConsoles{}}, nil)
	vm := e.runningVM("web", e.nodes[0])
	e.do("GET", "/api/v1/vms/web/console", e.root, nil).expectError(t, http.StatusConflict, client.CodeInvalidState, "the domain is gone")
	e.auditHas("the console attach", func(a fsm.AuditEntry) bool {
		return a.Action == "GET /api/v1/vms/:id/console" && a.Object == "web" && a.Status == http.StatusConflict
	})
	reader := e.tokenFor("reader")
	a := e.do("GET", "/api/v1/vms/"+vm.ID+"/console/log?offset=0", reader, nil)
	if a.status != http.StatusOK || string(a.body) != "tick 1\n" || a.header.Get(LogSizeHeader) != "7" {
		t.Fatalf("console log: %d %q %v", a.status, a.body, a.header)
	}
	e.do("GET", "/api/v1/vms/web/console", reader, nil).expectError(t, http.StatusForbidden, client.CodeForbidden, "vm:write")
	e.do("GET", "/api/v1/vms/web/console/log?offset=-1", e.root, nil).expectError(t, http.StatusBadRequest, client.CodeInvalid, "offset")
	e.do("POST", "/api/v1/vms/web/stop", e.root, nil).expect(t, http.StatusOK, nil)
	e.cluster.mustApply(t, fsm.ReportVM{ID: vm.ID, Node: e.nodes[0].ID, Generation: 1, State: fsm.VMStopped, At: time.Now().UTC()})
	e.do("GET", "/api/v1/vms/web/console", e.root, nil).expectError(t, http.StatusConflict, client.CodeInvalidState, "only a running vm")
}
