package webui

import (
	"bytes"
	"context"
	"errors"
	"net/http"

	"github.com/a-h/templ"

	"moat/state"
)

// page is what the layout needs besides the body.
type page struct {
	Title  string
	Active string // the nav entry: overview, services, mesh, reports, events
	Live   string // the live view streamed into #live; "" for a static page
	CSRF   string
	Authed bool            // show the navigation
	Head   templ.Component // a live page's part above the live region (the events filter); may be nil
}

func (s *Server) page(r *http.Request, title, active, live string) page {
	p := page{Title: title, Active: active, Live: live, Authed: true}
	if sess := sessionFrom(r.Context()); sess != nil {
		p.CSRF = sess.csrf
	}
	return p
}

// render writes a full page; a render failure has nothing left to say but
// the log line.
func (s *Server) render(w http.ResponseWriter, r *http.Request, code int, p page, body templ.Component) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	var buf bytes.Buffer
	if err := layout(p, body).Render(r.Context(), &buf); err != nil {
		s.log.Warn("dashboard: render failed", "path", r.URL.Path, "err", err)
		http.Error(w, "moat dashboard: the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// liveViews are the regions /api/stream keeps fresh, by view name.
func (s *Server) liveViews() map[string]liveView {
	html := func(build func(ctx context.Context, r *http.Request) (templ.Component, error)) liveView {
		return liveView{event: "update", render: func(ctx context.Context, r *http.Request, w *bytes.Buffer) error {
			c, err := build(ctx, r)
			if err != nil {
				return err
			}
			return c.Render(ctx, w)
		}}
	}
	return map[string]liveView{
		"overview": html(s.overviewLive),
		"services": html(s.servicesLive),
		"mesh":     html(s.meshLive),
		"events":   html(s.eventsLive),
		"snapshot": {event: "snapshot", render: func(ctx context.Context, _ *http.Request, w *bytes.Buffer) error {
			snap, err := s.src.Snapshot(ctx)
			if err != nil {
				return err
			}
			return jsonInto(w, snapshotJSONOf(snap))
		}},
	}
}

// livePage renders a page whose body is a live view.
func (s *Server) livePage(w http.ResponseWriter, r *http.Request, title, view string,
	build func(ctx context.Context, r *http.Request) (templ.Component, error), head templ.Component) {
	body, err := build(r.Context(), r)
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	p := s.page(r, title, view, view)
	p.Head = head
	s.render(w, r, http.StatusOK, p, body)
}

func (s *Server) overviewPage(w http.ResponseWriter, r *http.Request) {
	s.livePage(w, r, "Overview", "overview", s.overviewLive, nil)
}

func (s *Server) servicesPage(w http.ResponseWriter, r *http.Request) {
	s.livePage(w, r, "Services", "services", s.servicesLive, nil)
}

func (s *Server) meshPage(w http.ResponseWriter, r *http.Request) {
	s.livePage(w, r, "Mesh", "mesh", s.meshLive, nil)
}

// eventsPage keeps its filter form above the live region, so that an
// update never resets what the user is choosing.
func (s *Server) eventsPage(w http.ResponseWriter, r *http.Request) {
	snap, err := s.src.Snapshot(r.Context())
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	var names []string
	for _, svc := range snap.Services {
		names = append(names, svc.Name)
	}
	s.livePage(w, r, "Events", "events", s.eventsLive, eventsFilterForm(eventFilter(r), names))
}

func (s *Server) overviewLive(ctx context.Context, _ *http.Request) (templ.Component, error) {
	snap, err := s.src.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return overviewBody(snap, layoutTopology(snap), s.now()), nil
}

func (s *Server) servicesLive(ctx context.Context, _ *http.Request) (templ.Component, error) {
	snap, err := s.src.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return servicesBody(snap, s.now()), nil
}

func (s *Server) meshLive(ctx context.Context, _ *http.Request) (templ.Component, error) {
	snap, err := s.src.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return meshBody(buildMatrix(snap)), nil
}

// eventsView is one page of the events timeline.
type eventsView struct {
	Filter     state.EventFilter
	Events     []state.Event
	NextBefore int64
}

func (s *Server) eventsLive(ctx context.Context, r *http.Request) (templ.Component, error) {
	f := eventFilter(r)
	events, err := s.src.Events(ctx, f)
	if err != nil {
		return nil, err
	}
	return eventsBody(eventsView{Filter: f, Events: events, NextBefore: nextBefore(events, f.Limit)}), nil
}

func (s *Server) servicePage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	snap, err := s.src.Snapshot(r.Context())
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	svc, ok := findService(snap, name)
	if !ok {
		s.errorPage(w, r, notFound("no service named "+quote(name)+" in this stack"))
		return
	}
	logs, err := s.logsTail(r.Context(), name)
	logErr := ""
	if err != nil {
		logErr = err.Error()
	}
	s.render(w, r, http.StatusOK, s.page(r, name, "services", ""), serviceBody(svc, logs, logErr, s.now()))
}

func (s *Server) reportsPage(w http.ResponseWriter, r *http.Request) {
	reports, err := s.src.Reports(r.Context())
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	p := s.page(r, "Reports", "reports", "")
	s.render(w, r, http.StatusOK, p, reportsBody(reports, p.CSRF))
}

func (s *Server) reportPage(w http.ResponseWriter, r *http.Request) {
	rep, err := s.findReport(r, r.PathValue("name"))
	if err != nil {
		s.errorPage(w, r, err)
		return
	}
	p := s.page(r, rep.Name, "reports", "")
	s.render(w, r, http.StatusOK, p, reportBody(rep, r.URL.Query().Get("ran"), p.CSRF))
}

// errorPage answers a failure: 404 for an unknown name, else 503 (the
// stack could not be read).
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusServiceUnavailable
	if nf := notFound(""); errors.As(err, &nf) {
		code = http.StatusNotFound
	} else {
		s.log.Warn("dashboard: page failed", "path", r.URL.Path, "err", err)
	}
	s.render(w, r, code, s.page(r, http.StatusText(code), "", ""), messageBody(http.StatusText(code), err.Error()))
}

func (s *Server) notFoundPage(w http.ResponseWriter, r *http.Request, msg string) {
	s.render(w, r, http.StatusNotFound, s.page(r, "Not found", "", ""), messageBody("Not found", msg))
}

func (s *Server) forbidden(w http.ResponseWriter, r *http.Request, msg string) {
	s.render(w, r, http.StatusForbidden, page{Title: "Forbidden"}, messageBody("Forbidden", msg))
}

// unauthorized never says the token; it says where to find the URL.
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="moat dashboard"`)
	s.render(w, r, http.StatusUnauthorized, page{Title: "Sign in"}, unauthorizedBody(s.URL()))
}
