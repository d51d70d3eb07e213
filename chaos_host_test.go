package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	trinoclient "github.com/trinodb/trino-go-client/trino"

	"moat/appliance/config"
	"moat/appliance/lock"
	"moat/internal/testenv"
	"moat/state"
	"moat/supervisor"
	"moat/webui"
)

// hostChaosFull is MOAT_CHAOS=full (`make chaos`): the fault matrix's full
// counts. Without it the same tests run bounded, smaller counts (`make test`).
func hostChaosFull() bool { return os.Getenv("MOAT_CHAOS") == "full" }

// hostChaosCount is full under `make chaos`, short otherwise.
func hostChaosCount(full, short int) int {
	if hostChaosFull() {
		return full
	}
	return short
}

// sseChaosSource is a dashboard Source over a real state store: the events
// page reads the store, and every recorded event ticks Changes as the
// supervisor's transitions do.
type sseChaosSource struct {
	store   *state.Store
	changes chan struct{}
}

var _ webui.Source = (*sseChaosSource)(nil)

func (c *sseChaosSource) Snapshot(context.Context) (webui.Snapshot, error) {
	snap := webui.Snapshot{Project: "chaos", SupervisorPID: os.Getpid(), At: time.Now()}
	for _, n := range []string{"db", "cache", "api"} {
		snap.Services = append(snap.Services, webui.Service{Placement: webui.Placement{Kind: webui.KindApp},
			ServiceStatus: supervisor.ServiceStatus{Name: n, Phase: supervisor.PhaseHealthy, Health: supervisor.HealthHealthy}})
	}
	return snap, nil
}
func (c *sseChaosSource) Events(ctx context.Context, f state.EventFilter) ([]state.Event, error) {
	return c.store.Events(ctx, f)
}
func (c *sseChaosSource) Logs(context.Context, string, int) (string, error)   { return "", nil }
func (c *sseChaosSource) Reports(context.Context) ([]webui.ReportInfo, error) { return nil, nil }
func (c *sseChaosSource) RunReport(context.Context, string) (string, error) {
	return "", errors.New("no reports here")
}
func (c *sseChaosSource) Changes() <-chan struct{} { return c.changes }
func (c *sseChaosSource) poke() {
	select {
	case c.changes <- struct{}{}:
	default:
	}
}

// sseLoad is the result of one dashboard load run.
type sseLoad struct {
	clients, events       int
	p50, p99, max         time.Duration // page latency while the events flowed
	pages                 int
	heapBefore, heapPeak  uint64
	goroutinesBefore, end int
	updates               int64 // SSE updates delivered over all clients
}

// runSSELoad serves the real dashboard handler over loopback, opens clients
// SSE streams of the events page, records events into the real store (each
// one a change, as a transition is), and meanwhile loads the overview page
// in a loop. Every client must end up showing the last event; after the
// clients hang up, the goroutine count must come back to what it was.
func runSSELoad(t testing.TB, clients, events int) sseLoad {
	res := sseLoad{clients: clients, events: events}
	st, err := state.Open(filepath.Join(t.TempDir(), state.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	src := &sseChaosSource{store: st, changes: make(chan struct{}, 1)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const token = "chaos-dashboard-token-0123456789"
	// A request cut when the load stops logs a warning: expected here.
	h, err := webui.New(webui.Options{Source: src, Token: token, Addr: ln.Addr().String(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		srv.Close()
		<-served
	}()
	base := "http://" + ln.Addr().String()
	tr := &http.Transport{MaxIdleConnsPerHost: clients + 4}
	hc := &http.Client{Transport: tr}
	get := func(ctx context.Context, path string) (*http.Response, error) {
		req, err := http.NewRequestWithContext(ctx, "GET", base+path, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		return hc.Do(req)
	}
	// The baseline: the server listening, no client yet.
	runtime.GC()
	res.goroutinesBefore = runtime.NumGoroutine()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.heapBefore = ms.HeapInuse

	const lastMark = "chaos event final"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		streams sync.WaitGroup
		updates atomic.Int64
		sawLast atomic.Int64
		connErr = make(chan error, clients)
	)
	opened := make(chan struct{}, clients)
	for i := 0; i < clients; i++ {
		streams.Add(1)
		go func() {
			defer streams.Done()
			resp, err := get(ctx, "/api/stream?view=events")
			if err != nil {
				connErr <- err
				opened <- struct{}{}
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				connErr <- fmt.Errorf("stream: %s", resp.Status)
				opened <- struct{}{}
				return
			}
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 1<<20), 16<<20)
			first, seen := true, false
			for sc.Scan() {
				line := sc.Text()
				if line == "event: update" {
					updates.Add(1)
				}
				if line == "" && first { // the first message has arrived: the stream is live
					first = false
					opened <- struct{}{}
				}
				if !seen && strings.Contains(line, lastMark) {
					seen = true
					sawLast.Add(1)
				}
			}
		}()
	}
	for i := 0; i < clients; i++ {
		<-opened
	}
	select {
	case err := <-connErr:
		t.Fatalf("an SSE client could not connect: %v", err)
	default:
	}

	// The page load while events flow.
	loadCtx, stopLoad := context.WithCancel(ctx)
	var lat []time.Duration
	var loadErr error
	loaded := make(chan struct{})
	go func() {
		defer close(loaded)
		for loadCtx.Err() == nil {
			start := time.Now()
			resp, err := get(loadCtx, "/events")
			if err != nil {
				if loadCtx.Err() == nil {
					loadErr = err
				}
				return
			}
			_, err = bufio.NewReader(resp.Body).WriteTo(hcDiscard{})
			resp.Body.Close()
			if loadCtx.Err() != nil {
				return // stopped mid-page: the load is over, not failed
			}
			if err != nil || resp.StatusCode != 200 {
				loadErr = fmt.Errorf("GET /events: %s %v", resp.Status, err)
				return
			}
			lat = append(lat, time.Since(start))
		}
	}()
	var peak atomic.Uint64
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse > peak.Load() {
			peak.Store(ms.HeapInuse)
		}
	}
	for i := 0; i < events; i++ {
		msg := fmt.Sprintf("chaos event %d", i)
		if i == events-1 {
			msg = lastMark
		}
		if _, err := st.RecordEvent(ctx, state.Event{Severity: state.SeverityInfo, Kind: "chaos.event", Service: "db", Message: msg}); err != nil {
			t.Fatal(err)
		}
		src.poke()
		if i%500 == 0 {
			sample()
		}
	}
	testenv.Eventually(t, 60*time.Second, 20*time.Millisecond, "every SSE client shows the last event", func() error {
		if n := sawLast.Load(); n != int64(clients) {
			return fmt.Errorf("%d of %d clients show it", n, clients)
		}
		return nil
	})
	sample()
	stopLoad()
	<-loaded
	if loadErr != nil {
		t.Fatalf("the page load failed under SSE load: %v", loadErr)
	}
	res.heapPeak, res.updates, res.pages = peak.Load(), updates.Load(), len(lat)
	if len(lat) == 0 {
		t.Fatal("no page was loaded while the events flowed")
	}
	slices.Sort(lat)
	res.p50, res.p99, res.max = lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]

	// The clients hang up: every stream handler must end.
	cancel()
	streams.Wait()
	tr.CloseIdleConnections()
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, "goroutines back to the baseline after the clients left", func() error {
		if n := runtime.NumGoroutine(); n > res.goroutinesBefore {
			return fmt.Errorf("%d goroutines, %d before the clients", n, res.goroutinesBefore)
		}
		return nil
	})
	res.end = runtime.NumGoroutine()
	return res
}

type hcDiscard struct{}

func (hcDiscard) Write(p []byte) (int, error) { return len(p), nil }

func (r sseLoad) String() string {
	return fmt.Sprintf("%d SSE clients, %d events: /events p50 %s p99 %s max %s over %d loads; %d updates delivered; heap in use %.1f MB → peak %.1f MB; goroutines %d before, %d after",
		r.clients, r.events, r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), r.max.Round(time.Microsecond), r.pages,
		r.updates, float64(r.heapBefore)/1e6, float64(r.heapPeak)/1e6, r.goroutinesBefore, r.end)
}

// TestChaosDashboardSSELoad is the fault matrix's dashboard row: 50 SSE
// clients and 10,000 events (`make chaos`; 10 and 1,000 in `make test`)
// against the real dashboard handler and a real SQLite store. Every client
// ends on the newest event, the page keeps answering, and no goroutine is
// left once the clients hang up. Latency and memory are printed, never
// asserted.
func TestChaosDashboardSSELoad(t *testing.T) {
	r := runSSELoad(t, hostChaosCount(50, 10), hostChaosCount(10000, 1000))
	t.Log(r)
}

// ---- the mesh stack under moat's own faults: SIGKILL, reboot, Consul's data lost, a query flood ----

// hostChaosSlowReport is a report that keeps its run row "running" for a
// few seconds on trinotest (a cross join counted in its SQLite), so that a
// SIGKILL can land inside a report run.
const hostChaosSlowReport = `
[[report]]
name = "slow"
sql = "SELECT count(*) AS n FROM tpch.tiny.customer a CROSS JOIN tpch.tiny.customer b CROSS JOIN tpch.tiny.region r"
run_as = "analyst"
`

// TestChaosHostMesh runs the host half of the fault matrix on one mesh
// stack (Consul, trinotest coordinator and workers, the real notebook,
// built-in sidecars), each fault starting and ending with the stack
// healthy: moat SIGKILLed at random points of up, steady state, a report run
// and down; a "reboot"; Consul's data volume removed while down; a query
// flood while a worker is killed.
func TestChaosHostMesh(t *testing.T) {
	t.Parallel() // with the other mesh-stack tests: each has its own subnets and ports
	s := newMeshStack(t, false)
	cfg, err := os.ReadFile(s.config)
	if err != nil {
		t.Fatal(err)
	}
	// Two workers: a query flood goes on while one of them is killed.
	cfg = bytes.Replace(cfg, []byte("workers = 1\n"), []byte("workers = 2\n"), 1)
	cfg = append(cfg, hostChaosSlowReport...)
	if err := os.WriteFile(s.config, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	out := s.mustMoat("up", "-d")
	if !strings.Contains(out, "all 7 services are up") {
		t.Fatalf("up:\n%s", out)
	}
	// Each fault is a subtest with the stack's helpers failing it, not the
	// parent.
	sub := func(name string, fault func(*testing.T, *testStack)) {
		if t.Failed() {
			return // the stack is not healthy: the later faults say nothing
		}
		t.Run(name, func(t *testing.T) {
			st := *s
			st.t = t
			fault(t, &st)
		})
	}
	sub("moat SIGKILLed at random points", chaosSIGKILL)
	sub("reboot", chaosReboot)
	sub("consul data volume removed while down", chaosConsulVolume)
	sub("query flood while a worker is killed", chaosQueryFlood)
}

// hcServices is the service count of the mesh chaos stack (2 workers).
const hcServices = 7

// hcProcess is a moat command running in the background, to be killed.
type hcProcess struct {
	cmd  *exec.Cmd
	out  *testenv.SyncBuffer
	done chan error
}

func (s *testStack) hcStart(args ...string) *hcProcess {
	s.t.Helper()
	p := &hcProcess{cmd: exec.Command(moatBin, append(args, "--config", s.config)...), out: &testenv.SyncBuffer{}, done: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	s.t.Cleanup(func() { p.kill() })
	return p
}

// exited reports whether the process has ended.
func (p *hcProcess) exited() bool {
	select {
	case err := <-p.done:
		p.done <- err
		return true
	default:
		return false
	}
}

// kill SIGKILLs the process and waits for it; true when it was still
// running.
func (p *hcProcess) kill() bool {
	select {
	case err := <-p.done:
		p.done <- err
		return false
	default:
	}
	p.cmd.Process.Kill()
	p.done <- <-p.done
	return true
}

// hcDB opens the stack's moat.db read-only next to the moat processes that
// write it.
func hcDB(t *testing.T, s *testStack) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.dataDir, state.FileName)+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func hcIntegrity(t *testing.T, s *testStack) {
	t.Helper()
	var res string
	if err := hcDB(t, s).QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Errorf("PRAGMA integrity_check: %q %v", res, err)
	}
}

// hcRow is a row of runs or report_runs.
type hcRow struct {
	id           int64
	what, status string
	err          string
	pid          int
}

func hcRows(t *testing.T, s *testStack, query string) []hcRow {
	t.Helper()
	rows, err := hcDB(t, s).Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []hcRow
	for rows.Next() {
		var r hcRow
		if err := rows.Scan(&r.id, &r.what, &r.status, &r.err, &r.pid); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func hcRuns(t *testing.T, s *testStack) []hcRow {
	return hcRows(t, s, `SELECT id, command, status, error, pid FROM runs ORDER BY id`)
}

func hcReportRuns(t *testing.T, s *testStack) []hcRow {
	return hcRows(t, s, `SELECT id, report, status, error, 0 FROM report_runs ORDER BY id`)
}

// hcCheckClosed: every run is finished except the current supervisor's, and
// every failed run and report run says why.
func hcCheckClosed(t *testing.T, s *testStack, supervisor int) {
	t.Helper()
	for _, r := range hcRuns(t, s) {
		switch {
		case r.status == state.StatusRunning && r.pid != supervisor:
			t.Errorf("run %d (%s, pid %d) is still running; the supervisor is pid %d", r.id, r.what, r.pid, supervisor)
		case r.status == state.StatusFailed && r.err == "":
			t.Errorf("run %d (%s) failed without a reason", r.id, r.what)
		}
	}
	for _, r := range hcReportRuns(t, s) {
		switch {
		case r.status == state.StatusRunning:
			t.Errorf("report run %d (%s) is still running", r.id, r.what)
		case r.status == state.StatusFailed && r.err == "":
			t.Errorf("report run %d (%s) failed without a reason", r.id, r.what)
		}
	}
}

// hcCheckNoDuplicates: one container per service, and no network or volume
// name twice (Docker allows two networks of one name).
func hcCheckNoDuplicates(t *testing.T, s *testStack) {
	t.Helper()
	f := "label=dev.moat.project=" + s.project
	for kind, args := range map[string][]string{
		"container": {"ps", "-a", "--filter", f, "--format", `{{.Label "dev.moat.service"}}`},
		"network":   {"network", "ls", "--filter", f, "--format", "{{.Name}}"},
		"volume":    {"volume", "ls", "--filter", f, "--format", "{{.Name}}"},
	} {
		seen := map[string]int{}
		for _, n := range strings.Fields(dockerCLI(t, args...)) {
			seen[n]++
		}
		for n, c := range seen {
			if c > 1 {
				t.Errorf("%d %ss %s", c, kind, n)
			}
		}
		if kind == "container" && len(seen) != hcServices {
			t.Errorf("containers of services %v, want %d services", seen, hcServices)
		}
	}
}

// hcHealthy waits until every service is healthy (or completed) under a
// supervisor, and returns the status.
func hcHealthy(t testing.TB, s *testStack) Status {
	t.Helper()
	var st Status
	testenv.Eventually(t, 2*time.Minute, 200*time.Millisecond, "every service healthy", func() error {
		st = s.status()
		if st.Supervisor == 0 {
			return errors.New("no supervisor")
		}
		if len(st.Services) != hcServices {
			return fmt.Errorf("%d services", len(st.Services))
		}
		for _, ss := range st.Services {
			if ss.Phase != "healthy" && ss.Phase != "running" {
				return fmt.Errorf("%s is %s (%s)", ss.Name, ss.Phase, ss.Reason)
			}
		}
		return nil
	})
	return st
}

// hcIDs is each service's container and start time.
func hcIDs(st Status) map[string]string {
	m := map[string]string{}
	for _, ss := range st.Services {
		m[ss.Name] = ss.InstanceID + "@" + ss.StartedAt.String()
	}
	return m
}

func hcContainers(t *testing.T, s *testStack, all bool) map[string]string {
	t.Helper()
	args := []string{"ps", "--filter", "label=dev.moat.project=" + s.project, "--format", `{{.Label "dev.moat.service"}}={{.ID}}`}
	if all {
		args = append(args, "-a")
	}
	m := map[string]string{}
	for _, l := range strings.Fields(dockerCLI(t, args...)) {
		k, v, _ := strings.Cut(l, "=")
		m[k] = v
	}
	return m
}

// hcKillSupervisor SIGKILLs the supervising moat and waits until its lock is
// free.
func hcKillSupervisor(t *testing.T, s *testStack) {
	t.Helper()
	pid, err := lock.ReadPID(s.dataDir)
	if err != nil || pid == 0 {
		t.Fatalf("no supervisor to kill: %d %v", pid, err)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, "the supervisor's lock free", func() error {
		if pid, _ := lock.ReadPID(s.dataDir); pid != 0 {
			return fmt.Errorf("held by %d", pid)
		}
		return nil
	})
}

// chaosSIGKILL kills moat 10 times (2 in `make test`) at
// random points of up, steady state, a report run and down, each point a
// state observed (a container created, a run or report run row written, a
// container removed), never a time. After each, `moat up -d` must bring the
// stack back with nothing duplicated, the history closed and the database
// intact.
func chaosSIGKILL(t *testing.T, s *testStack) {
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	// `make test` kills twice: during up, and during a report run (then
	// the steady supervisor); `make chaos` ten times over all four kinds.
	kinds := []string{"up", "report", "steady", "down"}
	n := hostChaosCount(10, 2)
	t.Logf("seed %d, %d kills", seed, n)
	for i := 0; i < n; i++ {
		kind := kinds[i%len(kinds)]
		if i >= len(kinds) {
			kind = kinds[rng.IntN(len(kinds))]
		}
		before := hcHealthy(t, s)
		var keep map[string]string // containers that must survive the kill unchanged
		switch kind {
		case "up": // a fresh up, killed once k containers exist
			s.mustMoat("down")
			k := 1 + rng.IntN(hcServices-1)
			p := s.hcStart("up")
			testenv.Eventually(t, 2*time.Minute, 10*time.Millisecond, fmt.Sprintf("%d containers created by up", k), func() error {
				if c := len(hcContainers(t, s, true)); c < k {
					return fmt.Errorf("%d containers", c)
				}
				return nil
			})
			if !p.kill() {
				t.Fatalf("up ended before the kill:\n%s", p.out)
			}
			keep = hcContainers(t, s, false) // running ones are adopted as they are
			t.Logf("kill %d: up, after %d containers created (%d running)", i+1, k, len(keep))
		case "steady":
			keep = hcContainers(t, s, false)
			hcKillSupervisor(t, s)
			t.Logf("kill %d: the steady supervisor", i+1)
		case "report":
			p := s.hcStart("report", "run", "slow")
			testenv.Eventually(t, time.Minute, 5*time.Millisecond, "a report run row running", func() error {
				for _, r := range hcReportRuns(t, s) {
					if r.status == state.StatusRunning {
						return nil
					}
				}
				return errors.New("none")
			})
			if !p.kill() {
				t.Fatalf("the report run ended before the kill:\n%s", p.out)
			}
			// The supervisor holds the lock: the next moat to take it
			// closes the interrupted run.
			keep = hcContainers(t, s, false)
			hcKillSupervisor(t, s)
			t.Logf("kill %d: a report run and then the supervisor", i+1)
		case "down":
			k := 1 + rng.IntN(hcServices-1)
			p := s.hcStart("down")
			testenv.Eventually(t, 2*time.Minute, 10*time.Millisecond, fmt.Sprintf("%d containers removed by down", k), func() error {
				if c := len(hcContainers(t, s, true)); c > hcServices-k {
					return fmt.Errorf("%d containers", c)
				}
				return nil
			})
			if pid, _ := lock.ReadPID(s.dataDir); pid != 0 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			p.kill()
			t.Logf("kill %d: down, after %d containers removed", i+1, k)
		}
		s.mustMoat("up", "-d")
		after := hcHealthy(t, s)
		hcCheckNoDuplicates(t, s)
		hcCheckClosed(t, s, after.Supervisor)
		hcIntegrity(t, s)
		now := hcContainers(t, s, false)
		for svc, id := range keep {
			if now[svc] != id {
				t.Errorf("kill %d (%s): %s was replaced (%s → %s): a running container must be adopted", i+1, kind, svc, id, now[svc])
			}
		}
		if kind == "steady" || kind == "report" {
			if a, b := hcIDs(before), hcIDs(after); !maps.Equal(a, b) {
				t.Errorf("kill %d (%s): adoption restarted something:\n before %v\n after  %v", i+1, kind, a, b)
			}
			for _, ss := range after.Services {
				if ss.Restarts != 0 {
					t.Errorf("kill %d (%s): %s restarted %d times", i+1, kind, ss.Name, ss.Restarts)
				}
			}
		}
	}
	var failed int
	for _, r := range hcRuns(t, s) {
		if r.status == state.StatusFailed {
			failed++
			if !strings.Contains(r.err, "killed") {
				t.Errorf("run %d failed with %q, want the reason to say moat was killed", r.id, r.err)
			}
		}
	}
	interrupted := 0
	for _, r := range hcReportRuns(t, s) {
		if r.status == state.StatusFailed && strings.Contains(r.err, "killed") {
			interrupted++
		}
	}
	if interrupted == 0 {
		t.Error("no report run was closed as interrupted")
	}
	t.Logf("%d runs closed as failed, %d report runs interrupted", failed, interrupted)
}

// chaosReboot is a host reboot: every container stopped behind moat's back
// and moat killed; then what the systemd unit runs, `moat up --pull=never`,
// brings the same stack back: volumes, report history and secrets intact.
func chaosReboot(t *testing.T, s *testStack) {
	hcHealthy(t, s)
	s.mustMoat("report", "run", "nations")
	secrets, err := os.ReadFile(filepath.Join(s.dataDir, "secrets.toml"))
	if err != nil {
		t.Fatal(err)
	}
	reports := hcReportRuns(t, s)
	volumes := dockerCLI(t, "volume", "ls", "--filter", "label=dev.moat.project="+s.project, "--format", "{{.Name}}")
	// Consul's node ID lives in its data volume (node-id): the same ID
	// afterwards means the same data. (Docker's volume CreatedAt is not a
	// creation time: it moves when the volume is mounted again.)
	nodeID := hcConsulNodeID(t, s)
	hcKillSupervisor(t, s)
	ids := hcContainers(t, s, false)
	dockerCLI(t, append([]string{"stop", "-t", "1"}, slices.Collect(maps.Values(ids))...)...)
	if running := hcContainers(t, s, false); len(running) != 0 {
		t.Fatalf("still running after the stop: %v", running)
	}
	s.mustMoat("up", "-d", "--pull=never")
	hcHealthy(t, s)
	hcCheckNoDuplicates(t, s)
	if got := dockerCLI(t, "volume", "ls", "--filter", "label=dev.moat.project="+s.project, "--format", "{{.Name}}"); got != volumes {
		t.Errorf("volumes changed across the reboot:\n before %s\n after  %s", volumes, got)
	}
	if got := hcConsulNodeID(t, s); got != nodeID {
		t.Errorf("Consul's node ID %s → %s: its data volume was not kept", nodeID, got)
	}
	if got, _ := os.ReadFile(filepath.Join(s.dataDir, "secrets.toml")); !bytes.Equal(got, secrets) {
		t.Error("secrets.toml changed across the reboot")
	}
	after := hcReportRuns(t, s)
	if len(after) != len(reports) || !slices.Equal(after, reports) {
		t.Errorf("report history changed across the reboot:\n before %v\n after  %v", reports, after)
	}
	for _, r := range after {
		if r.status == state.StatusOK && r.what == "nations" {
			if _, err := os.Stat(filepath.Join(s.dataDir, "reports", "nations")); err != nil {
				t.Errorf("the nations report's site is gone: %v", err)
			}
		}
	}
	if out := s.mustMoat("query", "--user", "analyst", "SELECT count(*) FROM tpch.tiny.nation"); !strings.Contains(out, "25") {
		t.Errorf("query after the reboot: %s", out)
	}
	hcIntegrity(t, s)
}

// hcConsulNodeID is the ID of the Consul server's node.
func hcConsulNodeID(t *testing.T, s *testStack) string {
	t.Helper()
	nodes, _, err := s.consul().Catalog().Nodes(nil)
	if err != nil || len(nodes) != 1 {
		t.Fatalf("Consul's nodes: %v %v", nodes, err)
	}
	return nodes[0].ID
}

// hcTokens is Consul's moat-made tokens: description → accessor/secret.
func hcTokens(t *testing.T, s *testStack) map[string]string {
	t.Helper()
	c := s.consul()
	list, _, err := c.ACL().TokenList(nil)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, tok := range list {
		if strings.HasPrefix(tok.Description, "moat: ") {
			full, _, err := c.ACL().TokenRead(tok.AccessorID, nil)
			if err != nil {
				t.Fatal(err)
			}
			m[tok.Description] = full.AccessorID + "/" + full.SecretID
		}
	}
	return m
}

func hcIntentions(t *testing.T, s *testStack) string {
	t.Helper()
	list, _, err := s.consul().Connect().Intentions(nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, in := range list {
		out = append(out, fmt.Sprintf("%s→%s:%s", in.SourceName, in.DestinationName, in.Action))
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

// chaosConsulVolume removes Consul's data volume while the stack is down:
// the next up bootstraps Consul again with the same tokens (both IDs), the
// same intentions, and verify passes.
func chaosConsulVolume(t *testing.T, s *testStack) {
	hcHealthy(t, s)
	tokens, intentions := hcTokens(t, s), hcIntentions(t, s)
	if len(tokens) == 0 {
		t.Fatal("no moat token in Consul")
	}
	s.mustMoat("down")
	dockerCLI(t, "volume", "rm", s.project+"_"+config.ConsulVolume)
	s.mustMoat("up", "-d")
	hcHealthy(t, s)
	if got := hcTokens(t, s); !maps.Equal(got, tokens) {
		t.Errorf("tokens after the re-bootstrap differ:\n before %v\n after  %v", tokens, got)
	}
	if got := hcIntentions(t, s); got != intentions {
		t.Errorf("intentions after the re-bootstrap:\n before %s\n after  %s", intentions, got)
	}
	if out, err := s.moat("verify"); err != nil {
		t.Errorf("verify after the re-bootstrap: %v\n%s", err, out)
	}
	if out := s.mustMoat("query", "--user", "analyst", "SELECT count(*) FROM tpch.tiny.nation"); !strings.Contains(out, "25") {
		t.Errorf("query after the re-bootstrap: %s", out)
	}
}

// ---- the data dir's disk full ----

// hcMountTmpfs mounts a tmpfs of size bytes at dir (root only; CI runs as
// root, and there a failure to mount fails the test instead of skipping).
func hcMountTmpfs(t *testing.T, dir string, size int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		testenv.Missing(t, "mounting a tmpfs as the data dir (%s) needs root: %v", dir, err)
	}
}

// hcFillDisk writes a file in dir until the file system is full, and returns
// its path.
func hcFillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	// The last partial block too.
	for n := 4096; n > 0; n /= 2 {
		for {
			if _, err := f.Write(buf[:n]); err != nil {
				break
			}
		}
	}
	return path
}

// hcContainerStart is the container's start time and health, as Docker sees
// them (the independent witness: moat's own view is in the database that
// is full).
func hcContainerStart(t *testing.T, name string) (started, health string) {
	t.Helper()
	started, health, _ = strings.Cut(dockerCLI(t, "inspect", "-f", "{{.State.StartedAt}} {{.State.Health.Status}}", name), " ")
	return started, health
}

// hcKillAndAwaitRestart kills a container from outside and waits until moat
// has started it again and Docker reports it healthy.
func hcKillAndAwaitRestart(t *testing.T, name string) {
	t.Helper()
	before, _ := hcContainerStart(t, name)
	dockerCLI(t, "kill", name)
	testenv.Eventually(t, 30*time.Second, 50*time.Millisecond, name+" restarted and healthy", func() error {
		if started, health := hcContainerStart(t, name); started == before || health != "healthy" {
			return fmt.Errorf("started %s, health %s", started, health)
		}
		return nil
	})
}

// hcProcCPU is a process's user+system CPU time, from /proc/PID/stat.
func hcProcCPU(t testing.TB, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	var utime, stime int64
	fmt.Sscan(f[11], &utime)
	fmt.Sscan(f[12], &stime)
	return time.Duration(utime+stime) * 10 * time.Millisecond // USER_HZ = 100
}

// TestChaosDiskFull is the fault matrix's full disk: the test stack's data
// dir is a small tmpfs, filled up while moat supervises. Supervision goes
// on (db, killed from outside, comes back every time); the failing writes
// are reported once, not once per transition; once space is back, writes
// resume and that is reported once; moat.db passes integrity_check.
func TestChaosDiskFull(t *testing.T) {
	s := newTestStack(t, "")
	cfg, err := os.ReadFile(s.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg = bytes.Replace(cfg, []byte("[appliance]\n"), []byte("[appliance]\nmin_free_disk = \"1MB\"\n"), 1)
	if err := os.WriteFile(s.config, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	hcMountTmpfs(t, s.dataDir, 16<<20)
	t.Cleanup(func() {
		s.moat("down", "--volumes") // before the data dir goes
		syscall.Unmount(s.dataDir, syscall.MNT_DETACH)
	})
	p := s.hcStart("up")
	testenv.Eventually(t, time.Minute, 100*time.Millisecond, "the stack supervised and healthy", func() error {
		if p.exited() {
			t.Fatalf("moat up exited:\n%s", p.out)
		}
		st, err := s.moat("status", "--json")
		if err != nil {
			return fmt.Errorf("%v %s", err, st)
		}
		var status Status
		if err := json.Unmarshal([]byte(st), &status); err != nil {
			return err
		}
		for _, ss := range status.Services {
			if ss.Phase != "healthy" && ss.Phase != "completed" {
				return fmt.Errorf("%s is %s", ss.Name, ss.Phase)
			}
		}
		if status.Supervisor == 0 || len(status.Services) != 4 {
			return fmt.Errorf("%+v", status)
		}
		return nil
	})
	filler := hcFillDisk(t, s.dataDir)
	cpu0, t0 := hcProcCPU(t, p.cmd.Process.Pid), time.Now()
	kills := hostChaosCount(10, 3)
	for i := 0; i < kills; i++ {
		hcKillAndAwaitRestart(t, s.project+"-db")
	}
	cpu, full := hcProcCPU(t, p.cmd.Process.Pid)-cpu0, time.Since(t0)
	out := p.out.String()
	if n := strings.Count(out, "could not record"); n != 1 {
		t.Errorf("%d failed writes reported while the disk was full, want exactly 1:\n%s", n, out)
	}
	if !strings.Contains(out, "no space left on device") && !strings.Contains(out, "database or disk is full") {
		t.Errorf("the report does not say the disk is full:\n%s", out)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	recovered := time.Now()
	hcKillAndAwaitRestart(t, s.project+"-db")
	testenv.Eventually(t, 10*time.Second, 50*time.Millisecond, "db's restart after the recovery recorded", func() error {
		for _, tr := range s.transitions() {
			if tr.Service == "db" && tr.To == "healthy" && tr.At.After(recovered) {
				return nil
			}
		}
		return errors.New("not yet")
	})
	out = p.out.String()
	if n := strings.Count(out, "state writes work again"); n != 1 {
		t.Errorf("the recovery reported %d times, want once:\n%s", n, out)
	}
	if n := strings.Count(out, "could not record"); n != 1 {
		t.Errorf("%d failed writes reported in all, want 1", n)
	}
	st, err := state.OpenReadOnly(filepath.Join(s.dataDir, state.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	evs, err := st.Events(context.Background(), state.EventFilter{Kind: "moat.state"})
	if err != nil || len(evs) != 1 || !strings.Contains(evs[0].Message, "failed from") {
		t.Errorf("the recovery event: %v %+v", err, evs)
	}
	hcIntegrity(t, s)
	p.cmd.Process.Signal(os.Interrupt)
	if err := <-p.done; err != nil {
		t.Errorf("moat up after the disk was full: %v\n%s", err, p.out)
	}
	p.done <- nil
	t.Logf("disk full: %d kills of db, each restarted; moat's CPU %s over %s while full", kills, cpu, full.Round(time.Millisecond))
}

// ---- a query flood while a worker is killed ----

// hcProcRSS is a process's resident set size in bytes (/proc/PID/status).
func hcProcRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			return kb << 10
		}
	}
	return 0
}

// floodResult is what chaosQueryFlood measured.
type floodResult struct {
	ok, gone                 int
	rssBefore, rssPeak       int64
	cpu, took                time.Duration
	dashP50, dashP99, dashMx time.Duration
	dashLoads                int
}

// chaosQueryFlood sends clients × queries queries from the host's tools
// endpoint (trino-go-client with moat's CA, through the mesh) while
// trino-worker-2 is killed a quarter of the way in. A query may fail only
// with Trino's REMOTE_HOST_GONE naming the killed worker; moat's RSS and CPU
// and the dashboard's latency meanwhile are printed.
func chaosQueryFlood(t *testing.T, s *testStack) {
	hcHealthy(t, s)
	r := runQueryFlood(t, s, hostChaosCount(20, 5), hostChaosCount(200, 20))
	t.Logf("query flood: %d ok, %d failed with REMOTE_HOST_GONE on the killed worker, in %s; moat RSS %.1f MB → peak %.1f MB, CPU %s; dashboard p50 %s p99 %s max %s over %d loads",
		r.ok, r.gone, r.took.Round(time.Millisecond), float64(r.rssBefore)/1e6, float64(r.rssPeak)/1e6, r.cpu,
		r.dashP50.Round(time.Microsecond), r.dashP99.Round(time.Microsecond), r.dashMx.Round(time.Microsecond), r.dashLoads)
}

func runQueryFlood(t testing.TB, s *testStack, clients, queries int) floodResult {
	var res floodResult
	cs, pool := s.hostEndpoint()
	password := strings.TrimSpace(s.mustMoat("secrets", "show", "user_analyst"))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: clients}}
	const clientName = "moat-chaos-flood"
	if err := trinoclient.RegisterCustomClient(clientName, client); err != nil {
		t.Fatal(err)
	}
	defer trinoclient.DeregisterCustomClient(clientName)
	u, _ := url.Parse(cs.URL)
	u.User = url.UserPassword(cs.User, password)
	db, err := sql.Open("trino", u.String()+"?custom_client="+clientName)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxIdleConns(clients)

	cfg, err := config.Load(s.config)
	if err != nil {
		t.Fatal(err)
	}
	dashToken := strings.TrimSpace(s.mustMoat("secrets", "show", "dashboard"))
	killed := s.project + "-trino-worker-2"
	ip := dockerCLI(t, "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", killed)
	killedIP := strings.Fields(ip)[0]
	pid := s.status().Supervisor

	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		done      atomic.Int64
		badErrs   []error
		total     = clients * queries
		quarter   = make(chan struct{})
		quarterMu sync.Once
	)
	start, cpu0 := time.Now(), hcProcCPU(t, pid)
	res.rssBefore = hcProcRSS(pid)
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // measurements only: moat's RSS and the dashboard's latency
		defer close(sampled)
		dash := &http.Client{Timeout: 10 * time.Second}
		var lat []time.Duration
		defer func() {
			slices.Sort(lat)
			if len(lat) > 0 {
				res.dashP50, res.dashP99, res.dashMx, res.dashLoads = lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1], len(lat)
			}
		}()
		tick := time.NewTicker(50 * time.Millisecond) // a sampling rate, not a wait
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if rss := hcProcRSS(pid); rss > res.rssPeak {
				res.rssPeak = rss
			}
			req, _ := http.NewRequest("GET", "http://"+cfg.Dashboard.Listen+"/services", nil)
			req.Header.Set("Authorization", "Bearer "+dashToken)
			t0 := time.Now()
			resp, err := dash.Do(req)
			if err != nil {
				mu.Lock()
				badErrs = append(badErrs, fmt.Errorf("the dashboard during the flood: %w", err))
				mu.Unlock()
				continue
			}
			_, err = bufio.NewReader(resp.Body).WriteTo(hcDiscard{})
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				mu.Lock()
				badErrs = append(badErrs, fmt.Errorf("the dashboard during the flood: %s %v", resp.Status, err))
				mu.Unlock()
				continue
			}
			lat = append(lat, time.Since(t0))
		}
	}()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for q := 0; q < queries; q++ {
				var n int
				err := db.QueryRow("SELECT count(*) FROM tpch.tiny.customer c JOIN tpch.tiny.nation n ON c.nationkey = n.nationkey").Scan(&n)
				var te *trinoclient.ErrTrino
				mu.Lock()
				switch {
				case err == nil && n == 1500:
					res.ok++
				case err == nil:
					badErrs = append(badErrs, fmt.Errorf("%d customers, want 1500", n))
				case errors.As(err, &te) && te.ErrorName == "REMOTE_HOST_GONE" && strings.Contains(te.Message, killedIP+":"):
					res.gone++
				default:
					badErrs = append(badErrs, err)
				}
				mu.Unlock()
				if done.Add(1) >= int64(total/4) {
					quarterMu.Do(func() { close(quarter) })
				}
			}
		}()
	}
	<-quarter
	dockerCLI(t, "kill", killed)
	wg.Wait()
	res.took, res.cpu = time.Since(start), hcProcCPU(t, pid)-cpu0
	close(stop)
	<-sampled
	for i, err := range badErrs {
		if i == 10 {
			t.Errorf("… and %d more", len(badErrs)-10)
			break
		}
		t.Errorf("a query failed other than with Trino's REMOTE_HOST_GONE for the killed worker %s: %v", killedIP, err)
	}
	// moat restarts the worker; queries then succeed on both again.
	hcHealthy(t, s)
	testenv.Eventually(t, time.Minute, 100*time.Millisecond, "queries succeed again", func() error {
		for i := 0; i < 10; i++ {
			var n int
			if err := db.QueryRow("SELECT count(*) FROM tpch.tiny.nation").Scan(&n); err != nil {
				return err
			}
		}
		return nil
	})
	return res
}
