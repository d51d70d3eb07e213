package supervisor_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"moat/supervisor"
)

// blockingRecorder holds every RecordTransition until release is closed,
// as a disk that stalls does.
type blockingRecorder struct {
	entered chan struct{} // closed on the first call
	release chan struct{}
	once    sync.Once
	mu      sync.Mutex
	got     []string
}

func (r *blockingRecorder) RecordTransition(ctx context.Context, t supervisor.Transition) error {
	r.once.Do(func() { close(r.entered) })
	<-r.release
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, key(t))
	return nil
}

func (r *blockingRecorder) recorded() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func key(t supervisor.Transition) string { return fmt.Sprintf("%s %s→%s", t.Service, t.From, t.To) }

// TestStatusDoesNotWaitOnTheRecorder: while the recorder is stuck the
// engine goes on (Status, Wait, starts); the observer sees each transition
// only once it is recorded, in the same order; Up returns once all are.
func TestStatusDoesNotWaitOnTheRecorder(t *testing.T) {
	rec := &blockingRecorder{entered: make(chan struct{}), release: make(chan struct{})}
	var mu sync.Mutex
	var observed []string
	var early []string // observed before recorded
	f := newFake(t, true, func(o *supervisor.Options) {
		o.Recorder = rec
		o.Observer = func(t supervisor.Transition) {
			mu.Lock()
			defer mu.Unlock()
			if !slices.Contains(rec.recorded(), key(t)) {
				early = append(early, key(t))
			}
			observed = append(observed, key(t))
		}
	})
	errc := f.upAsync(supervisor.Topology{Project: project, Services: []supervisor.Spec{probed("db"), svc("app", on("db", supervisor.Healthy))}})
	select {
	case <-rec.entered:
	case <-time.After(bound):
		t.Fatal("nothing was recorded")
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if err := f.eng.Wait(ctx, "app", supervisor.Started); err != nil {
		t.Fatalf("the engine waits on its recorder: %v", err)
	}
	if st := f.status("db"); st.Phase != supervisor.PhaseHealthy {
		t.Errorf("db is %s while the recorder is stuck, want healthy", st.Phase)
	}
	select {
	case err := <-errc:
		t.Fatalf("Up returned (%v) before its transitions were recorded", err)
	default:
	}
	close(rec.release)
	if err := f.result(errc); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := rec.recorded(); !slices.Equal(got, observed) {
		t.Errorf("recorded:\n  %s\nobserved:\n  %s", strings.Join(got, "\n  "), strings.Join(observed, "\n  "))
	}
	if len(early) > 0 {
		t.Errorf("observed before recorded: %v", early)
	}
	for _, want := range []string{"db starting→healthy", "app waiting→running"} {
		if !slices.Contains(observed, want) {
			t.Errorf("%q not observed by the time Up returned: %v", want, observed)
		}
	}
}

type failingRecorder struct{}

func (failingRecorder) RecordTransition(context.Context, supervisor.Transition) error {
	return errBoom
}

// TestRecorderFailureIsWarned: a transition that cannot be recorded is
// warned about and still observed: supervision matters more than history.
func TestRecorderFailureIsWarned(t *testing.T) {
	var mu sync.Mutex
	var observed int
	f := newFake(t, true, func(o *supervisor.Options) {
		o.Recorder = failingRecorder{}
		o.Observer = func(supervisor.Transition) {
			mu.Lock()
			defer mu.Unlock()
			observed++
		}
	})
	f.mustUp(svc("web"))
	f.awaitWarning("could not record pending → running of web: boom")
	mu.Lock()
	defer mu.Unlock()
	if observed != 1 {
		t.Errorf("observed %d transitions, want 1", observed)
	}
}

// TestSubscribe: every subscriber gets every transition in the order the
// observer saw them; one that does not read slows nobody; cancel and Close
// end subscriptions.
func TestSubscribe(t *testing.T) {
	var mu sync.Mutex
	var observed []string
	f := newFake(t, true, func(o *supervisor.Options) {
		o.Observer = func(t supervisor.Transition) {
			mu.Lock()
			defer mu.Unlock()
			observed = append(observed, key(t))
		}
	})
	idle, cancelIdle := f.eng.Subscribe() // not read until the end
	reader, cancelReader := f.eng.Subscribe()
	ended, cancelEnded := f.eng.Subscribe()
	cancelEnded()
	if _, open := <-ended; open {
		t.Error("a cancelled subscription's channel is open")
	}
	cancelEnded() // twice is harmless

	var services []supervisor.Spec
	for i := range 50 {
		services = append(services, svc(fmt.Sprintf("s%02d", i)))
	}
	f.mustUp(services...) // in parallel: some order
	var got []string
	for len(got) < len(services) {
		select {
		case tr := <-reader:
			got = append(got, key(tr))
		case <-time.After(bound):
			t.Fatalf("the reader got %d of %d transitions", len(got), len(services))
		}
	}
	mu.Lock()
	if !slices.Equal(got, observed) {
		t.Errorf("the subscriber's order:\n  %s\nthe observer's:\n  %s", strings.Join(got, "\n  "), strings.Join(observed, "\n  "))
	}
	first := observed[0]
	mu.Unlock()
	if tr := <-idle; key(tr) != first {
		t.Errorf("the idle subscriber's first transition: %s, want %s", key(tr), first)
	}
	cancelIdle()
	for range idle { // what was queued may be dropped; the channel closes
	}
	cancelReader()

	late, _ := f.eng.Subscribe()
	f.eng.Close()
	if _, open := <-late; open {
		t.Error("a subscription is open after Close")
	}
	if _, open := <-func() <-chan supervisor.Transition { ch, _ := f.eng.Subscribe(); return ch }(); open {
		t.Error("Subscribe after Close returned an open channel")
	}
}
