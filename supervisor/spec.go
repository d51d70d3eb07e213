package supervisor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net"
	"os"
	"sort"
	"strconv"
	"time"
)

// Labels every runtime object carries, so that moat can find, adopt and
// remove what it created (and nothing else).
const (
	LabelProject    = "dev.moat.project"
	LabelService    = "dev.moat.service"
	LabelConfigHash = "dev.moat.config-hash"
)

// Condition is what a dependent waits for before it is started.
type Condition string

const (
	// Started: the dependency's process or container is running.
	Started Condition = "started"
	// Healthy: the dependency's probe passed (and its gate, when it has one).
	Healthy Condition = "healthy"
	// Completed: the dependency ran to completion and exited 0.
	Completed Condition = "completed"
)

// Dependency names a service that must reach Condition first.
type Dependency struct {
	Service   string    `json:"service"`
	Condition Condition `json:"condition"`
}

// String is "db (healthy)", as "waiting on" shows it.
func (d Dependency) String() string { return d.Service + " (" + string(d.Condition) + ")" }

// Network is a user-defined network of the project. Internal networks have no
// route outside; Subnet (CIDR) lets services take fixed addresses.
// NoHostAddress leaves the host without an address (and so without a route)
// on the network: only its members reach each other, not a local user of the
// host.
type Network struct {
	Name          string `json:"name"`
	Internal      bool   `json:"internal,omitempty"`
	Subnet        string `json:"subnet,omitempty"`
	Gateway       string `json:"gateway,omitempty"`
	NoHostAddress bool   `json:"no_host_address,omitempty"`
}

// Volume is a named, persistent volume of the project.
type Volume struct {
	Name string `json:"name"`
}

// Attachment connects a service to a network, optionally at a fixed IP.
type Attachment struct {
	Network string   `json:"network"`
	IP      string   `json:"ip,omitempty"`
	Aliases []string `json:"aliases,omitempty"`
}

// Port publishes ContainerPort on HostIP:HostPort. HostIP defaults to
// 127.0.0.1: nothing listens on another host address unless configured.
type Port struct {
	HostIP        string `json:"host_ip,omitempty"`
	HostPort      int    `json:"host_port"`
	ContainerPort int    `json:"container_port"`
	Protocol      string `json:"protocol,omitempty"` // tcp (default) or udp
}

// String is how status and the dashboard show a published port:
// "127.0.0.1:8888->8888" (with "/udp" for UDP).
func (p Port) String() string {
	ip := p.HostIP
	if ip == "" {
		ip = "127.0.0.1"
	}
	s := net.JoinHostPort(ip, strconv.Itoa(p.HostPort)) + "->" + strconv.Itoa(p.ContainerPort)
	if p.Protocol == "udp" {
		s += "/udp"
	}
	return s
}

// Mount places a named volume of the project at Target.
type Mount struct {
	Volume   string `json:"volume"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"read_only,omitempty"`
}

// File is delivered into the service's filesystem before it starts.
// Content may be secret: it is hashed into the config hash, never logged.
type File struct {
	Path    string      `json:"path"`
	Mode    os.FileMode `json:"mode"`
	Content []byte      `json:"content"`
	UID     int         `json:"uid,omitempty"`
	GID     int         `json:"gid,omitempty"`
	// Prepared files come from Spec.Prepare at create time; they are not
	// part of the config hash (they derive from the running stack).
	Prepared bool `json:"-"`
}

// Probe tells whether a running service is healthy. Command runs inside the
// service's environment (a Docker healthcheck, or a local process for the
// process runtime) and passes when it exits 0.
type Probe struct {
	Command     []string      `json:"command"`
	Interval    time.Duration `json:"interval"`
	Timeout     time.Duration `json:"timeout"`
	StartPeriod time.Duration `json:"start_period,omitempty"`
	Retries     int           `json:"retries"`
}

// RestartMode says when a service that exited is started again.
type RestartMode string

const (
	RestartAlways    RestartMode = "always"
	RestartOnFailure RestartMode = "on-failure"
	RestartNever     RestartMode = "never"
)

// Spec is everything the supervisor needs to run one service. It is
// runtime-neutral: the Docker runtime maps it onto containers, the process
// runtime onto local processes (Image is then the executable).
type Spec struct {
	Name       string            `json:"name"`
	Image      string            `json:"image"`
	Entrypoint []string          `json:"entrypoint,omitempty"`
	Command    []string          `json:"command,omitempty"`
	Env        map[string]string `json:"env,omitempty"` // may hold secrets: never logged
	Files      []File            `json:"files,omitempty"`
	WorkingDir string            `json:"working_dir,omitempty"`
	User       string            `json:"user,omitempty"`
	Networks   []Attachment      `json:"networks,omitempty"`
	// ShareNetworkWith runs the service in another service's network
	// namespace (Docker NetworkMode container:<id>): sidecars use it.
	ShareNetworkWith string            `json:"share_network_with,omitempty"`
	Ports            []Port            `json:"ports,omitempty"`
	Mounts           []Mount           `json:"mounts,omitempty"`
	MemoryBytes      int64             `json:"memory_bytes,omitempty"`
	Health           *Probe            `json:"health,omitempty"`
	DependsOn        []Dependency      `json:"depends_on,omitempty"`
	Restart          RestartMode       `json:"restart"`
	StopSignal       string            `json:"stop_signal,omitempty"`
	ExtraLabels      map[string]string `json:"labels,omitempty"`

	// Timing (not part of the config hash: changing them needs no restart).
	StartTimeout time.Duration `json:"-"`
	StopGrace    time.Duration `json:"-"`

	// Gate is an extra readiness check run by the supervisor after the
	// runtime reports the service healthy (for example "the Trino cluster
	// has N active workers"). It is polled until it returns nil.
	Gate func(ctx context.Context) error `json:"-"`
	// Prepare returns files that can only be made once the service's
	// dependencies run (for example an Envoy bootstrap that Consul renders).
	// It runs just before the instance is created.
	Prepare func(ctx context.Context) ([]File, error) `json:"-"`
	// PreStop runs before the service is stopped (for example a Trino
	// worker's graceful shutdown request).
	PreStop func(ctx context.Context) error `json:"-"`
}

// ConfigHash is a stable digest of everything in s that, when changed,
// requires the service to be re-created. Secrets contribute only through the
// digest, which cannot be reversed.
func (s Spec) ConfigHash() string {
	c := s
	c.Files = nil
	for _, f := range s.Files {
		if !f.Prepared {
			c.Files = append(c.Files, f)
		}
	}
	c.DependsOn = append([]Dependency(nil), s.DependsOn...)
	sort.Slice(c.DependsOn, func(i, j int) bool { return c.DependsOn[i].Service < c.DependsOn[j].Service })
	b, err := json.Marshal(c) // maps marshal with sorted keys
	if err != nil {
		panic("supervisor: spec cannot be hashed: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:16]
}

// Topology is the desired state of a whole project.
type Topology struct {
	Project  string
	Networks []Network
	Volumes  []Volume
	Services []Spec
}

// Service returns the spec named name.
func (t Topology) Service(name string) (Spec, bool) {
	for _, s := range t.Services {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}
