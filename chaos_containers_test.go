package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"moat/appliance"
	"moat/appliance/config"
	"moat/appliance/control"
	"moat/internal/testenv"
	"moat/state"
)

// The container half of the fault matrix (issue 12), on the real Docker
// Engine: every container kind killed again and again, a container
// detached from its network, the engine's event stream cut, and the
// dependents of a service that is down. `make test` runs it short (1 kill
// per kind); `make chaos` runs it in full (MOAT_CHAOS=full: 20 kills per
// kind). Times are logged (go test -v), never asserted.

// chaosKills is how often each container kind is killed: MOAT_CHAOS=full
// is 20, a number is that many, unset (make test) is 1.
func chaosKills(t testing.TB) int {
	switch v := os.Getenv("MOAT_CHAOS"); v {
	case "":
		return 1
	case "full":
		return 20
	default:
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("MOAT_CHAOS=%q: want full (20 kills per container kind) or a number of kills of 1 or more", v)
		}
		return n
	}
}

// chaosMeshExtra is a [[service]] for the mesh stack: an application of
// the user's own, beside Trino and the notebook.
const chaosMeshExtra = `
[[service]]
name = "web"
image = "moat-test/workload:dev"
command = ["-name", "web"]
health = ["/workload", "probe", "http://127.0.0.1:8080/health"]
health_interval = "500ms"
`

// newChaosMeshStack is the mesh stack with a [[service]] and the restart
// backoff capped at 2s (the default cap, 30s, would make 20 kills of one
// service a matter of minutes, by design).
func newChaosMeshStack(t testing.TB) *testStack {
	t.Helper()
	s := newMeshStack(t, false)
	cfg, err := os.ReadFile(s.config)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(cfg), "[appliance]\n", "[appliance]\nrestart_backoff_max = \"2s\"\n", 1) + chaosMeshExtra
	if err := os.WriteFile(s.config, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

// up reports whether phase is a service's steady state.
func up(ss ServiceStatus) bool {
	return ss.Phase == "healthy" || ss.Phase == "running" || ss.Phase == "completed"
}

// allUp waits until every service of s is up and returns the status. When
// one is not, the failure shows its transitions, its logs and moat's.
func (s *testStack) allUp(what string, within time.Duration) Status {
	s.t.Helper()
	var st Status
	tb := diagTB{TB: s.t, diag: func() { s.diagnose(st) }}
	testenv.Eventually(tb, within, 200*time.Millisecond, what, func() error {
		st = s.status()
		for _, ss := range st.Services {
			if !up(ss) {
				return fmt.Errorf("%s is %s: %s", ss.Name, ss.Phase, ss.Reason)
			}
		}
		return nil
	})
	return st
}

// diagTB runs diag before a fatal failure.
type diagTB struct {
	testing.TB
	diag func()
}

func (d diagTB) Fatalf(format string, args ...any) {
	d.Helper()
	d.diag()
	d.TB.Fatalf(format, args...)
}

// diagnose logs what explains the services of st that are not up.
func (s *testStack) diagnose(st Status) {
	ts := s.transitions()
	for _, ss := range st.Services {
		if up(ss) {
			continue
		}
		var lines []string
		for _, tr := range ts {
			if tr.Service == ss.Name && len(lines) < 12 {
				lines = append(lines, fmt.Sprintf("  %s %s → %s: %s", tr.At.Format("15:04:05.000"), tr.From, tr.To, tr.Reason))
			}
		}
		slices.Reverse(lines)
		logs, _ := exec.Command("docker", "logs", "--tail", "20", s.project+"-"+ss.Name).CombinedOutput()
		s.t.Logf("%s is %s (%s); its last transitions:\n%s\nits last log lines:\n%s", ss.Name, ss.Phase, ss.Reason, strings.Join(lines, "\n"), logs)
	}
	if cfg, err := config.Load(s.config); err == nil && cfg.Mesh.Enabled {
		sec, err := appliance.OpenSecrets(cfg.DataDir())
		if err != nil {
			s.t.Logf("secrets: %v", err)
			return
		}
		c, err := control.NewControl(cfg, sec, nil).Consul()
		if err == nil {
			var checks api.HealthChecks
			if checks, _, err = c.Health().State(api.HealthAny, nil); err == nil {
				for _, ch := range checks {
					if ch.Status != api.HealthPassing {
						s.t.Logf("Consul check %s of %s is %s: %s", ch.CheckID, ch.ServiceID, ch.Status, ch.Output)
					}
				}
			}
		}
		if err != nil {
			s.t.Logf("Consul's checks: %v", err)
		}
	}
	if log, err := os.ReadFile(filepath.Join(s.dataDir, "moat.log")); err == nil {
		lines := strings.Split(strings.TrimSpace(string(log)), "\n")
		s.t.Logf("moat.log, last lines:\n%s", strings.Join(lines[max(0, len(lines)-40):], "\n"))
	}
}

func restartsOf(st Status, name string) int {
	for _, ss := range st.Services {
		if ss.Name == name {
			return ss.Restarts
		}
	}
	return -1
}

// healthyAfter is when service next became healthy (or running) at or
// after t, from the transitions moat committed.
func (s *testStack) healthyAfter(service string, t time.Time) (time.Time, bool) {
	var at time.Time
	for _, tr := range s.transitions() { // newest first: keep the oldest match
		if tr.Service == service && (tr.To == "healthy" || tr.To == "running") && !tr.At.Before(t.Truncate(time.Millisecond)) {
			at = tr.At
		}
	}
	return at, !at.IsZero()
}

// meshFacts is what a kill must not change: the secrets, Consul's ACL
// tokens and policies, and its intentions.
func meshFacts(t testing.TB, s *testStack) string {
	t.Helper()
	c := s.consul()
	var lines []string
	tokens, _, err := c.ACL().TokenList(nil)
	if err != nil {
		t.Fatalf("listing Consul's tokens: %v", err)
	}
	for _, tok := range tokens {
		var ids []string
		for _, si := range tok.ServiceIdentities {
			ids = append(ids, si.ServiceName)
		}
		for _, p := range tok.Policies {
			ids = append(ids, "policy:"+p.Name)
		}
		lines = append(lines, fmt.Sprintf("token %s %q %v", tok.AccessorID, tok.Description, ids))
	}
	policies, _, err := c.ACL().PolicyList(nil)
	if err != nil {
		t.Fatalf("listing Consul's policies: %v", err)
	}
	for _, p := range policies {
		lines = append(lines, fmt.Sprintf("policy %s %s %s", p.ID, p.Name, p.Hash))
	}
	entries, _, err := c.ConfigEntries().List(api.ServiceIntentions, nil)
	if err != nil {
		t.Fatalf("listing intentions: %v", err)
	}
	for _, e := range entries {
		for _, src := range e.(*api.ServiceIntentionsConfigEntry).Sources {
			lines = append(lines, fmt.Sprintf("intention %s → %s %s", src.Name, e.GetName(), src.Action))
		}
	}
	secrets, err := os.ReadFile(filepath.Join(s.dataDir, appliance.SecretsFile))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + fmt.Sprintf("\nsecrets %x", secrets)
}

// TestChaosKillEachContainerKind: Consul, the coordinator, a worker, both
// sidecars, the notebook and a [[service]] of the mesh stack are each
// killed chaosKills times, in a random order, at random moments once the
// stack is healthy again; every kill ends with the whole stack healthy, the
// killed service restarted, and nothing changed in Consul's tokens,
// policies and intentions or in the secrets; `moat verify` passes at the end.
func TestChaosKillEachContainerKind(t *testing.T) {
	t.Parallel() // with the other mesh-stack tests: each has its own subnets and ports
	n := chaosKills(t)
	s := newChaosMeshStack(t)
	s.mustMoat("up", "-d")
	st := s.allUp("the mesh stack up", 2*time.Minute)
	facts := meshFacts(t, s)
	kinds := []string{"consul", "trino-coordinator", "trino-worker-1", "trino-coordinator-sidecar", "notebook", "notebook-sidecar", "web"}
	if only := os.Getenv("MOAT_CHAOS_KINDS"); only != "" { // to chase one kind's failure
		kinds = strings.Split(only, ",")
	}
	var kills []string
	for _, k := range kinds {
		for range n {
			kills = append(kills, k)
		}
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("chaos: %d kills per kind, seed %d", n, seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	rng.Shuffle(len(kills), func(i, j int) { kills[i], kills[j] = kills[j], kills[i] })
	took := map[string][]time.Duration{}
	for i, kind := range kills {
		// The fault's timing: after a random number (0-3) of further
		// observations of the whole stack healthy, so that a kill lands at
		// once after recovery or later in the steady state.
		for range rng.IntN(4) {
			st = s.allUp(fmt.Sprintf("kill %d of %d (%s): the stack still healthy", i+1, len(kills), kind), 3*time.Minute)
		}
		before := restartsOf(st, kind)
		at := time.Now()
		dockerCLI(t, "kill", s.project+"-"+kind)
		st = s.allUp(fmt.Sprintf("kill %d of %d (%s): the stack healthy again", i+1, len(kills), kind), 3*time.Minute)
		if r := restartsOf(st, kind); r <= before {
			t.Fatalf("kill %d (%s): restarts %d, was %d: the kill went unnoticed", i+1, kind, r, before)
		}
		if healthy, ok := s.healthyAfter(kind, at); ok {
			took[kind] = append(took[kind], healthy.Sub(at))
			if d := healthy.Sub(at); d > 30*time.Second { // slow: say what took the time
				t.Logf("chaos: kill %d (%s) took %s:\n%s", i+1, kind, d.Round(time.Millisecond), s.transitionsSince(at))
			}
		}
	}
	for _, k := range kinds {
		if len(took[k]) > 0 {
			t.Logf("chaos: %-26s kill → healthy: median %.2fs, max %.2fs (%d kills)", k, medianOf(inSeconds(took[k])), slices.Max(inSeconds(took[k])), len(took[k]))
		}
	}
	for _, tr := range s.transitions() {
		if tr.To == "failed" || tr.To == "crash-looping" {
			t.Errorf("%s was %s: %s", tr.Service, tr.To, tr.Reason)
		}
	}
	if after := meshFacts(t, s); after != facts {
		t.Errorf("tokens, policies, intentions or secrets changed by the kills:\nbefore:\n%s\nafter:\n%s", facts, after)
	}
	if out, err := s.moat("verify"); err != nil || !strings.Contains(out, "every claim holds") {
		t.Errorf("verify after %d kills: %v\n%s", len(kills), err, out)
	}
	if out := s.mustMoat("query", "--user", "analyst", "SELECT count(*) FROM tpch.tiny.nation"); !strings.Contains(out, "25") {
		t.Errorf("query after the kills: %s", out)
	}
}

// TestChaosNetworkDisconnect: api detached from its network behind moat's
// back keeps running (Docker does not stop it), yet nothing reaches it:
// moat sees it, marks it unhealthy naming the network, records the event,
// and attaches it again (same container, not restarted); db reaches api by
// name once more.
func TestChaosNetworkDisconnect(t *testing.T) {
	s := newTestStack(t, "")
	s.mustMoat("up", "-d")
	before := s.service("api")
	net := s.project + "_" + config.AppsNetwork
	for i := range chaosKills(t) {
		at := time.Now()
		dockerCLI(t, "network", "disconnect", net, s.project+"-api")
		testenv.Eventually(t, time.Minute, 100*time.Millisecond, "api reconnected and healthy", func() error {
			if api := s.service("api"); api.Phase != "healthy" {
				return fmt.Errorf("api: %+v", api)
			}
			if !s.transitionSince("api", "unhealthy", "disconnected from network apps", at) {
				return fmt.Errorf("no transition to unhealthy naming the network yet")
			}
			return nil
		})
		if healthy, ok := s.healthyAfter("api", at); ok {
			t.Logf("chaos: disconnect %d: api healthy again %.2fs after the disconnect", i+1, healthy.Sub(at).Seconds())
		}
	}
	after := s.service("api")
	if after.InstanceID != before.InstanceID || after.Restarts != before.Restarts {
		t.Errorf("api was recreated or restarted: %+v, before %+v", after, before)
	}
	out := dockerCLI(t, "inspect", "-f", `{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}`, s.project+"-api")
	if !strings.Contains(out, net) {
		t.Errorf("api's networks after the repair: %s", out)
	}
	dockerCLI(t, "exec", s.project+"-db", "/workload", "probe", "http://api:8080/health")
	if evs := s.events("api", "service.unhealthy"); !slices.ContainsFunc(evs, func(e state.Event) bool {
		return strings.Contains(e.Message, "disconnected from network apps")
	}) {
		t.Errorf("no event says api lost its network: %+v", evs)
	}
}

// transitionSince reports whether service moved to phase with a reason
// containing want at or after t.
func (s *testStack) transitionSince(service, phase, want string, t time.Time) bool {
	return slices.ContainsFunc(s.transitions(), func(tr state.Transition) bool {
		return tr.Service == service && tr.To == phase && strings.Contains(tr.Reason, want) && !tr.At.Before(t.Truncate(time.Millisecond))
	})
}

// transitionsSince lists every service's transitions from t on, oldest
// first.
func (s *testStack) transitionsSince(t time.Time) string {
	var lines []string
	for _, tr := range s.transitions() {
		if !tr.At.Before(t.Truncate(time.Millisecond)) {
			lines = append(lines, fmt.Sprintf("  %s %s %s → %s: %s", tr.At.Format("15:04:05.000"), tr.Service, tr.From, tr.To, tr.Reason))
		}
	}
	slices.Reverse(lines)
	return strings.Join(lines, "\n")
}

// events are the timeline's events of service of kind.
func (s *testStack) events(service, kind string) []state.Event {
	s.t.Helper()
	st, err := state.Open(filepath.Join(s.dataDir, state.FileName))
	if err != nil {
		s.t.Fatal(err)
	}
	defer st.Close()
	evs, err := st.Events(context.Background(), state.EventFilter{Service: service, Kind: kind})
	if err != nil {
		s.t.Fatal(err)
	}
	return evs
}

// TestChaosEventStreamCut: the supervisor reaches Docker through a proxy
// socket (DOCKER_HOST) that cuts its event streams and refuses new ones
// for a while. db killed, and api detached from its network, while moat
// hears nothing are found by the resync and repaired; once the stream is
// back moat has subscribed again, and a later kill arrives as an event.
func TestChaosEventStreamCut(t *testing.T) {
	proxy := startDockerProxy(t) // before the stack: its cleanup runs after the stack's down
	s := newTestStack(t, "")
	up := exec.Command(moatBin, "up", "-d", "--config", s.config)
	up.Env = append(os.Environ(), "DOCKER_HOST=unix://"+proxy.path)
	if out, err := up.CombinedOutput(); err != nil {
		t.Fatalf("moat up -d through the proxy: %v\n%s", err, out)
	}
	proxy.awaitStreams(t, 2) // containers, networks
	st := s.status()

	proxy.cut()
	proxy.awaitRefused(t, 2) // moat noticed, and tries to subscribe again
	dockerCLI(t, "kill", s.project+"-db")
	dockerCLI(t, "network", "disconnect", s.project+"_"+config.AppsNetwork, s.project+"-api")
	st = s.allUp("db restarted and api reconnected while the event stream is down", time.Minute)
	if r := restartsOf(st, "db"); r != 1 {
		t.Errorf("db restarts %d after a kill while the stream was down, want 1", r)
	}
	if !s.transitionSince("api", "unhealthy", "disconnected from network apps", time.Time{}) {
		t.Errorf("api's lost network went unnoticed while the stream was down")
	}

	proxy.restore()
	proxy.awaitStreams(t, 2)
	dockerCLI(t, "kill", s.project+"-cache")
	st = s.allUp("cache restarted after a kill seen on the new stream", time.Minute)
	if r := restartsOf(st, "cache"); r != 1 {
		t.Errorf("cache restarts %d, want 1", r)
	}
	log, _ := os.ReadFile(filepath.Join(s.dataDir, "moat.log"))
	if !strings.Contains(string(log), "event stream ended") {
		t.Errorf("moat's log does not say the event stream ended:\n%s", log)
	}
}

// dockerProxy is a unix socket in front of the Docker Engine's that
// forwards every request, and can cut the event streams (GET /events)
// passing through it and refuse new ones.
type dockerProxy struct {
	path     string
	upstream string
	ln       net.Listener
	wg       sync.WaitGroup

	mu      sync.Mutex
	cutting bool
	streams map[net.Conn]net.Conn // open event streams: client side → engine side
	refused int
	changed chan struct{} // closed and replaced when streams or refused change
}

func startDockerProxy(t *testing.T) *dockerProxy {
	t.Helper()
	upstream := "/var/run/docker.sock"
	if h, ok := strings.CutPrefix(os.Getenv("DOCKER_HOST"), "unix://"); ok {
		upstream = h
	} else if os.Getenv("DOCKER_HOST") != "" {
		t.Skipf("DOCKER_HOST=%s is not a unix socket: the event-stream proxy needs one", os.Getenv("DOCKER_HOST"))
	}
	dir, err := os.MkdirTemp("", "moat-proxy") // short: a socket path has a length limit
	if err != nil {
		t.Fatal(err)
	}
	p := &dockerProxy{path: filepath.Join(dir, "docker.sock"), upstream: upstream,
		streams: map[net.Conn]net.Conn{}, changed: make(chan struct{})}
	if p.ln, err = net.Listen("unix", p.path); err != nil {
		t.Fatal(err)
	}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		p.ln.Close()
		p.mu.Lock()
		for c, u := range p.streams {
			c.Close()
			u.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
		os.RemoveAll(dir)
	})
	return p
}

func (p *dockerProxy) accept() {
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		conns.Go(func() { p.serve(c) })
	}
}

// serve forwards one client connection's requests, one by one (the Docker
// client keeps connections alive), and the engine's answers back.
func (p *dockerProxy) serve(c net.Conn) {
	defer c.Close()
	u, err := net.Dial("unix", p.upstream)
	if err != nil {
		return
	}
	defer u.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(c, u)
		c.Close()
	}()
	defer func() { u.Close(); <-done }()
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if strings.HasSuffix(req.URL.Path, "/events") && !p.admit(c, u) {
			return
		}
		if err := req.Write(u); err != nil {
			return
		}
		if req.Header.Get("Upgrade") != "" { // a hijacked exec or attach: raw from here on
			io.Copy(u, br)
			return
		}
	}
}

// admit registers an event stream, or refuses it while cutting.
func (p *dockerProxy) admit(c, u net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.notifyLocked()
	if p.cutting {
		p.refused++
		return false
	}
	p.streams[c] = u
	return true
}

func (p *dockerProxy) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// cut ends every event stream and refuses new ones until restore.
func (p *dockerProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cutting, p.refused = true, 0
	for c, u := range p.streams {
		c.Close()
		u.Close()
	}
	clear(p.streams)
	p.notifyLocked()
}

func (p *dockerProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cutting = false
	p.notifyLocked()
}

// await waits until ok holds of the proxy's state (checked on each change).
func (p *dockerProxy) await(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		p.mu.Lock()
		done, ch := ok(), p.changed
		p.mu.Unlock()
		if done {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("the Docker proxy: no %s within a minute", what)
		}
	}
}

func (p *dockerProxy) awaitStreams(t *testing.T, n int) {
	t.Helper()
	p.await(t, fmt.Sprintf("%d open event streams", n), func() bool { return len(p.streams) >= n })
}

func (p *dockerProxy) awaitRefused(t *testing.T, n int) {
	t.Helper()
	p.await(t, fmt.Sprintf("%d refused event streams", n), func() bool { return p.refused >= n })
}

// TestChaosDependentsWaitOnADependencyThatIsDown: db killed again and
// again before it is healthy is crash-looping (its own failures); api,
// which needs db healthy, is killed meanwhile and waits on db instead of
// restarting in a loop, and `status`, the state database and the dashboard
// say "waiting on db"; reader, whose own probe needs db, turns unhealthy
// and is held, not killed. `moat restart db` ends the loop: api is started
// once, reader is healthy again without a restart.
func TestChaosDependentsWaitOnADependencyThatIsDown(t *testing.T) {
	s := newTestStack(t, `
[[service]]
name = "reader"
image = "moat-test/workload:dev"
command = ["-name", "reader"]
depends_on = ["db"]
health = ["/workload", "probe", "http://db:8080/health"]
health_interval = "500ms"
`)
	s.mustMoat("up", "-d")
	// db is killed as soon as it is up again, so that its restarts fail
	// before they are healthy: its own failures, 3 within a minute.
	testenv.Eventually(t, 2*time.Minute, 50*time.Millisecond, "db crash-looping", func() error {
		db := s.service("db")
		switch db.Phase {
		case "crash-looping":
			return nil
		case "starting", "healthy":
			exec.Command("docker", "kill", s.project+"-db").Run() // it may have died already
		}
		return fmt.Errorf("db is %s", db.Phase)
	})
	testenv.Eventually(t, time.Minute, 100*time.Millisecond, "reader held unhealthy, waiting on db", func() error {
		if r := s.service("reader"); r.Phase != "unhealthy" || !strings.HasPrefix(r.WaitingOn, "db") {
			return fmt.Errorf("reader: %+v", r)
		}
		return nil
	})
	apiBefore := s.service("api")
	dockerCLI(t, "kill", s.project+"-api")
	testenv.Eventually(t, time.Minute, 100*time.Millisecond, "api waiting on db", func() error {
		if a := s.service("api"); a.Phase != "waiting" || a.WaitingOn != "db (healthy)" {
			return fmt.Errorf("api: %+v", a)
		}
		return nil
	})
	if out := s.mustMoat("status"); !strings.Contains(out, "waiting on db") {
		t.Errorf("status does not say api waits on db:\n%s", out)
	}
	type snapService struct {
		Name, Phase, Reason string
		WaitingOn           string `json:"waiting_on"`
	}
	var snap struct {
		Services []snapService `json:"services"`
	}
	if err := json.Unmarshal([]byte(s.dashboardGet("/api/snapshot")), &snap); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(snap.Services, func(sv snapService) bool {
		return sv.Name == "api" && sv.Phase == "waiting" && sv.WaitingOn == "db (healthy)"
	}) {
		t.Errorf("the dashboard's snapshot does not show api waiting on db: %+v", snap.Services)
	}
	if page := s.dashboardGet("/"); !strings.Contains(page, "waiting on db") {
		t.Errorf("the dashboard's overview does not say waiting on db")
	}
	if a := s.service("api"); a.Restarts != apiBefore.Restarts {
		t.Errorf("api restarted while db is down: %+v", a)
	}
	readerBefore := s.service("reader")

	s.mustMoat("restart", "db")
	st := s.allUp("db, api and reader up again after moat restart db", time.Minute)
	if r := restartsOf(st, "api"); r != apiBefore.Restarts+1 {
		t.Errorf("api restarts %d, want %d: started once when db was back", r, apiBefore.Restarts+1)
	}
	if r := restartsOf(st, "reader"); r != readerBefore.Restarts {
		t.Errorf("reader restarts %d, want %d: held, not killed", r, readerBefore.Restarts)
	}
}

// dashboardGet fetches path from the stack's dashboard with its token.
func (s *testStack) dashboardGet(path string) string {
	s.t.Helper()
	cfg, err := config.Load(s.config)
	if err != nil {
		s.t.Fatal(err)
	}
	token := strings.TrimSpace(s.mustMoat("secrets", "show", "dashboard"))
	req, _ := http.NewRequest(http.MethodGet, "http://"+cfg.Dashboard.Listen+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("GET %s: %s", path, resp.Status)
	}
	return string(body)
}
