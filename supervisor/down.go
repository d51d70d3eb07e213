package supervisor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// DownOptions say how far Down goes.
type DownOptions struct {
	// Volumes also removes the project's volumes (their data is lost).
	Volumes bool
	// DefaultGrace is the stop grace period of services whose spec sets none.
	DefaultGrace time.Duration
}

// defaultStopGrace is the stop grace period of a service whose spec sets
// none, unless DownOptions say otherwise.
const defaultStopGrace = 10 * time.Second

// Down stops every instance of the project in reverse dependency order
// (PreStop hook, stop signal, grace period, kill), removes instances and
// networks, and volumes when asked. It works from the runtime's labels, so it
// also stops a stack that this process did not start. The transitions it
// caused have been recorded and observed when it returns.
func (e *Engine) Down(ctx context.Context, o DownOptions) error {
	defer e.delivery.flush()
	if o.DefaultGrace == 0 {
		o.DefaultGrace = defaultStopGrace
	}
	e.mu.Lock()
	for _, s := range e.services {
		s.stopping = true
		e.cancelRestartLocked(s)
	}
	topo := e.topo
	e.mu.Unlock()

	inv, err := e.o.Runtime.List(ctx, e.o.Project)
	if err != nil {
		return fmt.Errorf("listing the project's %s objects: %w", e.o.Runtime.Name(), err)
	}
	var errs []error
	for _, group := range stopGroups(topo, inv) {
		errs = append(errs, e.stopGroup(ctx, topo, group, o.DefaultGrace)...)
	}
	for _, n := range inv.Networks {
		if err := e.o.Runtime.RemoveNetwork(ctx, e.o.Project, n); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, fmt.Errorf("removing network %s: %w", n, err))
		}
	}
	if o.Volumes {
		for _, v := range inv.Volumes {
			if err := e.o.Runtime.RemoveVolume(ctx, e.o.Project, v); err != nil && !errors.Is(err, ErrNotFound) {
				errs = append(errs, fmt.Errorf("removing volume %s: %w", v, err))
			}
		}
	}
	return errors.Join(errs...)
}

// watchExit returns a channel closed when instance id exits, or nil when the
// engine is not watching the runtime's events (Start was not called).
func (e *Engine) watchExit(id string) <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ctx == nil {
		return nil
	}
	ch, ok := e.exits[id]
	if !ok {
		ch = make(chan struct{})
		e.exits[id] = ch
	}
	return ch
}

// stopGroups orders the instances for stopping: those topo does not know
// first, then topo's levels from the last to the first.
func stopGroups(topo Topology, inv Inventory) [][]Instance {
	levels, err := Order(topo.Services)
	if err != nil {
		levels = nil
	}
	slices.Reverse(levels)
	known := map[string]int{}
	for i, l := range levels {
		for _, n := range l {
			known[n] = i + 1
		}
	}
	groups := make([][]Instance, len(levels)+1)
	for _, in := range inv.Instances {
		groups[known[in.Service]] = append(groups[known[in.Service]], in)
	}
	return groups
}

// stopGroup stops and removes a group of instances in parallel.
func (e *Engine) stopGroup(ctx context.Context, topo Topology, group []Instance, grace time.Duration) []error {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, in := range group {
		spec, _ := topo.Service(in.Service)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.stopOne(ctx, spec, in, grace); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errs
}

func (e *Engine) stopOne(ctx context.Context, spec Spec, in Instance, grace time.Duration) error {
	e.mu.Lock()
	if s := e.services[in.Service]; s != nil && s.id == in.ID {
		e.setPhaseLocked(s, PhaseStopping, "stopping")
	}
	e.mu.Unlock()
	var errs []error
	if spec.StopGrace > 0 {
		grace = spec.StopGrace
	}
	if spec.PreStop != nil && in.State == StateRunning {
		exited := e.watchExit(in.ID)
		pctx, cancel := context.WithTimeout(ctx, grace)
		if err := spec.PreStop(pctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: graceful shutdown request failed (stopping it anyway): %w", in.Service, err))
		} else if exited != nil {
			// It drains and exits by itself within its grace period.
			select {
			case <-exited:
				in.State = StateExited
			case <-pctx.Done():
			}
		}
		cancel()
	}
	if in.State == StateRunning {
		if err := e.o.Runtime.Stop(ctx, in.ID, grace); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, fmt.Errorf("stopping %s: %w", in.Service, err))
		}
	}
	if err := e.o.Runtime.Remove(ctx, in.ID); err != nil && !errors.Is(err, ErrNotFound) {
		errs = append(errs, fmt.Errorf("removing %s: %w", in.Service, err))
	}
	e.mu.Lock()
	if s := e.services[in.Service]; s != nil && s.id == in.ID {
		s.id = ""
		e.setPhaseLocked(s, PhaseStopped, "stopped and removed")
	}
	e.mu.Unlock()
	return errors.Join(errs...)
}
