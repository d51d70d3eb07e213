package kubernetes

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"moat/appliance"
	"moat/appliance/config"
	"moat/supervisor"
)

// Annotations of consul-k8s connect injection.
const (
	annInject    = "consul.hashicorp.com/connect-inject"
	annService   = "consul.hashicorp.com/connect-service"
	annPort      = "consul.hashicorp.com/connect-service-port"
	annUpstreams = "consul.hashicorp.com/connect-service-upstreams"
	annTProxy    = "consul.hashicorp.com/transparent-proxy"
)

// upstreamAnnotation writes the catalogue's upstreams of service as consul-k8s's
// "destination:port" list; consul-k8s binds upstreams on 127.0.0.1, as moat.
func (pl *plan) upstreamAnnotation(service string) (string, string, error) {
	var out []string
	port := ""
	id, _ := config.CatalogueOf(pl.cfg).Identity(service)
	for _, u := range id.Upstreams {
		host, p, ok := strings.Cut(u.LocalBind, ":")
		if !ok || host != "127.0.0.1" {
			return "", "", fmt.Errorf("%s's upstream %s: consul-k8s binds upstreams on 127.0.0.1 only", service, u)
		}
		out = append(out, u.Destination+":"+p)
		port = p
	}
	if len(out) == 0 {
		return "", "", fmt.Errorf("%s has no upstream to %s", service, config.ServiceCoordinator)
	}
	return strings.Join(out, ","), port, nil
}

// meshAnnotations put a pod in the mesh as service with the given upstreams.
func meshAnnotations(service, port, upstreams string) *yaml.Node {
	kvs := []kv{p(annInject, "true"), p(annService, service)}
	if port != "" {
		kvs = append(kvs, p(annPort, port))
	}
	kvs = append(kvs, p(annTProxy, "false"), p(annUpstreams, upstreams))
	return obj(kvs...)
}

func secretEnv(name, secret, key string) *yaml.Node {
	return obj(p("name", name), p("valueFrom", obj(p("secretKeyRef", obj(p("name", secret), p("key", key))))))
}

func plainEnv(name, value string) *yaml.Node { return obj(p("name", name), p("value", value)) }

// onlyMeshIngress is a NetworkPolicy letting into the pods of app nothing
// but the sidecar's mTLS listener (kubectl port-forward does not cross it).
func (pl *plan) onlyMeshIngress(app string, mesh bool) *yaml.Node {
	var ingress []any
	if mesh {
		ingress = append(ingress, obj(p("ports", list(obj(p("protocol", "TCP"), p("port", EnvoyInboundPort))))))
	}
	return obj(
		p("apiVersion", "networking.k8s.io/v1"), p("kind", "NetworkPolicy"),
		p("metadata", pl.meta(app, nil)),
		p("spec", obj(
			p("podSelector", obj(p("matchLabels", obj(p("app.kubernetes.io/name", app))))),
			p("policyTypes", []string{"Ingress"}),
			p("ingress", list(ingress...)),
		)),
	)
}

func (pl *plan) serviceAccount(name string) *yaml.Node {
	return obj(p("apiVersion", "v1"), p("kind", "ServiceAccount"), p("metadata", pl.meta(name, nil)))
}

func (pl *plan) service(name string, port int, comment string) *yaml.Node {
	return obj(
		p("apiVersion", "v1"), p("kind", "Service"),
		p("metadata", pl.meta(name, nil)),
		pc("spec", comment, obj(
			p("selector", obj(p("app.kubernetes.io/name", name))),
			p("ports", list(obj(p("name", "http"), p("port", port), p("targetPort", port), p("protocol", "TCP")))),
		)),
	)
}

const sampleConfigMap = "moat-sample-notebook"

// notebookSecretEnv are the notebook's variables that hold secrets, by
// the key of Secret SecretNotebook they come from.
var notebookSecretEnv = map[string]string{"JUPYTER_TOKEN": "JUPYTER_TOKEN", "TRINO_PASSWORD": "TRINO_PASSWORD"}

// notebookEnv is the single-host plan's environment of the notebook:
// secrets by reference to SecretNotebook, the rest as they are. A value
// that holds a secret but is not in notebookSecretEnv fails the export.
func (pl *plan) notebookEnv(spec supervisor.Spec) ([]any, error) {
	var env []any
	for _, k := range slices.Sorted(maps.Keys(spec.Env)) {
		if key, ok := notebookSecretEnv[k]; ok {
			env = append(env, secretEnv(k, SecretNotebook, key))
			continue
		}
		if pl.isSecret(spec.Env[k]) {
			return nil, fmt.Errorf("the notebook's %s holds a secret: map it to a key of Secret %s in export/kubernetes (notebookSecretEnv)", k, SecretNotebook)
		}
		env = append(env, plainEnv(k, spec.Env[k]))
	}
	return env, nil
}

// notebookFiles mounts the plan's files of the notebook: the sample from
// its ConfigMap, the CA from ConfigMapCA (secrets.sh creates it).
func (pl *plan) notebookFiles(spec supervisor.Spec) (mounts, volumes []any, sample []byte, err error) {
	for _, f := range spec.Files {
		switch f.Path {
		case appliance.SampleNotebookPath:
			sample = f.Content
			mounts = append(mounts, obj(p("name", "sample"), p("mountPath", f.Path), p("subPath", path.Base(f.Path))))
			volumes = append(volumes, obj(p("name", "sample"), p("configMap", obj(p("name", sampleConfigMap)))))
		case appliance.NotebookCAPath:
			mounts = append(mounts, obj(p("name", "trino-ca"), p("mountPath", f.Path), p("subPath", CAKey), p("readOnly", true)))
			volumes = append(volumes, obj(p("name", "trino-ca"), p("configMap", obj(p("name", ConfigMapCA)))))
		default:
			return nil, nil, nil, fmt.Errorf("the notebook's file %s: the export does not know where it comes from on Kubernetes: add it to export/kubernetes", f.Path)
		}
	}
	return mounts, volumes, sample, nil
}

func (pl *plan) notebookYAML() ([]byte, error) {
	c := pl.cfg
	if !c.Notebook.Enabled {
		return nil, nil
	}
	upstreams, _, err := pl.upstreamAnnotation(config.ServiceNotebook)
	if err != nil {
		return nil, err
	}
	spec, err := pl.spec(config.ServiceNotebook)
	if err != nil {
		return nil, err
	}
	env, err := pl.notebookEnv(spec)
	if err != nil {
		return nil, err
	}
	mounts, volumes, sample, err := pl.notebookFiles(spec)
	if err != nil {
		return nil, err
	}
	const jupyterPort = 8888
	sampleFile := path.Base(appliance.SampleNotebookPath)
	container := []kv{
		p("name", config.ServiceNotebook),
		p("image", c.Notebook.Image),
	}
	if len(c.Notebook.Command) > 0 {
		container = append(container, pc("args", "notebook.command", c.Notebook.Command))
	}
	container = append(container,
		p("ports", list(obj(p("name", "http"), p("containerPort", jupyterPort), p("protocol", "TCP")))),
		pc("env", "the single-host plan's: Trino is the sidecar's upstream on 127.0.0.1, the same port, verified against Trino's CA", list(env...)),
		p("volumeMounts", list(mounts...)),
	)
	if len(c.Notebook.HealthCheck) > 0 {
		container = append(container, pc("readinessProbe", "notebook.health_check", obj(
			p("exec", obj(p("command", c.Notebook.HealthCheck))),
			p("periodSeconds", 2), p("timeoutSeconds", 5), p("failureThreshold", 3),
		)))
	}
	labels := obj(p("app.kubernetes.io/name", config.ServiceNotebook))
	deploy := obj(
		p("apiVersion", "apps/v1"), p("kind", "Deployment"),
		p("metadata", pl.meta(config.ServiceNotebook, nil)),
		p("spec", obj(
			p("replicas", 1),
			p("selector", obj(p("matchLabels", labels))),
			p("template", obj(
				p("metadata", obj(
					p("labels", labels),
					pc("annotations", "the notebook's only way to Trino is its sidecar's upstream (intention notebook -> trino-coordinator)",
						meshAnnotations(config.ServiceNotebook, "http", upstreams)),
				)),
				p("spec", obj(
					pc("serviceAccountName", "Consul's ACLs give the pod the identity of its service account", config.ServiceNotebook),
					pc("securityContext", "the Jupyter images' user jovyan (uid 1000, group 100)", obj(p("runAsUser", 1000), p("fsGroup", 100))),
					p("containers", list(obj(container...))),
					p("volumes", list(volumes...)),
				)),
			)),
		)),
	)
	cm := obj(
		p("apiVersion", "v1"), p("kind", "ConfigMap"),
		p("metadata", pl.meta(sampleConfigMap, nil)),
		pc("data", "moat's sample notebook, as on one host", obj(p(sampleFile, string(sample)))),
	)
	head := `notebook.yaml: the Jupyter notebook in the mesh, with moat's sample notebook.
  kubectl apply -n ` + pl.opts.namespace() + ` -f notebook.yaml
  kubectl port-forward -n ` + pl.opts.namespace() + ` svc/notebook ` + fmt.Sprint(c.Notebook.Port) + `:8888   # then http://127.0.0.1:` + fmt.Sprint(c.Notebook.Port) + `/?token=...`
	return render(head,
		pl.serviceAccount(config.ServiceNotebook),
		pl.service(config.ServiceNotebook, jupyterPort, "consul-k8s registers the notebook through this Service"),
		cm, deploy,
		pl.onlyMeshIngress(config.ServiceNotebook, true),
	)
}
