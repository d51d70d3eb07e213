package supervisor_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"moat/supervisor"
)

// TestKilledFromOutsideAlwaysRestarts: a healthy service killed from
// outside (SIGKILL as `docker kill` or an OOM kill sends, SIGTERM as a
// daemon shutdown sends) is restarted every time, with the backoff, and is
// never taken for a crash loop (3 failures in 5m here).
func TestKilledFromOutsideAlwaysRestarts(t *testing.T) {
	f := newFake(t, true)
	f.mustUp(probed("db"))
	for i := range 20 {
		code := []int{137, 143}[i%2]
		if err := f.rt.Die("db-1", code); err != nil {
			t.Fatal(err)
		}
		// 10s doubling up to the 1m cap, no jitter at r=0.5.
		want := min(10*time.Second<<i, time.Minute)
		f.w.awaitReason("db", supervisor.PhaseRestarting, "restarting in "+want.String())
		f.clk.Advance(want)
		f.w.await("db", supervisor.PhaseHealthy)
	}
	if st := f.status("db"); st.Restarts != 20 || st.Phase != supervisor.PhaseHealthy {
		t.Errorf("after 20 kills: %+v", st)
	}
	for _, p := range f.w.phases("db") {
		if p == supervisor.PhaseCrashLooping || p == supervisor.PhaseFailed {
			t.Fatalf("db was %s: %v", p, f.w.phases("db"))
		}
	}
	// A stable run resets the backoff.
	f.clk.Advance(2 * time.Hour)
	if err := f.rt.Die("db-1", 137); err != nil {
		t.Fatal(err)
	}
	f.w.awaitReason("db", supervisor.PhaseRestarting, "exited with code 137; restarting in 10s")
}

// neverHealthy brings db up healthy, then makes it fail three times before
// it is healthy again: a crash loop, next tried at 00:06:10.
func neverHealthy(f *fake) {
	f.t.Helper()
	errc := f.upAsync(supervisor.Topology{Project: project, Services: []supervisor.Spec{probed("db")}})
	f.w.await("db", supervisor.PhaseStarting)
	if err := f.rt.SetHealth("db-1", supervisor.HealthHealthy, "ok"); err != nil {
		f.t.Fatal(err)
	}
	if err := f.result(errc); err != nil {
		f.t.Fatal(err)
	}
	// Killed while healthy: not its failure. Then killed, and crashed,
	// before it was healthy again: its own.
	for i, code := range []int{137, 137, 1, 1} {
		if i > 0 {
			f.w.await("db", supervisor.PhaseStarting)
		}
		if err := f.rt.Die("db-1", code); err != nil {
			f.t.Fatal(err)
		}
		if i < 3 {
			f.w.await("db", supervisor.PhaseRestarting)
			f.clk.Advance(10 * time.Second << i)
		}
	}
}

// TestNeverHealthyCrashLoopsAndRecovers: a service that cannot become
// healthy is crash-looping with its reason and its next try, is tried again
// only after the long delay (5m by default), and recovers once it can.
func TestNeverHealthyCrashLoopsAndRecovers(t *testing.T) {
	f := newFake(t, false)
	neverHealthy(f)
	tr := f.w.awaitReason("db", supervisor.PhaseCrashLooping,
		"crash loop: failed 3 times within 5m0s; last: exited with code 1; next try at 00:06:10 (in 5m0s)")
	next := f.clk.Now().Add(5 * time.Minute)
	if st := f.status("db"); !st.NextTry.Equal(next) || !tr.NextTry.Equal(next) || st.Restarts != 3 {
		t.Errorf("crash-looping: %+v; transition next try %s; want %s", st, tr.NextTry, next)
	}
	if err := f.eng.Wait(context.Background(), "db", supervisor.Healthy); err == nil || !strings.Contains(err.Error(), "db is crash-looping: crash loop") {
		t.Errorf("Wait on a crash-looping service: %v", err)
	}
	f.clk.Advance(5*time.Minute - time.Second)
	if st := f.status("db"); st.Phase != supervisor.PhaseCrashLooping || st.Restarts != 3 {
		t.Fatalf("tried before the delay: %+v", st)
	}
	f.clk.Advance(time.Second)
	f.w.await("db", supervisor.PhaseStarting)
	// Still failing: the next try is after the long delay again.
	if err := f.rt.Die("db-1", 1); err != nil {
		t.Fatal(err)
	}
	f.w.awaitReason("db", supervisor.PhaseCrashLooping, "crash loop: failed again before it was healthy; last: exited with code 1; next try at 00:11:10")
	f.clk.Advance(5 * time.Minute)
	f.w.await("db", supervisor.PhaseStarting)
	if err := f.rt.SetHealth("db-1", supervisor.HealthHealthy, "ok"); err != nil {
		t.Fatal(err)
	}
	f.w.await("db", supervisor.PhaseHealthy)
	// Healthy again: the loop is over, a crash is back to the backoff.
	if err := f.rt.Die("db-1", 1); err != nil {
		t.Fatal(err)
	}
	f.w.awaitReason("db", supervisor.PhaseRestarting, "exited with code 1; restarting in 1m0s")
}

// TestCrashLoopStopKeepsTheServiceFailed: with crash_loop = "stop" a crash
// loop is failed for good, with nothing left to fire.
func TestCrashLoopStopKeepsTheServiceFailed(t *testing.T) {
	f := newFake(t, false, func(o *supervisor.Options) { o.CrashLoop.Stop = true })
	neverHealthy(f)
	f.w.awaitReason("db", supervisor.PhaseFailed, "crash loop: failed 3 times within 5m0s; last: exited with code 1; not restarting (fix it, then `moat up`)")
	if n := f.clk.Pending(); n != 0 {
		t.Errorf("%d timers pending for a failed service", n)
	}
	f.clk.Advance(time.Hour)
	if st := f.status("db"); st.Phase != supervisor.PhaseFailed || st.Restarts != 3 {
		t.Errorf("after an hour: %+v", st)
	}
}

// upManual brings db and api (which needs db healthy) up on a runtime
// whose probes pass only when the test says so.
func upManual(f *fake) {
	f.t.Helper()
	errc := f.upAsync(supervisor.Topology{Project: project, Services: []supervisor.Spec{probed("db"), probed("api", on("db", supervisor.Healthy))}})
	for _, name := range []string{"db", "api"} {
		f.w.await(name, supervisor.PhaseStarting)
		if err := f.rt.SetHealth(name+"-1", supervisor.HealthHealthy, "ok"); err != nil {
			f.t.Fatal(err)
		}
	}
	if err := f.result(errc); err != nil {
		f.t.Fatal(err)
	}
}

// TestDependentWaitsOnACrashLoopingDependency: a dependent that exits while
// its dependency is down is not restarted (nor counted as failing) until
// the dependency is healthy again; meanwhile it is waiting on it.
func TestDependentWaitsOnACrashLoopingDependency(t *testing.T) {
	f := newFake(t, false)
	upManual(f)
	if err := f.rt.Die("db-1", 137); err != nil {
		t.Fatal(err)
	}
	f.w.await("db", supervisor.PhaseRestarting)
	if err := f.rt.Die("api-1", 1); err != nil {
		t.Fatal(err)
	}
	f.w.awaitReason("api", supervisor.PhaseWaiting, "exited with code 1; waiting on db (healthy)")
	// db cannot get healthy: three failures, a crash loop.
	for i := range 3 {
		f.clk.Advance(10 * time.Second << i)
		f.w.await("db", supervisor.PhaseStarting)
		if err := f.rt.Die("db-1", 1); err != nil {
			t.Fatal(err)
		}
		f.w.await("db", []supervisor.Phase{supervisor.PhaseRestarting, supervisor.PhaseRestarting, supervisor.PhaseCrashLooping}[i])
	}
	if st := f.status("api"); st.Phase != supervisor.PhaseWaiting || st.WaitingOn != "db (healthy)" || st.Restarts != 0 {
		t.Errorf("api while db is crash-looping: %+v", st)
	}
	if starts := f.calls("start api"); len(starts) != 1 {
		t.Errorf("api was restarted while db was down: %v", starts)
	}
	f.clk.Advance(5 * time.Minute)
	f.w.await("db", supervisor.PhaseStarting)
	if err := f.rt.SetHealth("db-1", supervisor.HealthHealthy, "ok"); err != nil {
		t.Fatal(err)
	}
	f.w.awaitReason("api", supervisor.PhaseRestarting, "db is healthy again; restarting")
	f.w.await("api", supervisor.PhaseStarting)
	if err := f.rt.SetHealth("api-1", supervisor.HealthHealthy, "ok"); err != nil {
		t.Fatal(err)
	}
	f.w.await("api", supervisor.PhaseHealthy)
	if st := f.status("api"); st.Restarts != 1 || st.WaitingOn != "" {
		t.Errorf("api after db came back: %+v", st)
	}
}

// TestUnhealthyDependentWaitsThenIsRechecked: a dependent whose probe fails
// while its dependency is down is not killed; once the dependency is back it
// has its probe's failure window to pass, and is restarted if it does not.
func TestUnhealthyDependentWaitsThenIsRechecked(t *testing.T) {
	for _, recovers := range []bool{true, false} {
		t.Run(map[bool]string{true: "recovers", false: "stays unhealthy"}[recovers], func(t *testing.T) {
			f := newFake(t, false)
			upManual(f)
			if err := f.rt.Die("db-1", 137); err != nil {
				t.Fatal(err)
			}
			f.w.await("db", supervisor.PhaseRestarting)
			if err := f.rt.SetHealth("api-1", supervisor.HealthUnhealthy, "db: connection refused"); err != nil {
				t.Fatal(err)
			}
			f.w.awaitReason("api", supervisor.PhaseUnhealthy, "health probe failing: db: connection refused; waiting on db (healthy)")
			if st := f.status("api"); st.WaitingOn != "db (healthy)" {
				t.Errorf("api: %+v", st)
			}
			f.clk.Advance(10 * time.Second)
			f.w.await("db", supervisor.PhaseStarting)
			if err := f.rt.SetHealth("db-1", supervisor.HealthHealthy, "ok"); err != nil {
				t.Fatal(err)
			}
			f.w.await("db", supervisor.PhaseHealthy)
			if recovers {
				if err := f.rt.SetHealth("api-1", supervisor.HealthHealthy, "ok"); err != nil {
					t.Fatal(err)
				}
				f.w.await("api", supervisor.PhaseHealthy)
			}
			f.clk.Advance(3 * time.Second) // its probe's failure window: 3 × 1s
			if recovers {
				f.eng.Close() // waits for every goroutine it started: a kill would be done
				if kills := f.calls("kill "); len(kills) != 0 {
					t.Errorf("a dependent that recovered was killed: %v", kills)
				}
				return
			}
			f.w.awaitReason("api", supervisor.PhaseRestarting, "exited with code 137; restarting in 10s")
			if kills := f.calls("kill "); !slices.Equal(kills, []string{"kill api-1"}) {
				t.Errorf("kills %v", kills)
			}
		})
	}
}

// TestRestartClearsACrashLoop: Restart starts a crash-looping service at
// once and forgets its failures; a running one is stopped and started.
func TestRestartClearsACrashLoop(t *testing.T) {
	f := newFake(t, false)
	neverHealthy(f)
	f.w.await("db", supervisor.PhaseCrashLooping)
	if err := f.eng.Restart(context.Background(), "db"); err != nil {
		t.Fatal(err)
	}
	f.w.awaitReason("db", supervisor.PhaseRestarting, "restarting on request")
	f.w.await("db", supervisor.PhaseStarting)
	if n := f.clk.Pending(); n != 0 {
		t.Errorf("%d timers pending: the crash loop's next try was not cancelled", n)
	}
	if st := f.status("db"); st.Restarts != 4 || !st.NextTry.IsZero() {
		t.Errorf("after Restart: %+v", st)
	}
	// Its failures are forgotten: the next one is the first.
	if err := f.rt.Die("db-1", 1); err != nil {
		t.Fatal(err)
	}
	f.w.awaitReason("db", supervisor.PhaseRestarting, "exited with code 1; restarting in 10s")
	f.clk.Advance(10 * time.Second)
	f.w.await("db", supervisor.PhaseStarting)
	if err := f.rt.SetHealth("db-1", supervisor.HealthHealthy, "ok"); err != nil {
		t.Fatal(err)
	}
	f.w.await("db", supervisor.PhaseHealthy)

	// A healthy service is stopped and started again, at once.
	if err := f.eng.Restart(context.Background(), "db"); err != nil {
		t.Fatal(err)
	}
	f.w.awaitReason("db", supervisor.PhaseRestarting, "restarting on request")
	f.w.await("db", supervisor.PhaseStarting)
	if got := f.calls("stop ", "start "); !slices.Equal(got[len(got)-2:], []string{"stop db-1", "start db-1"}) {
		t.Errorf("calls %v", got)
	}
	if err := f.eng.Restart(context.Background(), "nope"); err == nil || !strings.Contains(err.Error(), `no service "nope"`) {
		t.Errorf("Restart of an unknown service: %v", err)
	}
}
