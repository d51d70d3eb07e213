package webui

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"moat/assets"
)

// Options configure the dashboard.
type Options struct {
	Source     Source
	Token      string       // the token `moat up` prints; required
	ReportsDir string       // <data_dir>/reports, served under /reports/; "" serves none
	Log        *slog.Logger // nil: slog.Default()
}

// Server is the dashboard's http.Handler. Serve it with the caller's
// http.Server; it starts no goroutines of its own (an open live-update
// stream lives as long as its request).
type Server struct {
	src        Source
	reportsDir string
	log        *slog.Logger
	auth       *auth
	cop        *http.CrossOriginProtection
	changed    notifier
	now        func() time.Time
	mux        *http.ServeMux
}

var _ http.Handler = (*Server)(nil)

// New returns the dashboard for o.
func New(o Options) (*Server, error) {
	if o.Source == nil {
		return nil, errors.New("dashboard: Options.Source is nil")
	}
	if len(o.Token) < 16 {
		return nil, errors.New("dashboard: the token is shorter than 16 characters: use a random one (moat secrets)")
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	s := &Server{src: o.Source, reportsDir: o.ReportsDir, log: o.Log, cop: http.NewCrossOriginProtection(),
		now: time.Now, mux: http.NewServeMux()}
	s.auth = newAuth(o.Token, func() time.Time { return s.now() })
	s.routes()
	return s, nil
}

// LoginURL is the URL `moat up` prints: it carries the token, which the
// dashboard exchanges for a cookie on first use. base is "http://127.0.0.1:7700".
func LoginURL(base, token string) string {
	return base + "/?" + url.Values{tokenParam: {token}}.Encode()
}

func (s *Server) routes() {
	s.mux.Handle("GET /assets/", http.StripPrefix("/assets/", cacheNoStore(http.FileServerFS(assets.FS))))
	s.mux.Handle("GET /favicon.ico", http.RedirectHandler("/assets/favicon.svg", http.StatusMovedPermanently))

	page := func(pattern string, h http.HandlerFunc) { s.mux.Handle(pattern, s.requireAuth(h)) }
	page("GET /{$}", s.overviewPage)
	page("GET /login", s.overviewPage) // only ever reached with ?token=, which requireAuth answers
	page("GET /services", s.servicesPage)
	page("GET /services/{name}", s.servicePage)
	page("GET /mesh", s.meshPage)
	page("GET /events", s.eventsPage)
	page("GET /reports", s.reportsPage)
	// The report site's own index of every report: the dashboard's list.
	s.mux.Handle("GET /reports/{$}", http.RedirectHandler("/reports", http.StatusMovedPermanently))
	s.mux.Handle("GET /reports/index.html", http.RedirectHandler("/reports", http.StatusMovedPermanently))
	page("GET /reports/{name}/{$}", s.reportPage)
	page("GET /reports/{path...}", s.reportFile)
	page("GET /api/snapshot", s.apiSnapshot)
	page("GET /api/mesh", s.apiMesh)
	page("GET /api/events", s.apiEvents)
	page("GET /api/reports", s.apiReports)
	page("GET /api/logs/{name}", s.apiLogs)
	page("GET /api/stream", s.stream)
	page("GET /metrics", s.metrics)
	s.mux.Handle("POST /reports/{name}/run", s.requireCSRF(http.HandlerFunc(s.runReport)))
}

// ServeHTTP sets the security headers every answer carries and routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	s.mux.ServeHTTP(w, r)
}

func cacheNoStore(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}
