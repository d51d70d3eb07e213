package kubernetes

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"moat/appliance"
	"moat/appliance/config"
	"moat/appliance/control"
	"moat/mesh"
	"moat/supervisor"
	"moat/trino"
)

// Chart versions the export targets.
const (
	TrinoChart     = "1.42.2" // trinodb/charts `trino`, Trino 480
	TrinoChartApp  = "480"
	ConsulChart    = "1.6.10" // hashicorp/consul-k8s `consul`, Consul 1.20.6
	ConsulChartApp = "1.20.6"
)

// Names of the Kubernetes objects the export creates or expects.
const (
	TrinoRelease   = "trino"
	ConsulRelease  = "consul"
	ConsulNS       = "consul"
	SecretTrinoEnv = "moat-trino-env"      // TRINO_SHARED_SECRET and the catalogs' secrets
	SecretPassword = "moat-trino-password" // password.db (bcrypt), key password.db
	SecretNotebook = "moat-notebook"       // JUPYTER_TOKEN, TRINO_PASSWORD
	SecretReports  = "moat-reports"        // the orchestrator's Trino password
	ConfigMapMoat  = "moat-config"         // moat.toml for the report CronJobs
	ReportsPVC     = "moat-reports"
	// EnvoyInboundPort is the public (mTLS) listener consul-k8s gives an
	// injected pod.
	EnvoyInboundPort = 20000
)

// Options are the flags of `moat export kubernetes`.
type Options struct {
	Namespace string // "" = default
	// Runtime is MOAT_RUNTIME ("" = docker).
	Runtime string
}

func (o Options) namespace() string {
	if o.Namespace == "" {
		return "default"
	}
	return o.Namespace
}

// File names in the export folder, in the order the README applies them.
const (
	FileConsulValues = "consul-values.yaml"
	FileIntentions   = "intentions.yaml"
	FileSecrets      = "secrets.sh"
	FileTrinoValues  = "trino-values.yaml"
	FileNotebook     = "notebook.yaml"
	FileReports      = "reports.yaml"
	FileDockerfile   = "Dockerfile" // the report image
	FileReadme       = "README.md"
)

// plan is everything the files are written from: the single-host plan's
// own pieces, computed once. Its Secrets start empty and stay in memory:
// the values the plan generates into it are never written anywhere, they
// only let the export tell a secret from a plain value.
type plan struct {
	cfg        *config.Config
	opts       Options
	cluster    trino.Cluster
	coord      map[string][]byte // RenderNode of the coordinator
	worker     map[string][]byte // RenderNode of the first worker
	intentions []mesh.Intention  // DefaultDeny first, then Control.Intentions
	topo       supervisor.Topology
	sec        *appliance.Secrets // what the plan generated: only to tell secret values apart
}

// Export returns the files of the export folder for cfg, by name (no
// notebook.yaml when notebook.enabled is false). A config that cannot run
// on Kubernetes fails with every reason at once.
func Export(cfg *config.Config, opts Options) (map[string][]byte, error) {
	if err := Check(cfg, opts); err != nil {
		return nil, err
	}
	pl, err := newPlan(cfg, opts)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	for name, f := range map[string]func() ([]byte, error){
		FileConsulValues: pl.consulValues,
		FileTrinoValues:  pl.trinoValues,
		FileIntentions:   pl.intentionsYAML,
		FileNotebook:     pl.notebookYAML,
		FileReports:      pl.reportsYAML,
		FileSecrets:      pl.secretsScript,
		FileDockerfile:   pl.dockerfile,
		FileReadme:       pl.readme,
	} {
		data, err := f()
		if err != nil {
			return nil, fmt.Errorf("export %s: %w", name, err)
		}
		if data != nil {
			files[name] = data
		}
	}
	return files, nil
}

// clusterConfig is cfg without what exists on one host only: the host
// endpoint for the user's tools (identity workstation, and its intention)
// is a listener of the supervising moat; on a cluster tools use
// `kubectl port-forward` to the coordinator instead.
func clusterConfig(cfg *config.Config) *config.Config {
	c := *cfg
	c.Mesh.WorkstationPort = 0
	return &c
}

func newPlan(cfg *config.Config, opts Options) (*plan, error) {
	cfg = clusterConfig(cfg)
	// The export reads no secret: the plan's Secrets start empty, in a
	// folder of their own that is removed, never saved.
	tmp, err := os.MkdirTemp("", "moat-export-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	sec, err := appliance.OpenSecrets(tmp)
	if err != nil {
		return nil, err
	}
	// Secrets the user sets (catalogs' passwords) get a stand-in, so that
	// the plan can be made; on the cluster they come from secrets.sh.
	for _, cat := range cfg.Catalogs {
		for _, name := range cat.Secrets {
			sec.Set(name, "moat-export-stand-in-"+name)
		}
	}
	pl := &plan{cfg: cfg, opts: opts, cluster: appliance.TrinoCluster(cfg, sec), sec: sec}
	if err := pl.cluster.Memory.Validate(math.MaxInt64); err != nil {
		return nil, err
	}
	if pl.coord, err = trino.RenderNode(pl.cluster, pl.cluster.Coordinator); err != nil {
		return nil, err
	}
	if pl.worker, err = trino.RenderNode(pl.cluster, pl.cluster.Workers[0]); err != nil {
		return nil, err
	}
	// The plan's secrets are provisioned into that folder (a copy of the
	// config whose data dir it is): nothing of the user's data dir is read
	// or written.
	provisioned := *cfg
	provisioned.Appliance.DataDir = tmp
	if err := appliance.Provision(&provisioned, sec); err != nil {
		return nil, err
	}
	if pl.topo, err = appliance.Plan(&provisioned, sec, nil); err != nil {
		return nil, err
	}
	ctl := control.NewControl(cfg, sec, nil)
	defer ctl.Close()
	pl.intentions = append([]mesh.Intention{mesh.DefaultDeny}, ctl.Intentions()...)
	// On the cluster consul-k8s injects Envoy sidecars, whatever
	// mesh.proxy says, and the opaque-TLS destinations stay opaque. The
	// names are not restricted: they were checked against the host's
	// identities when cfg was loaded, and one that only the host has
	// (workstation) is inert on the cluster, not wrong. DefaultDeny is
	// intention[0] of the list.
	scope := mesh.IntentionScope{Proxy: mesh.ProxyEnvoy, OpaqueTLS: config.IntentionScope(cfg).OpaqueTLS}
	if err := mesh.ValidateIntentions(pl.intentions, scope); err != nil {
		return nil, fmt.Errorf("export: intentions:\n%w", err)
	}
	return pl, nil
}

// Check reports every part of cfg that cannot run on Kubernetes, each with
// what to do instead.
func Check(cfg *config.Config, opts Options) error {
	file := cfg.Path
	if file == "" {
		file = config.DefaultFile + " (embedded default)"
	}
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, &config.FieldError{File: file, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if opts.Runtime == "process" {
		errs = append(errs, errors.New("MOAT_RUNTIME=process: local processes do not move to Kubernetes, which runs images; "+
			"unset MOAT_RUNTIME and give every service an image (the export uses the images in moat.toml)"))
	}
	if !cfg.Mesh.Enabled {
		add("mesh.enabled", "is false: on Kubernetes the zero-trust path is Consul's connect injection; set mesh.enabled = true")
	}
	if !cfg.Trino.Enabled {
		add("trino.enabled", "is false: the export is a Trino cluster behind the mesh; set trino.enabled = true")
	}
	for i, s := range cfg.Services {
		field := fmt.Sprintf("service[%d] (%s)", i, s.Name)
		add(field, "extra services are not exported: write a Deployment and Service for %s (image %s) beside notebook.yaml, "+
			"or remove the [[service]] before exporting", s.Name, s.Image)
	}
	return errors.Join(errs...)
}

// Write writes files into dir (created if needed); secrets.sh is
// executable. It refuses a dir that holds other files than an export's.
func Write(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if _, ours := files[e.Name()]; !ours {
			return fmt.Errorf("%s holds %s, which is not part of an export: export into an empty folder or an earlier export's folder", dir, e.Name())
		}
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(dir, name), files[name], mode); err != nil {
			return err
		}
	}
	return nil
}

// spec is the single-host plan's spec of service name.
func (pl *plan) spec(name string) (supervisor.Spec, error) {
	for _, s := range pl.topo.Services {
		if s.Name == name {
			return s, nil
		}
	}
	return supervisor.Spec{}, fmt.Errorf("the plan has no service %s", name)
}

// isSecret reports whether v is a value the plan took from its Secrets.
func (pl *plan) isSecret(v string) bool {
	for _, n := range pl.sec.Names() {
		if s, ok := pl.sec.Get(n); ok && s != "" && strings.Contains(v, s) {
			return true
		}
	}
	return false
}
