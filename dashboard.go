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
	"strings"
	"syscall"
	"time"

	"moat/appliance"
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
}

var _ webui.Source = (*dashboardSource)(nil)

func (d *dashboardSource) Snapshot(ctx context.Context) (webui.Snapshot, error) {
	snap := webui.Snapshot{Project: d.s.cfg.Appliance.Project, SupervisorPID: os.Getpid(), At: time.Now()}
	for _, st := range d.eng.Status() {
		svc := webui.Service{
			Name: st.Name, Kind: webui.KindApp, Phase: string(st.Phase), Health: string(st.Health),
			Restarts: st.Restarts, StartedAt: st.StartedAt, LastProbe: st.LastProbe, Reason: st.Reason,
			Upstreams: d.upstreams(st.Name),
		}
		if app, ok := appliance.CatalogueOf(d.s.cfg).SidecarOf(st.Name); ok {
			svc.Kind, svc.SidecarOf = webui.KindSidecar, app
		}
		if w, _, ok := strings.Cut(st.WaitingOn, " "); ok {
			svc.WaitingOn = w
		}
		for _, p := range st.Ports {
			svc.Ports = append(svc.Ports, p.String())
		}
		for _, dep := range st.DependsOn {
			svc.DependsOn = append(svc.DependsOn, dep.Service)
		}
		snap.Services = append(snap.Services, svc)
	}
	if d.s.control != nil {
		// moat's own identities, which it holds while it supervises.
		for _, id := range appliance.CatalogueOf(d.s.cfg).Identities {
			if id.Native {
				snap.Services = append(snap.Services, webui.Service{Name: id.Name, Kind: webui.KindMoat, Phase: string(supervisor.PhaseRunning),
					Upstreams: d.upstreams(id.Name)})
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

func (d *dashboardSource) upstreams(service string) []webui.Upstream {
	var out []webui.Upstream
	id, _ := appliance.CatalogueOf(d.s.cfg).Identity(service)
	for _, u := range id.Upstreams {
		out = append(out, webui.Upstream{Destination: u.Destination, LocalBind: u.LocalBind})
	}
	return out
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

func (d *dashboardSource) Changes() <-chan struct{} { return d.s.uiWake }

// prepareDashboard listens on the configured loopback address, prints the
// login URL (it holds the token) to terminal only, never to a log file, and
// leaves in s.dashboardURL a one-time login URL (valid once, for a minute)
// for `up --open`; the returned function serves until its context ends.
func prepareDashboard(ctx context.Context, s *stack, eng *supervisor.Engine, terminal, log io.Writer) (func(context.Context) error, error) {
	if !s.cfg.Dashboard.Enabled {
		return func(ctx context.Context) error { <-ctx.Done(); return nil }, nil
	}
	src := &dashboardSource{s: s, eng: eng}
	if s.control != nil && s.cfg.Trino.Enabled {
		src.runner = func(ctx context.Context, name string) (string, error) {
			def, ok := s.cfg.Report(name)
			if !ok {
				return "", fmt.Errorf("no report %q", name)
			}
			r, done, err := s.runner(ctx)
			if err != nil {
				return "", err
			}
			defer done()
			res, err := r.Run(ctx, def)
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
	return func(ctx context.Context) error {
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		select {
		case err := <-errc:
			return fmt.Errorf("dashboard: %w", err)
		case <-ctx.Done():
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		<-errc
		return nil
	}, nil
}

// consulProxy is the dashboard's door to Consul's UI and API: the sealed
// server's HTTPS on loopback, with moat's client certificate (nil without
// a mesh).
func consulProxy(s *stack) (http.Handler, error) {
	if s.control == nil {
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
