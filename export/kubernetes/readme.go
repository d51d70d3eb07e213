package kubernetes

import (
	"fmt"
	"strings"

	"moat/appliance"
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
	w("# 4. the Secrets, on the old host (values from `moat secrets show`, or from the variables secrets.sh names)\nNS=%s ./%s\n\n", ns, FileSecrets)
	w("# 5. Trino\nhelm install %s trino/trino --version %s -n %s -f %s\nkubectl rollout status -n %s deployment/%s\n\n", TrinoRelease, TrinoChart, ns, FileTrinoValues, ns, appliance.ServiceCoordinator)
	w("# 6. the notebook\nkubectl apply -n %s -f %s\nkubectl rollout status -n %s deployment/%s\n\n", ns, FileNotebook, ns, appliance.ServiceNotebook)
	w("# 7. the reports (moat.toml of the old host as a ConfigMap; image %s, see below)\nkubectl create configmap %s -n %s --from-file=moat.toml=moat.toml\nkubectl apply -n %s -f %s\n\n", MoatImage, ConfigMapMoat, ns, ns, FileReports)
	w("# 8. the first query, through the notebook's sidecar (intention notebook -> trino-coordinator)\n")
	w("kubectl port-forward -n %s svc/notebook %d:8888 &\n", ns, pl.cfg.Notebook.Port)
	w("echo \"open http://127.0.0.1:%d/lab/tree/work/moat-trino.ipynb?token=$(moat secrets show %s) and run every cell\"\n", pl.cfg.Notebook.Port, appliance.SecretNotebook)
	w("```\n\n")
	w(`## What maps to what

| one host | Kubernetes |
|---|---|
| Consul server, sealed, ACLs on | consul chart: one server, `+"`global.acls.manageSystemACLs`"+`, `+"`global.tls`"+` |
| default-deny `+"`*`"+` → `+"`*`"+` and the allows | `+"`intentions.yaml`"+` (ServiceIntentions, one per destination) |
| coordinator + sidecar | trino chart coordinator, annotated for connect injection as `+"`%s`"+` |
| workers on the private `+"`trino`"+` network | trino chart workers, outside the mesh, behind the chart's NetworkPolicy |
| memory plan (heap, query memory, container limit) | `+"`coordinator`/`worker`"+` `+"`jvm`, `config`, `resources`"+` in trino-values.yaml |
| rules.json, catalogs, password.db | `+"`accessControl`"+` (same bytes), `+"`catalogs`"+`, Secret `+"`%s`"+` |
| notebook + sidecar, upstream 127.0.0.1:%d | notebook.yaml, upstream annotation on the same port |
| scheduled reports | CronJobs in reports.yaml |

## The report image

The CronJobs run `+"`%s`"+`: an image with the moat binary and a shell with wget (busybox), for example

    FROM busybox:1.37
    COPY moat /usr/local/bin/moat
    ENTRYPOINT []

Build it, push it where the cluster pulls from, and set the image in reports.yaml. Each Job mounts moat.toml
(ConfigMap `+"`%s`"+`), a secrets file holding the orchestrator's password only (Secret `+"`%s`"+`), and writes the
report sites to the PersistentVolumeClaim `+"`%s`"+`. A static file server (`+"`%s`"+`, nginx) serves that volume
read-only; nothing may connect to it but `+"`kubectl port-forward -n %s svc/%s 8090:80`"+`. Object storage works
as well: sync the volume to a bucket with a sidecar of your choice.

## Known limits

- The report Jobs reach Trino through their sidecar's upstream (127.0.0.1:%d); `+"`moat report run`"+` on one host uses moat's
  own Connect identity instead, which needs Consul's API. Until moat can run a report through a plain upstream, the
  CronJobs fail at connect.
- Trino's internal HTTPS: the coordinator announces to itself on its pod IP; workers reach it by its Service name.
`, appliance.ServiceCoordinator, SecretPassword, appliance.NotebookUpstreamPort, MoatImage, ConfigMapMoat, SecretReports, ReportsPVC, reportsWeb, ns, reportsWeb, pl.cfg.Mesh.CoordinatorPort)
	if pl.usesTLSFiles() {
		w("- Trino's keystore and CA (Secret `%s`, keys keystore.pem and ca.pem) are not exported: on one host moat's CA\n  names each node's fixed IP, and pods have none. Issue them in the cluster (cert-manager) before step 5.\n", SecretTLS)
	}
	return []byte(b.String()), nil
}
