package supervisor_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"moat/supervisor"
	"moat/supervisor/supervisortest"
)

// bound is how long a test waits for something the engine owes it before it
// fails: a limit on a broken engine, never a way to let time pass.
const bound = 20 * time.Second

// watcher reads an engine's transitions (Subscribe) so that a test waits on
// what the engine did, never on time.
type watcher struct {
	t    testing.TB
	ch   <-chan supervisor.Transition
	log  []supervisor.Transition
	next map[string]int // per service, where its next search starts in log
}

func watch(t testing.TB, eng *supervisor.Engine) *watcher {
	ch, cancel := eng.Subscribe()
	t.Cleanup(cancel)
	return &watcher{t: t, ch: ch, next: map[string]int{}}
}

// await returns service name's next transition to phase.
func (w *watcher) await(name string, phase supervisor.Phase) supervisor.Transition {
	w.t.Helper()
	return w.awaitFunc(name, string(phase), func(tr supervisor.Transition) bool { return tr.To == phase })
}

// awaitReason returns service name's next transition to phase whose reason
// contains want.
func (w *watcher) awaitReason(name string, phase supervisor.Phase, want string) supervisor.Transition {
	w.t.Helper()
	return w.awaitFunc(name, fmt.Sprintf("%s (%q)", phase, want), func(tr supervisor.Transition) bool {
		return tr.To == phase && strings.Contains(tr.Reason, want)
	})
}

// awaitFunc returns the next transition of name, after the last one an
// await returned for it, for which ok holds.
func (w *watcher) awaitFunc(name, what string, ok func(supervisor.Transition) bool) supervisor.Transition {
	w.t.Helper()
	deadline := time.After(bound)
	for i := w.next[name]; ; i++ {
		for i == len(w.log) {
			select {
			case tr, open := <-w.ch:
				if !open {
					w.t.Fatalf("transitions ended before %s became %s; %s", name, what, w.history(name))
				}
				w.log = append(w.log, tr)
			case <-deadline:
				w.t.Fatalf("%s did not become %s within %s; %s", name, what, bound, w.history(name))
			}
		}
		if tr := w.log[i]; tr.Service == name && ok(tr) {
			w.next[name] = i + 1
			return tr
		}
	}
}

// phases lists name's transitions seen so far, as "to" phases.
func (w *watcher) phases(name string) []supervisor.Phase {
	var out []supervisor.Phase
	for _, tr := range w.log {
		if tr.Service == name {
			out = append(out, tr.To)
		}
	}
	return out
}

func (w *watcher) history(name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "its transitions so far:")
	for _, tr := range w.log {
		if tr.Service == name {
			fmt.Fprintf(&b, "\n  %s → %s: %s", tr.From, tr.To, tr.Reason)
		}
	}
	return b.String()
}

// fake is an engine over the in-memory runtime, on a FakeClock: backoff
// starts at 10s (no jitter at r=0.5), 3 failures in 5m are a crash loop,
// starts time out after a minute.
type fake struct {
	t     *testing.T
	clk   *supervisor.FakeClock
	rt    *supervisortest.Runtime
	eng   *supervisor.Engine
	w     *watcher
	warns chan string
}

const project = "enginetest"

func newFake(t *testing.T, autoHealthy bool, opts ...func(*supervisor.Options)) *fake {
	t.Helper()
	clk := supervisor.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	rt := supervisortest.New(supervisortest.Options{Clock: clk, AutoHealthy: autoHealthy})
	f := &fake{t: t, clk: clk, rt: rt, warns: make(chan string, 100)}
	o := supervisor.Options{
		Project: project, Runtime: rt, Clock: clk, Rand: func() float64 { return 0.5 },
		Backoff:             supervisor.Backoff{Initial: 10 * time.Second, Max: time.Minute, Factor: 2, Jitter: 0.2, StableAfter: time.Hour},
		CrashLoop:           supervisor.CrashLoop{Failures: 3, Window: 5 * time.Minute},
		DefaultStartTimeout: time.Minute,
		Warn: func(msg string) {
			select {
			case f.warns <- msg:
			default:
				t.Errorf("warning dropped (more than 100): %s", msg)
			}
		},
	}
	for _, opt := range opts {
		opt(&o)
	}
	f.eng = supervisor.New(o)
	if err := f.eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.w = watch(t, f.eng)
	t.Cleanup(func() {
		f.eng.Close()
		rt.Close()
	})
	return f
}

func (f *fake) up(services ...supervisor.Spec) error {
	return f.eng.Up(context.Background(), supervisor.Topology{Project: project, Services: services})
}

// mustUp brings services up and fails the test if that fails.
func (f *fake) mustUp(services ...supervisor.Spec) {
	f.t.Helper()
	if err := f.up(services...); err != nil {
		f.t.Fatalf("Up: %v", err)
	}
}

// upAsync runs Up in a goroutine the test waits for (the returned channel).
func (f *fake) upAsync(topo supervisor.Topology) <-chan error {
	errc := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		errc <- f.eng.Up(context.Background(), topo)
	}()
	f.t.Cleanup(func() { <-done })
	return errc
}

// result waits for an Up started by upAsync.
func (f *fake) result(errc <-chan error) error {
	f.t.Helper()
	select {
	case err := <-errc:
		return err
	case <-time.After(bound):
		f.t.Fatalf("Up did not return within %s", bound)
		return nil
	}
}

func (f *fake) status(name string) supervisor.ServiceStatus {
	for _, s := range f.eng.Status() {
		if s.Name == name {
			return s
		}
	}
	f.t.Fatalf("no status for %s", name)
	return supervisor.ServiceStatus{}
}

// awaitTimers returns once n timers are armed on the fake clock.
func (f *fake) awaitTimers(n int) {
	f.t.Helper()
	supervisortest.AwaitTimers(f.t, f.clk, n)
}

// awaitWarning returns the next warning containing want.
func (f *fake) awaitWarning(want string) string {
	f.t.Helper()
	deadline := time.After(bound)
	for {
		select {
		case msg := <-f.warns:
			f.t.Logf("warning: %s", msg)
			if strings.Contains(msg, want) {
				return msg
			}
		case <-deadline:
			f.t.Fatalf("no warning containing %q within %s", want, bound)
		}
	}
}

// calls returns the runtime's calls whose text starts with one of prefixes.
func (f *fake) calls(prefixes ...string) []string {
	var out []string
	for _, c := range f.rt.Calls() {
		if slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(c, p) }) {
			out = append(out, c)
		}
	}
	return out
}

// before fails the test unless call a was made before call b.
func (f *fake) before(a, b string) {
	f.t.Helper()
	calls := f.rt.Calls()
	i, j := slices.Index(calls, a), slices.Index(calls, b)
	if i < 0 || j < 0 || i > j {
		f.t.Errorf("want %q before %q; calls:\n  %s", a, b, strings.Join(calls, "\n  "))
	}
}

// svc is a spec for the fake runtime, restarted always.
func svc(name string, deps ...supervisor.Dependency) supervisor.Spec {
	return supervisor.Spec{Name: name, Image: "fake/" + name, Restart: supervisor.RestartAlways, DependsOn: deps}
}

// probed is svc with a health probe.
func probed(name string, deps ...supervisor.Dependency) supervisor.Spec {
	s := svc(name, deps...)
	s.Health = &supervisor.Probe{Command: []string{"probe"}, Interval: time.Second, Timeout: time.Second, Retries: 3}
	return s
}

func on(name string, c supervisor.Condition) supervisor.Dependency {
	return supervisor.Dependency{Service: name, Condition: c}
}
