//go:build helm

// The chart-rendering tests need the charts' templates, which are not in
// ../shared/charts (it holds their values.yaml only) and cannot be fetched
// here: like make e2e, they run on a machine that has them, with
// `make helm-check` (the helm build tag).

package kubernetes

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

// helmChart returns bin/helm (`make helm`) and the folder of a chart
// (env: MOAT_TRINO_CHART, charts/trino of trinodb/charts at tag
// trino-1.42.2; MOAT_CONSUL_CHART, charts/consul of hashicorp/consul-k8s at
// v1.6.10); without either the test fails, saying what to provide.
func helmChart(t *testing.T, env, version string) (helm, chart string) {
	t.Helper()
	helm, err := filepath.Abs(filepath.Join("..", "..", "bin", "helm"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(helm); err != nil {
		t.Fatal("no bin/helm: run make helm (or make helm-check)")
	}
	chart = os.Getenv(env)
	if chart == "" {
		t.Fatalf("%s is not set: give the folder of the chart %s", env, version)
	}
	data, err := os.ReadFile(filepath.Join(chart, "Chart.yaml"))
	if err != nil || !strings.Contains(string(data), "\nversion: "+version+"\n") {
		t.Fatalf("%s=%s is not the chart %s: %v", env, chart, version, err)
	}
	return helm, chart
}

// helmTemplate renders chart with values as `helm install` would, for a
// cluster of Kubernetes 1.30.
func helmTemplate(t *testing.T, helm, chart, release, ns string, values []byte) []byte {
	t.Helper()
	valuesFile := filepath.Join(t.TempDir(), "values.yaml")
	if err := os.WriteFile(valuesFile, values, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(helm, "template", release, chart, "-n", ns, "--kube-version", "1.30.0", "-f", valuesFile).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("helm template: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	return out
}

// TestHelmTemplate renders the trino chart with each exported
// trino-values.yaml, as `helm install` would, and checks what the chart
// makes of it: every object decodes strictly under k8s.io/api; the
// config.properties it writes are line for line what chartConfigLines
// models (so TestExportAgreesWithPlan and checkProbes hold for the real
// templates); the pods open the https port and mount the TLS Secret where
// the plan's properties name it; the liveness probe cannot restart Trino;
// the coordinator is annotated into the mesh and the workers are not.
func TestHelmTemplate(t *testing.T) {
	helm, chart := helmChart(t, "MOAT_TRINO_CHART", TrinoChart)
	for _, name := range configs {
		t.Run(name, func(t *testing.T) {
			files := exportOf(t, name)
			out := helmTemplate(t, helm, chart, TrinoRelease, "analytics", files[FileTrinoValues])
			var v trinoValuesT
			if err := yaml.Unmarshal(files[FileTrinoValues], &v); err != nil {
				t.Fatal(err)
			}
			deployments := map[string]*appsv1.Deployment{}
			configMaps := map[string]*corev1.ConfigMap{}
			services := map[string]*corev1.Service{}
			for i, doc := range docs(t, out) {
				var head struct {
					Kind     string
					Metadata struct{ Name string }
				}
				if err := sigsyaml.Unmarshal(doc, &head); err != nil {
					t.Fatal(err)
				}
				var obj any
				switch head.Kind {
				case "Deployment":
					d := &appsv1.Deployment{}
					deployments[head.Metadata.Name], obj = d, d
				case "ConfigMap":
					c := &corev1.ConfigMap{}
					configMaps[head.Metadata.Name], obj = c, c
				case "Service":
					s := &corev1.Service{}
					services[head.Metadata.Name], obj = s, s
				case "ServiceAccount":
					obj = &corev1.ServiceAccount{}
				case "Secret":
					obj = &corev1.Secret{}
				case "NetworkPolicy":
					obj = &networkingv1.NetworkPolicy{}
				case "Pod":
					obj = &corev1.Pod{}
				default:
					t.Errorf("doc %d: no strict check for %s", i, head.Kind)
					continue
				}
				if err := sigsyaml.UnmarshalStrict(doc, obj); err != nil {
					t.Errorf("doc %d (%s %s): %v", i, head.Kind, head.Metadata.Name, err)
				}
			}
			for _, role := range []struct {
				name  string
				coord bool
			}{{"trino-coordinator", true}, {"trino-worker", false}} {
				cm, d := configMaps[role.name], deployments[role.name]
				if cm == nil || d == nil {
					t.Fatalf("helm template made no ConfigMap or Deployment %s (it made %v, %v)", role.name, keys(configMaps), keys(deployments))
				}
				var got []string
				for _, l := range strings.Split(cm.Data["config.properties"], "\n") {
					if l = strings.TrimSpace(l); l != "" {
						got = append(got, l)
					}
				}
				if want := chartConfigLines(v, role.coord); !slices.Equal(got, want) {
					t.Errorf("%s: the chart writes config.properties\n%s\nthe test's model of the chart\n%s", role.name, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				checkRenderedPod(t, role.name, role.coord, d.Spec.Template)
				if !role.coord {
					if !strings.Contains(cm.Data["access-control.properties"], drainRules) || cm.Data[drainRules] != drainRulesJSON {
						t.Errorf("%s: the drain's access control is not in the worker's config: %v", role.name, keys(cm.Data))
					}
					ls := d.Spec.Template.Spec.Containers[0].Lifecycle
					if ls == nil || ls.PreStop == nil || ls.PreStop.Exec == nil || !strings.Contains(strings.Join(ls.PreStop.Exec.Command, " "), "https://localhost:8443/v1/info/state") {
						t.Errorf("%s: the preStop drain is not the export's HTTPS one: %+v", role.name, ls)
					}
				}
			}
			svc := services["trino-coordinator"]
			if svc == nil || !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == "https" && p.Port == 8443 }) {
				t.Errorf("the coordinator's Service has no https port 8443, where workers announce: %+v", svc)
			}
		})
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func checkRenderedPod(t *testing.T, name string, coord bool, tmpl corev1.PodTemplateSpec) {
	t.Helper()
	c := tmpl.Spec.Containers[0]
	if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "https" && p.ContainerPort == 8443 }) {
		t.Errorf("%s: no container port https 8443: %+v", name, c.Ports)
	}
	lp := c.LivenessProbe
	if lp == nil || lp.FailureThreshold != livenessNeverFails || lp.PeriodSeconds != livenessPeriod {
		t.Errorf("%s: liveness probe %+v: plain HTTP on a port Trino does not open, it would restart the pod", name, lp)
	}
	for _, p := range []*corev1.Probe{c.ReadinessProbe, c.StartupProbe} {
		if p == nil || p.Exec == nil || !slices.Contains(p.Exec.Command, "/usr/lib/trino/bin/health-check") {
			t.Errorf("%s: readiness/startup probe %+v is not the image's health-check", name, p)
		}
	}
	tlsVolume := ""
	for _, v := range tmpl.Spec.Volumes {
		if v.Secret != nil && v.Secret.SecretName == SecretTLS {
			tlsVolume = v.Name
		}
	}
	if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == tlsVolume && m.MountPath == tlsDir }) {
		t.Errorf("%s: Secret %s is not mounted at %s: %+v", name, SecretTLS, tlsDir, c.VolumeMounts)
	}
	if !slices.ContainsFunc(c.EnvFrom, func(e corev1.EnvFromSource) bool { return e.SecretRef != nil && e.SecretRef.Name == SecretTrinoEnv }) {
		t.Errorf("%s: no environment from Secret %s", name, SecretTrinoEnv)
	}
	if inject := tmpl.Annotations[annInject]; inject != map[bool]string{true: "true", false: "false"}[coord] {
		t.Errorf("%s: %s = %q", name, annInject, inject)
	}
	if coord && tmpl.Annotations[annPort] != "https" {
		t.Errorf("%s: the sidecar forwards to port %q, want Trino's https", name, tmpl.Annotations[annPort])
	}
}

// TestHelmTemplateConsul renders the consul chart with consul-values.yaml
// and checks the Consul it makes: one server expecting one, connect on,
// ACLs on with default deny, TLS with verify_incoming on internal RPC and
// no plaintext HTTP port, and the connect injector.
func TestHelmTemplateConsul(t *testing.T) {
	helm, chart := helmChart(t, "MOAT_CONSUL_CHART", ConsulChart)
	out := helmTemplate(t, helm, chart, ConsulRelease, ConsulNS, exportOf(t, "default")[FileConsulValues])
	statefulSets := map[string]*appsv1.StatefulSet{}
	deployments := map[string]*appsv1.Deployment{}
	configMaps := map[string]*corev1.ConfigMap{}
	// helm's own document separators: some of the chart's CRDs do not
	// survive a re-encoding through yaml.v3.
	for i, d := range strings.Split("\n"+string(out), "\n---\n") {
		doc := []byte(d)
		var head struct {
			Kind     string `yaml:"kind"`
			Metadata struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			t.Fatal(err)
		}
		var obj any
		switch head.Kind {
		case "StatefulSet":
			ss := &appsv1.StatefulSet{}
			statefulSets[head.Metadata.Name], obj = ss, ss
		case "Deployment":
			d := &appsv1.Deployment{}
			deployments[head.Metadata.Name], obj = d, d
		case "ConfigMap":
			cm := &corev1.ConfigMap{}
			configMaps[head.Metadata.Name], obj = cm, cm
		case "Service":
			obj = &corev1.Service{}
		case "ServiceAccount":
			obj = &corev1.ServiceAccount{}
		case "Secret":
			obj = &corev1.Secret{}
		case "Pod":
			obj = &corev1.Pod{}
		default:
			continue // RBAC, CRDs, webhooks, Jobs, budgets: the chart's own
		}
		if err := sigsyaml.UnmarshalStrict(doc, obj); err != nil {
			t.Errorf("doc %d (%s %s): %v", i, head.Kind, head.Metadata.Name, err)
		}
	}
	if deployments["consul-connect-injector"] == nil {
		t.Errorf("no connect injector among %v", keys(deployments))
	}
	if ss := statefulSets["consul-server"]; ss == nil || ss.Spec.Replicas == nil || *ss.Spec.Replicas != 1 {
		var n any = "none"
		if ss != nil && ss.Spec.Replicas != nil {
			n = *ss.Spec.Replicas
		}
		t.Errorf("the consul-server StatefulSet has %v replicas, want the one server of one host", n)
	}
	cm := configMaps["consul-server-config"]
	if cm == nil {
		t.Fatalf("no consul-server-config among %v", keys(configMaps))
	}
	var conf struct {
		BootstrapExpect int `json:"bootstrap_expect"`
		Connect         struct{ Enabled bool }
		ACL             struct {
			Enabled       bool
			DefaultPolicy string `json:"default_policy"`
		}
		TLS struct {
			InternalRPC struct {
				VerifyIncoming bool `json:"verify_incoming"`
			} `json:"internal_rpc"`
		}
		Ports map[string]int
	}
	for _, key := range []string{"server.json", "acl-config.json", "tls-config.json"} {
		if err := sigsyaml.Unmarshal([]byte(cm.Data[key]), &conf); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
	}
	if conf.BootstrapExpect != 1 || !conf.Connect.Enabled {
		t.Errorf("server.json: bootstrap_expect %d, connect %v", conf.BootstrapExpect, conf.Connect.Enabled)
	}
	if !conf.ACL.Enabled || conf.ACL.DefaultPolicy != "deny" {
		t.Errorf("acl-config.json: %+v", conf.ACL)
	}
	if !conf.TLS.InternalRPC.VerifyIncoming || conf.Ports["http"] != -1 || conf.Ports["https"] == 0 {
		t.Errorf("tls-config.json: %+v, ports %v", conf.TLS, conf.Ports)
	}
}
