package supervisor

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Phase is where a service is in its life, as moat sees it.
type Phase string

const (
	PhasePending      Phase = "pending"       // not started by this moat yet
	PhaseWaiting      Phase = "waiting"       // waiting on its dependencies
	PhaseStarting     Phase = "starting"      // running, probe or gate not passed yet
	PhaseRunning      Phase = "running"       // running, no probe
	PhaseHealthy      Phase = "healthy"       // probe and gate pass
	PhaseUnhealthy    Phase = "unhealthy"     // probe failing
	PhaseRestarting   Phase = "restarting"    // exited; restart scheduled
	PhaseCrashLooping Phase = "crash-looping" // cannot become healthy (CrashLoop); tried again later
	PhaseCompleted    Phase = "completed"     // exited 0 and is not restarted
	PhaseFailed       Phase = "failed"        // given up: crash loop (Stop), timeout, error
	PhaseStopping     Phase = "stopping"
	PhaseStopped      Phase = "stopped"
)

// Transition is one change of a service's phase. The engine hands it to the
// Recorder (which commits it) before the Observer or a subscriber sees it;
// all of them get every transition in order, outside the engine's lock.
type Transition struct {
	Time       time.Time
	Service    string
	From, To   Phase
	Reason     string
	InstanceID string
	Restarts   int
	Health     Health
	LastProbe  string
	WaitingOn  string
	NextTry    time.Time // when a restarting or crash-looping service is tried again
}

// Recorder stores transitions durably. When it fails, the engine reports the
// error to Observer and carries on: supervision matters more than history.
type Recorder interface {
	RecordTransition(ctx context.Context, t Transition) error
}

// Options configure an Engine.
type Options struct {
	Project  string
	Runtime  Runtime
	Clock    Clock    // default RealClock
	Recorder Recorder // optional
	// Observer sees each transition once it is recorded, on a goroutine of
	// the engine's (one at a time, in order).
	Observer  func(Transition)
	Warn      func(msg string) // problems that are not a service's (default: dropped)
	Backoff   Backoff
	CrashLoop CrashLoop
	// DefaultStartTimeout bounds a service's start when its spec sets none.
	DefaultStartTimeout time.Duration
	// GateInterval is how often a Gate is retried.
	GateInterval time.Duration
	// StartProbeInterval is how often a starting service's health command
	// is run by the engine itself (runtimes with Exec), until it first
	// passes; 0 means 100ms, negative turns it off.
	StartProbeInterval time.Duration
	// LogLines is how many log lines a start failure shows.
	LogLines int
	Rand     func() float64 // jitter source, default math/rand
}

// Engine starts a Topology in dependency order gated on health, restarts what
// fails, and stops everything in reverse order.
type Engine struct {
	o  Options
	mu sync.Mutex
	// services by name; entries are kept across Up calls.
	services map[string]*service
	topo     Topology
	closed   bool
	wg       sync.WaitGroup // goroutines the engine owns
	cancel   context.CancelFunc
	ctx      context.Context // lives until Close
	// exits are closed when the instance with that ID exits (Down waits
	// on them after a graceful-shutdown request).
	exits map[string]chan struct{}
	// delivery takes transitions to the Recorder, the Observer and the
	// subscribers (notify.go).
	delivery *delivery
}

// service is the engine's view of one service. Guarded by Engine.mu.
type service struct {
	spec      Spec
	id        string
	phase     Phase
	health    Health
	reason    string
	lastProbe string
	waitingOn string
	restarts  int
	startedAt time.Time
	failures  failureLog
	stopping  bool // moat is stopping it: an exit is expected
	// expectExit says why moat ended the instance to start it again at
	// once (its netns peer restarted, a Restart request); "" for none.
	expectExit string
	// wasUp: this run reached healthy (or running, without a probe).
	wasUp bool
	// killedUnhealthy: moat killed this run because it turned unhealthy.
	killedUnhealthy bool
	// holding: its restart (or, while it runs unhealthy, its kill) waits
	// until its dependencies are met again (waitingOn says which).
	holding bool
	// lostNets are the networks its running instance lost, being attached
	// again (network.go).
	lostNets     map[string]bool
	restartTimer Timer     // the pending restart, recheck or retry
	nextTry      time.Time // when restartTimer fires
	gateRun      int       // generation of the running gate loop
	changed      chan struct{}
}

// New returns an Engine; call Start before Up and Close when done.
func New(o Options) *Engine {
	if o.Clock == nil {
		o.Clock = RealClock{}
	}
	if o.Backoff == (Backoff{}) {
		o.Backoff = DefaultBackoff
	}
	if o.CrashLoop == (CrashLoop{}) {
		o.CrashLoop = DefaultCrashLoop
	}
	if o.CrashLoop.Retry <= 0 {
		o.CrashLoop.Retry = DefaultCrashLoop.Retry
	}
	if o.DefaultStartTimeout == 0 {
		o.DefaultStartTimeout = 2 * time.Minute
	}
	if o.GateInterval == 0 {
		o.GateInterval = time.Second
	}
	if o.StartProbeInterval == 0 {
		o.StartProbeInterval = 100 * time.Millisecond
	}
	if o.LogLines == 0 {
		o.LogLines = 20
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	if o.Warn == nil {
		o.Warn = func(string) {}
	}
	e := &Engine{o: o, services: map[string]*service{}, exits: map[string]chan struct{}{}}
	e.delivery = e.newDelivery()
	return e
}

// Start subscribes to the runtime's events; the engine reacts to them until
// Close. It returns when the subscription is open.
func (e *Engine) Start(ctx context.Context) error {
	if err := e.o.Runtime.Ping(ctx); err != nil {
		return err
	}
	e.ctx, e.cancel = context.WithCancel(context.WithoutCancel(ctx))
	events, errs := e.o.Runtime.Events(e.ctx, e.o.Project)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.pump(events, errs)
	}()
	return nil
}

// Close stops reacting to events and cancels pending restarts, delivers the
// transitions not yet recorded and observed, and ends every subscription. It
// does not stop services (Down does): a moat that exits leaves a stack to
// adopt.
func (e *Engine) Close() {
	e.mu.Lock()
	e.closed = true
	for _, s := range e.services {
		e.cancelRestartLocked(s)
	}
	e.mu.Unlock()
	if e.cancel != nil {
		e.cancel()
	}
	e.wg.Wait()
	e.delivery.close()
}

// pump applies runtime events until Close. When the stream breaks (the
// Docker daemon restarted, say) it subscribes again after a backoff and
// resynchronises from Inspect, so that nothing missed in between is lost.
func (e *Engine) pump(events <-chan Event, errs <-chan error) {
	for attempt := 1; ; attempt++ {
		err := e.consume(events, errs)
		if e.ctx.Err() != nil {
			return
		}
		delay := e.o.Backoff.Delay(attempt, e.o.Rand())
		e.o.Warn(fmt.Sprintf("the %s event stream ended (%v); subscribing again in %s", e.o.Runtime.Name(), err, delay.Round(time.Millisecond)))
		if !e.sleep(delay) {
			return
		}
		events, errs = e.o.Runtime.Events(e.ctx, e.o.Project)
		if e.resync() {
			attempt = 0
		}
	}
}

// sleep waits d on the engine's clock; false means the engine is closing.
func (e *Engine) sleep(d time.Duration) bool {
	tick := make(chan struct{})
	t := e.o.Clock.AfterFunc(d, func() { close(tick) })
	select {
	case <-e.ctx.Done():
		t.Stop()
		return false
	case <-tick:
		return true
	}
}

// consume applies events until the stream ends and returns why. The error
// channel closes with the event channel (Runtime.Events), so that the reason
// is read even when the events' end is seen first.
func (e *Engine) consume(events <-chan Event, errs <-chan error) error {
	var last error
	for events != nil || errs != nil {
		select {
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			e.apply(ev)
		case err, ok := <-errs:
			if ok && err != nil {
				last = err
			}
			if !ok {
				errs = nil
			}
		}
	}
	if last == nil {
		last = errors.New("closed")
	}
	return last
}

// resync compares each service's instance with what the engine believes and
// applies what the missing events would have said (an exit, a start, a
// health change, a lost network). It reports whether the runtime answered.
func (e *Engine) resync() bool {
	e.mu.Lock()
	var ids []string
	specs := map[string]Spec{}
	// restarted: started again by the engine (no restart pending), the
	// start not seen yet: its event may have gone down with the stream.
	restarted := map[string]bool{}
	for _, s := range e.services {
		if s.id == "" {
			continue
		}
		if r := s.phase == PhaseRestarting && s.restartTimer == nil && !s.stopping; r || isUp(s.phase) {
			ids = append(ids, s.id)
			specs[s.id], restarted[s.id] = s.spec, r
		}
	}
	e.mu.Unlock()
	answered := true
	for _, id := range ids {
		in, err := e.o.Runtime.Inspect(e.ctx, id)
		now := e.o.Clock.Now()
		switch {
		case errors.Is(err, ErrNotFound):
			if !restarted[id] {
				e.apply(Event{Time: now, ID: id, Kind: EventDie, ExitCode: -1})
			}
		case err != nil:
			answered = false
		case restarted[id]:
			if in.State != StateRunning {
				continue // not started yet, or exited before: the die says so
			}
			e.apply(Event{Time: now, ID: id, Kind: EventStart})
			if in.Health == HealthHealthy || in.Health == HealthUnhealthy {
				e.apply(Event{Time: now, ID: id, Kind: EventHealth, Health: in.Health})
			}
		case in.State != StateRunning:
			e.apply(Event{Time: now, ID: id, Kind: EventDie, ExitCode: in.ExitCode})
		case in.Health == HealthHealthy || in.Health == HealthUnhealthy:
			e.apply(Event{Time: now, ID: id, Kind: EventHealth, Health: in.Health})
		}
		if n, lost := lostNetwork(specs[id], in); err == nil && lost {
			e.apply(Event{Time: now, ID: id, Kind: EventDisconnect, Network: n})
		}
	}
	return answered
}

// go runs f in a goroutine the engine owns, unless the engine is closed.
// Call with e.mu held.
func (e *Engine) goLocked(f func()) {
	if e.closed {
		return
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		f()
	}()
}

// setPhaseLocked moves s to phase, wakes its waiters and queues the
// transition for the recorder, the observer and the subscribers; it does no
// I/O. Call with e.mu held: the queue's order is the transitions' order.
func (e *Engine) setPhaseLocked(s *service, to Phase, reason string) {
	if s.phase == to && s.reason == reason {
		return
	}
	switch to {
	case PhaseHealthy, PhaseRunning:
		s.wasUp, s.holding, s.waitingOn = true, false, ""
		if to == PhaseHealthy {
			s.failures.looping = false // it can become healthy
		}
	case PhaseStarting:
		s.holding, s.waitingOn = false, ""
	}
	t := Transition{
		Time: e.o.Clock.Now(), Service: s.spec.Name, From: s.phase, To: to, Reason: reason,
		InstanceID: s.id, Restarts: s.restarts, Health: s.health, LastProbe: s.lastProbe, WaitingOn: s.waitingOn,
		NextTry: s.nextTry,
	}
	s.phase, s.reason = to, reason
	e.notifyLocked(s)
	e.delivery.push(t)
	e.resumeDependentsLocked(s)
}

// cancelRestartLocked stops s's pending timer; a callback already under way
// sees it is no longer current and does nothing.
func (e *Engine) cancelRestartLocked(s *service) {
	if s.restartTimer != nil {
		s.restartTimer.Stop()
		s.restartTimer = nil
	}
	s.nextTry = time.Time{}
}

func (e *Engine) notifyLocked(s *service) {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (e *Engine) baseCtx() context.Context {
	if e.ctx != nil {
		return e.ctx
	}
	return context.Background()
}

// Status returns every known service in topology order.
func (e *Engine) Status() []ServiceStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]ServiceStatus, 0, len(e.topo.Services))
	for _, sp := range e.topo.Services {
		s := e.services[sp.Name]
		if s == nil {
			continue
		}
		st := SpecStatus(sp)
		st.Phase, st.Health, st.Reason, st.InstanceID = s.phase, s.health, s.reason, s.id
		st.Restarts, st.StartedAt, st.LastProbe = s.restarts, s.startedAt, s.lastProbe
		st.WaitingOn, st.NextTry = s.waitingOn, s.nextTry
		out = append(out, st)
	}
	return out
}

// satisfied reports whether s meets cond, and an error when it never will.
func satisfied(s *service, cond Condition) (bool, error) {
	switch s.phase {
	case PhaseFailed:
		return false, fmt.Errorf("%s failed: %s", s.spec.Name, s.reason)
	case PhaseCrashLooping:
		return false, fmt.Errorf("%s is crash-looping: %s", s.spec.Name, s.reason)
	case PhaseStopped, PhaseStopping:
		return false, fmt.Errorf("%s was stopped", s.spec.Name)
	}
	switch cond {
	case Started:
		switch s.phase {
		case PhaseStarting, PhaseRunning, PhaseHealthy, PhaseUnhealthy, PhaseCompleted:
			return true, nil
		}
	case Healthy:
		return s.phase == PhaseHealthy, nil
	case Completed:
		if s.phase == PhaseCompleted {
			return true, nil
		}
	}
	return false, nil
}

// Wait blocks until service name meets cond, ctx ends, or it never will.
func (e *Engine) Wait(ctx context.Context, name string, cond Condition) error {
	for {
		e.mu.Lock()
		s := e.services[name]
		if s == nil {
			e.mu.Unlock()
			return fmt.Errorf("no service %q", name)
		}
		ok, err := satisfied(s, cond)
		ch := s.changed
		e.mu.Unlock()
		if ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// byID finds the service whose current instance is id. Call with e.mu held.
func (e *Engine) byIDLocked(id, name string) *service {
	if s := e.services[name]; s != nil && s.id == id {
		return s
	}
	for _, s := range e.services {
		if s.id == id {
			return s
		}
	}
	return nil
}

var errClosed = errors.New("moat is shutting down")
