package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	trinoclient "github.com/trinodb/trino-go-client/trino"

	"moat/appliance"
	"moat/appliance/config"
	"moat/appliance/control"
	"moat/internal/testenv"
	"moat/report"
	"moat/state"
)

// meshStack is one test's copy of testdata/mesh-stack.toml: Consul, a
// trinotest coordinator and worker, a notebook stand-in and built-in
// sidecars on the real Docker Engine.
//
// With official set, the image overrides are dropped: the stack runs the
// official Trino, Consul and Jupyter images of the embedded default (make e2e).
func newMeshStack(t testing.TB, official bool) *testStack {
	t.Helper()
	base, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "testdata", "mesh-stack.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if official {
		base = regexp.MustCompile(`(?m)^(consul_image|image|command|health_check) = .*$`).ReplaceAll(base, nil)
		base = []byte(strings.Replace(string(base), `pull = "never"`, `pull = "missing"`, 1))
		base = []byte(strings.Replace(string(base), `start_timeout = "90s"`, `start_timeout = "5m"`, 1))
		base = []byte(strings.Replace(string(base), "[mesh]\n", "[mesh]\nproxy = \"envoy\"\n", 1))
	} else {
		for _, img := range []string{testenv.WorkloadImage, testenv.ConsulImage, testenv.TrinotestImage, testenv.NotebookImage} {
			testenv.RequireImage(t, img)
		}
	}
	dir := t.TempDir()
	s := &testStack{t: t, project: fmt.Sprintf("mm%d", rand.IntN(1e8)), dataDir: filepath.Join(dir, "data")}
	n := meshSubnetIndex()
	cfg := strings.NewReplacer(
		`project = "moat-mesh"`, fmt.Sprintf("project = %q", s.project),
		`data_dir = "../.moat-mesh"`, fmt.Sprintf("data_dir = %q", s.dataDir),
		"127.0.0.1:17701", fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
		"https_port = 18501", fmt.Sprintf("https_port = %d", testenv.FreePort(t)),
		"coordinator_port = 21100", fmt.Sprintf("coordinator_port = %d", testenv.FreePort(t)),
		"notebook_sidecar_port = 21101", fmt.Sprintf("notebook_sidecar_port = %d", testenv.FreePort(t)),
		"workstation_port = 21102", fmt.Sprintf("workstation_port = %d", testenv.FreePort(t)),
		"port = 18888", fmt.Sprintf("port = %d", testenv.FreePort(t)),
		"172.28.10.0/24", fmt.Sprintf("172.28.%d.0/24", n),
		"172.29.10.0/24", fmt.Sprintf("172.29.%d.0/24", n),
	).Replace(string(base))
	s.config = filepath.Join(dir, "moat.toml")
	if err := os.WriteFile(s.config, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.cleanup)
	return s
}

// meshSubnets hands each mesh stack of this test process a third octet of
// its own (172.28.N and 172.29.N): the mesh-stack tests run in parallel. A
// random start keeps two test processes apart too, most of the time.
var meshSubnets = struct {
	sync.Mutex
	next int
}{next: rand.IntN(200)}

func meshSubnetIndex() int {
	meshSubnets.Lock()
	defer meshSubnets.Unlock()
	meshSubnets.next = (meshSubnets.next + 1) % 200
	return meshSubnets.next + 20
}

// consul is a management client of the stack's Consul (for changes made
// behind moat's back).
func (s *testStack) consul() *api.Client {
	s.t.Helper()
	cfg, err := config.Load(s.config)
	if err != nil {
		s.t.Fatal(err)
	}
	sec, err := appliance.OpenSecrets(cfg.DataDir())
	if err != nil {
		s.t.Fatal(err)
	}
	c, err := control.NewControl(cfg, sec, nil).Consul()
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

func setIntention(t *testing.T, c *api.Client, src, dst, action string) {
	t.Helper()
	entry, _, err := c.ConfigEntries().Get(api.ServiceIntentions, dst, nil)
	var si *api.ServiceIntentionsConfigEntry
	if err == nil {
		si = entry.(*api.ServiceIntentionsConfigEntry)
	} else {
		si = &api.ServiceIntentionsConfigEntry{Kind: api.ServiceIntentions, Name: dst}
	}
	var kept []*api.SourceIntention
	for _, src0 := range si.Sources {
		if src0.Name != src {
			kept = append(kept, src0)
		}
	}
	si.Sources = append(kept, &api.SourceIntention{Name: src, Action: api.IntentionAction(action), Type: api.IntentionSourceConsul})
	if _, _, err := c.ConfigEntries().Set(si, nil); err != nil {
		t.Fatal(err)
	}
}

func TestMeshStack(t *testing.T) {
	t.Parallel() // with the other mesh-stack tests: each has its own subnets and ports
	checkMeshStack(t, newMeshStack(t, false))
}

// checkMeshStack brings the zero-trust stack up and proves its claims.
func checkMeshStack(t *testing.T, s *testStack) {
	out := s.mustMoat("up", "-d")
	if !strings.Contains(out, "all 6 services are up") {
		t.Fatalf("up:\n%s", out)
	}
	// up ends with the dashboard, the notebook and `moat connect`'s first
	// line, and the endpoint that line names already answers.
	connect := strings.SplitN(s.mustMoat("connect"), "\n", 2)[0]
	for _, want := range []string{"  dashboard   http://", "  notebook    http://127.0.0.1:", "  tools       " + connect} {
		if !strings.Contains(out, want) {
			t.Errorf("up's output lacks %q:\n%s", want, out)
		}
	}
	scanForSecrets(t, s, "after up")

	t.Run("query through the mesh", func(t *testing.T) {
		// As analyst: the orchestrator itself has no data access.
		out := s.mustMoat("query", "--user", "analyst", "SELECT count(*) FROM tpch.tiny.nation")
		if lines := strings.Fields(out); len(lines) != 2 || lines[1] != "25" {
			t.Errorf("query output %q, want a header and 25", out)
		}
		out = s.mustMoat("query", "--user", "analyst", "--format", "json", "SELECT current_user AS u")
		if strings.TrimSpace(out) != `{"u":"analyst"}` {
			t.Errorf("impersonated query ran as %q, want analyst", out)
		}
	})

	t.Run("the notebook reaches trino only at its localhost upstream", func(t *testing.T) {
		// Trino's own TLS, verified by the notebook's python3 against moat's
		// CA (SSL_CERT_FILE in its environment): no insecure flag.
		url := "https://127.0.0.1:8080/v1/info"
		probe := func() (string, error) {
			out, err := exec.Command("docker", "exec", s.project+"-notebook", "python3", "-c",
				"import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=3); print('ok')", url).CombinedOutput()
			return string(out), err
		}
		if out, err := probe(); err != nil || !strings.Contains(out, "ok") {
			t.Fatalf("notebook → 127.0.0.1:8080 (its sidecar's upstream): %v %s", err, out)
		}
		setIntention(t, s.consul(), "notebook", "trino-coordinator", "deny")
		testenv.Eventually(t, 30*time.Second, 200*time.Millisecond, "the deny takes effect without a restart", func() error {
			if out, err := probe(); err == nil {
				return fmt.Errorf("still allowed: %s", out)
			}
			return nil
		})
		setIntention(t, s.consul(), "notebook", "trino-coordinator", "allow")
		testenv.Eventually(t, 30*time.Second, 200*time.Millisecond, "the allow takes effect again", func() error {
			if out, err := probe(); err != nil {
				return fmt.Errorf("%v %s", err, out)
			}
			return nil
		})
	})

	t.Run("the sample notebook runs in the real Jupyter, through the mesh", func(t *testing.T) {
		// As analyst (25 real nations) and as carol (masked and filtered).
		checkSampleNotebook(t, s)
	})

	t.Run("tools on the host reach Trino through the workstation endpoint", func(t *testing.T) { checkWorkstation(t, s) })

	t.Run("moat.toml's intentions apply live", func(t *testing.T) {
		orig, err := os.ReadFile(s.config)
		if err != nil {
			t.Fatal(err)
		}
		deny := "\n[[intention]]\nsource = \"orchestrator\"\ndestination = \"trino-coordinator\"\naction = \"deny\"\n"
		if err := os.WriteFile(s.config, append(orig, deny...), 0o644); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 30*time.Second, 200*time.Millisecond, "the declared deny is applied", func() error {
			if out, err := s.moat("query", "SELECT 1"); err == nil {
				return fmt.Errorf("query still allowed: %s", out)
			}
			return nil
		})
		// Removing the entry removes the intention.
		if err := os.WriteFile(s.config, orig, 0o644); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 30*time.Second, 200*time.Millisecond, "the deny is gone", func() error {
			_, err := s.moat("query", "SELECT 1")
			return err
		})
	})

	t.Run("the control plane is sealed", func(t *testing.T) { checkSealed(t, s) })
	t.Run("a local user of the host has no path to a Trino node's private address", func(t *testing.T) { checkNoHostPathToTrino(t, s) })

	t.Run("impersonation without a rule is refused", func(t *testing.T) {
		out, err := s.moat("query", "--user", "carol", "SELECT 1")
		if err == nil || !strings.Contains(out, "cannot impersonate user carol") {
			t.Errorf("carol: %v\n%s", err, out)
		}
	})

	t.Run("status shows the sidecars", func(t *testing.T) {
		st := s.status()
		var names []string
		for _, ss := range st.Services {
			if ss.Health != "healthy" && ss.Phase != "healthy" && ss.Phase != "running" {
				t.Errorf("%s: %+v", ss.Name, ss)
			}
			names = append(names, ss.Name)
		}
		if got := strings.Join(names, " "); !strings.Contains(got, "trino-coordinator-sidecar") || !strings.Contains(got, "notebook-sidecar") {
			t.Errorf("services %s", got)
		}
	})

	t.Run("verify", func(t *testing.T) {
		out, err := s.moat("verify")
		if err != nil {
			// A path from an application to Consul has been seen once in
			// many runs (with other stacks making networks at the same
			// time): keep the host's view of Docker's isolation for it.
			logIsolation(t)
			t.Fatalf("moat verify: %v\n%s", err, out)
		}
		for _, want := range []string{"every claim holds",
			"ok   moat's certificate, no token → consul intentions (write): expected deny, observed deny (403 Forbidden)",
			"ok   anonymous (no client certificate) → consul intentions (write): expected deny, observed deny (TLS refused",
			"ok   notebook (intruder) → tcp consul:8500: expected deny, observed deny",
			"ok   trino-worker-1 (intruder) → tcp 127.0.0.1:8502: expected deny",
			"ok   host (intruder) → tls 127.0.0.1:",
			"/v1/agent/connect/ca/leaf/orchestrator: expected deny, observed deny",
			"ok   consul intentions → drift from moat.toml: expected deny, observed none",
			// No host path to a node's private address, and none of the
			// notebook's packets to one sent off the machine.
			"ok   host (intruder) → a path to trino-worker-1 at 172.29.",
			"ok   notebook (intruder) → tcp 172.29.",
			"(not sent: notebook reaches 172.29.",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("verify lacks %q:\n%s", want, out)
			}
		}
		// An allow no probe can observe (the worker has no sidecar), written
		// with the management token behind moat's back, is drift.
		setIntention(t, s.consul(), "notebook", "trino-worker-1", "allow")
		out, err = s.moat("verify")
		if err == nil || !strings.Contains(out, "FAIL consul intentions → allow notebook → trino-worker-1: expected deny, observed drift (in Consul but not declared") {
			t.Errorf("verify after an unobservable extra allow: %v\n%s", err, out)
		}
		if _, err := s.consul().ConfigEntries().Delete(api.ServiceIntentions, "trino-worker-1", nil); err != nil {
			t.Fatal(err)
		}
		// An extra allow written behind moat's back is caught twice: by the
		// connection that now flows, and as drift.
		setIntention(t, s.consul(), "trino-coordinator", "notebook", "allow")
		out, err = s.moat("verify")
		if err == nil || !strings.Contains(out, "verify found 2 differences") || !strings.Contains(out, "trino-coordinator → notebook, consul intentions → allow trino-coordinator → notebook") {
			t.Errorf("verify after an extra allow: %v\n%s", err, out)
		}
		if _, err := s.consul().ConfigEntries().Delete(api.ServiceIntentions, "notebook", nil); err != nil {
			t.Fatal(err)
		}
		if out, err := s.moat("verify"); err != nil {
			t.Errorf("verify once the extra intentions are gone: %v\n%s", err, out)
		}
	})

	t.Run("report runs as its user", func(t *testing.T) {
		out := s.mustMoat("report", "run", "nations")
		if !strings.Contains(out, "report nations: 25 rows as analyst") {
			t.Fatalf("report run:\n%s", out)
		}
		runs, err := report.ListRuns(filepath.Join(s.dataDir, "reports"), "nations")
		if err != nil || len(runs) != 1 || runs[0].Rows != 25 || runs[0].Status != "ok" {
			t.Fatalf("runs %+v, %v", runs, err)
		}
		meta, _ := json.Marshal(runs[0])
		if !strings.Contains(string(meta), `"analyst"`) {
			t.Errorf("meta %s", meta)
		}
	})

	t.Run("the server runs a report as its run_as user", func(t *testing.T) {
		s.mustMoat("report", "run", "whoami", "--raw-csv")
		runs, err := report.ListRuns(filepath.Join(s.dataDir, "reports"), "whoami")
		if err != nil || len(runs) != 1 {
			t.Fatalf("runs %+v, %v", runs, err)
		}
		if raw, err := os.ReadFile(filepath.Join(s.dataDir, "reports", "whoami", runs[0].RunKey, "data-raw.csv")); err != nil || !strings.Contains(string(raw), "analyst") {
			t.Errorf("--raw-csv: data-raw.csv = %q, %v", raw, err)
		}
		csv, err := os.ReadFile(filepath.Join(s.dataDir, "reports", "whoami", runs[0].RunKey, "data.csv"))
		if err != nil || strings.TrimSpace(string(csv)) != "who\nanalyst" && strings.TrimSpace(string(csv)) != "who\r\nanalyst" {
			t.Errorf("whoami data.csv = %q, %v; want the session user analyst", csv, err)
		}
	})

	t.Run("queries are recorded without secrets", func(t *testing.T) {
		st, err := state.Open(filepath.Join(s.dataDir, state.FileName))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		qs, err := st.Queries(context.Background(), 0)
		if err != nil || len(qs) < 3 {
			t.Fatalf("%d queries recorded, %v", len(qs), err)
		}
		secrets, _ := os.ReadFile(filepath.Join(s.dataDir, appliance.SecretsFile))
		var users []string
		for _, q := range qs {
			users = append(users, q.User+":"+q.Outcome)
			for _, line := range strings.Split(string(secrets), "\n") {
				if _, v, ok := strings.Cut(line, " = "); ok && len(v) > 10 && strings.Contains(fmt.Sprintf("%+v", q), strings.Trim(v, `"`)) {
					t.Errorf("a recorded query holds a secret: %+v", q)
				}
			}
		}
		if got := strings.Join(users, " "); !strings.Contains(got, "analyst:ok") || !strings.Contains(got, "carol:failed") {
			t.Errorf("recorded users/outcomes: %s", got)
		}
	})

	t.Run("the dashboard shows the running stack", func(t *testing.T) {
		cfg, err := config.Load(s.config)
		if err != nil {
			t.Fatal(err)
		}
		token := strings.TrimSpace(s.mustMoat("secrets", "show", "dashboard"))
		get := func(path string, v any) {
			t.Helper()
			req, _ := http.NewRequest(http.MethodGet, "http://"+cfg.Dashboard.Listen+path, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %s", path, resp.Status)
			}
			if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
		}
		var snap struct {
			Services []struct {
				Name, Kind, Phase string
				SidecarOf         string `json:"sidecar_of"`
			} `json:"services"`
			Intentions []struct{ Source, Destination, Action string } `json:"intentions"`
			Verify     []struct {
				Source, Destination string
				OK                  bool
			} `json:"verify"`
		}
		get("/api/snapshot", &snap)
		kinds := map[string]string{}
		for _, sv := range snap.Services {
			kinds[sv.Name] = sv.Kind + ":" + sv.Phase + ":" + sv.SidecarOf
		}
		for name, want := range map[string]string{
			"trino-coordinator": "app:healthy:", "notebook-sidecar": "sidecar:healthy:notebook", "orchestrator": "moat:running:",
		} {
			if kinds[name] != want {
				t.Errorf("snapshot: %s is %q, want %q (all: %v)", name, kinds[name], want, kinds)
			}
		}
		if len(snap.Intentions) < 3 || len(snap.Verify) < 5 {
			t.Errorf("snapshot: %d intentions, %d verify results", len(snap.Intentions), len(snap.Verify))
		}
		var reports []struct {
			Name string
			Runs []struct{ Status string } `json:"runs"`
		}
		get("/api/reports", &reports)
		if len(reports) != 2 || len(reports[0].Runs) == 0 || reports[0].Runs[0].Status != "ok" {
			t.Errorf("reports: %+v", reports)
		}
	})

	t.Run("a deny intention stops moat's own queries and says so", func(t *testing.T) {
		setIntention(t, s.consul(), "orchestrator", "trino-coordinator", "deny")
		out, err := s.moat("query", "SELECT 1")
		setIntention(t, s.consul(), "orchestrator", "trino-coordinator", "allow")
		if err == nil || !strings.Contains(out, "no intention allows orchestrator → trino-coordinator") {
			t.Errorf("query with the intention denied: %v\n%s", err, out)
		}
	})

	t.Run("a wrong password is refused", func(t *testing.T) {
		path := filepath.Join(s.dataDir, appliance.SecretsFile)
		orig, _ := os.ReadFile(path)
		sec, _ := appliance.OpenSecrets(s.dataDir)
		real, _ := sec.Get(appliance.SecretOrchestrator)
		sec.Set(appliance.SecretOrchestrator, "not-the-password")
		if err := sec.Save(); err != nil {
			t.Fatal(err)
		}
		out, err := s.moat("query", "SELECT 1")
		os.WriteFile(path, orig, 0o600)
		if err == nil || !strings.Contains(out, "Invalid credentials") || strings.Contains(out, "not-the-password") || strings.Contains(out, real) {
			t.Errorf("wrong password: %v\n%s", err, out)
		}
	})

	if out := s.mustMoat("logs", "trino-coordinator", "--tail", "50"); !strings.Contains(out, "SERVER STARTED") {
		t.Errorf("moat logs trino-coordinator:\n%s", out)
	}
	checkCapture(t, s) // verify --capture (verify_capture_test.go)
	// A sidecar killed from outside fails and is restarted: its failure,
	// the restart and its new exec records carry no secret either.
	if out, err := exec.Command("docker", "kill", s.project+"-notebook-sidecar").CombinedOutput(); err != nil {
		t.Fatalf("docker kill: %v %s", err, out)
	}
	testenv.Eventually(t, 60*time.Second, 250*time.Millisecond, "the killed sidecar is healthy again", func() error {
		if ss := s.service("notebook-sidecar"); ss.Phase != "healthy" || ss.Restarts < 1 {
			return fmt.Errorf("notebook-sidecar %+v", ss)
		}
		return nil
	})
	scanForSecrets(t, s, "after a sidecar failure")
	s.mustMoat("down")
	scanForSecrets(t, s, "after down")
	if left := s.labelled("container") + s.labelled("network"); left != "" {
		t.Errorf("down left %s", left)
	}
	// The worker was drained (Trino's graceful shutdown exits 0; a stop
	// signal would have ended it with 143).
	logText, _ := os.ReadFile(filepath.Join(s.dataDir, "moat.log"))
	// No secret reaches the background moat's log; `up` shows the user only
	// the dashboard's login URL.
	secrets, _ := appliance.OpenSecrets(s.dataDir)
	for _, name := range secrets.Names() {
		v, _ := secrets.Get(name)
		if len(v) < 12 {
			continue
		}
		if strings.Contains(string(logText), v) {
			t.Errorf("secret %s appears in moat's log", name)
		}
		if name != appliance.SecretDashboard && strings.Contains(out, v) {
			t.Errorf("secret %s appears in the output of up", name)
		}
	}
	if !regexp.MustCompile(`trino-worker-1 +stopped +stopped \(exit code 0\)`).Match(logText) {
		t.Errorf("the worker was not drained gracefully; the supervisor's log:\n%s", logText)
	}
}

// checkSealed attacks the control plane as code in the notebook, code in a
// Trino node and another user of the host would.
func checkSealed(t *testing.T, s *testStack) {
	cfg, err := config.Load(s.config)
	if err != nil {
		t.Fatal(err)
	}
	services := []string{"orchestrator", "notebook", "trino-coordinator"}
	published := fmt.Sprintf("127.0.0.1:%d", cfg.Mesh.HTTPSPort)
	t.Run("from the host, no leaf without moat's client certificate (cached ones included)", func(t *testing.T) {
		anon := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		for _, svc := range services {
			for _, url := range []string{"https://" + published + "/v1/agent/connect/ca/leaf/" + svc, "http://" + published + "/v1/agent/connect/ca/leaf/" + svc} {
				// Plain HTTP gets Go's "HTTP request to an HTTPS server" 400.
				if resp, err := anon.Get(url); err == nil {
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusBadRequest || strings.Contains(string(body), "PrivateKeyPEM") {
						t.Errorf("GET %s without a client certificate: %s %.120s", url, resp.Status, body)
					}
				}
			}
		}
	})
	t.Run("moat's certificate and token are served; ACLs still refuse a tokenless call", func(t *testing.T) {
		c := s.consul()
		if leader, err := c.Status().Leader(); err != nil || leader == "" {
			t.Errorf("leader over the sealed API: %q %v", leader, err)
		}
		sec, _ := appliance.OpenSecrets(s.dataDir)
		ctl := control.NewControl(cfg, sec, nil)
		conf, err := ctl.ConsulTLSConfig()
		if err != nil {
			t.Fatal(err)
		}
		certOnly := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: conf}}
		resp, err := certOnly.Get("https://" + published + "/v1/acl/token/self")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("the ACL API answers without a token")
		}
	})
	intruders := map[string][]string{
		"notebook": {"docker", "run", "--rm", "--network", "container:" + s.project + "-notebook", testenv.WorkloadImage},
		// a Trino node has no tools: a container sharing its namespace
		"trino-coordinator": {"docker", "run", "--rm", "--network", "container:" + s.project + "-trino-coordinator", testenv.WorkloadImage},
		"trino-worker-1":    {"docker", "run", "--rm", "--network", "container:" + s.project + "-trino-worker-1", testenv.WorkloadImage},
	}
	for who, cmd := range intruders {
		t.Run("no Consul port answers from inside "+who, func(t *testing.T) {
			for _, host := range []string{"consul", "127.0.0.1", config.PlanAddresses(cfg).Consul.String()} {
				for _, port := range []int{8500, 8501, 8502, 8503, 8300, 8301, 8302, 8600} {
					target := fmt.Sprintf("%s:%d", host, port)
					out, err := exec.Command(cmd[0], append(cmd[1:], "dial", "-timeout", "1s", target)...).CombinedOutput()
					if err == nil || strings.Contains(string(out), "connected but no echo") {
						t.Errorf("%s reaches Consul at %s: %s", who, target, out)
					}
				}
			}
			out, err := exec.Command(cmd[0], append(cmd[1:], "probe", "-timeout", "2s", "http://consul:8500/v1/agent/connect/ca/leaf/orchestrator")...).CombinedOutput()
			if err == nil {
				t.Errorf("%s took orchestrator's leaf: %s", who, out)
			}
		})
	}
	t.Run("the sockets and tokens are in the sidecars' filesystems only", func(t *testing.T) {
		// The intruder in the notebook looks where the sidecar keeps them.
		py := `import os, sys
for p in ("/consul/token", "/consul/run/http.sock", "/consul/run/grpc.sock", "/consul/config/tokens/notebook"):
    if os.path.exists(p):
        sys.exit("visible: " + p)
print("none visible")`
		if out, err := exec.Command("docker", "exec", s.project+"-notebook", "python3", "-c", py).CombinedOutput(); err != nil || !strings.Contains(string(out), "none visible") {
			t.Errorf("from inside the notebook: %v %s", err, out)
		}
		for _, name := range []string{"notebook", "trino-coordinator", "trino-worker-1"} {
			out, _ := exec.Command("docker", "inspect", "-f", "{{json .Mounts}}", s.project+"-"+name).CombinedOutput()
			if strings.Contains(string(out), "consul-run") {
				t.Errorf("application %s mounts Consul's socket volume: %s", name, out)
			}
		}
		for _, name := range []string{"notebook-sidecar", "trino-coordinator-sidecar"} {
			out, _ := exec.Command("docker", "inspect", "-f", "{{json .Mounts}}{{json .Config.Env}}{{json .Args}}", s.project+"-"+name).CombinedOutput()
			if !strings.Contains(string(out), "consul-run") {
				t.Errorf("sidecar %s lacks Consul's socket volume: %s", name, out)
			}
			token := strings.TrimSpace(s.mustMoat("secrets", "show", "consul_token_"+strings.ReplaceAll(strings.TrimSuffix(name, "-sidecar"), "-", "_")))
			if len(token) < 20 || strings.Contains(string(out), token) {
				t.Errorf("sidecar %s's token is in its environment or argv (or unknown: %q)", name, token)
			}
		}
	})
}

// hostEndpoint is what a tool on the host is given: `moat connect`'s
// settings and a pool holding moat's CA file, nothing else.
func (s *testStack) hostEndpoint() (ConnectSettings, *x509.CertPool) {
	s.t.Helper()
	var cs ConnectSettings
	if err := json.Unmarshal([]byte(s.mustMoat("connect", "--json")), &cs); err != nil {
		s.t.Fatal(err)
	}
	caPEM, err := os.ReadFile(cs.CAFile)
	if err != nil {
		s.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return cs, pool
}

// checkWorkstation connects as a tool on the host would: the official Go
// client, moat's CA file, a user's password, and nothing else.
func checkWorkstation(t *testing.T, s *testStack) {
	cs, pool := s.hostEndpoint()
	password := strings.TrimSpace(s.mustMoat("secrets", "show", "user_analyst"))
	query := func(pw string) (int, error) {
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		u, _ := url.Parse(cs.URL)
		u.User = url.UserPassword(cs.User, pw)
		if err := trinoclient.RegisterCustomClient("moat-test-workstation", client); err != nil {
			return 0, err
		}
		defer trinoclient.DeregisterCustomClient("moat-test-workstation")
		db, err := sql.Open("trino", u.String()+"?custom_client=moat-test-workstation")
		if err != nil {
			return 0, err
		}
		defer db.Close()
		var n int
		err = db.QueryRow("SELECT count(*) FROM tpch.tiny.nation").Scan(&n)
		return n, err
	}
	if n, err := query(password); err != nil || n != 25 {
		t.Fatalf("through %s with the CA only: %d, %v", cs.URL, n, err)
	}
	if _, err := query("not-the-password"); err == nil || !strings.Contains(err.Error(), "Invalid credentials") {
		t.Errorf("a wrong password through the endpoint: %v; want Trino's Invalid credentials", err)
	}
	setIntention(t, s.consul(), "workstation", "trino-coordinator", "deny")
	_, err := query(password)
	setIntention(t, s.consul(), "workstation", "trino-coordinator", "allow")
	if err == nil {
		t.Error("the endpoint still answers with workstation → trino-coordinator denied")
	}
	if !strings.Contains(cs.JDBC, "SSLTrustStorePath="+cs.CAFile) || strings.Contains(s.mustMoat("connect"), password) {
		t.Errorf("connect settings: %+v (and the password must never be printed)", cs)
	}
}

// checkNoHostPathToTrino is a local user of the host looking for a way to a
// Trino node's private address, around the intentions: the kernel's route
// to each node (`ip route get` sends nothing) must not lead to a local
// bridge. Only where it does (the address is local then) does it try TLS to
// the node's port; elsewhere a packet would leave the machine.
func checkNoHostPathToTrino(t *testing.T, s *testStack) {
	cfg, err := config.Load(s.config)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("ip"); err != nil {
		testenv.Missing(t, "the ip command (iproute2) to ask the kernel for routes: apt-get install iproute2")
	}
	addr := config.PlanAddresses(cfg)
	for _, ip := range append([]netip.Addr{addr.Coordinator}, addr.Workers...) {
		out, err := exec.Command("ip", "-4", "-o", "route", "get", ip.String()).CombinedOutput()
		route := strings.TrimSpace(string(out))
		if err != nil {
			t.Logf("ip route get %s: %v %s (no route at all)", ip, err, route)
			continue
		}
		f := strings.Fields(route)
		dev := ""
		for i := range len(f) - 1 {
			if f[i] == "dev" {
				dev = f[i+1]
			}
		}
		if _, err := os.Stat("/sys/class/net/" + dev + "/bridge"); err != nil {
			t.Logf("the host reaches %s only off the machine: %s", ip, route)
			continue
		}
		t.Errorf("the host routes %s to the local bridge %s: %s", ip, dev, route)
		target := net.JoinHostPort(ip.String(), strconv.Itoa(config.TrinoHTTPSPort))
		d := &net.Dialer{Timeout: 3 * time.Second}
		c, err := tls.DialWithDialer(d, "tcp", target, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Logf("TLS to %s: %v", target, err)
			continue
		}
		t.Errorf("a local user opens TLS to the Trino node at %s, bypassing the intentions (server certificate %s)",
			target, c.ConnectionState().PeerCertificates[0].Subject)
		c.Close()
	}
}

// logIsolation logs the host's bridge isolation (Docker's iptables chains,
// routes, networks) for a verify that found an application reaching
// somewhere it should not.
func logIsolation(t *testing.T) {
	t.Helper()
	for _, args := range [][]string{
		{"iptables", "-S", "FORWARD"}, {"iptables", "-S", "DOCKER-ISOLATION-STAGE-1"}, {"iptables", "-S", "DOCKER-ISOLATION-STAGE-2"},
		{"iptables", "-S", "DOCKER-USER"}, {"ip", "route"}, {"docker", "network", "ls"},
	} {
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		t.Logf("$ %s (%v)\n%s", strings.Join(args, " "), err, out)
	}
}
