package config

import (
	"path/filepath"

	"moat/report"
)

// Config is moat.toml. Every field is documented in the embedded default
// (embed/moat.toml), which is also where the defaults live.
type Config struct {
	Appliance  Appliance   `toml:"appliance"`
	Dashboard  Dashboard   `toml:"dashboard"`
	Mesh       Mesh        `toml:"mesh"`
	Trino      Trino       `toml:"trino"`
	Catalogs   []Catalog   `toml:"catalog"`
	Users      []User      `toml:"user"`
	Policies   []Policy    `toml:"policy"`
	Notebook   Notebook    `toml:"notebook"`
	Reports    []Report    `toml:"report"`
	Intentions []Intention `toml:"intention"`
	Services   []Service   `toml:"service"`

	// Path is the file the config came from ("" for the embedded default);
	// Dir is the folder relative paths resolve against.
	Path string `toml:"-"`
	Dir  string `toml:"-"`

	// src is the decoded file, for the checks that need this host's facts
	// (FitsHost) to name its lines too.
	src *source
}

// Appliance holds the settings of the whole stack.
type Appliance struct {
	Project               string   `toml:"project"`
	DataDir               string   `toml:"data_dir"`
	Pull                  string   `toml:"pull"`
	StartTimeout          Duration `toml:"start_timeout"`
	StopGrace             Duration `toml:"stop_grace"`
	RestartBackoffInitial Duration `toml:"restart_backoff_initial"`
	RestartBackoffMax     Duration `toml:"restart_backoff_max"`
	StableAfter           Duration `toml:"stable_after"`
	CrashLoopFailures     int      `toml:"crash_loop_failures"`
	CrashLoopWindow       Duration `toml:"crash_loop_window"`
	CrashLoop             string   `toml:"crash_loop"`       // retry | stop
	CrashLoopRetry        Duration `toml:"crash_loop_retry"` // delay between tries of a crash-looping service
	MinFreeDisk           Bytes    `toml:"min_free_disk"`
	ReportTimeout         Duration `toml:"report_timeout"`
}

// Dashboard is moat's own web UI.
type Dashboard struct {
	Enabled bool   `toml:"enabled"`
	Listen  string `toml:"listen"`
}

// Mesh is the Consul server and the sidecars.
type Mesh struct {
	Enabled     bool   `toml:"enabled"`
	Proxy       string `toml:"proxy"`
	ConsulImage string `toml:"consul_image"`
	EnvoyImage  string `toml:"envoy_image"`
	Datacenter  string `toml:"datacenter"`
	// HTTPSPort is Consul's HTTPS API, published on 127.0.0.1.
	HTTPSPort   int      `toml:"https_port"`
	Subnet      string   `toml:"subnet"`
	LeafCertTTL Duration `toml:"leaf_cert_ttl"`
	// CoordinatorPort is the host loopback port where the coordinator's
	// sidecar is published for moat's own mTLS client.
	CoordinatorPort int `toml:"coordinator_port"`
	// NotebookSidecarPort is the notebook's sidecar on 127.0.0.1 (for
	// `moat verify`; it too accepts mesh mTLS only).
	NotebookSidecarPort int `toml:"notebook_sidecar_port"`
	// WorkstationPort is the Trino endpoint for tools on the host (DBeaver,
	// JDBC, the Trino CLI, a local Python): a listener of moat's on
	// 127.0.0.1, Connect-native as identity "workstation"; 0 turns it off.
	WorkstationPort int `toml:"workstation_port"`
}

// Trino is the coordinator and its workers.
type Trino struct {
	Enabled               bool     `toml:"enabled"`
	Image                 string   `toml:"image"`
	Version               int      `toml:"version"`
	Environment           string   `toml:"environment"`
	Workers               int      `toml:"workers"`
	CoordinatorHeap       Bytes    `toml:"coordinator_heap"`
	WorkerHeap            Bytes    `toml:"worker_heap"`
	QueryMaxMemoryPerNode Bytes    `toml:"query_max_memory_per_node"`
	QueryMaxMemory        Bytes    `toml:"query_max_memory"`
	HeapHeadroomPercent   int      `toml:"heap_headroom_percent"`
	Subnet                string   `toml:"subnet"`
	ShutdownGrace         Duration `toml:"shutdown_grace"`
}

// Catalog is one Trino catalog, present on every node.
type Catalog struct {
	Name       string            `toml:"name"`
	Connector  string            `toml:"connector"`
	Properties map[string]string `toml:"properties"`
	// Secrets maps a catalog property to the name of a secret in moat's
	// secrets file; the property is written as ${ENV:…}.
	Secrets map[string]string `toml:"secrets"`
}

// User is a Trino user with a password (generated when empty).
type User struct {
	Name     string `toml:"name"`
	Password string `toml:"password"`
}

// Policy grants a user rights on a catalog, schema or table.
type Policy struct {
	User       string         `toml:"user"`
	Catalog    string         `toml:"catalog"`
	Schema     string         `toml:"schema"`
	Table      string         `toml:"table"`
	Privileges []string       `toml:"privileges"`
	RowFilter  string         `toml:"row_filter"`
	Columns    []ColumnPolicy `toml:"column"`
}

// ColumnPolicy masks or denies one column.
type ColumnPolicy struct {
	Name string `toml:"name"`
	Mask string `toml:"mask"`
	Deny bool   `toml:"deny"`
}

// Notebook is the Jupyter server.
type Notebook struct {
	Enabled bool   `toml:"enabled"`
	Image   string `toml:"image"`
	Port    int    `toml:"port"`
	User    string `toml:"user"`
	// Command replaces the image's command ([] keeps it).
	Command []string `toml:"command"`
	// HealthCheck runs inside the notebook container; passing = healthy.
	HealthCheck []string `toml:"health_check"`
}

// Report is an SQL report rendered into static HTML.
type Report struct {
	Name     string `toml:"name"`
	SQL      string `toml:"sql"`
	RunAs    string `toml:"run_as"`
	Schedule string `toml:"schedule"`
	PageSize int    `toml:"page_size"`
	Chart    *Chart `toml:"chart"`
}

// Chart asks for an SVG chart of two result columns.
type Chart struct {
	Kind  string `toml:"kind"`
	X     string `toml:"x"`
	Y     string `toml:"y"`
	Title string `toml:"title"`
}

// Intention allows or denies a source service to reach a destination.
type Intention struct {
	Source      string     `toml:"source"`
	Destination string     `toml:"destination"`
	Action      string     `toml:"action"`
	HTTP        []HTTPRule `toml:"http"`
}

// HTTPRule narrows an intention to paths and methods (Envoy only).
type HTTPRule struct {
	PathPrefix string   `toml:"path_prefix"`
	Methods    []string `toml:"methods"`
}

// Service is an extra container moat runs beside the stack.
type Service struct {
	Name              string            `toml:"name"`
	Image             string            `toml:"image"`
	Entrypoint        []string          `toml:"entrypoint"`
	Command           []string          `toml:"command"`
	Env               map[string]string `toml:"env"`
	Ports             []PortMapping     `toml:"ports"`
	Volumes           []VolumeMount     `toml:"volumes"`
	DependsOn         []Dependency      `toml:"depends_on"`
	Health            []string          `toml:"health"`
	HealthInterval    Duration          `toml:"health_interval"`
	HealthTimeout     Duration          `toml:"health_timeout"`
	HealthRetries     int               `toml:"health_retries"`
	HealthStartPeriod Duration          `toml:"health_start_period"`
	Restart           string            `toml:"restart"`
	Memory            Bytes             `toml:"memory"`
	StartTimeout      Duration          `toml:"start_timeout"`
	StopGrace         Duration          `toml:"stop_grace"`
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

// ReportsDir is where report sites are written.
func (c *Config) ReportsDir() string { return filepath.Join(c.DataDir(), "reports") }

// Report returns the [[report]] named name.
func (c *Config) Report(name string) (report.Definition, bool) {
	for _, d := range c.ReportDefinitions() {
		if d.Name == name {
			return d, true
		}
	}
	return report.Definition{}, false
}

// DataDir is the absolute data directory of c.
func (c *Config) DataDir() string {
	d := c.Appliance.DataDir
	if !filepath.IsAbs(d) {
		d = filepath.Join(c.Dir, d)
	}
	abs, err := filepath.Abs(d)
	if err != nil {
		return d
	}
	return abs
}
