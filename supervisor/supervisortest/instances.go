package supervisortest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"moat/supervisor"
)

// Create records an instance of s, labelled as a real runtime labels it.
// Like Docker it refuses a second instance of a service (same name), a
// network the project has not ensured, and a namespace peer that is not
// running.
func (r *Runtime) Create(ctx context.Context, project string, s supervisor.Spec, peerID string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	call := OpCreate + " " + s.Name
	if peerID != "" {
		call += " peer=" + peerID
	}
	if err := r.faultLocked(OpCreate, s.Name, call); err != nil {
		return "", err
	}
	if err := r.checkCreateLocked(project, s, peerID); err != nil {
		return "", err
	}
	return r.addLocked(project, s, supervisor.Instance{State: supervisor.StateCreated}), nil
}

func (r *Runtime) checkCreateLocked(project string, s supervisor.Spec, peerID string) error {
	for _, i := range r.insts {
		if i.project == project && i.spec.Name == s.Name {
			return fmt.Errorf("supervisortest: create %s: instance %s already exists", s.Name, i.in.ID)
		}
	}
	for _, a := range s.Networks {
		if _, ok := r.networks[project+"/"+a.Network]; !ok {
			return fmt.Errorf("supervisortest: create %s: network %s: %w", s.Name, a.Network, supervisor.ErrNotFound)
		}
	}
	if s.ShareNetworkWith != "" {
		peer := r.insts[peerID]
		if peer == nil || peer.in.State != supervisor.StateRunning || peer.spec.Name != s.ShareNetworkWith {
			return fmt.Errorf("supervisortest: create %s: its network peer %s (%q) is not a running instance of %s", s.Name, s.ShareNetworkWith, peerID, s.ShareNetworkWith)
		}
	}
	return nil
}

// addLocked stores an instance of s with in's state and returns its ID,
// <service>-<n>.
func (r *Runtime) addLocked(project string, s supervisor.Spec, in supervisor.Instance) string {
	r.serial[s.Name]++
	in.ID = s.Name + "-" + strconv.Itoa(r.serial[s.Name])
	in.Name = project + "-" + in.ID
	in.Service, in.ConfigHash = s.Name, s.ConfigHash()
	r.insts[in.ID] = &instance{project: project, spec: s, in: in}
	if in.State == supervisor.StateRunning {
		r.insts[in.ID].in.Addresses = r.insts[in.ID].addresses()
	}
	r.order = append(r.order, in.ID)
	return in.ID
}

// Seed adds an instance of s as an earlier moat left it: in gives its
// State, Health, ExitCode (and, when set, ConfigHash, to make one that
// drifted); the rest comes from s. It returns the ID. Nothing is published.
func (r *Runtime) Seed(project string, s supervisor.Spec, in supervisor.Instance) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	hash := in.ConfigHash
	if in.State == supervisor.StateRunning && in.StartedAt.IsZero() {
		in.StartedAt = r.o.Clock.Now()
	}
	id := r.addLocked(project, s, in)
	if hash != "" {
		r.insts[id].in.ConfigHash = hash
	}
	return id
}

// Start runs the instance (again); starting a running one does nothing.
func (r *Runtime) Start(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	i, err := r.lookupLocked(OpStart, id, true)
	if err != nil || i.in.State == supervisor.StateRunning {
		return err
	}
	i.in.State, i.in.ExitCode = supervisor.StateRunning, 0
	i.in.StartedAt, i.in.FinishedAt = r.o.Clock.Now(), time.Time{}
	i.in.Addresses = i.addresses()
	i.in.Health = supervisor.HealthNone
	if i.spec.Health != nil {
		i.in.Health = supervisor.HealthStarting
	}
	r.publishLocked(i, supervisor.EventStart)
	if r.o.AutoHealthy && i.spec.Health != nil {
		r.setHealthLocked(i, supervisor.HealthHealthy, "ok")
	}
	return nil
}

// Stop ends a running instance with ExitStopped.
func (r *Runtime) Stop(ctx context.Context, id string, grace time.Duration) error {
	return r.end(OpStop, id, ExitStopped)
}

// Kill ends a running instance with ExitKilled.
func (r *Runtime) Kill(ctx context.Context, id string) error {
	return r.end(OpKill, id, ExitKilled)
}

func (r *Runtime) end(op, id string, code int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	i, err := r.lookupLocked(op, id, true)
	if err != nil {
		return err
	}
	r.exitLocked(i, code)
	return nil
}

// Remove deletes the instance, killing it first if it runs.
func (r *Runtime) Remove(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	i, err := r.lookupLocked(OpRemove, id, true)
	if err != nil {
		return err
	}
	r.exitLocked(i, ExitKilled)
	delete(r.insts, id)
	r.order = slices.DeleteFunc(r.order, func(x string) bool { return x == id })
	r.publishLocked(i, supervisor.EventRemove)
	return nil
}

// exitLocked ends i's run with code, if it runs, and says so.
func (r *Runtime) exitLocked(i *instance, code int) {
	if i.in.State != supervisor.StateRunning {
		return
	}
	i.in.State, i.in.ExitCode, i.in.Health = supervisor.StateExited, code, supervisor.HealthNone
	i.in.FinishedAt = r.o.Clock.Now()
	left := slices.Sorted(maps.Keys(i.in.Addresses))
	i.in.Addresses = nil
	r.publishLocked(i, supervisor.EventDie)
	// Docker then releases its networks, and says so.
	for _, n := range left {
		r.sendLocked(i.project, supervisor.Event{Time: i.in.FinishedAt, ID: i.in.ID, Service: i.spec.Name,
			Kind: supervisor.EventDisconnect, Network: n})
	}
}

// errNotRunning is returned by the injections for an instance that is not
// running.
var errNotRunning = errors.New("not running")

// Die makes a running instance exit with code, as a crash (or a kill from
// outside) does.
func (r *Runtime) Die(id string, code int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := r.insts[id]
	if i == nil || i.in.State != supervisor.StateRunning {
		return fmt.Errorf("supervisortest: die %s: %w", id, errNotRunning)
	}
	r.exitLocked(i, code)
	return nil
}

// SetHealth sets a running instance's health and last probe output, and
// publishes the change (when it is one).
func (r *Runtime) SetHealth(id string, h supervisor.Health, probe string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := r.insts[id]
	if i == nil || i.in.State != supervisor.StateRunning {
		return fmt.Errorf("supervisortest: health of %s: %w", id, errNotRunning)
	}
	r.setHealthLocked(i, h, probe)
	return nil
}

func (r *Runtime) setHealthLocked(i *instance, h supervisor.Health, probe string) {
	i.in.LastProbe = probe
	if i.in.Health == h {
		return
	}
	i.in.Health = h
	r.publishLocked(i, supervisor.EventHealth)
}
