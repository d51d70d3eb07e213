package supervision

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"moat/supervisor"
	"moat/supervisor/supervisortest"
)

const project = "supervisiontest"

// engine is a real engine over the in-memory runtime, on a fake clock.
func engine(t *testing.T) (*supervisor.Engine, *supervisortest.Runtime) {
	t.Helper()
	clk := supervisor.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	rt := supervisortest.New(supervisortest.Options{Clock: clk, AutoHealthy: true})
	eng := supervisor.New(supervisor.Options{Project: project, Runtime: rt, Clock: clk, Rand: func() float64 { return 0.5 }})
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		eng.Close()
		rt.Close()
	})
	return eng, rt
}

var web = supervisor.Spec{Name: "web", Image: "fake/web", Restart: supervisor.RestartAlways}

// engineStack brings web up and down through eng; up is closed once the
// actors run (the stack is up).
func engineStack(eng *supervisor.Engine, up chan struct{}) Stack {
	return Stack{
		Engine: eng,
		Up: func(ctx context.Context) error {
			return eng.Up(ctx, supervisor.Topology{Project: project, Services: []supervisor.Spec{web}})
		},
		Down: func(ctx context.Context) error { return eng.Down(ctx, supervisor.DownOptions{}) },
		Actors: []Actor{{Name: "up", Run: func(ctx context.Context) error {
			close(up)
			<-ctx.Done()
			return nil
		}}},
	}
}

// mirrored records a mirror's calls: "web running" for a transition the
// engine made, "refresh web running" for a refresh from Status.
func mirrored(calls *record, fail *atomic.Bool) func(context.Context, supervisor.Transition) error {
	return func(_ context.Context, t supervisor.Transition) error {
		item := fmt.Sprintf("%s %s", t.Service, t.To)
		if t.Time.IsZero() {
			item = "refresh " + item
		}
		calls.add(item)
		if fail != nil && fail.Load() {
			return errors.New("consul does not answer")
		}
		return nil
	}
}

// The mirror follows the engine's transitions, on the way up and after,
// and mirrors every service again at each refresh.
func TestHealthMirrorFollowsTheEngine(t *testing.T) {
	eng, rt := engine(t)
	calls, tick, up := newRecord(), make(chan time.Time), make(chan struct{})
	s := engineStack(eng, up)
	s.Health = HealthMirror{Mirror: mirrored(calls, nil), Refresh: tick}
	r := start(t, s)
	calls.awaitItem(t, "web running") // made by Up
	await(t, up, "the stack up")

	st := eng.Status()
	if err := rt.Die(st[0].InstanceID, 1); err != nil {
		t.Fatal(err)
	}
	calls.awaitItem(t, "web restarting") // made by the engine on its own

	tick <- time.Time{}
	calls.awaitItem(t, "refresh web restarting")
	if err := r.stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
}

// A mirror that fails while the stack is up is said once, and once again
// when it works again; it does not stop the stack.
func TestHealthMirrorSaysFailuresOnce(t *testing.T) {
	eng, _ := engine(t)
	calls, tick, up, out := newRecord(), make(chan time.Time), make(chan struct{}), newOutput()
	var fail atomic.Bool
	s := engineStack(eng, up)
	s.Health = HealthMirror{Mirror: mirrored(calls, &fail), Refresh: tick}
	s.Out = out
	r := start(t, s)
	await(t, up, "the stack up")
	fail.Store(true)
	for range 3 {
		tick <- time.Time{} // a send returns once the previous refresh is done
	}
	fail.Store(false)
	tick <- time.Time{}
	out.awaitLine(t, "health mirror: works again")
	if n := out.lines("warning: health mirror: web: consul does not answer"); n != 1 {
		t.Errorf("%d warnings for three failed refreshes, want 1: %q", n, out.all())
	}
	if err := r.stop(); err != nil {
		t.Fatalf("Run = %v", err)
	}
}

// The mirror's subscription ending under it (the engine closed while the
// stack is supervised) is the mirror's error.
func TestHealthMirrorFailsWhenTheEngineCloses(t *testing.T) {
	eng, _ := engine(t)
	up := make(chan struct{})
	s := engineStack(eng, up)
	s.Down = nil
	s.Health = HealthMirror{Mirror: mirrored(newRecord(), nil), Refresh: make(chan time.Time)}
	r := start(t, s)
	await(t, up, "the stack up")
	eng.Close()
	if err := r.result(); err == nil || err.Error() != "health mirror: the engine's transitions ended while the stack was supervised" {
		t.Fatalf("Run = %v", err)
	}
}
