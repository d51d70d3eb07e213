package supervisor_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"moat/supervisor"
)

// TestUnhealthyIsRestarted: a service that was healthy and fails its probe
// is killed and restarted through the crash path, unless it is never
// restarted; its probe's output is the reason.
func TestUnhealthyIsRestarted(t *testing.T) {
	for _, tc := range []struct {
		restart supervisor.RestartMode
		killed  bool
	}{
		{supervisor.RestartAlways, true},
		{supervisor.RestartOnFailure, true},
		{supervisor.RestartNever, false},
	} {
		t.Run(string(tc.restart), func(t *testing.T) {
			f := newFake(t, true)
			web := probed("web")
			web.Restart = tc.restart
			f.mustUp(web)
			if err := f.rt.SetHealth("web-1", supervisor.HealthUnhealthy, "HTTP 503: disk full"); err != nil {
				t.Fatal(err)
			}
			f.w.awaitReason("web", supervisor.PhaseUnhealthy, "health probe failing: HTTP 503: disk full")
			if !tc.killed {
				f.eng.Close() // waits for every goroutine it started: a kill would be done
				if kills := f.calls("kill "); len(kills) != 0 {
					t.Errorf("a service that is never restarted was killed: %v", kills)
				}
				return
			}
			f.w.awaitReason("web", supervisor.PhaseRestarting, "exited with code 137; restarting in 10s")
			f.clk.Advance(10 * time.Second)
			f.w.await("web", supervisor.PhaseHealthy)
			want := []supervisor.Phase{supervisor.PhaseWaiting, supervisor.PhaseStarting, supervisor.PhaseHealthy, supervisor.PhaseUnhealthy, supervisor.PhaseRestarting, supervisor.PhaseStarting, supervisor.PhaseHealthy}
			if got := f.w.phases("web"); !slices.Equal(got, want) && !slices.Equal(got, want[1:]) {
				t.Errorf("phases %v, want %v", got, want)
			}
			if st := f.status("web"); st.Restarts != 1 || st.InstanceID != "web-1" {
				t.Errorf("after the restart: %+v", st)
			}
			if got := f.calls("kill ", "start "); !slices.Equal(got, []string{"start web-1", "kill web-1", "start web-1"}) {
				t.Errorf("calls %v", got)
			}
		})
	}
}

// TestNeverHealthyIsLeftToItsTimeout: a service that fails its probe before
// it was ever healthy is not killed: its start timeout decides.
func TestNeverHealthyIsLeftToItsTimeout(t *testing.T) {
	f := newFake(t, false)
	errc := f.upAsync(supervisor.Topology{Project: project, Services: []supervisor.Spec{probed("web")}})
	f.w.await("web", supervisor.PhaseStarting)
	if err := f.rt.SetHealth("web-1", supervisor.HealthUnhealthy, "refused"); err != nil {
		t.Fatal(err)
	}
	f.w.await("web", supervisor.PhaseUnhealthy)
	f.awaitTimers(1)
	f.clk.Advance(time.Minute)
	if err := f.result(errc); err == nil || !strings.Contains(err.Error(), "web did not become healthy within 1m0s (it is unhealthy); last probe: refused") {
		t.Fatalf("Up: %v", err)
	}
	if kills := f.calls("kill "); len(kills) != 0 {
		t.Errorf("killed while starting: %v", kills)
	}
}

// TestRestartPolicy: what an exit leads to, by restart mode and exit code,
// and the backoff between restarts on the clock.
func TestRestartPolicy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		restart supervisor.RestartMode
		codes   []int // exits, one per run
		// phase and reason after the last exit; delays are the backoff
		// delays the test advances through.
		phase  supervisor.Phase
		reason string
		delays []time.Duration
		stop   bool // crash_loop = "stop"
	}{
		{"always restarts a clean exit", supervisor.RestartAlways, []int{0}, supervisor.PhaseRestarting, "exited with code 0; restarting in 10s", nil, false},
		{"on-failure completes on 0", supervisor.RestartOnFailure, []int{0}, supervisor.PhaseCompleted, "exited with code 0", nil, false},
		{"on-failure restarts on 2", supervisor.RestartOnFailure, []int{2}, supervisor.PhaseRestarting, "exited with code 2; restarting in 10s", nil, false},
		{"never fails on 1", supervisor.RestartNever, []int{1}, supervisor.PhaseFailed, "exited with code 1", nil, false},
		{"backoff doubles", supervisor.RestartAlways, []int{1, 1}, supervisor.PhaseRestarting, "exited with code 1; restarting in 20s", []time.Duration{10 * time.Second}, false},
		{
			"crash loop: 3 failures within 5m, retried after 5m", supervisor.RestartAlways, []int{1, 1, 7}, supervisor.PhaseCrashLooping,
			"crash loop: failed 3 times within 5m0s; last: exited with code 7; next try at 00:05:30 (in 5m0s)", []time.Duration{10 * time.Second, 20 * time.Second}, false,
		},
		{
			"crash loop with stop: failed for good", supervisor.RestartAlways, []int{1, 1, 7}, supervisor.PhaseFailed,
			"crash loop: failed 3 times within 5m0s; last: exited with code 7; not restarting", []time.Duration{10 * time.Second, 20 * time.Second}, true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, true, func(o *supervisor.Options) { o.CrashLoop.Stop = tc.stop })
			s := svc("job")
			s.Restart = tc.restart
			f.mustUp(s)
			for i, code := range tc.codes {
				if i > 0 {
					f.clk.Advance(tc.delays[i-1])
					f.w.await("job", supervisor.PhaseRunning)
				}
				if err := f.rt.Die("job-1", code); err != nil {
					t.Fatal(err)
				}
				if i < len(tc.codes)-1 {
					f.w.await("job", supervisor.PhaseRestarting)
				}
			}
			f.w.awaitReason("job", tc.phase, tc.reason)
			if st := f.status("job"); st.Restarts != len(tc.delays) {
				t.Errorf("restarts %d, want %d", st.Restarts, len(tc.delays))
			}
			if tc.phase != supervisor.PhaseRestarting && tc.phase != supervisor.PhaseCrashLooping && f.clk.Pending() != 0 {
				t.Errorf("%d timers pending for a service that is not restarted", f.clk.Pending())
			}
		})
	}
}

// TestBackoffResetsAfterAStableRun: a service that ran for StableAfter
// before it failed starts over at the first delay, and failures outside the
// crash-loop window are forgotten.
func TestBackoffResetsAfterAStableRun(t *testing.T) {
	f := newFake(t, true)
	f.mustUp(svc("job"))
	for range 2 {
		if err := f.rt.Die("job-1", 1); err != nil {
			t.Fatal(err)
		}
		f.w.awaitReason("job", supervisor.PhaseRestarting, "restarting in 10s")
		f.clk.Advance(10 * time.Second)
		f.w.await("job", supervisor.PhaseRunning)
		f.clk.Advance(2 * time.Hour) // a stable run
	}
	if err := f.rt.Die("job-1", 1); err != nil {
		t.Fatal(err)
	}
	f.w.awaitReason("job", supervisor.PhaseRestarting, "restarting in 10s")
}

// TestEventStreamLoss: when the runtime's event stream breaks, the engine
// warns, subscribes again after a backoff on the clock and resynchronises
// from Inspect: what happened in the gap is not lost.
func TestEventStreamLoss(t *testing.T) {
	for _, tc := range []struct {
		name string
		gap  func(f *fake) error // what happens while the stream is down
		// phase and reason the service reaches after the resync.
		phase  supervisor.Phase
		reason string
	}{
		{"a die", func(f *fake) error { return f.rt.Die("web-1", 3) }, supervisor.PhaseRestarting, "exited with code 3; restarting in 10s"},
		{"a removal", func(f *fake) error { return f.rt.Remove(t.Context(), "web-1") }, supervisor.PhaseRestarting, "exited with code -1"},
		{
			"a failing probe", func(f *fake) error { return f.rt.SetHealth("web-1", supervisor.HealthUnhealthy, "stuck") },
			supervisor.PhaseUnhealthy, "health probe failing: stuck",
		},
		{"nothing, then a die", nil, supervisor.PhaseRestarting, "exited with code 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, true)
			f.mustUp(probed("web"))
			f.rt.BreakEvents(errors.New("daemon restarted"))
			f.awaitWarning("the fake event stream ended (daemon restarted); subscribing again in 10s")
			f.awaitTimers(1) // the resubscription backoff
			if tc.gap != nil {
				if err := tc.gap(f); err != nil {
					t.Fatal(err)
				}
			}
			if st := f.status("web"); st.Phase != supervisor.PhaseHealthy {
				t.Fatalf("the engine saw through a broken stream: %+v", st)
			}
			f.clk.Advance(10 * time.Second)
			if tc.gap == nil {
				// Whether this lands before the new subscription (the
				// resync sees it) or after (the stream does), it is seen.
				if err := f.rt.Die("web-1", 4); err != nil {
					t.Fatal(err)
				}
			}
			f.w.awaitReason("web", tc.phase, tc.reason)
		})
	}
}

// TestEventStreamLossRetriesWithBackoff: a resubscription whose resync
// finds the runtime unreachable backs off further, on the clock.
func TestEventStreamLossRetriesWithBackoff(t *testing.T) {
	f := newFake(t, true)
	f.mustUp(svc("web"))
	f.rt.Fail("inspect", "", errors.New("daemon down"))
	f.rt.Fail("events", "", errors.New("daemon down"))
	f.rt.BreakEvents(errors.New("daemon restarted"))
	f.awaitWarning("subscribing again in 10s")
	f.awaitTimers(1)
	f.clk.Advance(10 * time.Second)
	f.awaitWarning("the fake event stream ended (supervisortest: events : daemon down); subscribing again in 20s")
	f.rt.Fail("inspect", "", nil)
	f.rt.Fail("events", "", nil)
	if err := f.rt.Die("web-1", 5); err != nil {
		t.Fatal(err)
	}
	f.awaitTimers(1)
	f.clk.Advance(20 * time.Second)
	f.w.awaitReason("web", supervisor.PhaseRestarting, "exited with code 5")
}

// TestDuplicateDieCountsOnce: an exit reported twice (a resync and the new
// stream overlap) is one failure with one restart timer.
func TestDuplicateDieCountsOnce(t *testing.T) {
	f := newFake(t, true)
	f.mustUp(svc("web"), svc("other"))
	if err := f.rt.Die("web-1", 1); err != nil {
		t.Fatal(err)
	}
	f.w.awaitReason("web", supervisor.PhaseRestarting, "restarting in 10s")
	if err := f.rt.Repeat("web-1", supervisor.EventDie); err != nil {
		t.Fatal(err)
	}
	if err := f.rt.Die("other-1", 1); err != nil { // applied after the repeat
		t.Fatal(err)
	}
	f.w.await("other", supervisor.PhaseRestarting)
	if n := strings.Count(fmt.Sprint(f.w.phases("web")), string(supervisor.PhaseRestarting)); n != 1 {
		t.Errorf("web restarting %d times: %v", n, f.w.phases("web"))
	}
	if n := f.clk.Pending(); n != 2 {
		t.Errorf("%d timers pending, want one restart each", n)
	}
	f.clk.Advance(10 * time.Second)
	f.w.await("web", supervisor.PhaseRunning)
	if st := f.status("web"); st.Restarts != 1 {
		t.Errorf("web restarts %d, want 1", st.Restarts)
	}
}
