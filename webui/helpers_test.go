package webui

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"moat/internal/testenv"
	"moat/state"
	"moat/supervisor"
)

// testToken is a fixed fake token; tests check it never shows up in output.
const testToken = "tok-0123456789abcdef-FAKE"

// fixedNow is the clock of every test server.
var fixedNow = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

// memSource is the tests' Source: an in-memory stack the test changes.
type memSource struct {
	mu         sync.Mutex
	snap       Snapshot
	events     []state.Event // oldest first
	logs       map[string]string
	reports    []ReportInfo
	reportsDir string
	runs       int
	changes    chan struct{}
}

var _ Source = (*memSource)(nil)

func newMemSource(reportsDir string) *memSource {
	return &memSource{snap: fixtureSnapshot(), events: fixtureEvents(), reportsDir: reportsDir,
		logs:    map[string]string{"trino-coordinator": "INFO started\nINFO SERVER STARTED\n"},
		reports: []ReportInfo{{Name: "nations", Schedule: "0 6 * * *", RunAs: "analyst"}},
		changes: make(chan struct{}, 1)}
}

func (m *memSource) Snapshot(context.Context) (Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	snap := m.snap
	snap.Services = append([]Service(nil), m.snap.Services...)
	return snap, nil
}

func (m *memSource) Events(_ context.Context, f state.EventFilter) ([]state.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []state.Event
	for i := len(m.events) - 1; i >= 0 && (f.Limit <= 0 || len(out) < f.Limit); i-- {
		e := m.events[i]
		if (f.Service == "" || e.Service == f.Service) && (f.Kind == "" || e.Kind == f.Kind) &&
			(f.Severity == "" || e.Severity == f.Severity) && (f.BeforeID <= 0 || e.ID < f.BeforeID) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (m *memSource) Logs(_ context.Context, service string, tail int) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.logs[service], nil
}

func (m *memSource) Reports(context.Context) ([]ReportInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]ReportInfo, len(m.reports))
	for i, r := range m.reports {
		r.Runs = append([]state.ReportRun(nil), r.Runs...)
		out[i] = r
	}
	return out, nil
}

// RunReport writes a one-page report site, as report.Runner would, and
// records the run first in the history.
func (m *memSource) RunReport(_ context.Context, name string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.reports {
		if m.reports[i].Name != name {
			continue
		}
		m.runs++
		key := fmt.Sprintf("20250314T1200%02dZ", m.runs)
		dir := filepath.Join(m.reportsDir, name, key)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		page := "<!DOCTYPE html><title>" + name + "</title><style>h1{color:#333}</style><h1 id=report>" + name +
			" " + key + "</h1><p>25 rows</p>"
		if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(page), 0o644); err != nil {
			return "", err
		}
		run := state.ReportRun{ID: int64(m.runs), Report: name, RunKey: key, StartedAt: fixedNow,
			EndedAt: fixedNow.Add(1500 * time.Millisecond), Status: state.StatusOK, RunAs: "analyst", Rows: 25,
			Duration: 1500 * time.Millisecond, Path: dir}
		m.reports[i].Runs = append([]state.ReportRun{run}, m.reports[i].Runs...)
		return dir, nil
	}
	return "", fmt.Errorf("no report named %q", name)
}

func (m *memSource) Changes() <-chan struct{} { return m.changes }

// update changes the snapshot and ticks Changes without blocking.
func (m *memSource) update(f func(s *Snapshot)) {
	m.mu.Lock()
	f(&m.snap)
	m.mu.Unlock()
	select {
	case m.changes <- struct{}{}:
	default:
	}
}

// setPhase moves service name to phase.
func (m *memSource) setPhase(name, phase, reason string) {
	m.update(func(s *Snapshot) {
		for i := range s.Services {
			if s.Services[i].Name == name {
				s.Services[i].Phase, s.Services[i].Reason, s.Services[i].WaitingOn = supervisor.Phase(phase), reason, ""
			}
		}
	})
}

// fixtureSnapshot is moat's default topology with one worker still
// starting, the notebook waiting and one verify mismatch.
func fixtureSnapshot() Snapshot {
	at := func(min int) time.Time { return fixedNow.Add(-time.Duration(min) * time.Minute) }
	on := func(name string, c supervisor.Condition) []supervisor.Dependency {
		return []supervisor.Dependency{{Service: name, Condition: c}}
	}
	app := Placement{Kind: KindApp}
	return Snapshot{Project: "demo", SupervisorPID: 4242, At: fixedNow,
		Services: []Service{
			{ServiceStatus: supervisor.ServiceStatus{Name: "consul", Phase: supervisor.PhaseHealthy, Health: supervisor.HealthHealthy,
				InstanceID: "c0ffee000001", StartedAt: at(90), Ports: supervisor.Ports{{HostPort: 8500, ContainerPort: 8500}},
				LastProbe: "leader elected"}, Placement: app},
			{ServiceStatus: supervisor.ServiceStatus{Name: "trino-coordinator", Phase: supervisor.PhaseHealthy,
				Health: supervisor.HealthHealthy, Restarts: 1, StartedAt: at(80), DependsOn: on("consul", supervisor.Healthy),
				LastProbe: "starting:false"}, Placement: app},
			{ServiceStatus: supervisor.ServiceStatus{Name: "trino-coordinator-sidecar", Phase: supervisor.PhaseHealthy,
				Health: supervisor.HealthHealthy, StartedAt: at(79), DependsOn: on("trino-coordinator", supervisor.Started)},
				Placement: Placement{Kind: KindSidecar, SidecarOf: "trino-coordinator"}},
			{ServiceStatus: supervisor.ServiceStatus{Name: "trino-worker-1", Phase: supervisor.PhaseHealthy,
				Health: supervisor.HealthHealthy, StartedAt: at(78), DependsOn: on("trino-coordinator", supervisor.Healthy)},
				Placement: app},
			{ServiceStatus: supervisor.ServiceStatus{Name: "trino-worker-2", Phase: supervisor.PhaseStarting,
				Health: supervisor.HealthStarting, StartedAt: at(1), DependsOn: on("trino-coordinator", supervisor.Healthy),
				LastProbe: "starting:true"}, Placement: app},
			{ServiceStatus: supervisor.ServiceStatus{Name: "notebook", Phase: supervisor.PhaseWaiting,
				DependsOn: on("trino-coordinator-sidecar", supervisor.Healthy), WaitingOn: "trino-worker-2 (healthy)",
				Reason: "the cluster has 1 of 2 active workers"}, Placement: app},
			{ServiceStatus: supervisor.ServiceStatus{Name: "notebook-sidecar", Phase: supervisor.PhasePending},
				Placement: Placement{Kind: KindSidecar, SidecarOf: "notebook",
					Upstreams: []Upstream{{Destination: "trino-coordinator", LocalBind: "127.0.0.1:8080"}}}},
			{ServiceStatus: supervisor.ServiceStatus{Name: "orchestrator", Phase: supervisor.PhaseRunning, StartedAt: at(77)},
				Placement: Placement{Kind: KindMoat,
					Upstreams: []Upstream{{Destination: "trino-coordinator", LocalBind: "127.0.0.1:28080"}}}},
		},
		Intentions: []Intention{
			{Source: "*", Destination: "*", Action: "deny"},
			{Source: "notebook", Destination: "trino-coordinator", Action: "allow"},
			{Source: "orchestrator", Destination: "trino-coordinator", Action: "allow"},
		},
		Verify: []state.VerifyResult{
			{ID: 1, At: at(5), Source: "notebook", Destination: "trino-coordinator", Expected: "allow", Observed: "allow", OK: true},
			{ID: 2, At: at(5), Source: "orchestrator", Destination: "notebook", Expected: "deny", Observed: "deny", OK: true},
			{ID: 3, At: at(5), Source: "trino-coordinator", Destination: "notebook", Expected: "deny", Observed: "allow",
				Detail: "connection opened"},
		},
	}
}

func fixtureEvents() []state.Event {
	var out []state.Event
	add := func(sev, kind, svc, msg string) {
		out = append(out, state.Event{ID: int64(len(out) + 1), At: fixedNow.Add(time.Duration(len(out)) * time.Second),
			Severity: sev, Kind: kind, Service: svc, Message: msg})
	}
	add("info", "service.start", "consul", "started")
	add("info", "service.healthy", "consul", "health probe passes")
	add("warn", "service.restart", "trino-coordinator", "exited with code 1; restarting in 2s")
	add("info", "service.healthy", "trino-coordinator", "health probe passes")
	add("error", "verify.mismatch", "trino-coordinator", "trino-coordinator -> notebook: expected deny, observed allow")
	return out
}

// testClock is the clock of a test server: fixedNow until the test
// advances it (locked: the server reads it on its own goroutines).
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testServer is a dashboard over a memSource behind httptest.
type testServer struct {
	*httptest.Server
	srv   *Server
	src   *memSource
	dir   string // ReportsDir
	clock *testClock
	logs  *testenv.SyncBuffer // everything the dashboard logged
}

// newTestServer serves a dashboard on a loopback port of its own; the
// dashboard is told that address, as `moat up` tells it its listener's.
func newTestServer(t *testing.T) *testServer {
	t.Helper()
	dir := t.TempDir()
	src := newMemSource(dir)
	ts := httptest.NewUnstartedServer(nil)
	logs := &testenv.SyncBuffer{}
	srv, err := New(Options{Source: src, Token: testToken, ReportsDir: dir, Addr: ts.Listener.Addr().String(),
		Log: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{t: fixedNow}
	srv.now = clock.now
	ts.Config.Handler = srv
	ts.Start()
	t.Cleanup(ts.Close)
	return &testServer{Server: ts, srv: srv, src: src, dir: dir, clock: clock, logs: logs}
}

// host is the Host header the dashboard expects: its listen address.
func (ts *testServer) host() string { return ts.Listener.Addr().String() }

// port is the dashboard's port.
func (ts *testServer) port() string {
	_, port, _ := net.SplitHostPort(ts.host())
	return port
}

// client is an HTTP client that keeps cookies and does not follow redirects.
func (ts *testServer) client(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// login returns a client holding a session cookie.
func (ts *testServer) login(t *testing.T) *http.Client {
	t.Helper()
	c := ts.client(t)
	resp := ts.get(t, c, "/?token="+testToken)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: status %d, want 303", resp.StatusCode)
	}
	return c
}

func (ts *testServer) get(t *testing.T, c *http.Client, path string) *http.Response {
	t.Helper()
	resp, err := c.Get(ts.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// body reads a response's body.
func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// csrfOf finds the CSRF field in a page.
func csrfOf(t *testing.T, page string) string {
	t.Helper()
	const marker = `name="csrf" value="`
	i := strings.Index(page, marker)
	if i < 0 {
		t.Fatal("no CSRF field in the page")
	}
	rest := page[i+len(marker):]
	return rest[:strings.IndexByte(rest, '"')]
}
