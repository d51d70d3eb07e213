package supervisor

import (
	"context"
	"fmt"
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
	}
}

func (e *Engine) onStartLocked(s *service) {
	s.startedAt = e.o.Clock.Now()
	s.health = HealthNone
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
		if prev == HealthHealthy {
			return // the start probe saw it first
		}
		if s.phase == PhaseStarting || s.phase == PhaseUnhealthy || s.phase == PhasePending {
			e.passedProbeLocked(s)
		}
	case HealthUnhealthy:
		if s.phase == PhaseStopping || s.stopping {
			return
		}
		wasUp := s.phase == PhaseHealthy
		e.setPhaseLocked(s, PhaseUnhealthy, "health probe failing: "+s.lastProbe)
		// A service that never became healthy since it started is left to
		// its start timeout; one that was healthy and fails is restarted.
		if wasUp && s.spec.Restart != RestartNever && s.id != "" {
			// Docker does not restart an unhealthy container; moat does,
			// through the same path as a crash.
			id := s.id
			e.goLocked(func() {
				if err := e.o.Runtime.Kill(e.ctx, id); err != nil {
					e.o.Warn(fmt.Sprintf("could not kill unhealthy %s: %v", s.spec.Name, err))
				}
			})
		}
	}
}

func (e *Engine) onDieLocked(s *service, code int) {
	switch s.phase {
	case PhaseRestarting, PhaseCompleted, PhaseFailed, PhaseStopped:
		// Already dead: a resync and the new stream can both report one
		// exit, and it counts once.
		return
	}
	now := e.o.Clock.Now()
	uptime := now.Sub(s.startedAt)
	s.health = HealthNone
	s.gateRun++
	if s.stopping {
		e.setPhaseLocked(s, PhaseStopped, fmt.Sprintf("stopped (exit code %d)", code))
		return
	}
	if s.expectExit {
		s.expectExit = false
		e.scheduleRestartLocked(s, 0, "restarting with its network peer")
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
	if s.failures.record(now, uptime, e.o.Backoff, e.o.CrashLoop) {
		e.setPhaseLocked(s, PhaseFailed, fmt.Sprintf("crash loop: failed %d times within %s; last: %s; not restarting (fix it, then `moat up`)",
			len(s.failures.times), e.o.CrashLoop.Window, reason))
		return
	}
	delay := e.o.Backoff.Delay(s.failures.consecutive, e.o.Rand())
	e.scheduleRestartLocked(s, delay, fmt.Sprintf("%s; restarting in %s", reason, delay.Round(time.Millisecond)))
	e.stopSharersLocked(s)
}

// stopSharersLocked kills the services that share s's network namespace: it
// is gone with s's process, so they restart when s does.
func (e *Engine) stopSharersLocked(s *service) {
	for _, o := range e.services {
		if o.spec.ShareNetworkWith == s.spec.Name && o.id != "" && !o.stopping {
			o.expectExit = true
			id := o.id
			e.goLocked(func() { e.o.Runtime.Kill(e.ctx, id) })
		}
	}
}

// scheduleRestartLocked arms s's restart timer, then says so: whoever sees
// the transition can count on the timer.
func (e *Engine) scheduleRestartLocked(s *service, delay time.Duration, reason string) {
	defer e.setPhaseLocked(s, PhaseRestarting, reason)
	if e.closed {
		return
	}
	s.restartTimer = e.o.Clock.AfterFunc(delay, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if s.phase != PhaseRestarting || s.stopping {
			return
		}
		if p := s.spec.ShareNetworkWith; p != "" {
			if peer := e.services[p]; peer != nil && !isUp(peer.phase) {
				return // restarted after its peer starts (restartSharersLocked)
			}
		}
		s.restarts++
		id := s.id
		e.goLocked(func() { e.restart(s, id) })
	})
}

func isUp(p Phase) bool {
	return p == PhaseStarting || p == PhaseRunning || p == PhaseHealthy || p == PhaseUnhealthy
}

// restart starts instance id of s again, then the services sharing its
// network namespace.
func (e *Engine) restart(s *service, id string) {
	err := e.o.Runtime.Start(e.ctx, id)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		e.setPhaseLocked(s, PhaseFailed, "restart failed: "+err.Error())
		return
	}
	for _, o := range e.services {
		if o.spec.ShareNetworkWith == s.spec.Name && o.phase == PhaseRestarting && !o.stopping {
			o.restarts++
			oid := o.id
			e.goLocked(func() { e.restart(o, oid) })
		}
	}
}
