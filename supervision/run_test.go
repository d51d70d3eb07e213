package supervision

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// actors makes actors that say when they have started and record their
// stop once their context ends, and a stack that records Up and Down.
type actors struct {
	stops   *record
	started chan string
}

func newActors() *actors { return &actors{stops: newRecord(), started: make(chan string, 16)} }

func (a *actors) actor(name string) Actor {
	return Actor{Name: name, Run: func(ctx context.Context) error {
		a.started <- name
		<-ctx.Done()
		a.stops.add(name)
		return nil
	}}
}

func (a *actors) awaitStarted(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(bound)
	for i := range n {
		select {
		case <-a.started:
		case <-deadline:
			t.Fatalf("%d of %d actors started within %s", i, n, bound)
		}
	}
}

func (a *actors) stack(s Stack) Stack {
	s.Up = func(context.Context) error { a.stops.add("up"); return nil }
	s.Down = func(context.Context) error { a.stops.add("down"); return nil }
	return s
}

// An actor's failure stops the others one by one in the declared order,
// each once the one before has returned, then the stack; it is Run's
// result under the actor's name.
func TestActorFailureStopsTheOthersInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := newActors()
		boom := errors.New("boom")
		release, dashboardStopping, dashboardMayStop := make(chan struct{}), make(chan struct{}), make(chan struct{})
		out := newOutput()
		r := start(t, a.stack(Stack{
			Dashboard: Actor{Name: "dashboard", Run: func(ctx context.Context) error {
				a.started <- "dashboard"
				<-ctx.Done()
				close(dashboardStopping)
				<-dashboardMayStop
				a.stops.add("dashboard")
				return nil
			}},
			Actors: []Actor{a.actor("first"), {Name: "failing", Run: func(ctx context.Context) error {
				<-release
				return boom
			}}, a.actor("last")},
			Out: out,
		}))
		a.awaitStarted(t, 3)
		close(release)
		<-dashboardStopping
		synctest.Wait() // what is stopped while the dashboard stops has stopped
		if got := a.stops.all(); !slices.Equal(got, []string{"up"}) {
			t.Errorf("while the dashboard stops: %q stopped, want only the dashboard stopping", got)
		}
		close(dashboardMayStop)
		err := r.result()
		if !errors.Is(err, boom) || err.Error() != "failing: boom" {
			t.Fatalf("Run = %v, want failing: boom", err)
		}
		if got, want := a.stops.all(), []string{"up", "dashboard", "first", "last", "down"}; !slices.Equal(got, want) {
			t.Errorf("up and stops %q, want %q", got, want)
		}
		if out.lines("error: failing: boom; stopping the stack") != 1 {
			t.Errorf("the failure was not said when it happened: %q", out.all())
		}
	})
}

// A cancelled context stops every actor, then the stack; Run returns nil.
func TestCancelStopsEveryActor(t *testing.T) {
	a := newActors()
	r := start(t, a.stack(Stack{
		Dashboard: a.actor("dashboard"),
		Actors:    []Actor{a.actor("first"), a.actor("second")},
	}))
	a.awaitStarted(t, 3)
	if err := r.stop(); err != nil {
		t.Fatalf("Run = %v after a cancel, want nil", err)
	}
	if got, want := a.stops.all(), []string{"up", "dashboard", "first", "second", "down"}; !slices.Equal(got, want) {
		t.Errorf("up and stops %q, want %q", got, want)
	}
}

// An actor that returns while nobody asked it to is a failure: the stack
// would run on without it.
func TestActorReturningEarlyStopsTheStack(t *testing.T) {
	a := newActors()
	r := start(t, a.stack(Stack{
		Actors: []Actor{a.actor("first"), {Name: "quitter", Run: func(context.Context) error { return nil }}},
	}))
	err := r.result()
	if !errors.Is(err, errEarly) || err.Error() != "quitter: "+errEarly.Error() {
		t.Fatalf("Run = %v, want quitter: %v", err, errEarly)
	}
	if got := a.stops.all(); !slices.Contains(got, "down") {
		t.Errorf("the stack was not stopped: %q", got)
	}
}

// A failed Up is Run's result as it is; no actor runs and Down does not.
func TestFailedUpRunsNoActor(t *testing.T) {
	a := newActors()
	upErr := errors.New("up failed; what this attempt created was removed")
	s := a.stack(Stack{Dashboard: a.actor("dashboard"), Actors: []Actor{a.actor("first")}})
	s.Up = func(context.Context) error { return upErr }
	err := start(t, s).result()
	if err != upErr {
		t.Fatalf("Run = %v, want Up's error as it is", err)
	}
	if got := a.stops.all(); len(got) != 0 {
		t.Errorf("after a failed Up: %q", got)
	}
	if len(a.started) != 0 {
		t.Errorf("an actor ran although the stack never came up")
	}
}

// A stop while the stack is on its way up cancels Up; the actors that
// wait for it do not hold the stop.
func TestStopDuringUpCancelsUp(t *testing.T) {
	a := newActors()
	upStarted := make(chan struct{})
	s := a.stack(Stack{Dashboard: a.actor("dashboard"), Actors: []Actor{a.actor("first")}})
	s.Up = func(ctx context.Context) error {
		close(upStarted)
		<-ctx.Done()
		return ctx.Err()
	}
	r := start(t, s)
	await(t, upStarted, "Up")
	if err := r.stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want Up's cancellation", err)
	}
	if got := a.stops.all(); len(got) != 0 || len(a.started) != 0 {
		t.Errorf("actors ran although the stack never came up: %q", got)
	}
}

// Down's error joins the actor's that stopped the stack.
func TestDownErrorIsReturnedToo(t *testing.T) {
	boom, downErr := errors.New("boom"), errors.New("a service did not stop")
	s := Stack{
		Actors: []Actor{{Name: "failing", Run: func(context.Context) error { return boom }}},
		Down:   func(context.Context) error { return downErr },
	}
	err := start(t, s).result()
	if !errors.Is(err, boom) || !errors.Is(err, downErr) || err.Error() != "failing: boom\na service did not stop" {
		t.Fatalf("Run = %q, want the actor's error then Down's", err)
	}
}
