package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"moat/appliance"
	"moat/appliance/config"
	"moat/state"
	"moat/supervisor"
	"moat/supervisor/supervisortest"
	"moat/webui"
)

// shapeStack is a supervised stack in memory: an engine over the in-memory
// runtime, recording into a real state store, with the default config's
// catalogue (so that notebook-sidecar is the notebook's sidecar).
type shapeStack struct {
	s   *stack
	eng *supervisor.Engine
}

func newShapeStack(t *testing.T) shapeStack {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Appliance.Project, cfg.Appliance.DataDir = "shape", t.TempDir()
	store, err := state.Open(filepath.Join(cfg.DataDir(), state.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clk := supervisor.NewFakeClock(time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC))
	rt := supervisortest.New(supervisortest.Options{Clock: clk, AutoHealthy: true})
	probe := &supervisor.Probe{Command: []string{"probe"}, Interval: time.Second, Timeout: time.Second, Retries: 3}
	topo := supervisor.Topology{Project: cfg.Appliance.Project, Services: []supervisor.Spec{
		{Name: "consul", Image: "consul", Health: probe, Ports: []supervisor.Port{
			{HostPort: 8500, ContainerPort: 8500}, {HostIP: "127.0.0.2", HostPort: 8600, ContainerPort: 53, Protocol: "udp"}}},
		{Name: "notebook", Image: "jupyter", Health: probe, Ports: []supervisor.Port{{HostPort: 8888, ContainerPort: 8888}},
			DependsOn: []supervisor.Dependency{{Service: "consul", Condition: supervisor.Healthy}}},
		{Name: "notebook-sidecar", Image: "envoy", ShareNetworkWith: "notebook",
			DependsOn: []supervisor.Dependency{{Service: "consul", Condition: supervisor.Healthy}}},
	}}
	if err := appliance.SetDesired(ctx, store, topo); err != nil {
		t.Fatal(err)
	}
	eng := supervisor.New(supervisor.Options{Project: topo.Project, Runtime: rt, Clock: clk,
		Recorder: appliance.Recorder{Store: store}, DefaultStartTimeout: time.Minute})
	if err := eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		eng.Down(context.Background(), supervisor.DownOptions{DefaultGrace: time.Second})
		eng.Close()
	})
	transitions, unsubscribe := eng.Subscribe()
	defer unsubscribe()
	if err := eng.Up(ctx, topo); err != nil {
		t.Fatal(err)
	}
	// A subscriber sees a transition once the Recorder has committed it:
	// once it has seen every service's current phase, the store holds it.
	last := map[string]supervisor.Phase{}
	settled := func() bool {
		for _, st := range eng.Status() {
			if last[st.Name] != st.Phase {
				return false
			}
		}
		return true
	}
	for bound := time.After(20 * time.Second); !settled(); {
		select {
		case tr := <-transitions:
			last[tr.Service] = tr.To
		case <-bound:
			t.Fatalf("the recorded phases %v never caught up with the engine's %+v", last, eng.Status())
		}
	}
	return shapeStack{s: &stack{cfg: cfg, store: store, rt: rt, topo: topo}, eng: eng}
}

// statusJSON is `moat status --json` of the stack, as moat status builds it
// from the state store (opened read-only, as it does) and the runtime.
func (ss shapeStack) statusJSON(t *testing.T) []byte {
	t.Helper()
	ro, err := state.OpenReadOnly(ss.s.store.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	s := *ss.s
	s.store = ro
	st, err := stackStatus(context.Background(), &s, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := printJSON(&cliEnv{stdout: &out}, st); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// snapshotJSON is the dashboard's /api/snapshot of the stack, served by the
// real handler over the engine.
func (ss shapeStack) snapshotJSON(t *testing.T) []byte {
	t.Helper()
	const token = "shape-test-token-0123456789"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h, err := webui.New(webui.Options{Source: &dashboardSource{s: ss.s, eng: ss.eng}, Token: token,
		Addr: ln.Addr().String(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/snapshot", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/snapshot: %s %v\n%s", resp.Status, err, b.Bytes())
	}
	return b.Bytes()
}

// TestStatusShapeRoundTrips: one service's status reads the same wherever
// moat shows it. The engine's status goes to the state store (through the
// Recorder), from there to `moat status --json` (with the runtime's view),
// and the dashboard's snapshot shows the engine's: every field agrees, the
// ports are formatted alike, and the status's JSON is the snapshot's with
// the runtime's state and uptime beside it.
func TestStatusShapeRoundTrips(t *testing.T) {
	ctx := context.Background()
	ss := newShapeStack(t)
	engine := map[string]supervisor.ServiceStatus{}
	for _, st := range ss.eng.Status() {
		engine[st.Name] = st
		if st.Phase != supervisor.PhaseHealthy && st.Phase != supervisor.PhaseRunning {
			t.Fatalf("%s is %s (%s)", st.Name, st.Phase, st.Reason)
		}
	}

	// engine → state: all of it but the start, which a transition does not carry.
	for name, want := range engine {
		rec, ok, err := ss.s.store.Service(ctx, name)
		want.StartedAt = time.Time{}
		if err != nil || !ok || !reflect.DeepEqual(rec.ServiceStatus, want) {
			t.Errorf("%s: the store recorded\n%+v (%v, %v)\nthe engine says\n%+v", name, rec.ServiceStatus, ok, err, want)
		}
	}

	// state (+ runtime) → moat status --json
	var status Status
	statusRaw := ss.statusJSON(t)
	if err := json.Unmarshal(statusRaw, &status); err != nil {
		t.Fatalf("%v\n%s", err, statusRaw)
	}
	if len(status.Services) != len(engine) {
		t.Fatalf("status lists %d services, the engine %d:\n%s", len(status.Services), len(engine), statusRaw)
	}
	byName := map[string]ServiceStatus{}
	for _, got := range status.Services {
		byName[got.Name] = got
		want := engine[got.Name]
		if got.State != string(supervisor.StateRunning) || got.Uptime == "" {
			t.Errorf("%s: state %q, uptime %q; want running, an uptime", got.Name, got.State, got.Uptime)
		}
		if got.Ports.String() != want.Ports.String() {
			t.Errorf("%s: status shows ports %q, the engine %q", got.Name, got.Ports, want.Ports)
		}
		got.Ports = want.Ports // as read back: "127.0.0.1" for the default host IP
		if !reflect.DeepEqual(got.ServiceStatus, want) {
			t.Errorf("%s: status says\n%+v\nthe engine\n%+v", got.Name, got.ServiceStatus, want)
		}
	}
	car := byName["notebook-sidecar"].Placement
	if car.Kind != webui.KindSidecar || car.SidecarOf != "notebook" || len(car.Upstreams) == 0 {
		t.Errorf("status places notebook-sidecar as %+v, want the notebook's sidecar holding its upstreams", car)
	}

	// engine → dashboard: the same status and placement as moat status.
	snapRaw := ss.snapshotJSON(t)
	var snap struct{ Services []webui.Service }
	if err := json.Unmarshal(snapRaw, &snap); err != nil {
		t.Fatalf("%v\n%s", err, snapRaw)
	}
	for _, got := range snap.Services {
		want := byName[got.Name]
		if got.Ports.String() != want.Ports.String() {
			t.Errorf("%s: the dashboard shows ports %q, status %q", got.Name, got.Ports, want.Ports)
		}
		if !reflect.DeepEqual(got, want.Service) {
			t.Errorf("%s: the dashboard shows\n%+v\nstatus\n%+v", got.Name, got, want.Service)
		}
	}

	// The JSON documents: status's services are the snapshot's, field by
	// field, plus state and uptime.
	var statusDoc, snapDoc struct{ Services []map[string]any }
	if err := json.Unmarshal(statusRaw, &statusDoc); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(snapRaw, &snapDoc); err != nil {
		t.Fatal(err)
	}
	if len(snapDoc.Services) != len(statusDoc.Services) {
		t.Fatalf("the snapshot has %d services, status %d", len(snapDoc.Services), len(statusDoc.Services))
	}
	for i, st := range statusDoc.Services {
		for _, k := range []string{"name", "state", "health", "phase", "restarts", "uptime", "started_at", "ports", "id"} {
			if _, ok := st[k]; !ok {
				t.Errorf("moat status --json: %v lacks %q", st["name"], k)
			}
		}
		st = maps.Clone(st)
		delete(st, "state")
		delete(st, "uptime")
		if !reflect.DeepEqual(st, snapDoc.Services[i]) {
			t.Errorf("service %d: moat status --json\n%v\nthe dashboard's snapshot\n%v", i, st, snapDoc.Services[i])
		}
	}
}

// TestStatusTableNotes: the table says why a service is down, else what it
// waits on, else where it sits in the mesh; "none" for no probe verdict.
func TestStatusTableNotes(t *testing.T) {
	svc := func(st supervisor.ServiceStatus, p webui.Placement) ServiceStatus {
		return ServiceStatus{Service: webui.Service{ServiceStatus: st, Placement: p}, State: "running"}
	}
	app := webui.Placement{Kind: webui.KindApp}
	st := Status{Project: "p", Services: []ServiceStatus{
		svc(supervisor.ServiceStatus{Name: "db", Phase: supervisor.PhaseCrashLooping, Reason: "crash loop: 3 exits in 5m",
			WaitingOn: "x (started)"}, app),
		svc(supervisor.ServiceStatus{Name: "web", Phase: supervisor.PhaseRestarting, LastProbe: "GET /: 503"}, app),
		svc(supervisor.ServiceStatus{Name: "api", Phase: supervisor.PhaseWaiting, Reason: "waiting on db (healthy)",
			WaitingOn: "db (healthy)", Ports: supervisor.Ports{{HostPort: 80, ContainerPort: 8080}, {HostPort: 53, ContainerPort: 53, Protocol: "udp"}}}, app),
		svc(supervisor.ServiceStatus{Name: "nb-sidecar", Phase: supervisor.PhaseRunning}, webui.Placement{Kind: webui.KindSidecar,
			SidecarOf: "nb", Upstreams: []webui.Upstream{{Destination: "trino", LocalBind: "127.0.0.1:8080"}}}),
	}}
	var out bytes.Buffer
	printStatus(&cliEnv{stdout: &out}, st)
	lines := map[string]string{}
	for _, l := range strings.Split(out.String(), "\n") {
		if name, _, ok := strings.Cut(l, " "); ok {
			lines[name] = l
		}
	}
	for name, want := range map[string][]string{
		"db":         {"crash-looping", "crash loop: 3 exits in 5m"},
		"web":        {"GET /: 503"},
		"api":        {"127.0.0.1:80->8080, 127.0.0.1:53->53/udp", "waiting on db (healthy)"},
		"nb-sidecar": {" none ", "sidecar of nb; upstreams trino@127.0.0.1:8080"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[name], w) {
				t.Errorf("%s's line lacks %q:\n%s", name, w, out.String())
			}
		}
	}
}
