package console

import (
	"errors"
	"net/http"
	"strconv"
)

// Handler answers other nodes' requests for the consoles and logs of the
// VMs this host runs: GET /internal/v1/vms/{id}/console (a WebSocket) and
// GET /internal/v1/vms/{id}/console/log?offset=N. It sits behind the
// internal API's node authentication; the user was authorised by the node
// that took the request.
type Handler struct {
	Local Local
}

// Routes lists the internal routes Handler serves, as ServeMux patterns.
func Routes() []string {
	return []string{"GET /internal/v1/vms/{id}/console", "GET /internal/v1/vms/{id}/console/log"}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if h.Local == nil {
		http.Error(w, ErrNoConsoles.Error(), http.StatusNotFound)
		return
	}
	if r.URL.Path == internalPath(id, "/log") {
		f, err := h.Local.ConsoleLog(r.Context(), id)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		defer f.Close()
		offset, _ := strconv.ParseInt(r.URL.Query().Get("offset"), 10, 64)
		b, size, err := readFrom(f, offset)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set(LogSizeHeader, strconv.FormatInt(size, 10))
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(b)
		return
	}
	con, err := h.Local.OpenConsole(r.Context(), id)
	if err != nil {
		status := http.StatusConflict
		if errors.Is(err, ErrNoConsoles) {
			status = http.StatusNotFound
		}
		http.Error(w, err.Error(), status)
		return
	}
	ws, err := Accept(w, r)
	if err != nil {
		con.Close()
		return
	}
	Bridge(r.Context(), ws, con)
}
