package kubernetes

import (
	"fmt"
	"strings"

	"moat/appliance"
	"moat/appliance/config"
)

func (pl *plan) readme() ([]byte, error) {
	ns := pl.opts.namespace()
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w(`# moat on Kubernetes

Written by `+"`moat export kubernetes`"+` from %s: the same stack as on one host, on the official charts
(trinodb `+"`trino`"+` chart %s, Trino %s by default, here the image %s; hashicorp `+"`consul`"+` chart %s,
Consul %s). Nothing here holds a secret value: `+"`secrets.sh`"+` creates the Secrets. Run the commands in order.

`, configName(pl.cfg), TrinoChart, TrinoChartApp, pl.cfg.Trino.Image, ConsulChart, ConsulChartApp)
	w("```sh\n")
	w("# 1. the charts\nhelm repo add hashicorp https://helm.releases.hashicorp.com\nhelm repo add trino https://trinodb.github.io/charts\nhelm repo update\n\n")
	w("# 2. Consul: connect injection, ACLs and TLS, one server\nhelm install %s hashicorp/consul --version %s -n %s --create-namespace -f %s\nkubectl rollout status -n %s statefulset/consul-server\n\n",
		ConsulRelease, ConsulChart, ConsulNS, FileConsulValues, ConsulNS)
	w("# 3. the intentions: default deny, then exactly moat's allows\nkubectl create namespace %s --dry-run=client -o yaml | kubectl apply -f -\nkubectl apply -n %s -f %s\n\n", ns, ns, FileIntentions)
	w("# 4. the Secrets, on the old host: values from `moat secrets show`, or from the variables secrets.sh names;\n#    it needs kubectl and openssl (and htpasswd when the old host's password.db is not at hand)\nNS=%s ./%s\n\n", ns, FileSecrets)
	w("# 5. Trino\nhelm install %s trino/trino --version %s -n %s -f %s\nkubectl rollout status -n %s deployment/%s\n\n", TrinoRelease, TrinoChart, ns, FileTrinoValues, ns, config.ServiceCoordinator)
	if pl.cfg.Notebook.Enabled {
		w("# 6. the notebook\nkubectl apply -n %s -f %s\nkubectl rollout status -n %s deployment/%s\n\n", ns, FileNotebook, ns, config.ServiceNotebook)
	} else {
		w("# 6. no notebook: notebook.enabled is false in moat.toml\n\n")
	}
	w("# 7. the reports: build and push the report image (%s, see below) and set it in %s;\n#    then moat.toml of the old host as a ConfigMap, and the CronJobs\n", FileDockerfile, FileReports)
	w("kubectl create configmap %s -n %s --from-file=moat.toml=moat.toml\nkubectl apply -n %s -f %s\n", ConfigMapMoat, ns, ns, FileReports)
	if defs := pl.cfg.ReportDefinitions(); len(defs) > 0 {
		w("kubectl create job -n %s --from=cronjob/report-%s report-%s-first   # a first run now\n", ns, defs[0].Name, defs[0].Name)
	}
	if pl.cfg.Notebook.Enabled {
		w("\n# 8. the first query, through the notebook's sidecar (intention notebook -> trino-coordinator)\n")
		w("kubectl port-forward -n %s svc/notebook %d:8888 &\n", ns, pl.cfg.Notebook.Port)
		w("echo \"open http://127.0.0.1:%d/lab/tree/work/moat-trino.ipynb?token=$(moat secrets show %s) and run every cell\"\n", pl.cfg.Notebook.Port, appliance.SecretNotebook)
	}
	w("```\n\n")
	w(`## What maps to what

| one host | Kubernetes |
|---|---|
| Consul server, sealed, ACLs on | consul chart: one server, `+"`global.acls.manageSystemACLs`"+`, `+"`global.tls`"+` |
| default-deny `+"`*`"+` → `+"`*`"+` and the allows | `+"`intentions.yaml`"+` (ServiceIntentions, one per destination) |
| coordinator + sidecar | trino chart coordinator, annotated for connect injection as `+"`%s`"+` |
| workers on the private `+"`trino`"+` network | trino chart workers, outside the mesh, behind the chart's NetworkPolicy |
| memory plan (heap, query memory, container limit) | `+"`coordinator`/`worker`"+` `+"`jvm`, `config`, `resources`"+` in trino-values.yaml |
| HTTPS only, moat's CA | the plan's HTTPS properties, port https, Secret `+"`%s`"+` and ConfigMap `+"`%s`"+` from secrets.sh (a CA of the cluster's own) |
| rules.json, catalogs, password.db | `+"`accessControl`"+` (same bytes), `+"`catalogs`"+`, Secret `+"`%s`"+` |
| notebook + sidecar, upstream 127.0.0.1:%d | notebook.yaml, upstream annotation on the same port, the same environment |
| scheduled reports | CronJobs in reports.yaml, running the report image (Dockerfile) |

`, config.ServiceCoordinator, SecretTLS, ConfigMapCA, SecretPassword, config.NotebookUpstreamPort)
	port, err := pl.orchestratorPort()
	if err != nil {
		return nil, err
	}
	w(`## The report image

The CronJobs run `+"`moat report run NAME --trino-url https://127.0.0.1:%s ...`"+`, moat's in-pod mode: it queries
Trino through the pod's own sidecar upstream (intention orchestrator -> trino-coordinator), verifies Trino's
certificate against the CA (ConfigMap `+"`%s`"+`), authenticates as the orchestrator with the password file
(Secret `+"`%s`"+`), impersonates each report's run_as user, and needs no Docker and no Consul. When the run is
over it tells the sidecar to stop (consul-k8s `+"`/graceful_shutdown`"+` on port 20600), so that the Job completes.

The image is the static moat binary FROM scratch, nothing else (%s). Build it, push it where the cluster
pulls from, and set it in reports.yaml in place of `+"`%s`"+`:

    mkdir -p /tmp/moat-image && cp %s /tmp/moat-image/
    cp "$(command -v moat)" /tmp/moat-image/moat    # a static build: CGO_ENABLED=0 go build -o moat . in moat's source
    docker build -t REGISTRY/moat:VERSION /tmp/moat-image && docker push REGISTRY/moat:VERSION

## The report sites

Each Job writes its report's site (index.html, data.csv, the chart, meta.json) to the PersistentVolumeClaim
`+"`%s`"+` (ReadWriteMany when Jobs and the file server may land on different nodes); the run history
(moat.db) lives only as long as the Job's pod. A static file server (`+"`%s`"+`, nginx, read-only) serves that
volume, and a NetworkPolicy lets nothing connect to it: reach it with
`+"`kubectl port-forward -n %s svc/%s 8090:80`"+`, then http://127.0.0.1:8090/NAME/. For object storage
instead, sync the volume to a bucket with a tool of your choice.

## Known limits

This export is checked against the charts' values files, the ServiceIntentions CRD's schema and the
Kubernetes API types, and its report mode and TLS material against a Trino protocol server; it has not run
on a real cluster.

- Trino's liveness probe: chart %s probes `+"`/v1/info`"+` over plain HTTP on the port named http, with no
  setting for the scheme. This Trino opens no plaintext port (`+"`http-server.http.enabled=false`"+`), so that
  probe can only fail: trino-values.yaml makes it fire once an hour and never fail the pod. Readiness and
  startup run the image's health-check, which asks the HTTPS port.
- The chart's worker drain (`+"`worker.gracefulShutdown`"+`) is a plain-HTTP curl too: it is off, and
  `+"`worker.lifecycle`"+` drains over HTTPS instead, verified against the CA.
- Workers authenticate no client, as the chart has them (only the coordinator gets
  `+"`http-server.authentication.type`"+`): they take internal requests signed with the shared secret, and the
  drain from any pod the chart's NetworkPolicy lets in (Trino's own), as user `+"`%s`"+`.
- The chart always writes `+"`http-server.http.port`"+`. Trino images built on airlift 437 or later (July 2026) read
  that property only while HTTP is on and refuse to start on an unused one; if Trino stops with
  "Configuration property 'http-server.http.port' was not used", the chart must leave it out (its Trino
  Gateway chart does) or the image must be older.
- Node-to-node HTTPS: nodes verify each other's certificates, host names included. secrets.sh's certificate
  names loopback and the coordinator's Service (where workers announce), not the pods' IP addresses, which
  exist only once pods start. Calls from the coordinator to a worker's own address fail verification until
  each pod gets a certificate for its IP (for example from cert-manager's csi-driver). Trino's automatic
  internal certificates (no `+"`internal-communication.https.*store.path`"+`) name each pod's own addresses, but
  need a discovery.uri that resolves to the coordinator pod's IP (a headless Service); not tried here.
- A report Job that starts before its sidecar is ready fails at connect: run it again
  (`+"`kubectl create job --from=cronjob/report-NAME`"+`).
`+pl.l7Limit(), port, ConfigMapCA, SecretReports, FileDockerfile, MoatImage, FileDockerfile, ReportsPVC, reportsWeb, ns, reportsWeb, TrinoChart, drainUser)
	return []byte(b.String()), nil
}

// orchestratorPort is the local port of the orchestrator's upstream to
// the coordinator (the report Jobs' --trino-url).
func (pl *plan) orchestratorPort() (string, error) {
	_, port, err := pl.upstreamAnnotation(config.OrchestratorUser)
	return port, err
}

// l7Limit is the known limit of HTTP intention rules to the coordinator,
// when the config has some.
func (pl *plan) l7Limit() string {
	for _, in := range pl.intentions {
		if len(in.HTTP) > 0 && in.Destination == config.ServiceCoordinator {
			return "- HTTP intention rules to " + config.ServiceCoordinator + " (here from " + in.Source + ") make its protocol http " +
				"(ServiceDefaults in intentions.yaml), so that\n  Envoy reads each request; but clients speak TLS to Trino inside the " +
				"mesh, which Envoy cannot read, so such connections fail.\n  The same holds on one host. Use allow or deny " +
				"intentions to the coordinator and Trino's access rules for finer control.\n"
		}
	}
	return ""
}
