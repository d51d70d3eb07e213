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

func newEngine(t *testing.T, clk supervisor.Clock) *supervisor.Engine {
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
	return eng
}

func status(eng *supervisor.Engine, name string) supervisor.ServiceStatus {
	for _, s := range eng.Status() {
		if s.Name == name {
			return s
		}
	}
	return supervisor.ServiceStatus{}
}

func waitPhase(t *testing.T, eng *supervisor.Engine, name string, phase supervisor.Phase) supervisor.ServiceStatus {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, 10*time.Millisecond, fmt.Sprintf("%s is %s", name, phase), func() error {
		if s := status(eng, name); s.Phase != phase {
			return fmt.Errorf("it is %s (%s)", s.Phase, s.Reason)
		}
		return nil
	})
	return status(eng, name)
}

func TestRestartWaitsForBackoffOnTheClock(t *testing.T) {
	clk := supervisor.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	eng := newEngine(t, clk)
	crasher := supervisor.Spec{
		Name: "crasher", Image: workload, Restart: supervisor.RestartAlways,
		Command: []string{"-listen", fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), "-exit-after", "50ms", "-exit-code", "2"},
	}
	if err := eng.Up(context.Background(), supervisor.Topology{Project: "enginetest", Services: []supervisor.Spec{crasher}}); err != nil {
		t.Fatal(err)
	}
	s := waitPhase(t, eng, "crasher", supervisor.PhaseRestarting)
	if !strings.Contains(s.Reason, "exited with code 2; restarting in 10s") {
		t.Fatalf("reason %q", s.Reason)
	}
	// The first delay is 10s (jitter 0 at r=0.5): nothing happens before.
	clk.Advance(9 * time.Second)
	if s := status(eng, "crasher"); s.Phase != supervisor.PhaseRestarting || s.Restarts != 0 {
		t.Fatalf("restarted before its backoff: %+v", s)
	}
	clk.Advance(time.Second)
	testenv.Eventually(t, 20*time.Second, 10*time.Millisecond, "the second failure", func() error {
		if s := status(eng, "crasher"); !strings.Contains(s.Reason, "restarting in 20s") || s.Restarts != 1 {
			return fmt.Errorf("%+v (want the delay doubled)", s)
		}
		return nil
	})
	clk.Advance(20 * time.Second)
	s = waitPhase(t, eng, "crasher", supervisor.PhaseFailed)
	if !strings.Contains(s.Reason, "crash loop: failed 3 times within 5m0s") || s.Restarts != 2 {
		t.Fatalf("crash loop: %+v", s)
	}
	if clk.Pending() != 0 {
		t.Errorf("%d timers pending after the service failed", clk.Pending())
	}
}

func TestStartTimeoutOnTheClock(t *testing.T) {
	clk := supervisor.NewFakeClock(time.Now())
	eng := newEngine(t, clk)
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
	waitPhase(t, eng, "slow", supervisor.PhaseStarting)
	testenv.Eventually(t, 10*time.Second, 10*time.Millisecond, "the start timeout is armed", func() error {
		if clk.Pending() == 0 {
			return fmt.Errorf("no timer")
		}
		return nil
	})
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
	var warnings atomic.Int32
	eng := supervisor.New(supervisor.Options{
		Project: "enginetest", Runtime: rt, Clock: clk, Rand: func() float64 { return 0.5 },
		Backoff: supervisor.Backoff{Initial: 10 * time.Second, Max: time.Minute, Factor: 2, StableAfter: time.Hour},
		Warn:    func(string) { warnings.Add(1) },
	})
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		eng.Down(context.Background(), supervisor.DownOptions{DefaultGrace: time.Second})
		eng.Close()
	}()
	svc := supervisor.Spec{Name: "svc", Image: workload, Restart: supervisor.RestartAlways,
		Command: []string{"-listen", fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))}}
	if err := eng.Up(context.Background(), supervisor.Topology{Project: "enginetest", Services: []supervisor.Spec{svc}}); err != nil {
		t.Fatal(err)
	}
	s := waitPhase(t, eng, "svc", supervisor.PhaseRunning)
	close(rt.brk)
	testenv.Eventually(t, 10*time.Second, 10*time.Millisecond, "the break is noticed", func() error {
		if warnings.Load() == 0 || clk.Pending() == 0 {
			return errors.New("no warning or no resubscription timer yet")
		}
		return nil
	})
	if err := base.Kill(context.Background(), s.InstanceID); err != nil { // unseen: the stream is down
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, 10*time.Millisecond, "the kill is recorded by the runtime", func() error {
		in, err := base.Inspect(context.Background(), s.InstanceID)
		if err != nil || in.State == supervisor.StateRunning {
			return fmt.Errorf("%+v %v", in, err)
		}
		return nil
	})
	if st := status(eng, "svc"); st.Phase != supervisor.PhaseRunning {
		t.Fatalf("the engine saw the kill through a broken stream: %+v", st)
	}
	clk.Advance(10 * time.Second) // the resubscription backoff
	st := waitPhase(t, eng, "svc", supervisor.PhaseRestarting)
	if !strings.Contains(st.Reason, "exited with code 137") {
		t.Errorf("after resync: %+v", st)
	}
}
