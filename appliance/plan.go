package appliance

import (
	"strconv"
	"strings"
	"time"

	"moat/report"
	"moat/supervisor"
)

// moat's own Trino users and mesh identities.
const (
	ManagementUser   = "moat"         // system_information write; graceful worker shutdown
	OrchestratorUser = "orchestrator" // runs queries and reports, impersonating their users
	// WorkstationIdentity is the mesh identity of the host endpoint
	// (mesh.workstation_port): tools on the host reach Trino as it.
	WorkstationIdentity = "workstation"
)

// Names of the services moat runs itself.
const (
	ServiceConsul      = "consul"
	ServiceCoordinator = "trino-coordinator"
	ServiceNotebook    = "notebook"
	ServiceWorker      = "trino-worker" // + "-N"
	SidecarSuffix      = "-sidecar"
)

// BuiltinServices are the names of the services c makes moat run.
func BuiltinServices(c *Config) []string {
	var out []string
	if c.Mesh.Enabled {
		out = append(out, ServiceConsul)
	}
	if c.Trino.Enabled {
		out = append(out, ServiceCoordinator)
		for i := 1; i <= c.Trino.Workers; i++ {
			out = append(out, ServiceWorker+"-"+strconv.Itoa(i))
		}
		if c.Mesh.Enabled {
			out = append(out, ServiceCoordinator+SidecarSuffix)
		}
	}
	if c.Notebook.Enabled {
		out = append(out, ServiceNotebook, ServiceNotebook+SidecarSuffix)
	}
	return out
}

// MeshServices are the mesh identities intentions may name.
func MeshServices(c *Config) []string {
	out := []string{OrchestratorUser}
	if HasWorkstation(c) {
		out = append(out, WorkstationIdentity)
	}
	if c.Trino.Enabled {
		out = append(out, ServiceCoordinator)
	}
	if c.Notebook.Enabled {
		out = append(out, ServiceNotebook)
	}
	return out
}

// HasWorkstation reports whether moat offers the host endpoint.
func HasWorkstation(c *Config) bool {
	return c.Mesh.Enabled && c.Trino.Enabled && c.Mesh.WorkstationPort != 0
}

// IsMeshService reports whether name is a service with a sidecar.
func IsMeshService(c *Config, name string) bool {
	return (name == ServiceCoordinator && c.Trino.Enabled && c.Mesh.Enabled) || (name == ServiceNotebook && c.Notebook.Enabled)
}

// Upstream is a mesh service's localhost door to another one.
type Upstream struct {
	Destination string
	LocalBind   string // "127.0.0.1:8080"
}

func (u Upstream) String() string { return u.Destination + "@" + u.LocalBind }

// Upstreams are the localhost upstreams of a mesh service (the orchestrator's
// is its published door to the coordinator's sidecar).
func Upstreams(c *Config, service string) []Upstream {
	switch {
	case service == ServiceNotebook && c.Trino.Enabled:
		return []Upstream{{ServiceCoordinator, "127.0.0.1:" + strconv.Itoa(NotebookUpstreamPort)}}
	case service == OrchestratorUser && c.Trino.Enabled && c.Mesh.Enabled:
		return []Upstream{{ServiceCoordinator, "127.0.0.1:" + strconv.Itoa(c.Mesh.CoordinatorPort)}}
	}
	return nil
}

// SidecarOf returns the application whose sidecar service is.
func SidecarOf(c *Config, service string) (string, bool) {
	app, ok := strings.CutSuffix(service, SidecarSuffix)
	return app, ok && IsMeshService(c, app)
}

func reportDefinition(r Report) report.Definition {
	d := report.Definition{Name: r.Name, SQL: r.SQL, RunAs: r.RunAs, Schedule: r.Schedule, PageSize: r.PageSize}
	if r.Chart != nil {
		d.Chart = &report.Chart{Kind: r.Chart.Kind, X: r.Chart.X, Y: r.Chart.Y, Title: r.Chart.Title}
	}
	return d
}

// ReportDefinitions are the config's reports for the report runner.
func (c *Config) ReportDefinitions() []report.Definition {
	out := make([]report.Definition, len(c.Reports))
	for i, r := range c.Reports {
		out[i] = reportDefinition(r)
	}
	return out
}

// extraSpecs are the [[service]] entries as supervisor specs.
func extraSpecs(c *Config) []supervisor.Spec {
	specs := make([]supervisor.Spec, 0, len(c.Services))
	for _, s := range c.Services {
		specs = append(specs, serviceSpec(c, s))
	}
	// Dependencies on built-in services resolve against placeholders here;
	// Plan puts the real ones in.
	for _, name := range BuiltinServices(c) {
		specs = append(specs, supervisor.Spec{Name: name})
	}
	return specs
}

// AppsNetwork is the network of [[service]] containers.
const AppsNetwork = "apps"

func serviceSpec(c *Config, s Service) supervisor.Spec {
	spec := supervisor.Spec{
		Name: s.Name, Image: s.Image, Entrypoint: s.Entrypoint, Command: s.Command, Env: s.Env,
		Networks:     []supervisor.Attachment{{Network: AppsNetwork, Aliases: []string{s.Name}}},
		MemoryBytes:  int64(s.Memory),
		Restart:      supervisor.RestartMode(s.Restart),
		StartTimeout: s.StartTimeout.D(),
		StopGrace:    s.StopGrace.D(),
	}
	if spec.Restart == "" {
		spec.Restart = supervisor.RestartAlways
	}
	if spec.StartTimeout == 0 {
		spec.StartTimeout = c.Appliance.StartTimeout.D()
	}
	if spec.StopGrace == 0 {
		spec.StopGrace = c.Appliance.StopGrace.D()
	}
	for _, p := range s.Ports {
		spec.Ports = append(spec.Ports, p.Port)
	}
	for _, v := range s.Volumes {
		spec.Mounts = append(spec.Mounts, v.Mount)
	}
	for _, d := range s.DependsOn {
		spec.DependsOn = append(spec.DependsOn, d.Dependency)
	}
	if len(s.Health) > 0 {
		spec.Health = &supervisor.Probe{
			Command: s.Health, Interval: orDefault(s.HealthInterval, 2*time.Second), Timeout: orDefault(s.HealthTimeout, 2*time.Second),
			StartPeriod: s.HealthStartPeriod.D(), Retries: orDefaultInt(s.HealthRetries, 3),
		}
	}
	return spec
}

func orDefault(d Duration, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d.D()
}

func orDefaultInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}
