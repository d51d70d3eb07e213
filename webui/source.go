package webui

import (
	"context"
	"time"

	"moat/state"
)

// Source is everything the dashboard reads and the one thing it does (run a
// report). moat implements it over its supervisor, mesh and state store.
type Source interface {
	// Snapshot is the stack as it is now.
	Snapshot(ctx context.Context) (Snapshot, error)
	// Events returns the events f selects, newest first (state.Store.Events).
	Events(ctx context.Context, f state.EventFilter) ([]state.Event, error)
	// Logs returns up to the last tail lines of service's output. The
	// dashboard caps what it shows; the Source need not.
	Logs(ctx context.Context, service string, tail int) (string, error)
	// Reports lists the report definitions with their latest runs.
	Reports(ctx context.Context) ([]ReportInfo, error)
	// RunReport runs report name now and returns the run's folder
	// (<ReportsDir>/<name>/<runKey>) when it has finished.
	RunReport(ctx context.Context, name string) (runPath string, err error)
	// Changes ticks whenever something shown may have changed; the dashboard
	// then pushes fresh pages to open browsers. The Source must never block
	// sending on it (a channel with a buffer of 1 and a non-blocking send
	// coalesces bursts). Nil means no live updates.
	Changes() <-chan struct{}
}

// Service kinds.
const (
	KindApp     = "app"     // a container of the stack
	KindSidecar = "sidecar" // a mesh proxy beside an app
	KindMoat    = "moat"    // a part of moat itself (orchestrator, dashboard)
)

// Snapshot is the stack at one moment.
type Snapshot struct {
	Project       string      `json:"project"`
	SupervisorPID int         `json:"supervisor_pid"`
	At            time.Time   `json:"at"`
	Services      []Service   `json:"services"` // in topology order
	Intentions    []Intention `json:"intentions"`
	// Verify holds the latest `moat verify` result of every pair.
	Verify []state.VerifyResult `json:"verify"`
	// Capture is the evidence of the latest `moat verify --capture`; nil
	// when it never ran.
	Capture *state.Capture `json:"capture,omitempty"`
}

// Service is one service as the supervisor sees it.
type Service struct {
	Name        string     `json:"name"`
	Kind        string     `json:"kind"`                 // app, sidecar or moat
	SidecarOf   string     `json:"sidecar_of,omitempty"` // the app a sidecar serves
	Phase       string     `json:"phase"`                // the supervisor's phase: pending, waiting, starting, running, healthy, ...
	Health      string     `json:"health,omitempty"`     // the last probe's verdict, when there is a probe
	Restarts    int        `json:"restarts"`
	StartedAt   time.Time  `json:"started_at,omitzero"`
	Ports       []string   `json:"ports,omitempty"` // published ports as shown to a user: "127.0.0.1:8888->8888/tcp"
	LastProbe   string     `json:"last_probe,omitempty"`
	LastProbeAt time.Time  `json:"last_probe_at,omitzero"`
	WaitingOn   string     `json:"waiting_on,omitempty"` // the service it waits for
	Reason      string     `json:"reason,omitempty"`     // why it is in its phase (why it waits, why it failed)
	DependsOn   []string   `json:"depends_on,omitempty"`
	Upstreams   []Upstream `json:"upstreams,omitempty"`
}

// Upstream is a mesh upstream: the service reaches Destination at LocalBind.
type Upstream struct {
	Destination string `json:"destination"`
	LocalBind   string `json:"local_bind"` // "127.0.0.1:8080"
}

// Intention is a Consul intention: may Source open a connection to Destination?
type Intention struct {
	Source      string `json:"source"` // a service name or "*"
	Destination string `json:"destination"`
	Action      string `json:"action"` // allow or deny
}

// ReportInfo is a report definition and its history.
type ReportInfo struct {
	Name     string            `json:"name"`
	Schedule string            `json:"schedule,omitempty"` // cron expression, "" when run by hand only
	RunAs    string            `json:"run_as"`
	Runs     []state.ReportRun `json:"runs"` // newest first; Runs[0] is the latest
}

// Latest returns the newest run; ok is false when the report never ran.
func (r ReportInfo) Latest() (run state.ReportRun, ok bool) {
	if len(r.Runs) == 0 {
		return state.ReportRun{}, false
	}
	return r.Runs[0], true
}
