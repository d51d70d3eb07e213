package supervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// attempt remembers what one Up created, to roll it back if Up fails.
type attempt struct {
	mu        sync.Mutex
	instances []string // IDs, in creation order
	networks  []string
	volumes   []string
}

func (a *attempt) add(list *[]string, v string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	*list = append(*list, v)
}

// Up makes the runtime match topo: it adopts instances whose config hash
// matches, replaces those that drifted, removes orphans, creates what is
// missing and starts services in dependency order, each gated on its
// dependencies' conditions. It returns when every service is healthy (or
// running, or completed, as its spec allows). When it fails it removes what
// this attempt created and returns every root error. Either way the
// transitions it caused have been recorded and observed when it returns.
func (e *Engine) Up(ctx context.Context, topo Topology) error {
	defer e.delivery.flush()
	levels, err := Order(topo.Services)
	if err != nil {
		return err
	}
	inv, err := e.o.Runtime.List(ctx, e.o.Project)
	if err != nil {
		return fmt.Errorf("listing the project's %s objects: %w", e.o.Runtime.Name(), err)
	}
	adopt, remove := e.reconcile(topo, levels, inv)
	if err := e.removeInstances(ctx, remove); err != nil {
		return err
	}
	att := &attempt{}
	if err := e.ensureStorage(ctx, topo, att); err != nil {
		return errors.Join(err, e.rollback(att))
	}
	if err := e.startAll(ctx, topo, adopt, att); err != nil {
		return errors.Join(err, e.rollback(att))
	}
	return e.removeOrphanNetworks(ctx, topo, inv)
}

// reconcile installs topo's services in the engine and decides, per service,
// which existing instance to adopt. Everything else labelled with the project
// is to be removed.
func (e *Engine) reconcile(topo Topology, levels [][]string, inv Inventory) (adopt map[string]Instance, remove []Instance) {
	adopt = map[string]Instance{}
	byService := map[string][]Instance{}
	for _, in := range inv.Instances {
		byService[in.Service] = append(byService[in.Service], in)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.topo = topo
	e.forgetDroppedLocked(topo)
	for _, level := range levels {
		for _, name := range level {
			spec, _ := topo.Service(name)
			hash := spec.ConfigHash()
			for _, in := range byService[name] {
				_, taken := adopt[name]
				peerOK := spec.ShareNetworkWith == "" || adoptedPeer(adopt, spec.ShareNetworkWith)
				// A container never started is not adopted: a moat killed
				// while creating it may have left it without its files or
				// networks (Create's later steps), and it has no state worth
				// keeping.
				if !taken && in.ConfigHash == hash && peerOK && in.State != StateGone && in.State != StateCreated {
					adopt[name] = in
				} else {
					remove = append(remove, in)
				}
			}
			delete(byService, name)
			e.installLocked(spec, adopt[name])
		}
	}
	for _, orphans := range byService {
		remove = append(remove, orphans...)
	}
	return adopt, remove
}

// forgetDroppedLocked forgets the services of an earlier Up that topo no
// longer has: their instances are removed as orphans, and their exits are
// not failures to restart.
func (e *Engine) forgetDroppedLocked(topo Topology) {
	for name, s := range e.services {
		if _, ok := topo.Service(name); ok {
			continue
		}
		s.stopping = true
		e.cancelRestartLocked(s)
		delete(e.services, name)
		e.notifyLocked(s) // its waiters learn it is gone
	}
}

func adoptedPeer(adopt map[string]Instance, peer string) bool {
	in, ok := adopt[peer]
	return ok && in.State == StateRunning
}

// installLocked sets the engine's entry for spec, keeping an adopted
// instance's identity and history.
func (e *Engine) installLocked(spec Spec, in Instance) {
	s := e.services[spec.Name]
	if s == nil || s.id != in.ID || in.ID == "" {
		s = &service{phase: PhasePending, changed: make(chan struct{})}
		if old := e.services[spec.Name]; old != nil {
			close(old.changed)
		}
		e.services[spec.Name] = s
	}
	s.spec = spec
	s.id = in.ID
	s.stopping = false
	switch s.phase {
	case PhaseFailed, PhaseStopped, PhaseCrashLooping:
		// `moat up` again is the fix a person made: start over.
		e.cancelRestartLocked(s)
		s.phase = PhasePending
		s.failures = failureLog{}
	}
}

func (e *Engine) removeInstances(ctx context.Context, list []Instance) error {
	var errs []error
	for _, in := range list {
		if err := e.o.Runtime.Remove(ctx, in.ID); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, fmt.Errorf("removing %s (%s): %w", in.Name, reasonToRemove(in), err))
		}
	}
	return errors.Join(errs...)
}

func reasonToRemove(in Instance) string {
	if in.Service == "" {
		return "orphan"
	}
	return "drifted or orphaned " + in.Service
}

func (e *Engine) ensureStorage(ctx context.Context, topo Topology, att *attempt) error {
	for _, n := range topo.Networks {
		created, err := e.o.Runtime.EnsureNetwork(ctx, e.o.Project, n)
		if err != nil {
			return fmt.Errorf("network %s: %w", n.Name, err)
		}
		if created {
			att.add(&att.networks, n.Name)
		}
	}
	for _, v := range topo.Volumes {
		created, err := e.o.Runtime.EnsureVolume(ctx, e.o.Project, v)
		if err != nil {
			return fmt.Errorf("volume %s: %w", v.Name, err)
		}
		if created {
			att.add(&att.volumes, v.Name)
		}
	}
	return nil
}

// errDependency marks a service that was not started because something it
// depends on failed: a consequence, not a root error.
type errDependency struct{ err error }

func (e errDependency) Error() string { return e.err.Error() }

// startAll brings every service up, each in its own goroutine gated on its
// dependencies, and returns the root errors of those that failed.
func (e *Engine) startAll(ctx context.Context, topo Topology, adopt map[string]Instance, att *attempt) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(topo.Services))
	var wg sync.WaitGroup
	for i, spec := range topo.Services {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = e.bring(ctx, spec, adopt[spec.Name], att); errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	var roots []error
	var blocked []string
	for i, err := range errs {
		var dep errDependency
		switch {
		case err == nil:
		case errors.As(err, &dep), errors.Is(err, context.Canceled) && ctx.Err() != nil:
			blocked = append(blocked, topo.Services[i].Name)
		default:
			roots = append(roots, err)
		}
	}
	if len(roots) > 0 && len(blocked) > 0 {
		roots = append(roots, fmt.Errorf("not started because of the above: %s", strings.Join(blocked, ", ")))
	}
	if len(roots) == 0 && len(blocked) > 0 {
		return fmt.Errorf("not started: %s: %w", strings.Join(blocked, ", "), context.Cause(ctx))
	}
	return errors.Join(roots...)
}

// bring starts one service once its dependencies allow, and waits until it
// is up, bounded by its start timeout.
func (e *Engine) bring(ctx context.Context, spec Spec, in Instance, att *attempt) error {
	// A new instance that needs nothing from its dependencies is created
	// while they start, so that only its start waits on them.
	if in.ID == "" && spec.ShareNetworkWith == "" && spec.Prepare == nil {
		id, err := e.create(ctx, spec, "", att)
		if err != nil {
			return err
		}
		in = Instance{ID: id, State: StateCreated}
	}
	if err := e.waitDeps(ctx, spec); err != nil {
		return err
	}
	switch {
	case in.ID != "" && in.State == StateRunning:
		e.adoptRunning(spec.Name, in)
	case in.ID != "" && in.State == StateExited && in.ExitCode == 0 && spec.Restart != RestartAlways:
		// A one-shot that already completed is not run again.
		e.mu.Lock()
		e.setPhaseLocked(e.services[spec.Name], PhaseCompleted, "completed earlier (exit code 0)")
		e.mu.Unlock()
	case in.ID != "":
		if err := e.startInstance(ctx, spec.Name, in.ID); err != nil {
			return err
		}
	default:
		peerID := ""
		if spec.ShareNetworkWith != "" {
			e.mu.Lock()
			peerID = e.services[spec.ShareNetworkWith].id
			e.mu.Unlock()
		}
		if spec.Prepare != nil {
			files, err := spec.Prepare(ctx)
			if err != nil {
				e.fail(spec.Name, "preparing its files failed: "+err.Error())
				return fmt.Errorf("%s: preparing its files: %w", spec.Name, err)
			}
			for _, f := range files {
				f.Prepared = true
				spec.Files = append(slices.Clip(spec.Files), f)
			}
		}
		id, err := e.create(ctx, spec, peerID, att)
		if err != nil {
			return err
		}
		if err := e.startInstance(ctx, spec.Name, id); err != nil {
			return err
		}
	}
	return e.waitUp(ctx, spec)
}

// create makes an instance of spec and records it in the attempt.
func (e *Engine) create(ctx context.Context, spec Spec, peerID string, att *attempt) (string, error) {
	id, err := e.o.Runtime.Create(ctx, e.o.Project, spec, peerID)
	if err != nil {
		e.fail(spec.Name, "create failed: "+err.Error())
		return "", fmt.Errorf("%s: creating its %s: %w", spec.Name, e.kind(), err)
	}
	att.add(&att.instances, id)
	e.mu.Lock()
	e.services[spec.Name].id = id
	e.mu.Unlock()
	return id, nil
}

func (e *Engine) kind() string {
	if e.o.Runtime.Name() == "docker" {
		return "container"
	}
	return "process"
}

func (e *Engine) startInstance(ctx context.Context, name, id string) error {
	if err := e.o.Runtime.Start(ctx, id); err != nil {
		e.fail(name, "start failed: "+err.Error())
		return fmt.Errorf("%s: starting: %w", name, err)
	}
	return nil
}

// adoptRunning takes over a running instance from an earlier moat without
// restarting it.
func (e *Engine) adoptRunning(name string, in Instance) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.services[name]
	if s.phase != PhasePending && s.phase != PhaseWaiting {
		return // events already told us more
	}
	s.lastProbe = in.LastProbe
	e.onStartLocked(s)
	s.startedAt = in.StartedAt
	if in.Health != HealthNone && in.Health != HealthStarting {
		e.onHealthLocked(s, in.Health)
	}
}

// waitDeps blocks until every dependency of spec meets its condition.
func (e *Engine) waitDeps(ctx context.Context, spec Spec) error {
	for _, d := range deps(spec) {
		e.mu.Lock()
		s := e.services[spec.Name]
		s.waitingOn = d.String()
		e.setPhaseLocked(s, PhaseWaiting, "waiting on "+s.waitingOn)
		e.mu.Unlock()
		if err := e.Wait(ctx, d.Service, d.Condition); err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
				return err // Up is ending; the reason is someone else's
			}
			e.fail(spec.Name, fmt.Sprintf("not started: %s is needed %s but %v", d.Service, d.Condition, err))
			return errDependency{fmt.Errorf("%s: not started: %w", spec.Name, err)}
		}
	}
	e.mu.Lock()
	e.services[spec.Name].waitingOn = ""
	e.mu.Unlock()
	return nil
}

// waitUp waits until spec's service is healthy (when it has a probe or gate)
// or started, within its start timeout; a timeout names the service, its last
// probe result and its last log lines.
func (e *Engine) waitUp(ctx context.Context, spec Spec) error {
	cond := Started
	if spec.Health != nil || spec.Gate != nil {
		cond = Healthy
	}
	timeout := spec.StartTimeout
	if timeout == 0 {
		timeout = e.o.DefaultStartTimeout
	}
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	errTimeout := errors.New("start timeout")
	t := e.o.Clock.AfterFunc(timeout, func() { cancel(errTimeout) })
	defer t.Stop()
	err := e.Wait(wctx, spec.Name, cond)
	if err == nil {
		return nil
	}
	if context.Cause(wctx) != errTimeout {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%s: %w%s", spec.Name, err, e.logTail(ctx, spec.Name))
	}
	e.mu.Lock()
	s := e.services[spec.Name]
	probe, phase, id := s.lastProbe, s.phase, s.id
	e.mu.Unlock()
	if in, err := e.o.Runtime.Inspect(ctx, id); err == nil && in.LastProbe != "" {
		probe = in.LastProbe
	}
	msg := fmt.Sprintf("%s did not become %s within %s (it is %s)", spec.Name, cond, timeout, phase)
	if probe != "" {
		msg += "; last probe: " + probe
	}
	e.fail(spec.Name, msg)
	return errors.New(msg + e.logTail(ctx, spec.Name))
}

// logTail returns the service's last log lines, indented, for an error.
func (e *Engine) logTail(ctx context.Context, name string) string {
	e.mu.Lock()
	id := e.services[name].id
	e.mu.Unlock()
	if id == "" {
		return ""
	}
	var buf bytes.Buffer
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5e9)
	defer cancel()
	if err := e.o.Runtime.Logs(lctx, id, LogOptions{Tail: e.o.LogLines}, &buf); err != nil || buf.Len() == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	return fmt.Sprintf("\n  last %d log lines of %s:\n    %s", len(lines), name, strings.Join(lines, "\n    "))
}

func (e *Engine) fail(name, reason string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.setPhaseLocked(e.services[name], PhaseFailed, reason)
}

// rollback removes what att created, newest first, and says every error.
func (e *Engine) rollback(att *attempt) error {
	ctx := context.WithoutCancel(e.baseCtx())
	var errs []error
	ids := slices.Clone(att.instances)
	slices.Reverse(ids)
	e.mu.Lock()
	for _, s := range e.services {
		s.stopping = true // nothing is restarted once up has failed
		e.cancelRestartLocked(s)
	}
	e.mu.Unlock()
	for _, id := range ids {
		if err := e.o.Runtime.Remove(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, fmt.Errorf("rollback: removing %s: %w", id, err))
		}
	}
	e.mu.Lock()
	for _, s := range e.services {
		if slices.Contains(ids, s.id) {
			s.id = ""
		}
	}
	e.mu.Unlock()
	for _, n := range att.networks {
		if err := e.o.Runtime.RemoveNetwork(ctx, e.o.Project, n); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, fmt.Errorf("rollback: removing network %s: %w", n, err))
		}
	}
	for _, v := range att.volumes {
		if err := e.o.Runtime.RemoveVolume(ctx, e.o.Project, v); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, fmt.Errorf("rollback: removing volume %s: %w", v, err))
		}
	}
	return errors.Join(errs...)
}

// removeOrphanNetworks removes the project's networks that topo no longer
// has. Orphan volumes are kept: they hold data (`moat down --volumes`).
func (e *Engine) removeOrphanNetworks(ctx context.Context, topo Topology, inv Inventory) error {
	var errs []error
	for _, n := range inv.Networks {
		if !slices.ContainsFunc(topo.Networks, func(x Network) bool { return x.Name == n }) {
			if err := e.o.Runtime.RemoveNetwork(ctx, e.o.Project, n); err != nil && !errors.Is(err, ErrNotFound) {
				errs = append(errs, fmt.Errorf("removing orphan network %s: %w", n, err))
			}
		}
	}
	return errors.Join(errs...)
}
