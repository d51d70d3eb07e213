package webui

import (
	"net/http"
)

// consulPaths are where Consul's UI lives and where it calls its API
// (absolute paths: the UI's content path is /ui/, its API /v1/).
var consulPaths = []string{"/ui/", "/v1/"}

// mountConsul serves Consul's UI and API through the dashboard: Consul is
// sealed (its only TCP port wants moat's client certificate, which a
// browser does not hold), so the dashboard, which holds it, is the door.
// A signed-in dashboard session is needed first, and Consul's own ACL
// token after that (the UI asks for it: `moat secrets show consul`).
func (s *Server) mountConsul(h http.Handler) {
	guarded := s.requireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := sameOrigin(s.cop, r); err != nil {
				http.Error(w, "moat dashboard: "+err.Error(), http.StatusForbidden)
				return
			}
		}
		// Consul never sees the dashboard's session, nor anything that
		// could stand for it.
		r.Header.Del("Cookie")
		r.Header.Del("Authorization")
		// The Consul UI runs inline scripts the dashboard's policy forbids;
		// it gets Consul's own headers instead.
		w.Header().Del("Content-Security-Policy")
		h.ServeHTTP(w, r)
	}))
	for _, p := range consulPaths {
		s.mux.Handle(p, guarded)
	}
}
