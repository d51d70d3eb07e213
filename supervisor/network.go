package supervisor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// A running instance that loses one of its networks behind moat's back
// (`docker network disconnect`) keeps running and may even pass its own
// probe, yet nobody can reach it. The engine learns of it from the runtime's
// event (EventDisconnect) or, when the stream was down, from resync; it
// marks the service unhealthy, says so, and has the runtime attach it
// again (NetworkRepairer), retrying with the restart backoff until it
// succeeds. A restart would not help: Docker starts a container with the
// networks it still has.

// lostNetwork reports whether the runtime's view in of a running instance
// of s lacks one of s's networks, and which.
func lostNetwork(s Spec, in Instance) (string, bool) {
	if s.ShareNetworkWith != "" || in.State != StateRunning {
		return "", false
	}
	for _, a := range s.Networks {
		if _, ok := in.Addresses[a.Network]; !ok {
			return a.Network, true
		}
	}
	return "", false
}

// onDisconnectLocked starts the repair of s, whose running instance lost
// network (checked by apply against the runtime's state).
func (e *Engine) onDisconnectLocked(s *service, network string) {
	rep, ok := e.o.Runtime.(NetworkRepairer)
	if !ok || s.stopping || s.id == "" || !isUp(s.phase) || s.lostNets[network] ||
		!slices.ContainsFunc(s.spec.Networks, func(a Attachment) bool { return a.Network == network }) {
		return
	}
	if s.lostNets == nil {
		s.lostNets = map[string]bool{}
	}
	s.lostNets[network] = true
	s.gateRun++ // a readiness gate under way judged the connected instance
	e.setPhaseLocked(s, PhaseUnhealthy, "disconnected from network "+network+"; reconnecting")
	id, spec := s.id, s.spec
	e.goLocked(func() { e.reconnect(rep, s, id, spec, network) })
}

// reconnect attaches instance id of s to network again, retrying with the
// backoff until it succeeds, the instance is replaced, or moat stops it.
// The network itself is ensured first: it may have been removed once its
// last endpoint was gone.
func (e *Engine) reconnect(rep NetworkRepairer, s *service, id string, spec Spec, network string) {
	for attempt := 1; ; attempt++ {
		err := e.repairNetwork(rep, id, spec, network)
		e.mu.Lock()
		gone := errors.Is(err, ErrNotFound) && !isUp(s.phase) // removed: its restart or `moat up` goes on
		if s.id != id || s.stopping || e.closed || gone {
			delete(s.lostNets, network)
			e.mu.Unlock()
			return
		}
		if err == nil {
			delete(s.lostNets, network)
			e.reconnectedLocked(s, network)
			e.mu.Unlock()
			return
		}
		delay := e.o.Backoff.Delay(attempt, e.o.Rand())
		if s.phase == PhaseUnhealthy {
			e.setPhaseLocked(s, PhaseUnhealthy, fmt.Sprintf("disconnected from network %s; reconnecting failed: %v; trying again in %s",
				network, err, delay.Round(time.Millisecond)))
		}
		e.mu.Unlock()
		if !e.sleep(delay) {
			return
		}
	}
}

func (e *Engine) repairNetwork(rep NetworkRepairer, id string, spec Spec, network string) error {
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	e.mu.Lock()
	i := slices.IndexFunc(e.topo.Networks, func(n Network) bool { return n.Name == network })
	var n Network
	if i >= 0 {
		n = e.topo.Networks[i]
	}
	e.mu.Unlock()
	if i >= 0 {
		if _, err := e.o.Runtime.EnsureNetwork(ctx, e.o.Project, n); err != nil {
			return err
		}
	}
	return rep.Reconnect(ctx, e.o.Project, id, spec, network)
}

// reconnectedLocked brings s back once its last lost network is attached
// again: healthy (or running) at once when its probe still passes, through
// its readiness gate when it has one; an instance whose probe fails, or
// that exited meanwhile, goes on as its events say.
func (e *Engine) reconnectedLocked(s *service, network string) {
	if len(s.lostNets) > 0 || s.phase != PhaseUnhealthy {
		return
	}
	reason := "reconnected to network " + network
	switch {
	case s.health == HealthUnhealthy || s.health == HealthStarting:
		e.setPhaseLocked(s, PhaseUnhealthy, reason+"; waiting for its health probe")
	case s.spec.Gate != nil:
		e.setPhaseLocked(s, PhaseStarting, reason+"; checking readiness")
		s.gateRun++
		gen := s.gateRun
		e.goLocked(func() { e.runGate(s, gen) })
	case s.spec.Health == nil:
		e.setPhaseLocked(s, PhaseRunning, reason)
	default:
		e.setPhaseLocked(s, PhaseHealthy, reason)
	}
}
