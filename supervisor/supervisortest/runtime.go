package supervisortest

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"

	"moat/supervisor"
)

// Operations, as Fail names them and Calls records them.
const (
	OpPing          = "ping"
	OpEnsureNetwork = "ensure-network"
	OpRemoveNetwork = "remove-network"
	OpEnsureVolume  = "ensure-volume"
	OpRemoveVolume  = "remove-volume"
	OpList          = "list"
	OpCreate        = "create"
	OpStart         = "start"
	OpStop          = "stop"
	OpKill          = "kill"
	OpRemove        = "remove"
	OpInspect       = "inspect"
	OpEvents        = "events"
	OpLogs          = "logs"
)

// Exit codes the fake gives, as Docker does.
const (
	ExitStopped = 0   // Stop: the instance obeys its stop signal
	ExitKilled  = 137 // Kill, Remove of a running instance: 128+SIGKILL
)

// eventBuffer is how far a subscriber may fall behind before it is ended.
const eventBuffer = 1024

// Options configure a Runtime.
type Options struct {
	// Clock gives instances their start and finish times (default the
	// wall clock).
	Clock supervisor.Clock
	// AutoHealthy turns an instance with a probe healthy as soon as it
	// starts; otherwise it stays starting until SetHealth.
	AutoHealthy bool
}

// Runtime is an in-memory supervisor.Runtime. Methods are safe for
// concurrent use.
type Runtime struct {
	o        Options
	mu       sync.Mutex
	insts    map[string]*instance
	order    []string       // instance IDs in creation order
	serial   map[string]int // per service, for IDs
	networks map[string]supervisor.Network
	volumes  map[string]bool
	subs     map[*subscriber]struct{}
	calls    []string
	faults   map[string]error // by op + " " + name ("" name: any)
	logs     map[string][]string
}

var _ supervisor.Runtime = (*Runtime)(nil)

type instance struct {
	project string
	spec    supervisor.Spec
	in      supervisor.Instance
	// detached are the networks Disconnect took away: like a Docker
	// container, it starts again without them until Reconnect.
	detached map[string]bool
}

type subscriber struct {
	project string
	ch      chan supervisor.Event
	errc    chan error
	stop    func() bool // of the context.AfterFunc that ends it
}

// New returns an empty Runtime.
func New(o Options) *Runtime {
	if o.Clock == nil {
		o.Clock = supervisor.RealClock{}
	}
	return &Runtime{
		o: o, insts: map[string]*instance{}, serial: map[string]int{},
		networks: map[string]supervisor.Network{}, volumes: map[string]bool{},
		subs: map[*subscriber]struct{}{}, faults: map[string]error{}, logs: map[string][]string{},
	}
}

// Name is "fake".
func (r *Runtime) Name() string { return "fake" }

// Fail makes every later op on name (a service, network or volume; "" for
// any) return err; a nil err clears the fault.
func (r *Runtime) Fail(op, name string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		delete(r.faults, op+" "+name)
		return
	}
	r.faults[op+" "+name] = err
}

// Calls returns the operations that change something, in order, as
// "op name" ("create web", "start web-1", "ensure-network mesh"); a create
// names its peer ("create web-sidecar peer=web-1"), a failed call ends in
// " (failed)".
func (r *Runtime) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// SetLogs sets what Logs writes for service's instances.
func (r *Runtime) SetLogs(service string, lines ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs[service] = lines
}

// faultLocked returns the error injected for op on name. Reads (list,
// inspect, events, logs, ping) are not recorded in Calls.
func (r *Runtime) faultLocked(op, name, call string) error {
	err := r.faults[op+" "+name]
	if err == nil {
		err = r.faults[op+" "]
	}
	if call != "" {
		if err != nil {
			call += " (failed)"
		}
		r.calls = append(r.calls, call)
	}
	if err != nil {
		return fmt.Errorf("supervisortest: %s %s: %w", op, name, err)
	}
	return nil
}

// Ping answers unless a fault says otherwise.
func (r *Runtime) Ping(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.faultLocked(OpPing, "", "")
}

func notFound(kind, name string) error {
	return fmt.Errorf("supervisortest: %s %s: %w", kind, name, supervisor.ErrNotFound)
}

// EnsureNetwork records the network unless the project has it.
func (r *Runtime) EnsureNetwork(ctx context.Context, project string, n supervisor.Network) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.faultLocked(OpEnsureNetwork, n.Name, OpEnsureNetwork+" "+n.Name); err != nil {
		return false, err
	}
	k := project + "/" + n.Name
	if _, ok := r.networks[k]; ok {
		return false, nil
	}
	r.networks[k] = n
	return true, nil
}

// RemoveNetwork forgets the network.
func (r *Runtime) RemoveNetwork(ctx context.Context, project, name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.faultLocked(OpRemoveNetwork, name, OpRemoveNetwork+" "+name); err != nil {
		return err
	}
	if _, ok := r.networks[project+"/"+name]; !ok {
		return notFound("network", name)
	}
	delete(r.networks, project+"/"+name)
	return nil
}

// EnsureVolume records the volume unless the project has it.
func (r *Runtime) EnsureVolume(ctx context.Context, project string, v supervisor.Volume) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.faultLocked(OpEnsureVolume, v.Name, OpEnsureVolume+" "+v.Name); err != nil {
		return false, err
	}
	k := project + "/" + v.Name
	if r.volumes[k] {
		return false, nil
	}
	r.volumes[k] = true
	return true, nil
}

// RemoveVolume forgets the volume.
func (r *Runtime) RemoveVolume(ctx context.Context, project, name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.faultLocked(OpRemoveVolume, name, OpRemoveVolume+" "+name); err != nil {
		return err
	}
	if !r.volumes[project+"/"+name] {
		return notFound("volume", name)
	}
	delete(r.volumes, project+"/"+name)
	return nil
}

// List returns the project's instances in creation order and its networks
// and volumes sorted by name.
func (r *Runtime) List(ctx context.Context, project string) (supervisor.Inventory, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.faultLocked(OpList, "", ""); err != nil {
		return supervisor.Inventory{}, err
	}
	var inv supervisor.Inventory
	for _, id := range r.order {
		if i := r.insts[id]; i.project == project {
			inv.Instances = append(inv.Instances, i.in)
		}
	}
	inv.Networks = namesIn(r.networks, project)
	inv.Volumes = namesIn(r.volumes, project)
	return inv, nil
}

func namesIn[V any](m map[string]V, project string) []string {
	var names []string
	for k := range m {
		if name, ok := strings.CutPrefix(k, project+"/"); ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// Inspect returns the instance's state.
func (r *Runtime) Inspect(ctx context.Context, id string) (supervisor.Instance, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i, err := r.lookupLocked(OpInspect, id, false)
	if err != nil {
		return supervisor.Instance{}, err
	}
	return i.in, nil
}

// lookupLocked finds instance id and applies op's fault (recording the call
// when record is set).
func (r *Runtime) lookupLocked(op, id string, record bool) (*instance, error) {
	i := r.insts[id]
	name, call := id, ""
	if i != nil {
		name = i.spec.Name
	}
	if record {
		call = op + " " + id
	}
	if err := r.faultLocked(op, name, call); err != nil {
		return nil, err
	}
	if i == nil {
		return nil, notFound("instance", id)
	}
	return i, nil
}

// Logs writes the lines SetLogs gave for the instance's service.
func (r *Runtime) Logs(ctx context.Context, id string, o supervisor.LogOptions, w io.Writer) error {
	r.mu.Lock()
	i, err := r.lookupLocked(OpLogs, id, false)
	var lines []string
	if err == nil {
		lines = r.logs[i.spec.Name]
	}
	r.mu.Unlock()
	if err != nil {
		return err
	}
	if o.Tail > 0 && len(lines) > o.Tail {
		lines = lines[len(lines)-o.Tail:]
	}
	for _, l := range lines {
		if _, err := fmt.Fprintln(w, l); err != nil {
			return err
		}
	}
	return nil
}
