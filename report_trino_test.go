package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	batchv1 "k8s.io/api/batch/v1"

	"moat/appliance/config"
	"moat/export/kubernetes"
	"moat/pki"
	"moat/trino"
	"moat/trino/trinotest"
)

// reportPodTrino is a coordinator as a report CronJob's pod sees it through
// its mesh upstream: HTTPS only on 127.0.0.1, a certificate from a CA the
// pod holds as a file, passwords checked, the orchestrator allowed to
// impersonate analyst and no one else.
type reportPodTrino struct {
	srv            *trinotest.Server
	caFile, pwFile string
	otherCA        string // a CA that did not sign the server's certificate
}

const fakeOrchestratorPassword = "fake-orchestrator-password-for-the-report-pod"

func newReportPodTrino(t *testing.T) *reportPodTrino {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	ca, _, err := pki.New("moat test CA", now)
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := pki.New("another CA", now)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.Issue(pki.Leaf{Name: "trino-coordinator", DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true, Client: true}, now)
	if err != nil {
		t.Fatal(err)
	}
	p := &reportPodTrino{caFile: filepath.Join(dir, "ca.pem"), otherCA: filepath.Join(dir, "other.pem"), pwFile: filepath.Join(dir, "password")}
	ks := filepath.Join(dir, "keystore.pem")
	for f, data := range map[string][]byte{ks: trino.KeystorePEM(cert, key, ca.CertPEM), p.caFile: ca.CertPEM, p.otherCA: other.CertPEM,
		p.pwFile: []byte(fakeOrchestratorPassword + "\n")} {
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pw, err := trino.PasswordFile([]trino.User{{Name: "orchestrator", Password: fakeOrchestratorPassword}}, 8)
	if err != nil {
		t.Fatal(err)
	}
	p.srv = trinotest.NewServer(trinotest.Options{Coordinator: true, PasswordFile: pw, Environment: "moat", NodeID: "trino-coordinator",
		SharedSecret: "fake-shared-secret-for-the-report-pod-test", HTTPDisabled: true, KeystorePath: ks, TruststorePath: p.caFile,
		InternalHTTPS: true, InternalKeystorePath: ks, InternalTruststorePath: p.caFile, DenyInsecureOverHTTP: true, PageSize: 10,
		Impersonation: []trinotest.ImpersonationRule{{OriginalUser: "orchestrator", NewUser: "analyst"}}})
	t.Cleanup(p.srv.Close)
	if !strings.HasPrefix(p.srv.URL, "https://127.0.0.1:") {
		t.Fatalf("trinotest URL %s: want HTTPS only", p.srv.URL)
	}
	return p
}

// reportPodConfig is the moat.toml a report CronJob mounts: the report
// definitions and data_dir, nothing of a stack.
const reportPodConfig = `[appliance]
data_dir = "state"

[[user]]
name = "analyst"

[[report]]
name = "nations"
sql = "SELECT n.name AS nation, n.nationkey FROM tpch.tiny.nation n ORDER BY n.nationkey"
run_as = "analyst"
`

// noDocker is a Docker socket that counts connections: the in-pod report
// mode must never open one.
func noDocker(t *testing.T) (env string, dials func() int64) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
	return "DOCKER_HOST=unix://" + sock, n.Load
}

// TestReportRunInPod runs `moat report run NAME --trino-url ...` as the
// exported CronJob does: from the command line, against a coordinator
// reached on a loopback port with TLS and the CA file, with no local
// stack, Docker or Consul. The report runs as its run_as user
// (impersonated by the orchestrator), its site lands under data_dir, and
// the password never shows.
func TestReportRunInPod(t *testing.T) {
	p := newReportPodTrino(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "moat.toml")
	if err := os.WriteFile(config, []byte(reportPodConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	dockerEnv, dials := noDocker(t)
	env := []string{dockerEnv, "CONSUL_HTTP_ADDR=127.0.0.1:1", "HTTPS_PROXY=http://127.0.0.1:1"}
	run := func(args ...string) (string, int) {
		return moatIn(t, t.TempDir(), env, append([]string{"report", "run", "nations", "--config", config}, args...)...)
	}

	// The sidecar's lifecycle endpoint, as consul-k8s serves it.
	var stops atomic.Int64
	sidecar := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/graceful_shutdown" {
			stops.Add(1)
		}
	}))
	defer sidecar.Close()
	stop := sidecar.URL + "/graceful_shutdown"

	// The exported CronJob's own arguments, with this test's files and
	// ports in place of the pod's.
	args := cronJobArgs(t, "nations")
	subst := map[string]string{"--config": config, "--trino-url": p.srv.URL, "--trino-ca": p.caFile,
		"--trino-password-file": p.pwFile, "--sidecar-shutdown": stop}
	for i := 0; i+1 < len(args); i++ {
		if v, ok := subst[args[i]]; ok {
			args[i+1] = v
			delete(subst, args[i])
		}
	}
	if len(subst) > 0 {
		t.Fatalf("the CronJob's arguments %v lack %v", args, subst)
	}
	out, code := moatIn(t, t.TempDir(), env, args...)
	if code != 0 || !strings.Contains(out, "report nations: 25 rows as analyst") {
		t.Fatalf("moat report run in pod mode: exit %d\n%s", code, out)
	}
	q, err := p.srv.WaitQuery(t.Context(), func(q trinotest.RecordedQuery) bool { return strings.Contains(q.SQL, "tpch.tiny.nation") })
	if err != nil || q.Principal != "orchestrator" || q.User != "analyst" || q.Source != "moat-report" || q.State != "FINISHED" {
		t.Errorf("the coordinator saw %+v (%v)", q, err)
	}
	sites, _ := filepath.Glob(filepath.Join(dir, "state", "reports", "nations", "*", "data.csv"))
	if len(sites) != 1 {
		t.Fatalf("report sites under data_dir: %v", sites)
	}
	csv, err := os.ReadFile(sites[0])
	if err != nil || !strings.Contains(string(csv), "ALGERIA") || strings.Count(string(csv), "\n") != 26 {
		t.Errorf("data.csv (%v):\n%s", err, csv)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(sites[0]), "index.html")); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "state", "moat.db")); err != nil {
		t.Errorf("the run is not recorded in data_dir: %v", err)
	}
	if n := dials(); n != 0 {
		t.Errorf("the in-pod mode connected to the Docker socket %d times", n)
	}
	if n := stops.Load(); n != 1 {
		t.Errorf("the sidecar was told to stop %d times, want once", n)
	}

	// Refused: a CA that did not sign Trino's certificate, a wrong password,
	// and missing or wrong flags, each named.
	wrongPW := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(wrongPW, []byte("not-the-password"), 0o600)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--trino-url", p.srv.URL, "--trino-ca", p.otherCA, "--trino-password-file", p.pwFile, "--sidecar-shutdown", stop}, []string{"certificate"}},
		{[]string{"--trino-url", p.srv.URL, "--trino-ca", p.caFile, "--trino-password-file", wrongPW}, []string{"report nations failed"}},
		{[]string{"--trino-url", p.srv.URL}, []string{"--trino-ca is missing", "--trino-password-file is missing"}},
		{[]string{"--trino-url", strings.Replace(p.srv.URL, "https:", "http:", 1), "--trino-ca", p.caFile, "--trino-password-file", p.pwFile}, []string{"invalid --trino-url", "want https://HOST:PORT"}},
		{[]string{"--trino-ca", p.caFile}, []string{"go with --trino-url"}},
		{[]string{"--trino-url", p.srv.URL, "--trino-ca", p.caFile, "--trino-password-file", p.pwFile, "--sidecar-shutdown", "http://example.com/x"}, []string{"invalid --sidecar-shutdown"}},
	} {
		out, code := run(tc.args...)
		if code == 0 {
			t.Errorf("%v: succeeded\n%s", tc.args, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q:\n%s", tc.args, w, out)
			}
		}
		if strings.Contains(out, fakeOrchestratorPassword) {
			t.Errorf("%v: the password is in the output", tc.args)
		}
	}
	if n := dials(); n != 0 {
		t.Errorf("the in-pod mode connected to the Docker socket %d times", n)
	}
	// A failed run stops the sidecar too: the Job must complete either way.
	if n := stops.Load(); n != 2 {
		t.Errorf("the sidecar was told to stop %d times after a failed run too, want 2 in all", n)
	}
}

// cronJobArgs are the arguments of report name's CronJob in the export of
// the embedded default config.
func cronJobArgs(t *testing.T, name string) []string {
	t.Helper()
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	files, err := kubernetes.Export(cfg, kubernetes.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(files[kubernetes.FileReports]))
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			t.Fatalf("no CronJob report-%s in reports.yaml: %v", name, err)
		}
		if doc["kind"] != "CronJob" {
			continue
		}
		b, _ := json.Marshal(doc)
		var cj batchv1.CronJob
		if err := json.Unmarshal(b, &cj); err != nil {
			t.Fatal(err)
		}
		if cj.Name == "report-"+name {
			c := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0]
			if len(c.Command) > 0 {
				t.Fatalf("the CronJob overrides the image's entrypoint: %v", c.Command)
			}
			return c.Args
		}
	}
}
