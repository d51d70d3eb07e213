package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"moat/internal/testenv"
	"moat/state"
)

// These tests drive the real moat binary against the real Docker Engine with
// the FROM-scratch workload image (`make test-images`).

var moatBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "moat-bin")
	if err != nil {
		panic(err)
	}
	moatBin = filepath.Join(dir, "moat")
	args := []string{"build", "-o", moatBin}
	// Static, as `make build` makes it: `moat verify` runs the binary itself
	// in a FROM-scratch probe container.
	cgo := "CGO_ENABLED=0"
	if os.Getenv("MOAT_TEST_RACE") != "" { // the binary under the race detector (needs cgo)
		args, cgo = append(args, "-race"), "CGO_ENABLED=1"
	}
	build := exec.Command("go", append(args, ".")...)
	build.Env = append(os.Environ(), cgo)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building moat: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testStack is one test's copy of testdata/test-stack.toml with its own
// project, data dir and host port.
type testStack struct {
	t       testing.TB
	config  string
	project string
	dataDir string
	apiPort int
	// env, when set, is the environment of every moat the test runs (and
	// so of the background supervisor); nil inherits the test's.
	env []string
}

func newTestStack(t *testing.T, extra string) *testStack {
	t.Helper()
	testenv.RequireImage(t, testenv.WorkloadImage)
	dir := t.TempDir()
	s := &testStack{t: t, project: fmt.Sprintf("mt%d", rand.IntN(1e8)), dataDir: filepath.Join(dir, "data"), apiPort: testenv.FreePort(t)}
	s.config = filepath.Join(dir, "moat.toml")
	writeStackConfig(t, s.config, s.project, s.dataDir, s.apiPort, extra)
	t.Cleanup(s.cleanup)
	return s
}

// moat runs the binary with --config and returns its combined output.
func (s *testStack) moat(args ...string) (string, error) { return runMoatEnv(s.config, s.env, args...) }

// runMoat runs the moat binary with --config and returns its combined
// output, bounded in time.
func runMoat(config string, args ...string) (string, error) { return runMoatEnv(config, nil, args...) }

// runMoatEnv is runMoat with the environment env (nil: the test's).
func runMoatEnv(config string, env []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, moatBin, append(args, "--config", config)...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (s *testStack) mustMoat(args ...string) string {
	s.t.Helper()
	out, err := s.moat(args...)
	if err != nil {
		s.t.Fatalf("moat %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (s *testStack) status() Status {
	s.t.Helper()
	var st Status
	if err := json.Unmarshal([]byte(s.mustMoat("status", "--json")), &st); err != nil {
		s.t.Fatal(err)
	}
	return st
}

func (s *testStack) service(name string) ServiceStatus {
	s.t.Helper()
	for _, ss := range s.status().Services {
		if ss.Name == name {
			return ss
		}
	}
	s.t.Fatalf("no service %s in status", name)
	return ServiceStatus{}
}

// docker runs the docker CLI (an independent witness of the engine's state).
func dockerCLI(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func (s *testStack) labelled(kind string) string {
	s.t.Helper()
	args := map[string][]string{
		"container": {"ps", "-aq"}, "network": {"network", "ls", "-q"}, "volume": {"volume", "ls", "-q"},
	}[kind]
	return dockerCLI(s.t, append(args, "--filter", "label=dev.moat.project="+s.project)...)
}

func (s *testStack) cleanup() {
	s.moat("down", "--volumes")
	// With MOAT_TEST_RACE the background supervisor reports races here.
	if log, err := os.ReadFile(filepath.Join(s.dataDir, "moat.log")); err == nil && bytes.Contains(log, []byte("DATA RACE")) {
		s.t.Errorf("the background moat hit a data race:\n%s", log)
	}
	if left := s.labelled("container") + s.labelled("network") + s.labelled("volume"); left != "" {
		s.t.Errorf("objects of %s left after the test: %s", s.project, left)
	}
}

func (s *testStack) transitions() []state.Transition {
	s.t.Helper()
	st, err := state.Open(filepath.Join(s.dataDir, state.FileName))
	if err != nil {
		s.t.Fatal(err)
	}
	defer st.Close()
	ts, err := st.Transitions(context.Background(), "", 0)
	if err != nil {
		s.t.Fatal(err)
	}
	return ts
}

// firstAt is when service first moved to phase.
func firstAt(t *testing.T, ts []state.Transition, service, phase string) time.Time {
	t.Helper()
	var at time.Time
	for _, tr := range ts { // newest first: keep the last match
		if tr.Service == service && tr.To == phase {
			at = tr.At
		}
	}
	if at.IsZero() {
		t.Fatalf("%s never became %s", service, phase)
	}
	return at
}

func TestUpStartsInDependencyOrderAndInParallel(t *testing.T) {
	s := newTestStack(t, "")
	out := s.mustMoat("up", "-d")
	if !strings.Contains(out, "all 4 services are up") {
		t.Fatalf("up -d output:\n%s", out)
	}
	ts := s.transitions()
	apiStart := firstAt(t, ts, "api", "starting")
	for _, dep := range []struct{ service, phase string }{{"db", "healthy"}, {"cache", "healthy"}, {"migrate", "completed"}} {
		if at := firstAt(t, ts, dep.service, dep.phase); at.After(apiStart) {
			t.Errorf("api started at %s, before %s was %s (%s)", apiStart, dep.service, dep.phase, at)
		}
	}
	if firstAt(t, ts, "migrate", "running").Before(firstAt(t, ts, "db", "healthy")) {
		t.Error("migrate started before db was healthy")
	}
	// db and cache are independent: each started before the other was healthy.
	if !firstAt(t, ts, "db", "starting").Before(firstAt(t, ts, "cache", "healthy")) ||
		!firstAt(t, ts, "cache", "starting").Before(firstAt(t, ts, "db", "healthy")) {
		t.Error("db and cache did not start in parallel")
	}
	resp := dockerCLI(t, "exec", s.project+"-db", "/workload", "probe", fmt.Sprintf("http://api:8080/health"))
	if resp != "ok" {
		t.Errorf("api is not reachable by name from db: %s", resp)
	}
	s.mustMoat("down")
	if left := s.labelled("container") + s.labelled("network"); left != "" {
		t.Errorf("down left: %s", left)
	}
}

func TestRestartAfterDockerKill(t *testing.T) {
	s := newTestStack(t, "")
	s.mustMoat("up", "-d")
	before := s.service("api")
	dockerCLI(t, "kill", s.project+"-api")
	testenv.Eventually(t, 60*time.Second, 200*time.Millisecond, "api restarted and healthy", func() error {
		api := s.service("api")
		if api.Restarts != 1 || api.Health != "healthy" || api.State != "running" {
			return fmt.Errorf("api: %+v", api)
		}
		return nil
	})
	if after := s.service("api"); after.InstanceID != before.InstanceID {
		t.Errorf("restart replaced the container: %s → %s", before.InstanceID, after.InstanceID)
	}
}

func TestCrashLoopIsShownAndRetriedLater(t *testing.T) {
	s := newTestStack(t, `
[[service]]
name = "crasher"
image = "moat-test/workload:dev"
command = ["-name", "crasher", "-exit-after", "300ms", "-exit-code", "3"]
restart = "always"
`)
	s.mustMoat("up", "-d")
	testenv.Eventually(t, 60*time.Second, 200*time.Millisecond, "crasher crash-looping", func() error {
		if c := s.service("crasher"); c.Phase != "crash-looping" {
			return fmt.Errorf("crasher: %+v", c)
		}
		return nil
	})
	c := s.service("crasher")
	if !strings.Contains(c.Reason, "crash loop: failed 3 times within 1m0s") || !strings.Contains(c.Reason, "exited with code 3") ||
		!strings.Contains(c.Reason, "next try at") {
		t.Errorf("crash-looping reason = %q", c.Reason)
	}
	if c.Restarts != 2 {
		t.Errorf("restarts = %d, want 2 (3 failures, the next try 5m later)", c.Restarts)
	}
	if out := s.mustMoat("status"); !strings.Contains(out, "crash loop") {
		t.Errorf("status does not show the reason:\n%s", out)
	}
	// `moat restart` clears the crash loop at once instead of after 5m:
	// the supervisor records crasher leaving crash-looping for a new start.
	left := func() int {
		n := 0
		for _, tr := range s.transitions() {
			if tr.Service == "crasher" && tr.From == "crash-looping" {
				n++
			}
		}
		return n
	}
	before := left()
	if out := s.mustMoat("restart", "crasher"); !strings.Contains(out, "restarts it now") {
		t.Errorf("restart: %s", out)
	}
	testenv.Eventually(t, 30*time.Second, 100*time.Millisecond, "crasher leaves its crash loop on moat restart", func() error {
		if n := left(); n <= before {
			return fmt.Errorf("%d transitions out of crash-looping, as before the restart", n)
		}
		return nil
	})
}

func TestAdoptsRunningStackAfterSIGKILL(t *testing.T) {
	s := newTestStack(t, "")
	s.mustMoat("up", "-d")
	first := s.status()
	ids := func(st Status) string {
		var b strings.Builder
		for _, ss := range st.Services {
			fmt.Fprintf(&b, "%s=%s@%s ", ss.Name, ss.InstanceID, ss.StartedAt)
		}
		return b.String()
	}
	if err := syscall.Kill(first.Supervisor, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, 50*time.Millisecond, "supervisor gone", func() error {
		if st := s.status(); st.Supervisor != 0 {
			return fmt.Errorf("still supervised by %d", st.Supervisor)
		}
		return nil
	})
	s.mustMoat("up", "-d")
	second := s.status()
	if second.Supervisor == 0 || second.Supervisor == first.Supervisor {
		t.Errorf("supervisor pid %d → %d", first.Supervisor, second.Supervisor)
	}
	if ids(first) != ids(second) {
		t.Errorf("containers changed on adoption:\n before %s\n after  %s", ids(first), ids(second))
	}
	if n := len(strings.Fields(s.labelled("container"))); n != 4 {
		t.Errorf("%d containers after adoption, want 4", n)
	}
}

func TestPortTakenIsReportedBeforeAnythingIsCreated(t *testing.T) {
	s := newTestStack(t, "")
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", s.apiPort))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	out, err := s.moat("up", "-d")
	if err == nil {
		t.Fatalf("up succeeded with the port taken:\n%s", out)
	}
	want := fmt.Sprintf("port 127.0.0.1:%d (api): taken by process %s (pid %d)", s.apiPort, filepath.Base(os.Args[0])[:min(15, len(filepath.Base(os.Args[0])))], os.Getpid())
	if !strings.Contains(out, want) || !strings.Contains(out, "nothing was created") {
		t.Errorf("output:\n%s\nwant it to contain %q", out, want)
	}
	if left := s.labelled("container") + s.labelled("network"); left != "" {
		t.Errorf("objects created despite the failed pre-flight: %s", left)
	}
}

func TestFailedUpRollsBackAndNamesTheService(t *testing.T) {
	s := newTestStack(t, `
[[service]]
name = "never-ready"
image = "moat-test/workload:dev"
command = ["-name", "never-ready", "-ready-after", "1h"]
health = ["/workload", "probe", "http://127.0.0.1:8080/health"]
health_interval = "300ms"
start_timeout = "3s"
volumes = ["scratch:/data"]
`)
	out, err := s.moat("up", "-d")
	if err == nil {
		t.Fatalf("up succeeded:\n%s", out)
	}
	for _, want := range []string{
		"never-ready did not become healthy within 3s",
		"last probe:", "starting",
		"last ", "log lines of never-ready", "never-ready: serving HTTP",
		"what this attempt created was removed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if left := s.labelled("container") + s.labelled("network") + s.labelled("volume"); left != "" {
		t.Errorf("rollback left: %s", left)
	}
}

func TestDownKeepsVolumesUnlessAsked(t *testing.T) {
	s := newTestStack(t, "")
	cfg, _ := os.ReadFile(s.config)
	cfg = bytes.Replace(cfg, []byte("name = \"db\"\n"), []byte("name = \"db\"\nvolumes = [\"dbdata:/data\"]\n"), 1)
	os.WriteFile(s.config, cfg, 0o644)
	s.mustMoat("up", "-d")
	if s.labelled("volume") == "" {
		t.Fatal("no volume created")
	}
	s.mustMoat("down")
	if s.labelled("container")+s.labelled("network") != "" || s.labelled("volume") == "" {
		t.Fatalf("after down: containers %q networks %q volumes %q", s.labelled("container"), s.labelled("network"), s.labelled("volume"))
	}
	s.mustMoat("down", "--volumes")
	if v := s.labelled("volume"); v != "" {
		t.Errorf("down --volumes left %s", v)
	}
}

func TestForegroundUpStopsOnInterrupt(t *testing.T) {
	s := newTestStack(t, "")
	cmd := exec.Command(moatBin, "up", "--config", s.config)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.HasPrefix(sc.Text(), "all 4 services are up") {
			break
		}
	}
	if n := len(strings.Fields(s.labelled("container"))); n != 4 {
		t.Fatalf("%d containers while up, want 4:\n%s", n, strings.Join(lines, "\n"))
	}
	cmd.Process.Signal(os.Interrupt)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("moat up exited with %v:\n%s", err, strings.Join(lines, "\n"))
	}
	// Reverse order: api stops before db and cache.
	joined := strings.Join(lines, "\n")
	if i, j := strings.Index(joined, "api                    stopped"), strings.Index(joined, "db                     stopped"); i < 0 || j < 0 || i > j {
		t.Errorf("not stopped in reverse order:\n%s", joined)
	}
	if left := s.labelled("container") + s.labelled("network"); left != "" {
		t.Errorf("left after Ctrl-C: %s", left)
	}
}

func TestCommandLineErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`, 2},
		{[]string{"up", "--pull=sometimes"}, `invalid --pull "sometimes"`, 2},
		{[]string{"exec"}, "moat exec", 2},
		{[]string{"status", "--config", "/nonexistent/moat.toml"}, "/nonexistent/moat.toml does not exist: run `moat init`", 1},
		{[]string{"logs", "web", "--tail", "-3"}, "invalid --tail -3", 2},
	} {
		out, err := exec.Command(moatBin, tc.args...).CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != tc.code || !strings.Contains(string(out), tc.want) {
			t.Errorf("moat %s: exit %v, output %q; want exit %d and %q", strings.Join(tc.args, " "), err, out, tc.code, tc.want)
		}
	}
	out, err := exec.Command(moatBin, "logs", "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Example:") {
		t.Errorf("logs --help: %v\n%s", err, out)
	}
}

func TestInitRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	run := func(args ...string) (string, error) {
		cmd := exec.Command(moatBin, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("init"); err != nil {
		t.Fatalf("init: %v %s", err, out)
	}
	if out, err := run("init"); err == nil || !strings.Contains(out, "moat init --force") {
		t.Errorf("second init: %v %s", err, out)
	}
	if out, err := run("init", "--force"); err != nil {
		t.Errorf("init --force: %v %s", err, out)
	}
	if out, err := run("doctor", "--config", "moat.toml"); !strings.Contains(out, "moat.toml is valid") {
		t.Errorf("doctor on the written file: %v\n%s", err, out)
	}
	if out, err := run("init", "--systemd"); err != nil || !strings.Contains(out, "wrote moat.service") {
		t.Fatalf("init --systemd: %v %s", err, out)
	}
	unit, _ := os.ReadFile(filepath.Join(dir, "moat.service"))
	want := "ExecStart=" + moatBin + " up --config " + filepath.Join(dir, "moat.toml") + " --pull=never"
	if !strings.Contains(string(unit), want) || !strings.Contains(string(unit), "Requires=docker.service") {
		t.Errorf("moat.service lacks %q:\n%s", want, unit)
	}
	if out, err := run("init", "--systemd"); err == nil || !strings.Contains(out, "--force") {
		t.Errorf("a second init --systemd: %v %s", err, out)
	}
}
