package control

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"moat/appliance"
	"moat/appliance/config"
	"moat/mesh"
	"moat/supervisor"
	"moat/supervisor/supervisortest"
)

// execRuntime is the fake runtime that can also run a command in an
// instance, answering with answer; it records what ran where.
type execRuntime struct {
	*supervisortest.Runtime
	answer func(cmd []string) (int, string, error)
	ran    []string // "instance-id argv0 ... last"
}

func (r *execRuntime) Exec(_ context.Context, id string, cmd []string) (int, string, error) {
	r.ran = append(r.ran, id+" "+strings.Join(cmd, " "))
	return r.answer(cmd)
}

var _ supervisor.Execer = (*execRuntime)(nil)

// newExecRuntime has running instances of services in project.
func newExecRuntime(project string, answer func([]string) (int, string, error), services ...string) *execRuntime {
	rt := &execRuntime{Runtime: supervisortest.New(supervisortest.Options{}), answer: answer}
	for _, s := range services {
		rt.Seed(project, supervisor.Spec{Name: s, Image: s + ":test"}, supervisor.Instance{State: supervisor.StateRunning})
	}
	return rt
}

func parseControlConfig(t *testing.T, extra string) *config.Config {
	t.Helper()
	c, err := config.Parse([]byte("[appliance]\ndata_dir = \""+t.TempDir()+"\"\n"+extra), "moat.toml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The topology's allows follow what runs; a declared intention replaces
// the topology's for its pair, in place, and adds any other.
func TestControlIntentions(t *testing.T) {
	allow := func(src string) mesh.Intention {
		return mesh.Intention{Source: src, Destination: config.ServiceCoordinator, Action: mesh.Allow}
	}
	for _, tc := range []struct {
		name, toml string
		want       []mesh.Intention
	}{
		{"default", "", []mesh.Intention{allow(config.OrchestratorUser), allow(config.ServiceNotebook), allow(config.WorkstationIdentity)}},
		{"no notebook", "[notebook]\nenabled = false\n", []mesh.Intention{allow(config.OrchestratorUser), allow(config.WorkstationIdentity)}},
		{"no host endpoint", "[mesh]\nworkstation_port = 0\n", []mesh.Intention{allow(config.OrchestratorUser), allow(config.ServiceNotebook)}},
		{"consul alone", "[trino]\nenabled = false\n[notebook]\nenabled = false\n", nil},
		{"declared", "[mesh]\nproxy = \"envoy\"\n" +
			"[[intention]]\nsource = \"notebook\"\ndestination = \"trino-coordinator\"\naction = \"deny\"\n" +
			"[[intention]]\nsource = \"orchestrator\"\ndestination = \"notebook\"\naction = \"allow\"\n[[intention.http]]\npath_prefix = \"/api/\"\nmethods = [\"GET\"]\n",
			[]mesh.Intention{allow(config.OrchestratorUser), {Source: config.ServiceNotebook, Destination: config.ServiceCoordinator, Action: mesh.Deny}, allow(config.WorkstationIdentity),
				{Source: config.OrchestratorUser, Destination: config.ServiceNotebook, Action: mesh.Allow, HTTP: []mesh.PathRule{{PathPrefix: "/api/", Methods: []string{"GET"}}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := parseControlConfig(t, tc.toml)
			sec, err := appliance.OpenSecretsReadOnly(c.DataDir())
			if err != nil {
				t.Fatal(err)
			}
			got := NewControl(c, sec, nil).Intentions()
			if len(got) != len(tc.want) {
				t.Fatalf("intentions %v, want %v", got, tc.want)
			}
			for i := range got {
				g, w := got[i], tc.want[i]
				if g.Source != w.Source || g.Destination != w.Destination || g.Action != w.Action || len(g.HTTP) != len(w.HTTP) {
					t.Errorf("intention %d: %v, want %v", i, g, w)
					continue
				}
				for j := range g.HTTP {
					if g.HTTP[j].PathPrefix != w.HTTP[j].PathPrefix || !slices.Equal(g.HTTP[j].Methods, w.HTTP[j].Methods) {
						t.Errorf("intention %d rule %d: %+v, want %+v", i, j, g.HTTP[j], w.HTTP[j])
					}
				}
			}
		})
	}
}

// all passes when every gate passes, asks them in order, and stops at the
// first that fails; with no gates there is none.
func TestAllGates(t *testing.T) {
	if all(nil) != nil {
		t.Error("all of no gates is a gate")
	}
	var asked []int
	gate := func(i int, err error) func(context.Context) error {
		return func(context.Context) error { asked = append(asked, i); return err }
	}
	notYet := errors.New("not yet")
	if err := all([]func(context.Context) error{gate(1, nil), gate(2, nil)})(context.Background()); err != nil || !slices.Equal(asked, []int{1, 2}) {
		t.Errorf("passing gates: %v, asked %v", err, asked)
	}
	asked = nil
	if err := all([]func(context.Context) error{gate(1, nil), gate(2, notYet), gate(3, nil)})(context.Background()); err != notYet || !slices.Equal(asked, []int{1, 2}) {
		t.Errorf("a failing gate: %v, asked %v; want its error, the third not asked", err, asked)
	}
}

func TestRedactToken(t *testing.T) {
	tok := "6b1b8a4e-0f3a-4f63-9a44-0c1e6d1c8b7e"
	if got := redactToken("bad token "+tok+", again "+tok, tok); got != "bad token [token], again [token]" {
		t.Errorf("redacted %q", got)
	}
	if got := redactToken("nothing to hide", ""); got != "nothing to hide" {
		t.Errorf("an empty token changed the text: %q", got)
	}
}

// A probe from inside a container runs in the service's current instance,
// with /workload when the image has it and python3 otherwise, and says
// whether the target answered, in the probe's words.
func TestProbeFrom(t *testing.T) {
	ctx := context.Background()
	c := parseControlConfig(t, "")
	sec, err := appliance.OpenSecretsReadOnly(c.DataDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := NewControl(c, sec, nil).ProbeFrom(ctx, config.ServiceNotebook, "tcp", "x:1"); err == nil || !strings.Contains(err.Error(), "needs the Docker runtime") {
		t.Errorf("without a runtime that execs: %v", err)
	}
	noWorkload := func(cmd []string) (int, string, error) {
		if cmd[0] == "/workload" {
			return 0, "", errors.New("exec: /workload: not found")
		}
		return 0, " ok\n", nil
	}
	rt := newExecRuntime(c.Appliance.Project, noWorkload, config.ServiceNotebook)
	k := NewControl(c, sec, rt)
	ok, detail, err := k.ProbeFrom(ctx, config.ServiceNotebook, "tcp", "trino-coordinator:8443")
	if err != nil || !ok || detail != "ok" {
		t.Errorf("python3 probe: %v %q %v", ok, detail, err)
	}
	if len(rt.ran) != 2 || !strings.HasPrefix(rt.ran[0], config.ServiceNotebook+"-1 /workload dial") || !strings.HasPrefix(rt.ran[1], config.ServiceNotebook+"-1 python3 -c") ||
		!strings.HasSuffix(rt.ran[1], " trino-coordinator:8443") {
		t.Errorf("ran %q", rt.ran)
	}
	refused := func([]string) (int, string, error) { return 1, "connection refused\n", nil }
	rt = newExecRuntime(c.Appliance.Project, refused, config.ServiceNotebook)
	k = NewControl(c, sec, rt)
	if ok, detail, err := k.ProbeFrom(ctx, config.ServiceNotebook, "http", "https://x/"); ok || err != nil || detail != "connection refused" || len(rt.ran) != 1 {
		t.Errorf("a refused probe: %v %q %v after %q", ok, detail, err, rt.ran)
	}
	// The notebook sidecar's gate: Trino's door inside the notebook.
	err = k.UpstreamReady(ctx)
	if err == nil || !strings.Contains(err.Error(), "https://127.0.0.1:"+strconv.Itoa(config.NotebookUpstreamPort)+"/v1/info does not answer yet: connection refused") {
		t.Errorf("UpstreamReady with the door shut: %v", err)
	}
	rt = newExecRuntime(c.Appliance.Project, func([]string) (int, string, error) { return 0, "ok", nil }, config.ServiceNotebook)
	if err := NewControl(c, sec, rt).UpstreamReady(ctx); err != nil {
		t.Errorf("UpstreamReady with the door open: %v", err)
	}
	neither := func([]string) (int, string, error) { return 0, "", errors.New("not found") }
	rt = newExecRuntime(c.Appliance.Project, neither, config.ServiceNotebook)
	if _, _, err := NewControl(c, sec, rt).ProbeFrom(ctx, config.ServiceNotebook, "tcp", "x:1"); err == nil || !strings.Contains(err.Error(), "notebook's image has neither /workload nor python3") {
		t.Errorf("an image without a probe: %v", err)
	}
}

// The Envoy sidecar's gate asks its /ready listener, published on loopback
// at the sidecar's port + 500: LIVE (200) passes, anything else does not.
func TestEnvoyReady(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex // the handler runs on the server's goroutines
	status := http.StatusServiceUnavailable
	var paths []string
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		paths = append(paths, r.URL.Path)
		w.WriteHeader(status)
	})}
	go srv.Serve(l)
	defer srv.Close()
	port := l.Addr().(*net.TCPAddr).Port
	c := parseControlConfig(t, "[mesh]\nproxy = \"envoy\"\n")
	c.Mesh.NotebookSidecarPort = port - 500
	sec, err := appliance.OpenSecretsReadOnly(c.DataDir())
	if err != nil {
		t.Fatal(err)
	}
	gate := NewControl(c, sec, nil).EnvoyReady(config.ServiceNotebook)
	if err := gate(context.Background()); err == nil || err.Error() != "envoy /ready: 503 Service Unavailable" {
		t.Errorf("not ready: %v", err)
	}
	mu.Lock()
	status = http.StatusOK
	mu.Unlock()
	if err := gate(context.Background()); err != nil {
		t.Errorf("ready: %v", err)
	}
	mu.Lock()
	if len(paths) != 2 || paths[0] != "/ready" {
		t.Errorf("asked %v", paths)
	}
	mu.Unlock()
	srv.Close()
	if err := gate(context.Background()); err == nil || !strings.HasPrefix(err.Error(), "envoy /ready: ") {
		t.Errorf("nothing listening: %v", err)
	}
}

// Equip by role, through the plan: Consul, the coordinator and the workers
// get gates (workers a graceful stop), the notebook none of its own; the
// notebook's sidecar waits for Trino's door only where moat can probe from
// inside the notebook, and Envoy sidecars get their bootstrap and /ready.
func TestEquipByRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name, toml     string
		exec           bool
		notebookGate   bool
		sidecarPrepare bool
	}{
		{"builtin, no exec", "", false, false, false},
		{"builtin, exec", "", true, true, false},
		{"envoy, no exec", "[mesh]\nproxy = \"envoy\"\n", false, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := parseControlConfig(t, tc.toml)
			sec, err := appliance.OpenSecretsReadOnly(c.DataDir())
			if err != nil {
				t.Fatal(err)
			}
			var rt supervisor.Runtime
			var ert *execRuntime
			if tc.exec {
				ert = newExecRuntime(c.Appliance.Project, func([]string) (int, string, error) { return 0, "ok", nil }, config.ServiceNotebook)
				rt = ert
			}
			topo, err := appliance.Plan(c, sec, NewControl(c, sec, rt))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range topo.Services {
				wantGate := map[string]bool{config.ServiceConsul: true, config.ServiceCoordinator: true, config.ServiceWorker + "-1": true,
					config.ServiceCoordinator + config.SidecarSuffix: true, config.ServiceNotebook: false, config.ServiceNotebook + config.SidecarSuffix: tc.notebookGate}[s.Name]
				if (s.Gate != nil) != wantGate {
					t.Errorf("%s: gate %v, want %v", s.Name, s.Gate != nil, wantGate)
				}
				if wantStop := s.Name == config.ServiceWorker+"-1"; (s.PreStop != nil) != wantStop {
					t.Errorf("%s: pre-stop %v", s.Name, s.PreStop != nil)
				}
				isSidecar := strings.HasSuffix(s.Name, config.SidecarSuffix)
				if (s.Prepare != nil) != (isSidecar && tc.sidecarPrepare) {
					t.Errorf("%s: prepare %v", s.Name, s.Prepare != nil)
				}
			}
			if tc.exec {
				sc, _ := topo.Service(config.ServiceNotebook + config.SidecarSuffix)
				if err := sc.Gate(ctx); err != nil || len(ert.ran) != 1 || !strings.Contains(ert.ran[0], "/v1/info") {
					t.Errorf("the notebook sidecar's gate: %v, ran %q; want the upstream probe", err, ert.ran)
				}
			}
		})
	}
}

// A probe from a service that is not running says so, not that its image
// lacks a probe program: nothing runs (the stack is down), or the
// service's container has stopped. Only when both probe programs fail to
// run is the image blamed, with what each exec said.
func TestProbeFromStoppedService(t *testing.T) {
	ctx := context.Background()
	c := parseControlConfig(t, "")
	sec, err := appliance.OpenSecretsReadOnly(c.DataDir())
	if err != nil {
		t.Fatal(err)
	}
	ok := func([]string) (int, string, error) { return 0, "ok", nil }
	rt := newExecRuntime(c.Appliance.Project, ok) // nothing runs
	_, _, err = NewControl(c, sec, rt).ProbeFrom(ctx, config.ServiceNotebook, "tcp", "x:1")
	if err == nil || strings.Contains(err.Error(), "neither /workload nor python3") ||
		!strings.Contains(err.Error(), `no service "notebook" is running: the stack is down`) || len(rt.ran) != 0 {
		t.Errorf("probing from a stack that is down: %v (ran %q)", err, rt.ran)
	}
	rt = &execRuntime{Runtime: supervisortest.New(supervisortest.Options{}), answer: ok}
	rt.Seed(c.Appliance.Project, supervisor.Spec{Name: config.ServiceNotebook, Image: "notebook:test"}, supervisor.Instance{State: supervisor.StateExited})
	_, _, err = NewControl(c, sec, rt).ProbeFrom(ctx, config.ServiceNotebook, "tcp", "x:1")
	if err == nil || strings.Contains(err.Error(), "neither /workload nor python3") ||
		!strings.Contains(err.Error(), "notebook is not running (exited)") || len(rt.ran) != 0 {
		t.Errorf("probing from a stopped container: %v (ran %q)", err, rt.ran)
	}
	neither := func(cmd []string) (int, string, error) {
		return 127, "", errors.New("exec " + cmd[0] + ": the program cannot run there")
	}
	rt = newExecRuntime(c.Appliance.Project, neither, config.ServiceNotebook)
	_, _, err = NewControl(c, sec, rt).ProbeFrom(ctx, config.ServiceNotebook, "tcp", "x:1")
	if err == nil || !strings.Contains(err.Error(), "notebook's image has neither /workload nor python3 to probe with") ||
		!strings.Contains(err.Error(), "exec /workload: the program cannot run there") || !strings.Contains(err.Error(), "exec python3: the program cannot run there") {
		t.Errorf("an image without a probe: %v", err)
	}
}
