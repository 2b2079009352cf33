package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/fsm"
)

// Consoles (issue 15): GET /api/v1/vms/{id}/console upgrades to a WebSocket
// of binary messages carrying the VM's serial console both ways, on any
// node (proxied to the VM's host); GET /api/v1/vms/{id}/console/log reads
// the serial log from ?offset=N, with its size in X-Novacron-Log-Size, so
// a client follows it by asking again from where it stopped.

// Consoles reaches VMs' consoles and logs where they run (*console.Router).
type Consoles interface {
	// Serve upgrades r and attaches it to the console of vmID on node; an
	// error means nothing was written.
	Serve(w http.ResponseWriter, r *http.Request, node, vmID string) error
	// Log reads vmID's serial log on node from offset on.
	Log(ctx context.Context, node, vmID string, offset int64) ([]byte, int64, error)
}

// LogSizeHeader carries a console log's size (api/client reads it).
const LogSizeHeader = "X-Novacron-Log-Size"

// consoleVM finds the VM a console route names and the node it runs on.
func (s *Server) consoleVM(r *http.Request, ps httprouter.Params) (fsm.VM, error) {
	if s.cfg.Consoles == nil {
		return fsm.VM{}, errorf(fsm.ErrState, "this node serves no consoles")
	}
	vm, err := s.findVM(r, ps.ByName("id"))
	if err != nil {
		return vm, err
	}
	if vm.Node == "" {
		return vm, errorf(fsm.ErrState, "vm %s is not placed on any node: it has no console", vm.Spec.Name)
	}
	return vm, nil
}

func (s *Server) vmConsole(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	vm, err := s.consoleVM(r, ps)
	if err != nil {
		return err
	}
	if vm.State != fsm.VMRunning && vm.State != fsm.VMPaused {
		return errorf(fsm.ErrState, "vm %s is %s: only a running vm has a console", vm.Spec.Name, vm.State)
	}
	if info, ok := r.Context().Value(reqInfoKey{}).(*reqInfo); ok {
		// Recorded when the session ends, with status 101 if it was open.
		info.audited = true
	}
	if err := s.cfg.Consoles.Serve(w, r, vm.Node, vm.ID); err != nil {
		return errorf(fsm.ErrState, "console of vm %s: %v", vm.Spec.Name, err)
	}
	return nil
}

func (s *Server) vmConsoleLog(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	vm, err := s.consoleVM(r, ps)
	if err != nil {
		return err
	}
	var offset int64
	if q := r.URL.Query().Get("offset"); q != "" {
		if offset, err = strconv.ParseInt(q, 10, 64); err != nil || offset < 0 {
			return invalidf("query parameter offset: %q is not a byte offset", q)
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	b, size, err := s.cfg.Consoles.Log(ctx, vm.Node, vm.ID, offset)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return errorf(fsm.ErrNotFound, "console log of vm %s: %v", vm.Spec.Name, err)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set(LogSizeHeader, strconv.FormatInt(size, 10))
	w.Write(b)
	return nil
}
