package webui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"moat/state"
	"moat/supervisor"
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

// Service is one service as the dashboard shows it: the supervisor's status
// of it, and where it sits in the topology. `moat status --json` shows the
// same Service (with the runtime's view beside it).
type Service struct {
	supervisor.ServiceStatus
	Placement
}

// Placement is where a service sits in the topology: what the plan says of
// it beside its status, which the supervisor does not know.
type Placement struct {
	Kind      string `json:"kind"`                 // app, sidecar or moat
	SidecarOf string `json:"sidecar_of,omitempty"` // the app a sidecar serves
	// Upstreams are the localhost upstreams a sidecar (or one of moat's own
	// identities) holds for its app.
	Upstreams []Upstream `json:"upstreams,omitempty"`
}

// Upstream is a mesh upstream: the service reaches Destination at LocalBind.
// In JSON it is a string, as status and the dashboard show it
// ("trino-coordinator@127.0.0.1:8080").
type Upstream struct {
	Destination string
	LocalBind   string // "127.0.0.1:8080"
}

// String is "trino-coordinator@127.0.0.1:8080".
func (u Upstream) String() string { return u.Destination + "@" + u.LocalBind }

// MarshalText writes String.
func (u Upstream) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// UnmarshalText reads what MarshalText writes.
func (u *Upstream) UnmarshalText(b []byte) error {
	dest, bind, ok := strings.Cut(string(b), "@")
	if !ok || dest == "" || bind == "" {
		return fmt.Errorf("upstream %q: want DESTINATION@LOCAL_BIND", b)
	}
	*u = Upstream{Destination: dest, LocalBind: bind}
	return nil
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
