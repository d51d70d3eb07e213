package webui

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"moat/assets"
)

// Options configure the dashboard. Requests whose Host is neither Addr nor
// localhost on its port are refused (DNS rebinding); URL and OneTimeURL
// name Addr.
type Options struct {
	Source     Source
	Token      string       // the token `moat up` prints; required
	Addr       string       // the listener's loopback IP:port (its Addr().String()); required
	ReportsDir string       // <data_dir>/reports, served under /reports/; "" serves none
	Log        *slog.Logger // nil: slog.Default()
	// Consul, when set, is Consul's HTTP API (a proxy holding moat's client
	// certificate), served with its UI at /ui/ and /v1/ to signed-in users.
	Consul http.Handler
}

// Server is the dashboard's http.Handler. Serve it with the caller's
// http.Server; it starts no goroutines of its own (an open live-update
// stream lives as long as its request).
type Server struct {
	src        Source
	reportsDir string
	addr       string          // Options.Addr, canonical
	hosts      map[string]bool // the Host headers served, lower case
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
	ap, err := netip.ParseAddrPort(o.Addr)
	if err != nil || !ap.Addr().IsLoopback() || ap.Port() == 0 {
		return nil, fmt.Errorf("dashboard: listen address %q: want a loopback IP and port such as 127.77.0.1:7700", o.Addr)
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	s := &Server{src: o.Source, reportsDir: o.ReportsDir, log: o.Log, cop: http.NewCrossOriginProtection(),
		now: time.Now, mux: http.NewServeMux(), addr: ap.String(), hosts: allowedHosts(ap)}
	s.auth = newAuth(o.Token, func() time.Time { return s.now() })
	s.routes()
	if o.Consul != nil {
		s.mountConsul(o.Consul)
	}
	return s, nil
}

// allowedHosts are the Host headers of requests for ap: ap itself and
// localhost on its port (without the port too when it is 80).
func allowedHosts(ap netip.AddrPort) map[string]bool {
	port := strconv.Itoa(int(ap.Port()))
	hosts := map[string]bool{strings.ToLower(ap.String()): true, "localhost:" + port: true}
	if port == "80" {
		hosts[strings.ToLower(ap.Addr().String())], hosts["localhost"] = true, true
	}
	return hosts
}

// URL is the dashboard's address, "http://127.77.0.1:7700"; it holds no secret.
func (s *Server) URL() string { return "http://" + s.addr }

// LoginURL is the URL `moat up` prints to the terminal: it carries the
// token, which the dashboard exchanges for a cookie on first use. base is
// Server.URL. It must never reach a command line (argv is public to every
// local user) nor a log: that is what OneTimeURL is for.
func LoginURL(base, token string) string {
	return base + "/?" + url.Values{tokenParam: {token}}.Encode()
}

// OneTimeURL is a login URL for `moat up --open` to hand the browser: it
// carries no lasting secret, only a fresh random one that signs in once
// within a minute, so seeing it in another process's argv is worth little.
func (s *Server) OneTimeURL() string {
	return s.URL() + "/login?" + url.Values{onceParam: {s.auth.newOnce()}}.Encode()
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
	s.mux.Handle("POST /logout", s.requireCSRF(http.HandlerFunc(s.logout)))
}

// ServeHTTP sets the security headers every answer carries and routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if !s.hosts[strings.ToLower(r.Host)] {
		// A page whose DNS name was rebound to this address: it gets
		// nothing, not even the token exchange.
		http.Error(w, "moat dashboard: misdirected request: open the dashboard with the URL `moat up` printed",
			http.StatusMisdirectedRequest)
		return
	}
	s.mux.ServeHTTP(w, r)
}

func cacheNoStore(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}
