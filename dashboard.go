package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"syscall"
	"time"

	"moat/appliance"
	"moat/appliance/config"
	"moat/mesh"
	"moat/state"
	"moat/supervisor"
	"moat/webui"
)

// dashboardSource is what the dashboard shows of a supervised stack: the
// engine's live view, the state store's history, the runtime's logs.
type dashboardSource struct {
	s      *stack
	eng    *supervisor.Engine
	runner func(ctx context.Context, name string) (string, error)
	// changes ticks at the engine's transitions (serveDashboard follows
	// them); one slot: bursts coalesce.
	changes chan struct{}
}

var _ webui.Source = (*dashboardSource)(nil)

// Snapshot is the engine's status of every service, each with its place in
// the topology, and moat's own identities beside them.
func (d *dashboardSource) Snapshot(ctx context.Context) (webui.Snapshot, error) {
	cat := config.CatalogueOf(d.s.cfg)
	snap := webui.Snapshot{Project: d.s.cfg.Appliance.Project, SupervisorPID: os.Getpid(), At: time.Now()}
	for _, st := range d.eng.Status() {
		snap.Services = append(snap.Services, webui.Service{ServiceStatus: st, Placement: placementOf(cat, st.Name)})
	}
	if d.s.hasMesh() {
		// moat's own identities, which it holds while it supervises.
		for _, id := range cat.Identities {
			if id.Native {
				st := supervisor.ServiceStatus{Name: id.Name, Phase: supervisor.PhaseRunning}
				snap.Services = append(snap.Services, webui.Service{ServiceStatus: st, Placement: placementOf(cat, id.Name)})
			}
		}
		for _, in := range append([]mesh.Intention{mesh.DefaultDeny}, d.s.control.Intentions()...) {
			snap.Intentions = append(snap.Intentions, webui.Intention{Source: in.Source, Destination: in.Destination, Action: string(in.Action)})
		}
	}
	v, err := d.s.store.LatestVerify(ctx)
	snap.Verify = v
	if err != nil {
		return snap, err
	}
	if c, ok, err := d.s.store.LatestCapture(ctx); err != nil {
		return snap, err
	} else if ok {
		snap.Capture = &c
	}
	return snap, nil
}

// placementOf is where service sits in the topology, as the dashboard and
// `moat status` show it beside its status: a sidecar holds its app's
// localhost upstreams, moat's own identities hold theirs.
func placementOf(cat config.Catalogue, service string) webui.Placement {
	p := webui.Placement{Kind: webui.KindApp}
	holder := "" // whose identity's upstreams the service holds
	if app, ok := cat.SidecarOf(service); ok {
		p.Kind, p.SidecarOf, holder = webui.KindSidecar, app, app
	} else if id, ok := cat.Identity(service); ok && id.Native {
		p.Kind, holder = webui.KindMoat, service
	}
	if id, ok := cat.Identity(holder); ok {
		for _, u := range id.Upstreams {
			p.Upstreams = append(p.Upstreams, webui.Upstream{Destination: u.Destination, LocalBind: u.LocalBind})
		}
	}
	return p
}

func (d *dashboardSource) Events(ctx context.Context, f state.EventFilter) ([]state.Event, error) {
	return d.s.store.Events(ctx, f)
}

func (d *dashboardSource) Logs(ctx context.Context, service string, tail int) (string, error) {
	in, err := d.s.instance(ctx, service)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	err = d.s.rt.Logs(ctx, in.ID, supervisor.LogOptions{Tail: tail}, &buf)
	return buf.String(), err
}

func (d *dashboardSource) Reports(ctx context.Context) ([]webui.ReportInfo, error) {
	var out []webui.ReportInfo
	for _, def := range d.s.cfg.ReportDefinitions() {
		runs, err := d.s.store.ReportRuns(ctx, def.Name, 50)
		if err != nil {
			return nil, err
		}
		out = append(out, webui.ReportInfo{Name: def.Name, Schedule: def.Schedule, RunAs: def.RunAs, Runs: runs})
	}
	return out, nil
}

func (d *dashboardSource) RunReport(ctx context.Context, name string) (string, error) {
	if d.runner == nil {
		return "", errors.New("reports need Trino: enable [mesh] and [trino]")
	}
	return d.runner(ctx, name)
}

func (d *dashboardSource) Changes() <-chan struct{} { return d.changes }

// prepareDashboard listens on the configured loopback address, prints the
// login URL (it holds the token) to terminal only, never to a log file, and
// leaves in s.dashboardURL a one-time login URL (valid once, for a minute)
// for `up --open`; the returned function (the dashboard's actor) serves
// until its context ends.
func prepareDashboard(ctx context.Context, s *stack, eng *supervisor.Engine, terminal, log io.Writer) (func(context.Context) error, error) {
	if !s.cfg.Dashboard.Enabled {
		return func(ctx context.Context) error { <-ctx.Done(); return nil }, nil
	}
	src := &dashboardSource{s: s, eng: eng, changes: make(chan struct{}, 1)}
	if s.queriesTrino() {
		src.runner = func(ctx context.Context, name string) (string, error) {
			def, ok := s.cfg.Report(name)
			if !ok {
				return "", fmt.Errorf("no report %q", name)
			}
			res, err := s.reportOnce(ctx, def)
			return res.Path, err
		}
	}
	token := s.secrets.Ensure(appliance.SecretDashboard)
	if err := s.secrets.Save(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", s.cfg.Dashboard.Listen)
	if errors.Is(err, syscall.EADDRNOTAVAIL) {
		// Linux routes all of 127.0.0.0/8 to lo; macOS has only 127.0.0.1.
		host, _, _ := net.SplitHostPort(s.cfg.Dashboard.Listen)
		return nil, fmt.Errorf("dashboard: %w: this host has no such loopback address: add it "+
			"(macOS: sudo ifconfig lo0 alias %s) or change dashboard.listen in moat.toml", err, host)
	}
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w (change dashboard.listen in moat.toml)", err)
	}
	consul, err := consulProxy(s)
	if err != nil {
		ln.Close()
		return nil, err
	}
	h, err := webui.New(webui.Options{Source: src, Token: token, ReportsDir: s.cfg.ReportsDir(), Addr: ln.Addr().String(),
		Log: slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelWarn})), Consul: consul})
	if err != nil {
		ln.Close()
		return nil, err
	}
	// The token goes to the terminal only; --open hands the browser (whose
	// argv every local user can read) a one-time URL instead.
	fmt.Fprintf(terminal, "  dashboard   %s\n", webui.LoginURL(h.URL(), token))
	if log != terminal {
		fmt.Fprintf(log, "  dashboard   %s (token: moat secrets show dashboard)\n", h.URL())
	}
	s.dashboardURL = h.OneTimeURL()
	return func(ctx context.Context) error { return serveDashboard(ctx, h, ln, eng, src.changes) }, nil
}

// serveDashboard serves h on ln until ctx ends, and ticks changes at each of
// the engine's transitions, so that open pages update.
func serveDashboard(ctx context.Context, h http.Handler, ln net.Listener, eng *supervisor.Engine, changes chan<- struct{}) error {
	transitions, unsubscribe := eng.Subscribe()
	defer unsubscribe()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var err error
follow:
	for {
		select {
		case err := <-errc: // the server has stopped by itself
			return err
		case <-ctx.Done():
			break follow
		case _, ok := <-transitions:
			if !ok {
				err = errors.New("the engine's transitions ended while the stack was supervised")
				break follow
			}
			select {
			case changes <- struct{}{}:
			default:
			}
		}
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	<-errc
	return err
}

// consulProxy is the dashboard's door to Consul's UI and API: the sealed
// server's HTTPS on loopback, with moat's client certificate (nil without
// a mesh).
func consulProxy(s *stack) (http.Handler, error) {
	if !s.hasMesh() {
		return nil, nil
	}
	conf, err := s.control.ConsulTLSConfig()
	if err != nil {
		return nil, err
	}
	target := &url.URL{Scheme: "https", Host: "127.0.0.1:" + strconv.Itoa(s.cfg.Mesh.HTTPSPort)}
	p := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(target); r.Out.Host = target.Host },
		Transport: &http.Transport{TLSClientConfig: conf, ResponseHeaderTimeout: 5 * time.Minute},
		ErrorLog:  stdlog.New(io.Discard, "", 0),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "moat dashboard: Consul does not answer (is the stack up? moat status)", http.StatusBadGateway)
		},
	}
	return p, nil
}
