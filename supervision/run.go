package supervision

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/oklog/run"

	"moat/supervisor"
)

// Engine is what the supervision layer reads of the lifecycle engine: the
// services as they are, and their transitions from now on.
type Engine interface {
	Status() []supervisor.ServiceStatus
	Subscribe() (<-chan supervisor.Transition, func())
}

var _ Engine = (*supervisor.Engine)(nil)

// Actor is one long-running part of a supervised stack.
type Actor struct {
	// Name names the actor's error: "dashboard: …".
	Name string
	// Run works until ctx ends, then returns nil. An error, or a return
	// before ctx ends, stops the stack.
	Run func(ctx context.Context) error
}

// Stack is a stack to supervise: its engine, how it comes up and goes down,
// and its actors. Zero fields are parts it does not have.
type Stack struct {
	// Engine is the stack's engine, started; the caller closes it after Run.
	Engine Engine
	// Up brings the stack up and prepares what the actors serve: they start
	// once it has returned nil (nil Up: the stack is up). When Up fails it
	// cleans up after itself; its error is Run's, as it is. Its context
	// ends at the first stop.
	Up func(ctx context.Context) error
	// Down stops the stack once every actor has stopped, if Up succeeded;
	// its error is Run's too.
	Down func(ctx context.Context) error

	Health    HealthMirror
	Config    ConfigReload
	Reports   Reports
	Dashboard Actor
	// Actors are the caller's other actors, stopped in this order after
	// the config reloads and before the report scheduler.
	Actors []Actor

	// Out is where the layer says what it does: reloads, skipped reports,
	// an actor's failure, health-mirror problems (nil: nowhere).
	Out io.Writer
}

// Run supervises s until ctx ends or an actor fails, then stops every actor
// in order and the stack last. It returns nil after a stop by ctx, or the
// errors of Up, of the actors (each named) and of Down, in the order they
// happened.
func Run(ctx context.Context, s Stack) error {
	out := &syncWriter{w: s.Out}
	if s.Out == nil {
		out.w = io.Discard
	}
	schedules, err := s.Reports.schedules()
	if err != nil {
		return fmt.Errorf("scheduled reports: %w", err)
	}
	up := newUpGate(ctx)
	g := &group{parent: ctx, out: out}
	{ // Ctrl-C, SIGTERM (moat down) or the caller: stop everything, and
		// first the stack's way up if it is still under way.
		stop := make(chan struct{})
		g.g.Add(func() error {
			select {
			case <-ctx.Done():
			case <-stop:
			}
			return nil
		}, func(error) {
			up.stop()
			close(stop)
		})
	}
	if s.Dashboard.Run != nil { // The dashboard, on loopback.
		g.add(s.Dashboard.Name, up.gated(s.Dashboard.Run))
	}
	if s.Config.Path != "" && len(s.Config.Reloaders) > 0 { // moat.toml, applied again when it is saved.
		g.add("config reloads", up.gated(func(ctx context.Context) error { return s.Config.run(ctx, out) }))
	}
	for _, a := range s.Actors { // The caller's own: host endpoint, restart requests, renewer.
		g.add(a.Name, up.gated(a.Run))
	}
	if len(schedules) > 0 { // Scheduled reports (a running report finishes first).
		g.add("scheduled reports", up.gated(func(ctx context.Context) error {
			return s.Reports.run(ctx, schedules, out)
		}))
	}
	{ // The stack: up first, down once every actor above has stopped.
		g.add("", func(ctx context.Context) error {
			if err := up.run(s.Up); err != nil {
				return err
			}
			<-ctx.Done()
			if s.Down == nil {
				return nil
			}
			return s.Down(context.WithoutCancel(ctx))
		})
	}
	if s.Health.Mirror != nil { // Consul's view of health, last: it mirrors the way down too.
		changes, cancel := s.Engine.Subscribe() // now: it follows the way up from its start
		defer cancel()
		g.add("health mirror", func(ctx context.Context) error {
			return s.Health.run(ctx, s.Engine, changes, up.quiet, out)
		})
	}
	return g.run()
}

// group is an oklog/run.Group in which every actor has a context of its
// own, cancelled when the group stops it, and a stop that returns once the
// actor has: run.Group calls the stops in the order of Add, so that order is
// the order in which actors stop.
type group struct {
	g      run.Group
	parent context.Context
	out    io.Writer
	mu     sync.Mutex
	errs   []error
}

// errEarly is the error of an actor that returned while it was not asked to
// stop: a stack that lost a part is not supervised any more.
var errEarly = errors.New("stopped by itself while the stack was running")

// add adds an actor; name, if any, prefixes its error.
func (g *group) add(name string, f func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(g.parent))
	done := make(chan struct{})
	g.g.Add(func() error {
		defer close(done)
		err := f(ctx)
		if err == nil && ctx.Err() == nil {
			err = errEarly
		}
		if err != nil && name != "" {
			err = fmt.Errorf("%s: %w", name, err)
			if ctx.Err() == nil {
				fmt.Fprintf(g.out, "error: %v; stopping the stack\n", err)
			}
		}
		g.record(err)
		return err
	}, func(error) {
		cancel()
		<-done
	})
}

func (g *group) record(err error) {
	if err == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.errs = append(g.errs, err)
}

func (g *group) run() error {
	g.g.Run()
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.errs) == 1 {
		return g.errs[0] // as it is: Up's error keeps its type
	}
	return errors.Join(g.errs...)
}

// upGate is the stack's way up. The actors that serve the running stack
// wait for it to end and run only if it succeeded; its context ends at the
// group's first stop, so that an actor stopped while it waits never waits
// long (and an actor whose stack came up always runs, to release what Up
// prepared for it).
type upGate struct {
	ctx      context.Context
	cancel   context.CancelFunc
	done     chan struct{} // closed when Up has returned
	ok       bool          // Up succeeded; set before done is closed
	stopping chan struct{} // closed at the group's first stop
	once     sync.Once
}

func newUpGate(parent context.Context) *upGate {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	return &upGate{ctx: ctx, cancel: cancel, done: make(chan struct{}), stopping: make(chan struct{})}
}

// run runs up (nil: nothing to do) and opens the gate.
func (u *upGate) run(up func(context.Context) error) error {
	var err error
	if up != nil {
		err = up(u.ctx)
	}
	u.ok = err == nil
	close(u.done)
	return err
}

// stop ends Up's context: the group is stopping.
func (u *upGate) stop() {
	u.once.Do(func() {
		close(u.stopping)
		u.cancel()
	})
}

// gated is f, run once the stack is up. If the stack does not come up, it
// waits for its stop, which the failure of Up brings.
func (u *upGate) gated(f func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		<-u.done
		if !u.ok {
			<-ctx.Done()
			return nil
		}
		return f(ctx)
	}
}

// quiet reports whether the stack is on its way up or down, when parts of
// it (Consul itself) may not answer.
func (u *upGate) quiet() bool {
	select {
	case <-u.stopping:
		return true
	case <-u.done:
		return !u.ok
	default:
		return true
	}
}

// syncWriter serialises the actors' writes.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// say writes one line.
func say(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, format+"\n", args...)
}
