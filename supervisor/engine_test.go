package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"moat/internal/testenv"
	"moat/supervisor"
	"moat/supervisor/process"
	"moat/supervisor/supervisortest"
)

// The engine's timing (restart backoff, crash-loop window, start timeouts)
// runs on a FakeClock here, over real local processes.

var workload string

func TestMain(m *testing.M) {
	dir, _ := os.MkdirTemp("", "engine-test")
	workload = filepath.Join(dir, "workload")
	if out, err := exec.Command("go", "build", "-o", workload, "moat/internal/workload").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build workload: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func newEngine(t *testing.T, clk supervisor.Clock) (*supervisor.Engine, *watcher) {
	t.Helper()
	rt, err := process.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	eng := supervisor.New(supervisor.Options{
		Project: "enginetest", Runtime: rt, Clock: clk, Rand: func() float64 { return 0.5 },
		Backoff:   supervisor.Backoff{Initial: 10 * time.Second, Max: time.Minute, Factor: 2, Jitter: 0.2, StableAfter: time.Hour},
		CrashLoop: supervisor.CrashLoop{Failures: 3, Window: 5 * time.Minute},
	})
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		eng.Down(context.Background(), supervisor.DownOptions{DefaultGrace: time.Second})
		eng.Close()
		rt.Close()
	})
	return eng, watch(t, eng)
}

func status(eng *supervisor.Engine, name string) supervisor.ServiceStatus {
	for _, s := range eng.Status() {
		if s.Name == name {
			return s
		}
	}
	return supervisor.ServiceStatus{}
}

func TestRestartWaitsForBackoffOnTheClock(t *testing.T) {
	clk := supervisor.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	eng, w := newEngine(t, clk)
	crasher := supervisor.Spec{
		Name: "crasher", Image: workload, Restart: supervisor.RestartAlways,
		Command: []string{"-listen", fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), "-exit-after", "50ms", "-exit-code", "2"},
	}
	if err := eng.Up(context.Background(), supervisor.Topology{Project: "enginetest", Services: []supervisor.Spec{crasher}}); err != nil {
		t.Fatal(err)
	}
	w.awaitReason("crasher", supervisor.PhaseRestarting, "exited with code 2; restarting in 10s")
	// The first delay is 10s (jitter 0 at r=0.5): nothing happens before.
	clk.Advance(9 * time.Second)
	if s := status(eng, "crasher"); s.Phase != supervisor.PhaseRestarting || s.Restarts != 0 {
		t.Fatalf("restarted before its backoff: %+v", s)
	}
	clk.Advance(time.Second)
	if tr := w.awaitReason("crasher", supervisor.PhaseRestarting, "exited with code 2"); !strings.Contains(tr.Reason, "restarting in 20s") || tr.Restarts != 1 {
		t.Fatalf("the second failure: %+v (want the delay doubled)", tr)
	}
	clk.Advance(20 * time.Second)
	// The third failure within the window: tried again after the long delay.
	w.awaitReason("crasher", supervisor.PhaseCrashLooping, "crash loop: failed 3 times within 5m0s; last: exited with code 2; next try at 00:05:30 (in 5m0s)")
	if s := status(eng, "crasher"); s.Restarts != 2 || !s.NextTry.Equal(clk.Now().Add(5*time.Minute)) {
		t.Fatalf("crash loop: %+v", s)
	}
	if clk.Pending() != 1 {
		t.Errorf("%d timers pending for a crash-looping service, want its next try", clk.Pending())
	}
	clk.Advance(5*time.Minute - time.Second)
	if s := status(eng, "crasher"); s.Restarts != 2 {
		t.Fatalf("tried again before the delay: %+v", s)
	}
	clk.Advance(time.Second)
	// Still not healthy: the next try is after the long delay again.
	if tr := w.awaitReason("crasher", supervisor.PhaseCrashLooping, "crash loop: failed again before it was healthy; last: exited with code 2; next try at 00:10:30"); tr.Restarts != 3 {
		t.Fatalf("the try after the delay: %+v", tr)
	}
}

func TestStartTimeoutOnTheClock(t *testing.T) {
	clk := supervisor.NewFakeClock(time.Now())
	eng, w := newEngine(t, clk)
	port := testenv.FreePort(t)
	slow := supervisor.Spec{
		Name: "slow", Image: workload, Restart: supervisor.RestartAlways, StartTimeout: time.Minute,
		Command: []string{"-listen", fmt.Sprintf("127.0.0.1:%d", port), "-ready-after", "1h"},
		Health: &supervisor.Probe{Command: []string{workload, "probe", fmt.Sprintf("http://127.0.0.1:%d/health", port)},
			Interval: 50 * time.Millisecond, Timeout: time.Second, Retries: 100},
	}
	errc := make(chan error, 1)
	go func() {
		errc <- eng.Up(context.Background(), supervisor.Topology{Project: "enginetest", Services: []supervisor.Spec{slow}})
	}()
	w.await("slow", supervisor.PhaseStarting)
	supervisortest.AwaitTimers(t, clk, 1) // the start timeout
	clk.Advance(time.Minute)
	err := <-errc
	if err == nil || !strings.Contains(err.Error(), "slow did not become healthy within 1m0s") || !strings.Contains(err.Error(), "starting") {
		t.Fatalf("Up: %v", err)
	}
}

// flakyEvents is a real runtime whose first event subscription breaks when
// told to, as Docker's does when the daemon restarts.
type flakyEvents struct {
	supervisor.Runtime
	brk   chan struct{}
	calls atomic.Int32
}

func (f *flakyEvents) Events(ctx context.Context, project string) (<-chan supervisor.Event, <-chan error) {
	if f.calls.Add(1) > 1 {
		return f.Runtime.Events(ctx, project)
	}
	inner, cancel := context.WithCancel(ctx)
	in, _ := f.Runtime.Events(inner, project)
	out, errs := make(chan supervisor.Event), make(chan error, 1)
	go func() {
		defer close(out)
		defer close(errs)
		defer cancel()
		for {
			select {
			case <-f.brk:
				errs <- errors.New("stream broke (test)")
				return
			case <-ctx.Done():
				return
			case ev, ok := <-in:
				if !ok {
					return
				}
				select {
				case out <- ev:
				case <-f.brk:
					errs <- errors.New("stream broke (test)")
					return
				}
			}
		}
	}()
	return out, errs
}

// A die that happens while the event stream is down is not lost: the
// engine subscribes again after a backoff and resynchronises from Inspect.
func TestEventStreamBreakIsResynchronised(t *testing.T) {
	clk := supervisor.NewFakeClock(time.Now())
	base, err := process.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	rt := &flakyEvents{Runtime: base, brk: make(chan struct{})}
	warnings := make(chan string, 10)
	eng := supervisor.New(supervisor.Options{
		Project: "enginetest", Runtime: rt, Clock: clk, Rand: func() float64 { return 0.5 },
		Backoff: supervisor.Backoff{Initial: 10 * time.Second, Max: time.Minute, Factor: 2, StableAfter: time.Hour},
		Warn: func(msg string) {
			select {
			case warnings <- msg:
			default:
			}
		},
	})
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		eng.Down(context.Background(), supervisor.DownOptions{DefaultGrace: time.Second})
		eng.Close()
	}()
	w := watch(t, eng)
	svc := supervisor.Spec{Name: "svc", Image: workload, Restart: supervisor.RestartAlways,
		Command: []string{"-listen", fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))}}
	if err := eng.Up(context.Background(), supervisor.Topology{Project: "enginetest", Services: []supervisor.Spec{svc}}); err != nil {
		t.Fatal(err)
	}
	s := w.await("svc", supervisor.PhaseRunning)
	close(rt.brk)
	select {
	case msg := <-warnings:
		if !strings.Contains(msg, "stream broke (test)") {
			t.Errorf("warning %q, want the stream's error", msg)
		}
	case <-time.After(bound):
		t.Fatal("the break was not noticed")
	}
	supervisortest.AwaitTimers(t, clk, 1) // the resubscription backoff
	// Kill returns once the runtime has seen the exit, which the engine
	// does not: the stream is down.
	if err := base.Kill(context.Background(), s.InstanceID); err != nil {
		t.Fatal(err)
	}
	if in, err := base.Inspect(context.Background(), s.InstanceID); err != nil || in.State == supervisor.StateRunning {
		t.Fatalf("after Kill: %+v, %v", in, err)
	}
	if st := status(eng, "svc"); st.Phase != supervisor.PhaseRunning {
		t.Fatalf("the engine saw the kill through a broken stream: %+v", st)
	}
	clk.Advance(10 * time.Second)
	w.awaitReason("svc", supervisor.PhaseRestarting, "exited with code 137")
}
