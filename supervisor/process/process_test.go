package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"moat/internal/testenv"
	"moat/supervisor"
)

const project = "t"

// workload is the test program (moat/internal/workload), built by TestMain.
var workload string

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "moat-process-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workload = filepath.Join(tmp, "workload")
	out, err := exec.Command("go", "build", "-o", workload, "moat/internal/workload").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build workload: %v\n%s", err, out)
		os.RemoveAll(tmp)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// newRuntime returns a Runtime on dir, closed when the test ends.
func newRuntime(t testing.TB, dir string) *Runtime {
	t.Helper()
	r, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// serve is a workload spec serving HTTP on a free port, with extra flags.
func serve(t testing.TB, name string, flags ...string) (supervisor.Spec, string) {
	port := testenv.FreePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	return supervisor.Spec{
		Name:    name,
		Image:   workload,
		Command: append([]string{"-name", name, "-listen", "127.0.0.1:" + strconv.Itoa(port)}, flags...),
		Ports:   []supervisor.Port{{HostIP: "127.0.0.1", HostPort: port, ContainerPort: port}},
	}, base
}

// shell is a spec running script with sh.
func shell(name, script string) supervisor.Spec {
	return supervisor.Spec{Name: name, Image: "sh", Command: []string{"-c", script}}
}

// start creates and starts s, removing it when the test ends.
func start(t testing.TB, r *Runtime, s supervisor.Spec) string {
	t.Helper()
	ctx := context.Background()
	id, err := r.Create(ctx, project, s, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Remove(context.Background(), id) })
	if err := r.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	return id
}

// subscribe returns the project's events until the test ends.
func subscribe(t testing.TB, r *Runtime) <-chan supervisor.Event {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ch, _ := r.Events(ctx, project)
	return ch
}

// waitEvent returns the first event of id with kind (and, for health, h).
func waitEvent(t testing.TB, ch <-chan supervisor.Event, id string, kind supervisor.EventKind, h supervisor.Health) supervisor.Event {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("events closed before %s %s", kind, h)
			}
			if e.ID == id && e.Kind == kind && (kind != supervisor.EventHealth || e.Health == h) {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s %s event for %s within 20s", kind, h, id)
		}
	}
}

func post(t testing.TB, url string) {
	t.Helper()
	resp, err := http.Post(url, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func inspect(t testing.TB, r *Runtime, id string) supervisor.Instance {
	t.Helper()
	in, err := r.Inspect(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func TestHealthProbe(t *testing.T) {
	r := newRuntime(t, t.TempDir())
	events := subscribe(t, r)
	s, base := serve(t, "web")
	s.Health = &supervisor.Probe{
		Command:  []string{workload, "probe", "-timeout", "1s", base + "/health"},
		Interval: 50 * time.Millisecond, Timeout: 5 * time.Second, Retries: 3,
	}
	id := start(t, r, s)
	waitEvent(t, events, id, supervisor.EventStart, "")
	if h := inspect(t, r, id).Health; h != supervisor.HealthStarting && h != supervisor.HealthHealthy {
		t.Errorf("health after start = %q, want starting (or already healthy)", h)
	}
	waitEvent(t, events, id, supervisor.EventHealth, supervisor.HealthHealthy)
	if in := inspect(t, r, id); in.Health != supervisor.HealthHealthy || in.LastProbe != "ok" {
		t.Errorf("inspect after pass: health %q, last probe %q; want healthy, ok", in.Health, in.LastProbe)
	}

	post(t, base+"/unhealthy")
	waitEvent(t, events, id, supervisor.EventHealth, supervisor.HealthUnhealthy)
	if in := inspect(t, r, id); !strings.Contains(in.LastProbe, "unhealthy (asked to be)") {
		t.Errorf("last probe = %q, want the workload's 503 body", in.LastProbe)
	}
	post(t, base+"/healthy")
	waitEvent(t, events, id, supervisor.EventHealth, supervisor.HealthHealthy)
}

// TestStartPeriod: failures before the first pass within StartPeriod do not
// make an instance unhealthy.
func TestStartPeriod(t *testing.T) {
	r := newRuntime(t, t.TempDir())
	events := subscribe(t, r)
	s, base := serve(t, "slow", "-ready-after", "1s")
	s.Health = &supervisor.Probe{
		Command:  []string{workload, "probe", "-timeout", "1s", base + "/health"},
		Interval: 20 * time.Millisecond, Timeout: 5 * time.Second, Retries: 1, StartPeriod: time.Minute,
	}
	id := start(t, r, s)
	// With Retries 1 any counted failure would make it unhealthy first.
	for e := range events {
		if e.ID != id || e.Kind != supervisor.EventHealth {
			continue
		}
		if e.Health != supervisor.HealthHealthy {
			t.Fatalf("health %q before the first pass, within the start period", e.Health)
		}
		break
	}
	if lp := inspect(t, r, id).LastProbe; lp != "ok" {
		t.Errorf("last probe %q, want ok", lp)
	}
}

func readLog(t testing.TB, r *Runtime, id string) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.Logs(context.Background(), id, supervisor.LogOptions{}, &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestExitCodes(t *testing.T) {
	r := newRuntime(t, t.TempDir())
	events := subscribe(t, r)

	exits, _ := serve(t, "exits", "-exit-after", "0", "-exit-code", "3")
	id := start(t, r, exits)
	if e := waitEvent(t, events, id, supervisor.EventDie, ""); e.ExitCode != 3 {
		t.Errorf("die event exit code = %d, want 3", e.ExitCode)
	}
	if in := inspect(t, r, id); in.State != supervisor.StateExited || in.ExitCode != 3 || in.FinishedAt.IsZero() {
		t.Errorf("after exit: state %s, code %d, finished %v; want exited, 3, set", in.State, in.ExitCode, in.FinishedAt)
	}

	killed, _ := serve(t, "killed")
	id = start(t, r, killed)
	if err := r.Kill(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if e := waitEvent(t, events, id, supervisor.EventDie, ""); e.ExitCode != 137 {
		t.Errorf("killed: exit code %d, want 137 (128+SIGKILL, as Docker)", e.ExitCode)
	}

	// Start again after exit: the same instance runs anew.
	if err := r.Start(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, events, id, supervisor.EventStart, "")
	if in := inspect(t, r, id); in.State != supervisor.StateRunning {
		t.Errorf("restarted: state %s, want running", in.State)
	}
}

func TestStop(t *testing.T) {
	r := newRuntime(t, t.TempDir())
	ctx := context.Background()

	polite, _ := serve(t, "polite")
	id := start(t, r, polite)
	waitLog(t, r, id, "serving HTTP") // its SIGTERM handler is installed
	if err := r.Stop(ctx, id, time.Minute); err != nil {
		t.Fatal(err)
	}
	if in := inspect(t, r, id); in.State != supervisor.StateExited || in.ExitCode != 0 {
		t.Errorf("stopped politely: state %s, code %d; want exited 0", in.State, in.ExitCode)
	}

	// A stubborn process gets the stop signal and outlives it: a Stop
	// with a long grace is still waiting when the workload says it ignored
	// the signal. A second Stop's short grace runs out, and it is killed.
	stubborn, _ := serve(t, "stubborn", "-ignore-sigterm")
	id = start(t, r, stubborn)
	waitLog(t, r, id, "serving HTTP") // its SIGTERM handler is installed
	patient := make(chan error, 1)
	go func() { patient <- r.Stop(ctx, id, time.Hour) }()
	waitLog(t, r, id, "ignoring SIGTERM")
	if in := inspect(t, r, id); in.State != supervisor.StateRunning {
		t.Fatalf("stubborn after an ignored SIGTERM: state %s, want running", in.State)
	}
	if err := r.Stop(ctx, id, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if in := inspect(t, r, id); in.ExitCode != 137 {
		t.Errorf("stubborn: exit code %d, want 137 (killed after the grace period)", in.ExitCode)
	}
	if err := <-patient; err != nil {
		t.Errorf("the first Stop, once the process was killed: %v", err)
	}

	// A custom stop signal reaches the process.
	intr := shell("intr", `trap 'echo got INT; exit 0' INT; echo ready; while :; do sleep 0.05; done`)
	intr.StopSignal = "SIGINT"
	id = start(t, r, intr)
	waitLog(t, r, id, "ready")
	if err := r.Stop(ctx, id, time.Minute); err != nil {
		t.Fatal(err)
	}
	waitLog(t, r, id, "got INT")
}

// TestProcessGroup: a child the process spawned dies with it, even one that
// ignores SIGTERM, when the main process obeys Stop.
func TestProcessGroup(t *testing.T) {
	r := newRuntime(t, t.TempDir())
	ctx := context.Background()
	for _, stop := range []string{"stop", "kill"} {
		t.Run(stop, func(t *testing.T) {
			// The child says its pid once it ignores SIGTERM (an ignored
			// signal stays ignored across exec).
			s := shell("group-"+stop, `(trap '' TERM; exec sh -c 'echo "child $$"; exec sleep 1000') & wait`)
			id := start(t, r, s)
			line := waitLog(t, r, id, "child ")
			pid, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "child ")))
			if err != nil {
				t.Fatalf("child pid from %q: %v", line, err)
			}
			if !alive(pid, 0) {
				t.Fatalf("child %d is not running before the stop", pid)
			}
			if stop == "stop" {
				err = r.Stop(ctx, id, time.Minute)
			} else {
				err = r.Kill(ctx, id)
			}
			if err != nil {
				t.Fatal(err)
			}
			testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, "child gone", func() error {
				if alive(pid, 0) {
					return fmt.Errorf("child %d still runs", pid)
				}
				return nil
			})
		})
	}
}

// waitLog waits for a log line containing s and returns it.
func waitLog(t testing.TB, r *Runtime, id, s string) string {
	t.Helper()
	var line string
	testenv.Eventually(t, 20*time.Second, 20*time.Millisecond, "log line "+s, func() error {
		var b bytes.Buffer
		if err := r.Logs(context.Background(), id, supervisor.LogOptions{}, &b); err != nil {
			return err
		}
		for _, l := range strings.Split(b.String(), "\n") {
			if strings.Contains(l, s) {
				line = l
				return nil
			}
		}
		return fmt.Errorf("not in log:\n%s", b.String())
	})
	return line
}

func TestFilesEnvAndMounts(t *testing.T) {
	dir := t.TempDir()
	r := newRuntime(t, dir)
	ctx := context.Background()
	if _, err := r.EnsureVolume(ctx, project, supervisor.Volume{Name: "data"}); err != nil {
		t.Fatal(err)
	}
	s := shell("files", `echo "dir=$MOAT_INSTANCE_DIR"; echo "home=$HOME"; echo "greeting=$GREETING"; echo "pwd=$(pwd -P)"; `+
		`cat "$MOAT_INSTANCE_DIR/root/etc/x/y.conf"; echo stored > "$MOAT_INSTANCE_DIR/root/var/data/out"`)
	s.Env = map[string]string{"GREETING": "hello"}
	s.WorkingDir = "/srv/app"
	s.Files = []supervisor.File{{Path: "/etc/x/y.conf", Mode: 0o640, Content: []byte("key=value\n")}}
	s.Mounts = []supervisor.Mount{{Volume: "data", Target: "/var/data"}}
	events := subscribe(t, r)
	id, err := r.Create(ctx, project, s, "")
	if err != nil {
		t.Fatal(err)
	}
	inst := filepath.Join(dir, project, "files-1")
	fi, err := os.Stat(filepath.Join(inst, "root/etc/x/y.conf"))
	if err != nil {
		t.Fatalf("file not in place after Create: %v", err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("file mode %v, want 0640", fi.Mode().Perm())
	}
	if fi, err := os.Stat(filepath.Join(inst, "spec.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("spec.json (holds the env): %v, %v; want mode 0600", fi, err)
	}
	if err := r.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	if e := waitEvent(t, events, id, supervisor.EventDie, ""); e.ExitCode != 0 {
		t.Fatalf("exit code %d", e.ExitCode)
	}
	want := fmt.Sprintf("dir=%s\nhome=%s/root\ngreeting=hello\npwd=%s/root/srv/app\nkey=value\n", inst, inst, inst)
	if log := readLog(t, r, id); log != want {
		t.Errorf("log:\n%s\nwant:\n%s", log, want)
	}
	b, err := os.ReadFile(filepath.Join(dir, project, "volumes/data/out"))
	if err != nil || string(b) != "stored\n" {
		t.Errorf("volume file: %q, %v; want the process's write through the mount", b, err)
	}
	in := inspect(t, r, id)
	if in.Name != project+"-files-1" || in.Service != "files" || in.ConfigHash != s.ConfigHash() {
		t.Errorf("inspect: name %q service %q hash %q", in.Name, in.Service, in.ConfigHash)
	}
}

func TestCreateErrors(t *testing.T) {
	r := newRuntime(t, t.TempDir())
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		spec supervisor.Spec
		want string
	}{
		{"no program", supervisor.Spec{Name: "x", Image: "no-such-program-moat"}, "install it or give its path"},
		{"bad name", supervisor.Spec{Name: "../x", Image: "sh"}, `service name "../x"`},
		{"bad signal", supervisor.Spec{Name: "x", Image: "sh", StopSignal: "SIGNOPE"}, `stop_signal "SIGNOPE"`},
		{"no volume", supervisor.Spec{Name: "x", Image: "sh", Mounts: []supervisor.Mount{{Volume: "v", Target: "/v"}}}, "EnsureVolume"},
	} {
		_, err := r.Create(ctx, project, tc.spec, "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := r.Inspect(ctx, "nope"); !errors.Is(err, supervisor.ErrNotFound) {
		t.Errorf("Inspect of an unknown id: %v, want ErrNotFound", err)
	}
}

func TestLogs(t *testing.T) {
	r := newRuntime(t, t.TempDir())
	ctx := context.Background()
	events := subscribe(t, r)
	id := start(t, r, shell("lines", `for i in 1 2 3 4 5; do echo line$i; done; echo err >&2; printf partial`))
	waitEvent(t, events, id, supervisor.EventDie, "")
	for _, tc := range []struct {
		tail int
		want string
	}{
		{0, "line1\nline2\nline3\nline4\nline5\nerr\npartial"},
		{2, "err\npartial"},
		{3, "line5\nerr\npartial"},
		{100, "line1\nline2\nline3\nline4\nline5\nerr\npartial"},
	} {
		var b bytes.Buffer
		if err := r.Logs(ctx, id, supervisor.LogOptions{Tail: tc.tail}, &b); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("tail %d: %q, want %q", tc.tail, b.String(), tc.want)
		}
	}
}

func TestTailOffset(t *testing.T) {
	for _, tc := range []struct {
		content string
		n       int
		want    string
	}{
		{"", 1, ""},
		{"a\n", 1, "a\n"},
		{"a\nb\n", 1, "b\n"},
		{"a\nb\n", 5, "a\nb\n"},
		{"a\n\nb\n", 2, "\nb\n"},
		{strings.Repeat("x", 70000) + "\ny\n", 1, "y\n"},
		{strings.Repeat("x\n", 40000), 2, "x\nx\n"},
	} {
		f, err := os.CreateTemp(t.TempDir(), "log")
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(tc.content)
		off, err := tailOffset(f, tc.n)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got := tc.content[off:]; got != tc.want {
			t.Errorf("tail %d of %.20q…: %.20q, want %.20q", tc.n, tc.content, got, tc.want)
		}
	}
}

func TestLogsFollow(t *testing.T) {
	r := newRuntime(t, t.TempDir())
	ctx := context.Background()
	s, _ := serve(t, "chatty")
	id, err := r.Create(ctx, project, s, "")
	if err != nil {
		t.Fatal(err)
	}
	var out testenv.SyncBuffer
	done := make(chan error, 1)
	go func() { done <- r.Logs(ctx, id, supervisor.LogOptions{Follow: true}, &out) }()
	if err := r.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	contains := func(s string) func() error {
		return func() error {
			if !strings.Contains(out.String(), s) {
				return fmt.Errorf("followed output so far: %q", out.String())
			}
			return nil
		}
	}
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, "start line followed", contains("serving HTTP"))
	if err := r.Stop(ctx, id, time.Minute); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, 20*time.Millisecond, "stop line followed", contains("stopping in"))
	select {
	case err := <-done:
		t.Fatalf("Logs returned (%v) while the instance exists", err)
	default:
	}
	if err := r.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Logs after removal: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Logs with Follow did not return after Remove")
	}
}

// TestAdoption: a new Runtime on the same directory finds the running
// instance, under the same ID, and sees it exit.
func TestAdoption(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	first, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, base := serve(t, "adopted")
	s.Health = &supervisor.Probe{
		Command:  []string{workload, "probe", "-timeout", "1s", base + "/health"},
		Interval: 50 * time.Millisecond, Timeout: 5 * time.Second, Retries: 3,
	}
	id, err := first.Create(ctx, project, s, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitLog(t, first, id, "serving HTTP")
	first.Close()

	second := newRuntime(t, dir)
	t.Cleanup(func() { second.Remove(context.Background(), id) })
	events := subscribe(t, second)
	inv, err := second.List(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Instances) != 1 || inv.Instances[0].ID != id || inv.Instances[0].State != supervisor.StateRunning {
		t.Fatalf("second runtime lists %+v, want instance %s running", inv.Instances, id)
	}
	waitEvent(t, events, id, supervisor.EventHealth, supervisor.HealthHealthy) // probes resumed

	post(t, base+"/crash?code=4")
	if e := waitEvent(t, events, id, supervisor.EventDie, ""); e.ExitCode != -1 {
		t.Errorf("adopted exit code %d, want -1 (unknown: not our child)", e.ExitCode)
	}
	if in := inspect(t, second, id); in.State != supervisor.StateExited {
		t.Errorf("state after exit %s, want exited", in.State)
	}

	// A third Runtime finds it exited, not running.
	third := newRuntime(t, dir)
	if in := inspect(t, third, id); in.State != supervisor.StateExited {
		t.Errorf("third runtime: state %s, want exited", in.State)
	}
}

// TestAdoptDead: an instance recorded as running whose pid is gone (or is
// another process now) is exited with code -1.
func TestAdoptDead(t *testing.T) {
	dir := t.TempDir()
	r := newRuntime(t, dir)
	id, err := r.Create(context.Background(), project, shell("dead", "true"), "")
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	inst := r.insts[id]
	inst.rec.State, inst.rec.Pid, inst.rec.StartTicks = supervisor.StateRunning, os.Getpid(), 1 // our pid, wrong start time
	inst.saveLocked()
	r.mu.Unlock()
	r.Close()

	again := newRuntime(t, dir)
	if in := inspect(t, again, id); in.State != supervisor.StateExited || in.ExitCode != -1 {
		t.Errorf("state %s code %d, want exited -1: pid reuse must not be adopted", in.State, in.ExitCode)
	}
}

func TestInventory(t *testing.T) {
	r := newRuntime(t, t.TempDir())
	ctx := context.Background()
	events := subscribe(t, r)
	for range 2 {
		created, err := r.EnsureNetwork(ctx, project, supervisor.Network{Name: "mesh", Internal: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("network created=%v", created)
	}
	if created, _ := r.EnsureVolume(ctx, project, supervisor.Volume{Name: "data"}); !created {
		t.Error("first EnsureVolume did not create")
	}
	if created, _ := r.EnsureVolume(ctx, project, supervisor.Volume{Name: "data"}); created {
		t.Error("second EnsureVolume created again")
	}
	s, _ := serve(t, "app")
	s.Networks = []supervisor.Attachment{{Network: "mesh"}}
	id := start(t, r, s)
	inv, err := r.List(ctx, project)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Instances) != 1 || len(inv.Networks) != 1 || inv.Networks[0] != "mesh" || len(inv.Volumes) != 1 || inv.Volumes[0] != "data" {
		t.Fatalf("inventory %+v", inv)
	}
	in := inv.Instances[0]
	if in.Addresses["mesh"] != "127.0.0.1" || len(in.Ports) != 1 || in.Ports[0] != s.Ports[0] {
		t.Errorf("addresses %v ports %v", in.Addresses, in.Ports)
	}
	if other, _ := r.List(ctx, "other"); len(other.Instances)+len(other.Networks)+len(other.Volumes) != 0 {
		t.Errorf("another project sees %+v", other)
	}

	if err := r.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, events, id, supervisor.EventRemove, "")
	if err := r.RemoveNetwork(ctx, project, "mesh"); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveVolume(ctx, project, "data"); err != nil {
		t.Fatal(err)
	}
	inv, _ = r.List(ctx, project)
	if len(inv.Instances)+len(inv.Networks)+len(inv.Volumes) != 0 {
		t.Errorf("after removal: %+v", inv)
	}
	if err := r.RemoveNetwork(ctx, project, "mesh"); !errors.Is(err, supervisor.ErrNotFound) {
		t.Errorf("removing a removed network: %v, want ErrNotFound", err)
	}
	if _, err := r.Inspect(ctx, id); !errors.Is(err, supervisor.ErrNotFound) {
		t.Errorf("inspect after remove: %v, want ErrNotFound", err)
	}
}

// TestEventsEnd: the error channel yields one error and both channels close
// when ctx ends and when the Runtime closes.
func TestEventsEnd(t *testing.T) {
	r, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch1, errc1 := r.Events(ctx, project)
	ch2, errc2 := r.Events(context.Background(), project)
	cancel()
	if err := <-errc1; !errors.Is(err, context.Canceled) {
		t.Errorf("after cancel: %v, want context.Canceled", err)
	}
	if _, ok := <-ch1; ok {
		t.Error("events channel open after cancel")
	}
	r.Close()
	if err := <-errc2; !errors.Is(err, errClosed) {
		t.Errorf("after Close: %v, want %v", err, errClosed)
	}
	if _, ok := <-ch2; ok {
		t.Error("events channel open after Close")
	}
}

// TestSlowSubscriber: a subscriber that does not read is ended with an
// error once its buffer is full; the runtime goes on, others still hear.
func TestSlowSubscriber(t *testing.T) {
	r := newRuntime(t, t.TempDir())
	ctx := context.Background()
	slow, slowErr := r.Events(ctx, project)
	id, err := r.Create(ctx, project, shell("noisy", "true"), "")
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	inst := r.insts[id]
	r.mu.Unlock()
	fast, _ := r.Events(ctx, project) // a reader that keeps up
	for i := 0; i <= eventBuffer; i++ {
		r.mu.Lock()
		r.publishLocked(inst, supervisor.EventStart, 0)
		r.mu.Unlock()
		if e := <-fast; e.ID != id {
			t.Fatalf("fast subscriber got %+v", e)
		}
	}
	if err := <-slowErr; err == nil || !strings.Contains(err.Error(), "fell 256 events behind") {
		t.Errorf("slow subscriber's error: %v", err)
	}
	n := 0
	for range slow {
		n++
	}
	if n != eventBuffer {
		t.Errorf("slow subscriber kept %d events, want the %d buffered", n, eventBuffer)
	}
}

// BenchmarkStartKill measures one instance's life: create, start, kill
// (with the exit seen), remove.
func BenchmarkStartKill(b *testing.B) {
	r := newRuntime(b, b.TempDir())
	ctx := context.Background()
	s := supervisor.Spec{Name: "sleeper", Image: "sleep", Command: []string{"1000"}}
	for b.Loop() {
		id, err := r.Create(ctx, project, s, "")
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Start(ctx, id); err != nil {
			b.Fatal(err)
		}
		if err := r.Kill(ctx, id); err != nil {
			b.Fatal(err)
		}
		if err := r.Remove(ctx, id); err != nil {
			b.Fatal(err)
		}
	}
}
