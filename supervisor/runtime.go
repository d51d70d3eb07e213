package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Runtime runs services. Two implementations exist: supervisor/docker (the
// Docker Engine API) and supervisor/process (local processes). Every object a
// runtime creates carries the labels LabelProject, LabelService and
// LabelConfigHash, so that List finds exactly the project's objects.
//
// Methods are safe for concurrent use. IDs are opaque to the engine.
type Runtime interface {
	// Name is "docker" or "process", for messages.
	Name() string
	// Ping checks the runtime is reachable. Its error is shown to a user as
	// is, so it says what is wrong and how to fix it.
	Ping(ctx context.Context) error

	// EnsureNetwork creates the network unless one with its name and the
	// project's label exists. created reports whether it made one.
	EnsureNetwork(ctx context.Context, project string, n Network) (created bool, err error)
	RemoveNetwork(ctx context.Context, project, name string) error
	// EnsureVolume creates the volume unless it exists.
	EnsureVolume(ctx context.Context, project string, v Volume) (created bool, err error)
	RemoveVolume(ctx context.Context, project, name string) error

	// List returns every instance, network and volume labelled with project.
	List(ctx context.Context, project string) (Inventory, error)

	// Create makes (but does not start) an instance of s labelled with
	// project and s.ConfigHash(). The files of s are in place when it returns.
	// For s.ShareNetworkWith, peerID is the ID of that service's instance.
	Create(ctx context.Context, project string, s Spec, peerID string) (id string, err error)
	Start(ctx context.Context, id string) error
	// Stop sends the stop signal, waits up to grace, then kills.
	Stop(ctx context.Context, id string, grace time.Duration) error
	// Kill stops an instance at once (tests and crash simulation use it).
	Kill(ctx context.Context, id string) error
	// Remove deletes a stopped (or running: it is killed first) instance.
	Remove(ctx context.Context, id string) error
	Inspect(ctx context.Context, id string) (Instance, error)

	// Events streams the project's instance events until ctx ends. The error
	// channel yields at most one error, after which both channels close.
	Events(ctx context.Context, project string) (<-chan Event, <-chan error)
	// Logs writes an instance's output (stdout and stderr interleaved) to w.
	Logs(ctx context.Context, id string, opts LogOptions, w io.Writer) error
}

// Execer is implemented by runtimes that can run a command inside a running
// instance (Docker). The engine uses it to run a starting service's health
// command more often than the runtime's probe interval, so that a
// dependent starts as soon as the service is healthy.
type Execer interface {
	Exec(ctx context.Context, id string, cmd []string) (exitCode int, output string, err error)
}

// SelfRunner is implemented by runtimes that can run moat's own (static)
// binary in a throwaway instance that shares only another instance's
// network namespace, with files copied in first (Docker): how moat reaches
// an address only that namespace can reach.
type SelfRunner interface {
	SelfImage(ctx context.Context) (string, error)
	RunInWithFiles(ctx context.Context, id, image string, args []string, files []File) (exitCode int, output string, err error)
}

// FindInstance is the current instance of service in project.
func FindInstance(ctx context.Context, rt Runtime, project, service string) (Instance, error) {
	inv, err := rt.List(ctx, project)
	if err != nil {
		return Instance{}, err
	}
	var names []string
	for _, in := range inv.Instances {
		if in.Service == service {
			return in, nil
		}
		names = append(names, in.Service)
	}
	if len(names) == 0 {
		return Instance{}, fmt.Errorf("no service %q is running: the stack is down (`moat up`)", service)
	}
	return Instance{}, fmt.Errorf("no service %q: the stack has %s", service, strings.Join(names, ", "))
}

// NetworkRepairer is implemented by runtimes whose instances can lose a
// network behind moat's back (Docker: `docker network disconnect`).
// Reconnect attaches the running instance id of s to network (a name of
// s.Networks) again, with its fixed address and aliases.
type NetworkRepairer interface {
	Reconnect(ctx context.Context, project, id string, s Spec, network string) error
}

// ImageManager is implemented by runtimes that run images (Docker).
type ImageManager interface {
	ImagePresent(ctx context.Context, ref string) (bool, error)
	// Pull fetches ref, calling progress as layers advance.
	Pull(ctx context.Context, ref string, progress func(PullProgress)) error
}

// PullProgress is one update of an image pull.
type PullProgress struct {
	Image   string
	Layer   string
	Status  string // "Downloading", "Extracting", "Pull complete", ...
	Current int64
	Total   int64
}

// LogOptions selects what Logs writes.
type LogOptions struct {
	Tail   int  // last N lines; 0 means all
	Follow bool // keep writing until ctx ends or the instance is removed
	// Since keeps only the lines written at or after it; zero means all.
	Since time.Time
	// Timestamps starts every line with the time it was written (RFC 3339
	// with nanoseconds, as Docker writes it).
	Timestamps bool
}

// Inventory is what a runtime holds for one project.
type Inventory struct {
	Instances []Instance
	Networks  []string
	Volumes   []string
}

// State of an instance as the runtime sees it.
type State string

const (
	StateCreated State = "created"
	StateRunning State = "running"
	StateExited  State = "exited"
	StateGone    State = "gone" // no longer exists
)

// Health as the runtime's probe sees it.
type Health string

const (
	HealthNone      Health = ""          // no probe
	HealthStarting  Health = "starting"  // probe has not passed yet
	HealthHealthy   Health = "healthy"   //
	HealthUnhealthy Health = "unhealthy" // probe failed Retries times in a row
)

// Instance is one running (or stopped) copy of a service.
type Instance struct {
	ID         string
	Name       string // the runtime's name for it (container name)
	Service    string // LabelService
	ConfigHash string // LabelConfigHash
	State      State
	Health     Health
	ExitCode   int
	StartedAt  time.Time
	FinishedAt time.Time
	// LastProbe is the output of the most recent probe, trimmed.
	LastProbe string
	// Addresses by network name.
	Addresses map[string]string
	Ports     []Port
}

// EventKind is what happened to an instance.
type EventKind string

const (
	EventStart  EventKind = "start"
	EventDie    EventKind = "die"    // exited; ExitCode set
	EventHealth EventKind = "health" // Health changed
	EventOOM    EventKind = "oom"
	EventRemove EventKind = "remove"
	// EventDisconnect: the instance was detached from Network while it
	// runs (`docker network disconnect` behind moat's back, or a stop,
	// which the engine tells apart by inspecting the instance).
	EventDisconnect EventKind = "disconnect"
)

// Event is one runtime event for an instance of the project.
type Event struct {
	Time     time.Time
	ID       string
	Service  string
	Kind     EventKind
	Health   Health // for EventHealth
	ExitCode int    // for EventDie
	Network  string // for EventDisconnect: the network's name in the Topology
}

// ErrNotFound is returned (wrapped) for an instance, network or volume that
// does not exist.
var ErrNotFound = errors.New("not found")
