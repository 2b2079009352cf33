package api

import (
	"net/http"
	"sync"

	"github.com/julienschmidt/httprouter"

	"github.com/novacron/novacron/api/openapi"
	"github.com/novacron/novacron/internal/asset"
)

// apiDocument is the API described, ready to send (about 250 KiB of
// JSON, gzipped once).
var apiDocument = sync.OnceValue(func() *asset.Asset { return asset.New(openapi.Document(), "application/json") })

// serveOpenAPI answers GET /api/v1/openapi.json: the API described
// (OpenAPI 3.1), public like /healthz, so that tools and the dashboard can
// read it before logging in. The tests validate their requests and answers
// against it (api/openapi), which keeps it true.
func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	apiDocument().Serve(w, r)
}
