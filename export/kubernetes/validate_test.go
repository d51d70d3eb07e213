package kubernetes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"moat/appliance"
	"moat/appliance/config"
	"moat/appliance/control"
	"moat/mesh"
	"moat/trino"
)

// chartFile reads a file of ../shared/charts (relative to the repository):
// a test skips without it, except in CI, where it fails.
func chartFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "charts", name))
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chart data missing in CI: %v", err)
		}
		t.Skipf("chart data not here: %v", err)
	}
	return data
}

// docs splits a YAML stream into its documents.
func docs(t *testing.T, data []byte) [][]byte {
	t.Helper()
	var out [][]byte
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := yaml.Marshal(&n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
}

// TestManifestsStrict decodes every object of notebook.yaml and
// reports.yaml with its k8s.io/api type, unknown fields rejected, and
// intentions.yaml against the ServiceIntentions CRD's OpenAPI schema.
func TestManifestsStrict(t *testing.T) {
	crd := crdSchema(t)
	for _, name := range configs {
		files := exportOf(t, name)
		for _, fn := range []string{FileNotebook, FileReports, FileIntentions} {
			for i, doc := range docs(t, files[fn]) {
				var head struct{ APIVersion, Kind string }
				if err := sigsyaml.Unmarshal(doc, &head); err != nil {
					t.Fatal(err)
				}
				where := fmt.Sprintf("%s/%s doc %d (%s)", name, fn, i, head.Kind)
				var obj any
				switch head.APIVersion + " " + head.Kind {
				case "apps/v1 Deployment":
					obj = &appsv1.Deployment{}
				case "batch/v1 CronJob":
					obj = &batchv1.CronJob{}
				case "v1 Service":
					obj = &corev1.Service{}
				case "v1 ConfigMap":
					obj = &corev1.ConfigMap{}
				case "v1 ServiceAccount":
					obj = &corev1.ServiceAccount{}
				case "v1 PersistentVolumeClaim":
					obj = &corev1.PersistentVolumeClaim{}
				case "networking.k8s.io/v1 NetworkPolicy":
					obj = &networkingv1.NetworkPolicy{}
				case "consul.hashicorp.com/v1alpha1 ServiceIntentions":
					var v any
					if err := sigsyaml.Unmarshal(doc, &v); err != nil {
						t.Fatal(err)
					}
					if err := checkSchema(crd, v, ""); err != nil {
						t.Errorf("%s: %v", where, err)
					}
					continue
				case "consul.hashicorp.com/v1alpha1 ServiceDefaults":
					// No CRD for it in ../shared/charts: the fields moat writes.
					var sd struct {
						APIVersion string         `json:"apiVersion"`
						Kind       string         `json:"kind"`
						Metadata   map[string]any `json:"metadata"`
						Spec       struct {
							Protocol string `json:"protocol"`
						} `json:"spec"`
					}
					if err := sigsyaml.UnmarshalStrict(doc, &sd); err != nil || sd.Spec.Protocol != "http" {
						t.Errorf("%s: %v (protocol %q)", where, err, sd.Spec.Protocol)
					}
					continue
				default:
					t.Errorf("%s: no strict check for %s %s", where, head.APIVersion, head.Kind)
					continue
				}
				if err := sigsyaml.UnmarshalStrict(doc, obj); err != nil {
					t.Errorf("%s: %v", where, err)
				}
				var errs []error
				switch o := obj.(type) {
				case *appsv1.Deployment:
					errs = checkPodSpec(o.Spec.Template.Spec)
				case *batchv1.CronJob:
					errs = checkPodSpec(o.Spec.JobTemplate.Spec.Template.Spec)
				}
				for _, err := range errs {
					t.Errorf("%s: %v", where, err)
				}
			}
		}
	}
}

// TestSchemaWalkerFails: the schema walker rejects a key the CRD lacks and
// a wrong type, so TestManifestsStrict can fail.
func TestSchemaWalkerFails(t *testing.T) {
	crd := crdSchema(t)
	for _, bad := range []string{
		`{"apiVersion": "consul.hashicorp.com/v1alpha1", "kind": "ServiceIntentions", "spec": {"destination": {"name": "x"}, "sources": [{"name": "a", "action": "allow", "precedence": 3}]}}`,
		`{"apiVersion": "consul.hashicorp.com/v1alpha1", "kind": "ServiceIntentions", "spec": {"destination": {"name": 7}}}`,
		`{"apiVersion": "consul.hashicorp.com/v1alpha1", "kind": "ServiceIntentions", "spec": {"sources": {"name": "a"}}}`,
	} {
		var v any
		if err := sigsyaml.Unmarshal([]byte(bad), &v); err != nil {
			t.Fatal(err)
		}
		if err := checkSchema(crd, v, ""); err == nil {
			t.Errorf("schema walker accepted %s", bad)
		}
	}
}

func crdSchema(t *testing.T) map[string]any {
	t.Helper()
	var crd struct {
		Spec struct {
			Versions []struct {
				Name   string
				Schema struct {
					OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
				}
			}
		}
	}
	if err := sigsyaml.Unmarshal(chartFile(t, "consul-k8s-1.6.10-crd-serviceintentions.yaml"), &crd); err != nil {
		t.Fatal(err)
	}
	for _, v := range crd.Spec.Versions {
		if v.Name == "v1alpha1" {
			return v.Schema.OpenAPIV3Schema
		}
	}
	t.Fatal("the CRD has no v1alpha1 schema")
	return nil
}

// checkSchema walks v against an OpenAPI v3 schema: every key must be one
// of the schema's properties (unless it preserves unknown fields or takes
// additionalProperties), types must match, enums hold.
func checkSchema(s map[string]any, v any, at string) error {
	typ, _ := s["type"].(string)
	switch typ {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object, have %T", at, v)
		}
		props, _ := s["properties"].(map[string]any)
		addl, _ := s["additionalProperties"].(map[string]any)
		open := s["x-kubernetes-preserve-unknown-fields"] == true || (props == nil && addl == nil)
		for _, req := range asList(s["required"]) {
			if _, ok := m[req.(string)]; !ok {
				return fmt.Errorf("%s: required %s missing", at, req)
			}
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			sub, ok := props[k].(map[string]any)
			switch {
			case ok:
			case addl != nil:
				sub = addl
			case open:
				continue
			default:
				return fmt.Errorf("%s: key %q is not in the schema (it has %s)", at, k, strings.Join(slices.Sorted(maps.Keys(props)), ", "))
			}
			if err := checkSchema(sub, m[k], at+"."+k); err != nil {
				return err
			}
		}
	case "array":
		l, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: want an array, have %T", at, v)
		}
		items, _ := s["items"].(map[string]any)
		for i, it := range l {
			if err := checkSchema(items, it, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s: want a string, have %T", at, v)
		}
	case "integer", "number":
		if _, ok := v.(float64); !ok {
			return fmt.Errorf("%s: want a number, have %T", at, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: want a boolean, have %T", at, v)
		}
	}
	if enum := asList(s["enum"]); len(enum) > 0 && !slices.Contains(enum, v) {
		return fmt.Errorf("%s: %v is not one of %v", at, v, enum)
	}
	return nil
}

func asList(v any) []any { l, _ := v.([]any); return l }

// openKeys are the maps of each chart that take names of the user's
// choosing although the chart gives them defaults (decided per chart file:
// a default of {} or null, or a list, is open anyway).
var openKeys = map[string][]string{
	"trino-chart-1.42.2-values.yaml":  {"catalogs"},
	"consul-chart-1.6.10-values.yaml": {},
}

// TestValuesKeysExistInCharts fails when an exported values file writes a
// key path that the chart's own values.yaml lacks, or a different type.
func TestValuesKeysExistInCharts(t *testing.T) {
	for chart, fn := range map[string]string{"trino-chart-1.42.2-values.yaml": FileTrinoValues, "consul-chart-1.6.10-values.yaml": FileConsulValues} {
		var want map[string]any
		if err := yaml.Unmarshal(chartFile(t, chart), &want); err != nil {
			t.Fatal(err)
		}
		for _, name := range configs {
			var have map[string]any
			if err := yaml.Unmarshal(exportOf(t, name)[fn], &have); err != nil {
				t.Fatal(err)
			}
			for _, err := range checkValues(want, have, "", openKeys[chart]) {
				t.Errorf("%s/%s against %s: %v", name, fn, chart, err)
			}
		}
	}
}

// TestValuesCheckFails: the values check rejects an unknown key and a
// wrong type, so TestValuesKeysExistInCharts can fail.
func TestValuesCheckFails(t *testing.T) {
	chart := map[string]any{"server": map[string]any{"workers": 2, "annotations": map[string]any{}}}
	for _, bad := range []map[string]any{
		{"server": map[string]any{"wrokers": 3}},
		{"server": map[string]any{"workers": "3"}},
		{"servre": map[string]any{}},
	} {
		if errs := checkValues(chart, bad, "", nil); len(errs) == 0 {
			t.Errorf("accepted %v", bad)
		}
	}
	if errs := checkValues(chart, map[string]any{"server": map[string]any{"annotations": map[string]any{"any/key": "v"}}}, "", nil); len(errs) > 0 {
		t.Errorf("an open map refused a key: %v", errs)
	}
}

func checkValues(chart, have map[string]any, at string, open []string) []error {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(have)) {
		path := strings.TrimPrefix(at+"."+k, ".")
		def, ok := chart[k]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: the chart has no such key", path))
			continue
		}
		if slices.Contains(open, path) {
			continue
		}
		switch d := def.(type) {
		case nil, []any:
			// open: the chart takes any value here
		case map[string]any:
			if len(d) == 0 {
				continue
			}
			h, ok := have[k].(map[string]any)
			if !ok {
				errs = append(errs, fmt.Errorf("%s: the chart has a map, the export %T", path, have[k]))
				continue
			}
			errs = append(errs, checkValues(d, h, path, open)...)
		default:
			if d == "-" {
				continue // the consul chart's "inherit" sentinel for booleans
			}
			if fmt.Sprintf("%T", d) != fmt.Sprintf("%T", have[k]) {
				errs = append(errs, fmt.Errorf("%s: the chart has a %T (%v), the export a %T", path, d, d, have[k]))
			}
		}
	}
	return errs
}

// trinoValuesOf decodes trino-values.yaml.
type trinoValuesT struct {
	Image  struct{ Repository, Tag string }
	Server struct {
		Workers int
		Node    struct {
			Environment string
			DataDir     string `yaml:"dataDir"`
		}
		Config struct {
			HTTPS struct {
				Enabled  bool
				Port     int
				Keystore struct{ Path string }
			} `yaml:"https"`
			AuthenticationType string `yaml:"authenticationType"`
			Query              struct {
				MaxMemory string `yaml:"maxMemory"`
			}
		}
		CoordinatorExtraConfig string `yaml:"coordinatorExtraConfig"`
		WorkerExtraConfig      string `yaml:"workerExtraConfig"`
	}
	AdditionalConfigProperties []string `yaml:"additionalConfigProperties"`
	AccessControl              struct {
		RefreshPeriod string            `yaml:"refreshPeriod"`
		Rules         map[string]string `yaml:"rules"`
	} `yaml:"accessControl"`
	Catalogs    map[string]*string
	Service     struct{ Port int }
	Coordinator roleT
	Worker      roleT
}

type roleT struct {
	JVM struct {
		MaxHeapSize string `yaml:"maxHeapSize"`
	} `yaml:"jvm"`
	Config struct {
		Memory struct {
			HeapHeadroomPerNode string `yaml:"heapHeadroomPerNode"`
		}
		NodeScheduler struct {
			IncludeCoordinator bool `yaml:"includeCoordinator"`
		} `yaml:"nodeScheduler"`
		Query struct {
			MaxMemoryPerNode string `yaml:"maxMemoryPerNode"`
		}
	}
	Resources struct {
		Limits struct{ Memory string }
	}
	LivenessProbe struct {
		PeriodSeconds    int `yaml:"periodSeconds"`
		FailureThreshold int `yaml:"failureThreshold"`
	} `yaml:"livenessProbe"`
	Lifecycle struct {
		PreStop struct {
			Exec struct{ Command []string }
		} `yaml:"preStop"`
	}
	GracefulShutdown struct {
		Enabled            bool
		GracePeriodSeconds int `yaml:"gracePeriodSeconds"`
	} `yaml:"gracefulShutdown"`
}

// chartConfigLines is config.properties as chart 1.42.2 renders it from
// the values (configmap-coordinator.yaml / configmap-worker.yaml), line by
// line in the chart's order.
func chartConfigLines(v trinoValuesT, coordinator bool) []string {
	r := v.Worker
	if coordinator {
		r = v.Coordinator
	}
	lines := []string{"coordinator=" + strconv.FormatBool(coordinator)}
	if coordinator {
		lines = append(lines, "node-scheduler.include-coordinator="+strconv.FormatBool(r.Config.NodeScheduler.IncludeCoordinator))
	}
	lines = append(lines, "http-server.http.port="+strconv.Itoa(v.Service.Port), "query.max-memory="+v.Server.Config.Query.MaxMemory,
		"query.max-memory-per-node="+r.Config.Query.MaxMemoryPerNode)
	if r.Config.Memory.HeapHeadroomPerNode != "" {
		lines = append(lines, "memory.heap-headroom-per-node="+r.Config.Memory.HeapHeadroomPerNode)
	}
	if coordinator {
		lines = append(lines, "discovery.uri=http://localhost:"+strconv.Itoa(v.Service.Port))
	} else {
		lines = append(lines, "discovery.uri=http://trino-coordinator:"+strconv.Itoa(v.Service.Port))
	}
	if coordinator && v.Server.Config.AuthenticationType != "" {
		lines = append(lines, "http-server.authentication.type="+v.Server.Config.AuthenticationType)
	}
	lines = append(lines, v.AdditionalConfigProperties...)
	if h := v.Server.Config.HTTPS; coordinator && h.Enabled {
		lines = append(lines, "http-server.https.enabled=true", "http-server.https.port="+strconv.Itoa(h.Port), "http-server.https.keystore.path="+h.Keystore.Path)
	}
	if v.Worker.GracefulShutdown.Enabled {
		lines = append(lines, fmt.Sprintf("shutdown.grace-period=%ds", v.Worker.GracefulShutdown.GracePeriodSeconds))
	}
	extra := v.Server.WorkerExtraConfig
	if coordinator {
		extra = v.Server.CoordinatorExtraConfig
	}
	return append(lines, strings.Split(strings.TrimRight(extra, "\n"), "\n")...)
}

// chartConfig is chartConfigLines as Trino reads them (airlift loads a
// java.util.Properties: a later line wins).
func chartConfig(v trinoValuesT, coordinator bool) Properties {
	return ParseProperties([]byte(strings.Join(chartConfigLines(v, coordinator), "\n") + "\n"))
}

// healthCheck is the image's /usr/lib/trino/bin/health-check (the chart's
// readiness and startup probe) reading config.properties: it greps
// "^key=" and uses what it finds, so a key written twice breaks its URL.
func healthCheck(lines []string) (string, error) {
	get := func(key, def string) (string, error) {
		var found []string
		for _, l := range lines {
			if strings.HasPrefix(l, key+"=") {
				found = append(found, strings.SplitN(l, "=", 2)[1])
			}
		}
		switch len(found) {
		case 0:
			return def, nil
		case 1:
			return found[0], nil
		}
		return "", fmt.Errorf("%s is written %d times: health-check's URL would hold every value", key, len(found))
	}
	enabled, err := get("http-server.http.enabled", "true")
	if err != nil {
		return "", err
	}
	scheme, key, def := "http", "http-server.http.port", "8080"
	if enabled == "false" {
		scheme, key, def = "https", "http-server.https.port", "8443"
	}
	port, err := get(key, def)
	if err != nil {
		return "", err
	}
	return scheme + "://localhost:" + port + "/v1/info", nil
}

// TestExportAgreesWithPlan: what the chart renders from trino-values.yaml
// is what the single-host plan renders for the same config (config.properties
// but for the host-specific keys, rules.json byte for byte, catalogs, the
// memory plan, workers), and intentions.yaml holds exactly the plan's
// intentions.
func TestExportAgreesWithPlan(t *testing.T) {
	for _, name := range configs {
		t.Run(name, func(t *testing.T) {
			cfg := loadConfig(t, name)
			files := exportOf(t, name)
			var v trinoValuesT
			if err := yaml.Unmarshal(files[FileTrinoValues], &v); err != nil {
				t.Fatal(err)
			}
			cl := appliance.TrinoCluster(cfg, &appliance.Secrets{})
			for i, n := range append([]trino.Node{cl.Coordinator}, cl.Workers[0]) {
				coord := i == 0
				planned, err := trino.RenderNode(cl, n)
				if err != nil {
					t.Fatal(err)
				}
				want := ParseProperties(planned["config.properties"])
				got := chartConfig(v, coord)
				checkProbes(t, v, coord, chartConfigLines(v, coord), want)
				if !strings.HasPrefix(got["discovery.uri"], "https://") || !strings.HasSuffix(got["discovery.uri"], ":"+want["http-server.https.port"]) {
					t.Errorf("%s: discovery.uri = %s, want the HTTPS port of the plan", n.ID, got["discovery.uri"])
				}
				delete(want, "discovery.uri")
				delete(got, "discovery.uri")
				if !coord {
					// The chart authenticates clients on the coordinator only;
					// workers take internal requests (shared secret) alone.
					delete(want, "http-server.authentication.type")
				}
				if _, ok := want["http-server.http.port"]; !ok {
					delete(got, "http-server.http.port") // the chart always writes one; with HTTP off Trino opens none
				}
				if !maps.Equal(got, want) {
					t.Errorf("%s: the chart renders\n%v\nthe plan\n%v", n.ID, got, want)
				}
				if v.AccessControl.Rules["rules.json"] != string(planned["rules.json"]) {
					t.Errorf("rules.json differs from the plan's")
				}
				if ac := ParseProperties(planned["access-control.properties"]); v.AccessControl.RefreshPeriod != ac["security.refresh-period"] {
					t.Errorf("refresh period %s, plan %s", v.AccessControl.RefreshPeriod, ac["security.refresh-period"])
				}
				for _, cat := range cl.Catalogs {
					if got := v.Catalogs[cat.Name]; got == nil || *got != string(planned["catalog/"+cat.Name+".properties"]) {
						t.Errorf("catalog %s differs from the plan's", cat.Name)
					}
				}
				role, mem := v.Worker, cl.Memory.Worker
				if coord {
					role, mem = v.Coordinator, cl.Memory.Coordinator
				}
				if want := fmt.Sprintf("%dM", mem.Heap/trino.MiB); role.JVM.MaxHeapSize != want {
					t.Errorf("%s heap %s, plan %s", n.ID, role.JVM.MaxHeapSize, want)
				}
				if want := fmt.Sprintf("%dMi", mem.Container/trino.MiB); role.Resources.Limits.Memory != want {
					t.Errorf("%s memory limit %s, plan %s", n.ID, role.Resources.Limits.Memory, want)
				}
			}
			for cat, body := range v.Catalogs {
				if body != nil && !slices.ContainsFunc(cl.Catalogs, func(c trino.Catalog) bool { return c.Name == cat }) {
					t.Errorf("catalog %s is not in the plan", cat)
				}
			}
			if v.Server.Workers != len(cl.Workers) {
				t.Errorf("workers %d, plan %d", v.Server.Workers, len(cl.Workers))
			}
			checkIntentions(t, cfg, files[FileIntentions])
		})
	}
}

func checkIntentions(t *testing.T, cfg *config.Config, data []byte) {
	t.Helper()
	ctl := control.NewControl(clusterConfig(cfg), &appliance.Secrets{}, nil)
	defer ctl.Close()
	want := map[string]mesh.Intention{}
	for _, in := range append([]mesh.Intention{mesh.DefaultDeny}, ctl.Intentions()...) {
		want[in.Source+"→"+in.Destination] = in
	}
	got := map[string]mesh.Intention{}
	for _, doc := range docs(t, data) {
		var si struct {
			Kind string
			Spec struct {
				Destination struct{ Name string }
				Sources     []struct {
					Name, Action string
					Permissions  []struct {
						Action string
						HTTP   struct {
							PathPrefix string `json:"pathPrefix"`
							Methods    []string
						}
					}
				}
			}
		}
		if err := sigsyaml.Unmarshal(doc, &si); err != nil {
			t.Fatal(err)
		}
		if si.Kind != "ServiceIntentions" {
			continue
		}
		for _, s := range si.Spec.Sources {
			in := mesh.Intention{Source: s.Name, Destination: si.Spec.Destination.Name, Action: mesh.Action(s.Action)}
			for _, p := range s.Permissions {
				in.Action = mesh.Action(p.Action)
				in.HTTP = append(in.HTTP, mesh.PathRule{PathPrefix: p.HTTP.PathPrefix, Methods: p.HTTP.Methods})
			}
			got[in.Source+"→"+in.Destination] = in
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("intentions.yaml holds\n%v\nthe plan\n%v", got, want)
	}
	if _, ok := want["*→*"]; !ok {
		t.Error("no default deny")
	}
}

// TestBadInput: a config that cannot run on Kubernetes fails, naming every
// item and what to do instead, all at once.
func TestBadInput(t *testing.T) {
	cfg := loadConfig(t, "default")
	cfg.Mesh.Enabled = false
	cfg.Services = append(cfg.Services,
		config.Service{Name: "web", Image: "nginx:1.27"},
		config.Service{Name: "cache", Image: "redis:7"},
	)
	_, err := Export(cfg, Options{Runtime: "process"})
	if err == nil {
		t.Fatal("export of a process-runtime, mesh-less config succeeded")
	}
	for _, want := range []string{
		"MOAT_RUNTIME=process", "unset MOAT_RUNTIME",
		"mesh.enabled", "set mesh.enabled = true",
		"service[0] (web): extra services are not exported", "service[1] (cache)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "data:/data") {
		t.Errorf("a named volume was reported as a bind mount:\n%v", err)
	}
	if _, err := Export(loadConfig(t, "default"), Options{Runtime: "docker"}); err != nil {
		t.Errorf("the default config with the Docker runtime: %v", err)
	}
}

// checkProbes: the chart's probes of a node rendered from v work with
// the plan's Trino. Readiness and startup run health-check, which must
// reach the plan's HTTPS port on localhost (a name the plan's certificate
// carries, though health-check does not verify it); only discovery.uri,
// which the chart always writes first, may be written twice. The liveness
// probe is plain HTTP on port http, where HTTPS-only Trino listens on
// nothing: it must never fail the pod.
func checkProbes(t *testing.T, v trinoValuesT, coord bool, lines []string, plan Properties) {
	t.Helper()
	seen := map[string]int{}
	for _, l := range lines {
		k, _, _ := strings.Cut(l, "=")
		if seen[k]++; seen[k] == 2 && k != "discovery.uri" {
			t.Errorf("coordinator=%v: config.properties writes %s twice", coord, k)
		}
	}
	url, err := healthCheck(lines)
	if want := "https://localhost:" + plan["http-server.https.port"] + "/v1/info"; err != nil || url != want {
		t.Errorf("coordinator=%v: health-check asks %s (%v), want %s", coord, url, err, want)
	}
	if dns, _ := trino.NodeCertNames(trino.Cluster{}, trino.Node{}); !slices.Contains(dns, "localhost") {
		t.Errorf("the plan's certificates do not name localhost: %v", dns)
	}
	r := v.Worker
	if coord {
		r = v.Coordinator
	}
	if plan["http-server.http.enabled"] == "false" {
		if r.LivenessProbe.FailureThreshold < 100000 || r.LivenessProbe.PeriodSeconds < 3600 {
			t.Errorf("coordinator=%v: liveness probe %+v: it is plain HTTP on a port Trino does not open and would restart the pod", coord, r.LivenessProbe)
		}
		// Helm prints numbers from values with %v of a float64: an integer
		// of more than six digits would come out as 1e+06.
		for _, n := range []int{r.LivenessProbe.FailureThreshold, r.LivenessProbe.PeriodSeconds} {
			if s := fmt.Sprint(float64(n)); strings.ContainsAny(s, "e.") {
				t.Errorf("liveness probe value %d renders as %s", n, s)
			}
		}
	}
	// The chart's own drain is a plain-HTTP curl to port http: it must be
	// off, and the export's own over HTTPS.
	if v.Worker.GracefulShutdown.Enabled {
		t.Errorf("worker.gracefulShutdown is on: its preStop PUTs to http://localhost:%d, where Trino listens on nothing", v.Service.Port)
	}
	if !coord {
		cmd := strings.Join(v.Worker.Lifecycle.PreStop.Exec.Command, " ")
		if want := "https://localhost:" + plan["http-server.https.port"] + "/v1/info/state"; !strings.Contains(cmd, want) || !strings.Contains(cmd, "--cacert "+trino.TruststorePath) {
			t.Errorf("worker preStop %q does not drain over verified HTTPS at %s", cmd, want)
		}
	}
}

// checkPodSpec reports what the API server would refuse and the types
// do not: every volume has a name and exactly one source, names are
// unique, and every mount names one of them.
func checkPodSpec(spec corev1.PodSpec) []error {
	var errs []error
	vols := map[string]bool{}
	for i, v := range spec.Volumes {
		src, _ := json.Marshal(v.VolumeSource)
		var fields map[string]any
		json.Unmarshal(src, &fields)
		if v.Name == "" || len(fields) != 1 || vols[v.Name] {
			errs = append(errs, fmt.Errorf("volume %d (%q) has %d sources, or no or a repeated name", i, v.Name, len(fields)))
		}
		vols[v.Name] = true
	}
	for _, c := range append(spec.InitContainers, spec.Containers...) {
		if c.Name == "" || c.Image == "" {
			errs = append(errs, errors.New("a container without name or image"))
		}
		for _, m := range c.VolumeMounts {
			if !vols[m.Name] {
				errs = append(errs, fmt.Errorf("container %s mounts %q, which is no volume of the pod", c.Name, m.Name))
			}
		}
	}
	return errs
}

// TestCheckPodSpecFails: checkPodSpec rejects a nameless volume and a
// mount of a missing one.
func TestCheckPodSpecFails(t *testing.T) {
	var spec corev1.PodSpec
	spec.Volumes = []corev1.Volume{{}}
	spec.Containers = []corev1.Container{{Name: "c", Image: "i", VolumeMounts: []corev1.VolumeMount{{Name: "gone"}}}}
	if errs := checkPodSpec(spec); len(errs) != 2 {
		t.Errorf("checkPodSpec of a nameless volume and a dangling mount: %v", errs)
	}
}

// TestClientsUseTheirUpstream: the notebook's TRINO_URL and each report
// Job's --trino-url name the local port of the pod's own upstream to the
// coordinator, as its connect-inject annotation declares it.
func TestClientsUseTheirUpstream(t *testing.T) {
	for _, name := range configs {
		files := exportOf(t, name)
		for _, fn := range []string{FileNotebook, FileReports} {
			for _, doc := range docs(t, files[fn]) {
				var head struct{ Kind string }
				sigsyaml.Unmarshal(doc, &head)
				var tmpl corev1.PodTemplateSpec
				switch head.Kind {
				case "Deployment":
					var d appsv1.Deployment
					sigsyaml.Unmarshal(doc, &d)
					tmpl = d.Spec.Template
				case "CronJob":
					var cj batchv1.CronJob
					sigsyaml.Unmarshal(doc, &cj)
					tmpl = cj.Spec.JobTemplate.Spec.Template
				default:
					continue
				}
				ups, ok := tmpl.Annotations[annUpstreams]
				if !ok {
					continue // the reports' file server: not in the mesh
				}
				want := "https://127.0.0.1:" + strings.TrimPrefix(ups, config.ServiceCoordinator+":")
				c := tmpl.Spec.Containers[0]
				var got string
				for _, e := range c.Env {
					if e.Name == "TRINO_URL" {
						got = e.Value
					}
				}
				if i := slices.Index(c.Args, "--trino-url"); i >= 0 {
					got = c.Args[i+1]
				}
				if got != want {
					t.Errorf("%s/%s %s: Trino at %q, its upstream %q", name, fn, c.Name, got, ups)
				}
			}
		}
	}
}
