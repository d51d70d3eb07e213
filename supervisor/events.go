package supervisor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// apply updates the engine from one runtime event.
func (e *Engine) apply(ev Event) {
	var probe string
	if ev.Kind == EventHealth && ev.Health == HealthUnhealthy {
		// Health events carry no output: the probe's last words explain
		// an unhealthy service.
		if in, err := e.o.Runtime.Inspect(e.ctx, ev.ID); err == nil {
			probe = in.LastProbe
		}
	}
	if ev.Kind == EventDisconnect {
		// A container that stops leaves its networks too, and one may have
		// been attached again already: only a running instance that lacks
		// the network has lost it.
		in, err := e.o.Runtime.Inspect(e.ctx, ev.ID)
		if _, has := in.Addresses[ev.Network]; err != nil || in.State != StateRunning || has {
			return
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if ch, ok := e.exits[ev.ID]; ok && ev.Kind == EventDie {
		close(ch)
		delete(e.exits, ev.ID)
	}
	s := e.byIDLocked(ev.ID, ev.Service)
	if s == nil {
		return // not ours (yet): Up adopts or removes it
	}
	if probe != "" {
		s.lastProbe = probe
	}
	switch ev.Kind {
	case EventStart:
		e.onStartLocked(s)
	case EventHealth:
		e.onHealthLocked(s, ev.Health)
	case EventDie:
		e.onDieLocked(s, ev.ExitCode)
	case EventOOM:
		s.lastProbe = "killed: out of memory (raise its memory limit)"
	case EventDisconnect:
		e.onDisconnectLocked(s, ev.Network)
	}
}

func (e *Engine) onStartLocked(s *service) {
	s.startedAt = e.o.Clock.Now()
	s.health = HealthNone
	s.wasUp, s.killedUnhealthy = false, false
	e.cancelRestartLocked(s)
	if s.spec.Health != nil {
		s.health = HealthStarting
		e.setPhaseLocked(s, PhaseStarting, "started; waiting for its health probe")
		if ex, ok := e.o.Runtime.(Execer); ok && e.o.StartProbeInterval > 0 {
			s.gateRun++
			gen, id := s.gateRun, s.id
			e.goLocked(func() { e.startProbe(ex, s, id, gen) })
		}
		return
	}
	e.passedProbeLocked(s)
}

// passedProbeLocked runs the gate, if any, before calling s healthy.
func (e *Engine) passedProbeLocked(s *service) {
	if s.spec.Gate == nil {
		if s.spec.Health == nil {
			e.setPhaseLocked(s, PhaseRunning, "running")
		} else {
			e.setPhaseLocked(s, PhaseHealthy, "health probe passes")
		}
		return
	}
	e.setPhaseLocked(s, PhaseStarting, "running; checking readiness")
	s.gateRun++
	gen := s.gateRun
	e.goLocked(func() { e.runGate(s, gen) })
}

// runGate retries s's gate every GateInterval until it passes or the
// instance changes.
func (e *Engine) runGate(s *service, gen int) {
	for {
		ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
		err := s.spec.Gate(ctx)
		cancel()
		e.mu.Lock()
		if gen != s.gateRun || e.closed || s.phase != PhaseStarting {
			e.mu.Unlock()
			return
		}
		if err == nil {
			e.setPhaseLocked(s, PhaseHealthy, "ready")
			e.mu.Unlock()
			return
		}
		s.lastProbe = err.Error()
		e.notifyLocked(s)
		e.mu.Unlock()
		if !e.sleep(e.o.GateInterval) {
			return
		}
	}
}

// startProbe runs s's health command every StartProbeInterval until it
// passes (then s is healthy without waiting for the runtime's next probe) or
// s leaves the starting phase.
func (e *Engine) startProbe(ex Execer, s *service, id string, gen int) {
	for {
		ctx, cancel := context.WithTimeout(e.ctx, s.spec.Health.Timeout)
		code, out, err := ex.Exec(ctx, id, s.spec.Health.Command)
		cancel()
		e.mu.Lock()
		if gen != s.gateRun || e.closed || s.phase != PhaseStarting || s.health != HealthStarting {
			e.mu.Unlock()
			return
		}
		if err == nil && code == 0 {
			s.health = HealthHealthy
			e.passedProbeLocked(s)
			e.mu.Unlock()
			return
		}
		if out = strings.TrimSpace(out); out != "" {
			s.lastProbe = out
		}
		e.mu.Unlock()
		if !e.sleep(e.o.StartProbeInterval) {
			return
		}
	}
}

func (e *Engine) onHealthLocked(s *service, h Health) {
	prev := s.health
	s.health = h
	switch h {
	case HealthHealthy:
		if prev == HealthHealthy || len(s.lostNets) > 0 {
			return // the start probe saw it first, or it waits to be reconnected
		}
		if s.phase == PhaseStarting || s.phase == PhaseUnhealthy || s.phase == PhasePending {
			e.passedProbeLocked(s)
		}
	case HealthUnhealthy:
		if s.phase == PhaseStopping || s.stopping {
			return
		}
		reason := "health probe failing: " + s.lastProbe
		// A service that never became healthy since it started is left to
		// its start timeout; one that was healthy and fails is restarted,
		// unless a dependency it needs is down: it waits for that first.
		if s.phase != PhaseHealthy || s.spec.Restart == RestartNever || s.id == "" {
			e.setPhaseLocked(s, PhaseUnhealthy, reason)
			return
		}
		if dep, unmet := e.unmetLocked(s); unmet {
			e.holdLocked(s, PhaseUnhealthy, dep, reason)
			return
		}
		e.setPhaseLocked(s, PhaseUnhealthy, reason)
		e.killUnhealthyLocked(s)
	}
}

// killUnhealthyLocked kills s's instance so that it restarts through the
// crash path: Docker does not restart an unhealthy container; moat does.
func (e *Engine) killUnhealthyLocked(s *service) {
	e.cancelRestartLocked(s) // a recheck has nothing left to do
	s.killedUnhealthy = true
	id := s.id
	e.goLocked(func() {
		if err := e.o.Runtime.Kill(e.ctx, id); err != nil {
			e.o.Warn(fmt.Sprintf("could not kill unhealthy %s: %v", s.spec.Name, err))
		}
	})
}

func (e *Engine) onDieLocked(s *service, code int) {
	if s.holding && s.phase == PhaseWaiting {
		return // already dead, waiting on a dependency
	}
	switch s.phase {
	case PhaseRestarting, PhaseCrashLooping, PhaseCompleted, PhaseFailed, PhaseStopped:
		// Already dead: a resync and the new stream can both report one
		// exit, and it counts once.
		return
	}
	uptime := e.o.Clock.Now().Sub(s.startedAt)
	// Killed from outside, or by moat for being unhealthy, after it was up:
	// not a failure of its own, so it does not count toward a crash loop.
	own := !s.wasUp || !killedCode(code) && !s.killedUnhealthy
	s.health = HealthNone
	s.gateRun++
	s.holding = false
	if s.stopping {
		e.setPhaseLocked(s, PhaseStopped, fmt.Sprintf("stopped (exit code %d)", code))
		return
	}
	if why := s.expectExit; why != "" {
		s.expectExit = ""
		e.setPhaseLocked(s, PhaseRestarting, why)
		e.startAgainLocked(s)
		e.stopSharersLocked(s)
		return
	}
	reason := fmt.Sprintf("exited with code %d", code)
	if code == 0 && s.spec.Restart != RestartAlways {
		e.setPhaseLocked(s, PhaseCompleted, reason)
		return
	}
	if s.spec.Restart == RestartNever {
		e.setPhaseLocked(s, PhaseFailed, reason)
		return
	}
	if dep, unmet := e.unmetLocked(s); unmet {
		// Its failure is the dependency's: no failure of its own, no loop.
		e.holdLocked(s, PhaseWaiting, dep, reason)
		e.stopSharersLocked(s)
		return
	}
	e.failedRunLocked(s, reason, uptime, own)
}

// failedRunLocked decides what follows a failed run of s: a restart after
// the backoff or, in a crash loop, another try after CrashLoop.Retry (or,
// with CrashLoop.Stop, nothing: failed for good).
func (e *Engine) failedRunLocked(s *service, reason string, uptime time.Duration, own bool) {
	c := e.o.CrashLoop
	if !s.failures.record(e.o.Clock.Now(), uptime, own, e.o.Backoff, c) {
		delay := e.o.Backoff.Delay(s.failures.consecutive, e.o.Rand())
		e.scheduleRestartLocked(s, PhaseRestarting, delay, fmt.Sprintf("%s; restarting in %s", reason, delay.Round(time.Millisecond)))
		e.stopSharersLocked(s)
		return
	}
	loop := "crash loop: failed again before it was healthy"
	if n := len(s.failures.times); n >= c.Failures {
		loop = fmt.Sprintf("crash loop: failed %d times within %s", n, c.Window)
	}
	if c.Stop {
		e.setPhaseLocked(s, PhaseFailed, fmt.Sprintf("%s; last: %s; not restarting (fix it, then `moat up`)", loop, reason))
		return
	}
	next := e.o.Clock.Now().Add(c.Retry)
	e.scheduleRestartLocked(s, PhaseCrashLooping, c.Retry, fmt.Sprintf("%s; last: %s; next try at %s (in %s)",
		loop, reason, next.Format("15:04:05"), c.Retry))
	e.stopSharersLocked(s)
}

// unmetLocked returns the first dependency of s that is not met now.
func (e *Engine) unmetLocked(s *service) (Dependency, bool) {
	for _, d := range deps(s.spec) {
		if dep := e.services[d.Service]; dep != nil {
			if ok, _ := satisfied(dep, d.Condition); !ok {
				return d, true
			}
		}
	}
	return Dependency{}, false
}

// holdLocked moves s to phase, waiting on dep: it is restarted (or, still
// running unhealthy, rechecked) once its dependencies are met again
// (resumeDependentsLocked), not in a loop while dep is down.
func (e *Engine) holdLocked(s *service, to Phase, dep Dependency, reason string) {
	e.cancelRestartLocked(s)
	s.holding = true
	s.waitingOn = dep.String()
	e.setPhaseLocked(s, to, reason+"; waiting on "+s.waitingOn)
}

// resumeDependentsLocked ends the holds on s of the services whose
// dependencies are all met again. Call after s changed phase.
func (e *Engine) resumeDependentsLocked(s *service) {
	for _, o := range e.services {
		if !o.holding || o.stopping || !slices.ContainsFunc(deps(o.spec), func(d Dependency) bool { return d.Service == s.spec.Name }) {
			continue
		}
		if d, unmet := e.unmetLocked(o); unmet {
			o.waitingOn = d.String()
			continue
		}
		o.holding, o.waitingOn = false, ""
		switch o.phase {
		case PhaseWaiting: // it exited: start it again
			e.setPhaseLocked(o, PhaseRestarting, fmt.Sprintf("%s is %s again; restarting", s.spec.Name, s.phase))
			e.startAgainLocked(o)
		case PhaseUnhealthy: // it runs: its probe gets time to pass again
			e.recheckLocked(o)
		}
	}
}

// recheckLocked kills s, unhealthy after its dependencies came back, unless
// it is healthy again within its probe's failure window.
func (e *Engine) recheckLocked(s *service) {
	grace := time.Second
	if p := s.spec.Health; p != nil && p.Interval > 0 {
		grace = p.Interval * time.Duration(max(p.Retries, 1))
	}
	id := s.id
	e.armLocked(s, grace, func() {
		if s.phase == PhaseUnhealthy && s.id == id && !s.holding {
			e.killUnhealthyLocked(s)
		}
	})
}

// stopSharersLocked kills the services that share s's network namespace: it
// is gone with s's process, so they restart when s does.
func (e *Engine) stopSharersLocked(s *service) {
	for _, o := range e.services {
		if o.spec.ShareNetworkWith == s.spec.Name && o.id != "" && !o.stopping && isUp(o.phase) {
			o.expectExit = "restarting with its network peer"
			id := o.id
			e.goLocked(func() { e.o.Runtime.Kill(e.ctx, id) })
		}
	}
}

// scheduleRestartLocked arms s's restart timer, then moves it to phase
// (restarting or crash-looping): whoever sees the transition can count on
// the timer.
func (e *Engine) scheduleRestartLocked(s *service, phase Phase, delay time.Duration, reason string) {
	e.armLocked(s, delay, func() {
		if s.phase == phase {
			e.startAgainLocked(s)
		}
	})
	if s.restartTimer != nil {
		s.nextTry = e.o.Clock.Now().Add(delay)
	}
	e.setPhaseLocked(s, phase, reason)
}

// startAgainLocked starts s's instance again now, unless it shares the
// network namespace of a peer that is down (the peer's restart starts it)
// or a dependency is not met (it waits on it).
func (e *Engine) startAgainLocked(s *service) {
	if p := s.spec.ShareNetworkWith; p != "" {
		if peer := e.services[p]; peer != nil && !isUp(peer.phase) {
			return
		}
	}
	if dep, unmet := e.unmetLocked(s); unmet {
		e.holdLocked(s, PhaseWaiting, dep, "not restarted yet")
		return
	}
	s.restarts++
	id := s.id
	e.goLocked(func() { e.restart(s, id) })
}

// armLocked makes f s's pending timer, replacing any other: f runs after
// delay with e.mu held, unless the timer was cancelled or replaced, or s is
// being stopped.
func (e *Engine) armLocked(s *service, delay time.Duration, f func()) {
	e.cancelRestartLocked(s)
	if e.closed {
		return
	}
	var t Timer
	t = e.o.Clock.AfterFunc(delay, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if s.restartTimer != t || s.stopping {
			return
		}
		s.restartTimer, s.nextTry = nil, time.Time{}
		f()
	})
	s.restartTimer = t
}

func isUp(p Phase) bool {
	return p == PhaseStarting || p == PhaseRunning || p == PhaseHealthy || p == PhaseUnhealthy
}

// restart starts instance id of s again, then the services sharing its
// network namespace. A start that fails is a failed run (or, when the
// instance is gone, the end: `moat up` creates it again).
func (e *Engine) restart(s *service, id string) error {
	err := e.o.Runtime.Start(e.ctx, id)
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case err != nil && (s.stopping || s.id != id):
		return err
	case errors.Is(err, ErrNotFound):
		e.setPhaseLocked(s, PhaseFailed, fmt.Sprintf("restart failed: its %s is gone (`moat up` creates it again)", e.kind()))
		return err
	case err != nil:
		e.failedRunLocked(s, "restart failed: "+err.Error(), 0, true)
		return err
	}
	for _, o := range e.services {
		if o.spec.ShareNetworkWith == s.spec.Name && o.phase == PhaseRestarting && !o.stopping {
			o.restarts++
			oid := o.id
			e.goLocked(func() { e.restart(o, oid) })
		}
	}
	return nil
}

// Restart clears service name's crash loop (its failure history and
// backoff) and restarts it at once: one that is down is started now, one
// that runs is stopped and started again. It returns when the runtime has
// done what was asked; Wait tells when the service is up.
func (e *Engine) Restart(ctx context.Context, name string) error {
	e.mu.Lock()
	s := e.services[name]
	var err error
	switch {
	case s == nil:
		err = fmt.Errorf("no service %q", name)
	case s.stopping:
		err = fmt.Errorf("%s is being stopped", name)
	case s.id == "" || s.phase == PhasePending || s.phase == PhaseWaiting && !s.holding:
		err = fmt.Errorf("%s is not started yet: `moat up` starts it", name)
	}
	if err != nil {
		e.mu.Unlock()
		return err
	}
	s.failures = failureLog{}
	s.holding, s.waitingOn = false, ""
	e.cancelRestartLocked(s)
	id := s.id
	if isUp(s.phase) {
		s.expectExit = "restarting on request"
		grace := cmp.Or(s.spec.StopGrace, defaultStopGrace)
		e.mu.Unlock()
		if err := e.o.Runtime.Stop(ctx, id, grace); err != nil {
			e.mu.Lock()
			s.expectExit = ""
			e.mu.Unlock()
			return fmt.Errorf("restarting %s: %w", name, err)
		}
		return nil
	}
	s.restarts++
	e.setPhaseLocked(s, PhaseRestarting, "restarting on request")
	e.mu.Unlock()
	if err := e.restart(s, id); err != nil {
		return fmt.Errorf("restarting %s: %w", name, err)
	}
	return nil
}
