package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"moat/internal/testenv"
)

// The foundation benchmarks: moat on the test stack side by side with
// docker-compose and Docker's own restart policy on the same containers
// (testdata/bench/compose.yml). They print numbers and assert none:
//
//	go test -run '^$' -bench . -benchtime 1x .
//
// Each runs benchReps repetitions, whatever b.N is, and reports medians; the
// built-in ns/op (the whole benchmark's wall time) is suppressed.

const benchReps = 3

// benchStack is one moat project of a benchmark: a copy of the test stack
// with its own project, data dir and ports.
type benchStack struct {
	b       *testing.B
	config  string
	project string
}

func newBenchStack(b *testing.B) *benchStack {
	b.Helper()
	dir := b.TempDir()
	s := &benchStack{b: b, project: benchProject("mb"), config: filepath.Join(dir, "moat.toml")}
	writeStackConfig(b, s.config, s.project, filepath.Join(dir, "data"), testenv.FreePort(b), "")
	b.Cleanup(s.down)
	return s
}

// writeStackConfig writes testdata/test-stack.toml to path with project,
// dataDir, api published on apiPort, a free dashboard port, and extra
// appended.
func writeStackConfig(tb testing.TB, path, project, dataDir string, apiPort int, extra string) {
	tb.Helper()
	base, err := os.ReadFile(filepath.Join(testenv.RepoRoot(tb), "testdata", "test-stack.toml"))
	if err != nil {
		tb.Fatal(err)
	}
	cfg := strings.NewReplacer(
		`project = "moat-test"`, fmt.Sprintf("project = %q", project),
		`data_dir = "../.moat-test"`, fmt.Sprintf("data_dir = %q", dataDir),
		"127.0.0.1:18080:8080", fmt.Sprintf("127.0.0.1:%d:8080", apiPort),
		"127.0.0.1:17700", fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(tb)),
	).Replace(string(base))
	if err := os.WriteFile(path, []byte(cfg+extra), 0o644); err != nil {
		tb.Fatal(err)
	}
}

func benchProject(prefix string) string { return fmt.Sprintf("%s%d", prefix, rand.IntN(1e8)) }

func (s *benchStack) moat(args ...string) (string, error) { return runMoat(s.config, args...) }

func (s *benchStack) mustMoat(args ...string) string {
	s.b.Helper()
	out, err := s.moat(args...)
	if err != nil {
		s.b.Fatalf("moat %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (s *benchStack) status() Status {
	s.b.Helper()
	var st Status
	if err := json.Unmarshal([]byte(s.mustMoat("status", "--json")), &st); err != nil {
		s.b.Fatal(err)
	}
	return st
}

// down stops the stack and removes its volumes; it runs between repetitions
// and again at cleanup, where a stack already down is no error.
func (s *benchStack) down() {
	if out, err := s.moat("down", "--volumes"); err != nil {
		s.b.Logf("moat down %s: %v\n%s", s.project, err, out)
	}
}

// composeStack is one Compose project of testdata/bench/compose.yml, run by
// Compose v2 (`docker compose`, which has up --wait) when the host has it,
// else by docker-compose v1.
type composeStack struct {
	b       *testing.B
	cli     []string // the command and its first arguments
	hasWait bool     // up --wait returns once the services are healthy
	project string
	file    string
	apiPort int
}

func newComposeStack(b *testing.B) *composeStack {
	b.Helper()
	c := &composeStack{b: b, project: benchProject("cb"), apiPort: testenv.FreePort(b),
		file: filepath.Join(testenv.RepoRoot(b), "testdata", "bench", "compose.yml")}
	switch {
	case exec.Command("docker", "compose", "version").Run() == nil:
		c.cli, c.hasWait = []string{"docker", "compose"}, true
	case exec.Command("docker-compose", "version").Run() == nil:
		c.cli = []string{"docker-compose"}
	default:
		testenv.Missing(b, "neither `docker compose` nor docker-compose works (the baseline of this benchmark): apt-get install docker-compose")
	}
	b.Cleanup(c.down)
	return c
}

func (c *composeStack) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args = append(append(slices.Clone(c.cli[1:]), "-p", c.project, "-f", c.file), args...)
	cmd := exec.CommandContext(ctx, c.cli[0], args...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("API_PORT=%d", c.apiPort))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (c *composeStack) mustRun(args ...string) string {
	c.b.Helper()
	out, err := c.run(args...)
	if err != nil {
		c.b.Fatalf("%s %s: %v\n%s", strings.Join(c.cli, " "), strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

func (c *composeStack) down() {
	if out, err := c.run("down", "-v", "-t", "5"); err != nil {
		c.b.Logf("%s down %s: %v\n%s", strings.Join(c.cli, " "), c.project, err, out)
	}
}

// filter selects the engine events of one of the project's services.
func (c *composeStack) filter(service string) []string {
	return []string{"label=com.docker.compose.project=" + c.project, "label=com.docker.compose.service=" + service}
}

// dockerEvent is one line of `docker events --format '{{json .}}'`.
type dockerEvent struct {
	Action string `json:"Action"`
	Actor  struct {
		ID         string            `json:"ID"`
		Attributes map[string]string `json:"Attributes"`
	} `json:"Actor"`
	TimeNano int64     `json:"timeNano"`
	received time.Time // when the benchmark read it
}

func (e dockerEvent) at() time.Time { return time.Unix(0, e.TimeNano) }

// eventWatch streams `docker events` from a point in time: --since replays
// what happened after it, so no event is lost to the time the CLI takes to
// subscribe.
type eventWatch struct {
	cmd    *exec.Cmd
	events chan dockerEvent
	quit   chan struct{}
	once   sync.Once
}

func watchEvents(b *testing.B, since time.Time, filters ...string) *eventWatch {
	b.Helper()
	args := []string{"events", "--since", fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond()), "--format", "{{json .}}"}
	for _, f := range filters {
		args = append(args, "--filter", f)
	}
	w := &eventWatch{cmd: exec.Command("docker", args...), events: make(chan dockerEvent), quit: make(chan struct{})}
	out, err := w.cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		b.Fatalf("docker events: %v", err)
	}
	go w.read(out) // ends when the CLI exits or quit closes; stop waits for it
	b.Cleanup(w.stop)
	return w
}

func (w *eventWatch) read(out io.Reader) {
	defer close(w.events)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var ev dockerEvent
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		ev.received = time.Now()
		select {
		case w.events <- ev:
		case <-w.quit:
			return
		}
	}
}

// stop ends the CLI and waits for the reader.
func (w *eventWatch) stop() {
	w.once.Do(func() {
		close(w.quit)
		w.cmd.Process.Kill()
		for range w.events {
		}
		w.cmd.Wait()
	})
}

// next returns the next event that match accepts.
func (w *eventWatch) next(timeout time.Duration, what string, match func(dockerEvent) bool) (dockerEvent, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case ev, ok := <-w.events:
			if !ok {
				return ev, fmt.Errorf("docker events ended before %s", what)
			}
			if match(ev) {
				return ev, nil
			}
		case <-t.C:
			return dockerEvent{}, fmt.Errorf("no %s within %s", what, timeout)
		}
	}
}

func isAction(a string) func(dockerEvent) bool {
	return func(ev dockerEvent) bool { return ev.Action == a }
}

const eventHealthy = "health_status: healthy"

func medianOf(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func inSeconds(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = d.Seconds()
	}
	return out
}

// reportMedians reports the medians and logs every repetition.
func reportMedians(b *testing.B, samples map[string][]time.Duration) map[string]float64 {
	b.Helper()
	meds := map[string]float64{}
	for _, unit := range slices.Sorted(maps.Keys(samples)) {
		meds[unit] = medianOf(inSeconds(samples[unit]))
		b.ReportMetric(meds[unit], unit)
		b.Logf("%s: %v (median %.3f)", unit, samples[unit], meds[unit])
	}
	b.ReportMetric(0, "ns/op")
	return meds
}

// BenchmarkUpVsCompose: from `moat up -d` to the command's return, which is
// when every service is healthy (migrate completed), against
// `docker-compose up -d` on the same stack until its long-running containers
// are healthy. Compose v2 waits itself (up --wait); docker-compose v1 has no
// --wait, so then the wait is on the engine's health_status events (docker
// events), subscribed with --since before up starts, so none is missed and
// nothing polls. Goal: moat ≤ 0.7 × compose.
func BenchmarkUpVsCompose(b *testing.B) {
	testenv.RequireImage(b, testenv.WorkloadImage)
	samples := map[string][]time.Duration{}
	for range benchReps {
		samples["moat_s"] = append(samples["moat_s"], moatUpTime(b))
		samples["compose_s"] = append(samples["compose_s"], composeUpTime(b))
	}
	m := reportMedians(b, samples)
	b.ReportMetric(m["moat_s"]/m["compose_s"], "ratio_moat_over_compose")
}

func moatUpTime(b *testing.B) time.Duration {
	s := newBenchStack(b)
	start := time.Now()
	s.mustMoat("up", "-d")
	d := time.Since(start)
	for _, ss := range s.status().Services {
		if want := map[string]string{"migrate": "completed"}[ss.Name]; string(ss.Phase) != cmp.Or(want, "healthy") {
			b.Fatalf("after up -d %s is %s: %+v", ss.Name, ss.Phase, ss)
		}
	}
	s.down()
	return d
}

func composeUpTime(b *testing.B) time.Duration {
	c := newComposeStack(b)
	if c.hasWait {
		start := time.Now()
		c.mustRun("up", "-d", "--wait")
		d := time.Since(start)
		c.down()
		return d
	}
	start := time.Now()
	w := watchEvents(b, start, "label=com.docker.compose.project="+c.project, "event=health_status")
	c.mustRun("up", "-d")
	returned := time.Now()
	pending := map[string]bool{"db": true, "cache": true, "api": true}
	last := returned
	for len(pending) > 0 {
		ev, err := w.next(time.Minute, "healthy compose services", isAction(eventHealthy))
		if err != nil {
			b.Fatalf("%v; still not healthy: %v", err, pending)
		}
		delete(pending, ev.Actor.Attributes["com.docker.compose.service"])
		if ev.received.After(last) {
			last = ev.received
		}
	}
	w.stop()
	c.down()
	return last.Sub(start)
}

// BenchmarkRecoverAfterKill: from the api container's death to its
// health_status: healthy event (both stamped by the engine), under moat after
// `docker kill`, and under Docker's own `restart: always`
// (testdata/bench/compose.yml). Docker treats `docker kill` as a manual stop
// and does not restart the container, so on the Docker side the container's
// process is killed with SIGKILL from the host, a crash to Docker. own_start_s
// is a fresh api container's create → healthy (`docker-compose up
// --force-recreate --no-deps api`): the service's own start time, against
// which "recovers within 1 s of its own start" is judged. Each repetition
// uses a fresh stack, so every kill is a first restart (no backoff growth,
// no crash-loop count).
func BenchmarkRecoverAfterKill(b *testing.B) {
	testenv.RequireImage(b, testenv.WorkloadImage)
	samples := map[string][]time.Duration{}
	for range benchReps {
		samples["moat_s"] = append(samples["moat_s"], moatRecoverTime(b))
		restart, own := dockerRecoverTime(b)
		samples["docker_restart_always_s"] = append(samples["docker_restart_always_s"], restart)
		samples["own_start_s"] = append(samples["own_start_s"], own)
	}
	reportMedians(b, samples)
}

func moatRecoverTime(b *testing.B) time.Duration {
	s := newBenchStack(b)
	s.mustMoat("up", "-d")
	name := s.project + "-api"
	w := watchEvents(b, time.Now(), "container="+name)
	if out, err := exec.Command("docker", "kill", name).CombinedOutput(); err != nil {
		b.Fatalf("docker kill %s: %v\n%s", name, err, out)
	}
	d := dieToHealthy(b, w, name)
	if api := serviceOf(b, s.status(), "api"); api.Restarts != 1 || api.Phase != "healthy" {
		b.Fatalf("api after the kill: %+v", api)
	}
	s.down()
	return d
}

func serviceOf(b *testing.B, st Status, name string) ServiceStatus {
	b.Helper()
	for _, ss := range st.Services {
		if ss.Name == name {
			return ss
		}
	}
	b.Fatalf("no service %s in moat status", name)
	return ServiceStatus{}
}

// dieToHealthy is the engine's time from the container's die event to its
// next healthy event.
func dieToHealthy(b *testing.B, w *eventWatch, what string) time.Duration {
	b.Helper()
	die, err := w.next(time.Minute, what+" die", isAction("die"))
	if err != nil {
		b.Fatal(err)
	}
	up, err := w.next(time.Minute, what+" healthy again", isAction(eventHealthy))
	if err != nil {
		b.Fatal(err)
	}
	w.stop()
	return up.at().Sub(die.at())
}

func dockerRecoverTime(b *testing.B) (restart, ownStart time.Duration) {
	c := newComposeStack(b)
	since := time.Now()
	w := watchEvents(b, since, append(c.filter("api"), "event=health_status")...)
	c.mustRun("up", "-d")
	if _, err := w.next(time.Minute, "compose api healthy", isAction(eventHealthy)); err != nil {
		b.Fatal(err)
	}
	w.stop()
	id := c.mustRun("ps", "-q", "api")
	w = watchEvents(b, time.Now(), "container="+id)
	killHostProcess(b, id)
	restart = dieToHealthy(b, w, "compose api")

	w = watchEvents(b, time.Now(), c.filter("api")...)
	c.mustRun("up", "-d", "--no-deps", "--force-recreate", "api")
	created, err := w.next(time.Minute, "a new api container", func(ev dockerEvent) bool { return ev.Action == "create" && ev.Actor.ID != id })
	if err != nil {
		b.Fatal(err)
	}
	up, err := w.next(time.Minute, "the new api container healthy", func(ev dockerEvent) bool {
		return ev.Action == eventHealthy && ev.Actor.ID == created.Actor.ID
	})
	if err != nil {
		b.Fatal(err)
	}
	w.stop()
	c.down()
	return restart, up.at().Sub(created.at())
}

// killHostProcess sends SIGKILL to the container's main process from the host.
func killHostProcess(b *testing.B, id string) {
	b.Helper()
	out, err := exec.Command("docker", "inspect", "-f", "{{.State.Pid}}", id).Output()
	if err != nil {
		b.Fatalf("docker inspect %s: %v", id, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || pid <= 1 {
		b.Fatalf("container %s has no process to kill (pid %q)", id, out)
	}
	p, err := os.FindProcess(pid)
	if err == nil {
		err = p.Kill()
	}
	if err != nil {
		b.Fatalf("kill -9 %d (container %s): %v", pid, id, err)
	}
}

// BenchmarkSupervisorFootprint: the background supervisor's resident memory
// and its CPU while the test stack is healthy and nothing happens (the
// engine still runs the healthchecks every 500ms), over idleWindow per
// repetition; and how long `moat status --json` takes. Goals: rss_MB < 50,
// idle_cpu_pct < 1 (of one core).
func BenchmarkSupervisorFootprint(b *testing.B) {
	testenv.RequireImage(b, testenv.WorkloadImage)
	const idleWindow = 10 * time.Second
	s := newBenchStack(b)
	s.mustMoat("up", "-d")
	pid := s.status().Supervisor
	if pid <= 0 {
		b.Fatal("moat status shows no supervisor after up -d")
	}
	var rss, cpu, status []float64
	for range benchReps {
		before := cpuTicks(b, pid)
		start := time.Now()
		time.Sleep(idleWindow) // the measurement window itself, not a wait for something
		used := float64(cpuTicks(b, pid)-before) / userHZ
		cpu = append(cpu, 100*used/time.Since(start).Seconds())
		rss = append(rss, float64(vmRSSKiB(b, pid))/1024)
		t := time.Now()
		s.status()
		status = append(status, time.Since(t).Seconds())
	}
	b.Logf("rss_MB %v, idle_cpu_pct %v, status_s %v", rss, cpu, status)
	b.ReportMetric(medianOf(rss), "rss_MB")
	b.ReportMetric(medianOf(cpu), "idle_cpu_pct")
	b.ReportMetric(medianOf(status), "status_s")
	b.ReportMetric(0, "ns/op")
}

// userHZ is the unit of the times in /proc/<pid>/stat (USER_HZ, 100 on Linux).
const userHZ = 100

// cpuTicks is utime+stime of pid (fields 14 and 15 of /proc/<pid>/stat).
func cpuTicks(b *testing.B, pid int) int64 {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatalf("supervisor pid %d: %v", pid, err)
	}
	// The command name (field 2) may hold spaces: count from its closing ')'.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	if len(f) < 13 {
		b.Fatalf("/proc/%d/stat: too few fields: %q", pid, raw)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		b.Fatalf("/proc/%d/stat: %v", pid, err)
	}
	return utime + stime
}

// vmRSSKiB is VmRSS from /proc/<pid>/status.
func vmRSSKiB(b *testing.B, pid int) int64 {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatalf("supervisor pid %d: %v", pid, err)
	}
	for line := range strings.Lines(string(raw)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				b.Fatalf("/proc/%d/status: VmRSS %q: %v", pid, v, err)
			}
			return kib
		}
	}
	b.Fatalf("/proc/%d/status has no VmRSS", pid)
	return 0
}
