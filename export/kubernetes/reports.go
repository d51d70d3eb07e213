package kubernetes

import (
	"fmt"
	"path"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"moat/appliance/config"
)

// Where a report pod finds moat.toml and writes report sites.
const (
	reportConfigDir = "/moat"
	reportsWebImage = "nginx:1.27-alpine"
	reportsWeb      = "moat-reports-web"
	// MoatImage is the image the CronJobs run: Dockerfile of the export
	// (the static moat binary FROM scratch); README.md says how to build
	// and push it.
	MoatImage = "moat:latest"
	// reportUID is the image's user (Dockerfile).
	reportUID = 65532
	// The CA and the orchestrator's password inside a report pod.
	reportCAPath       = "/etc/moat/ca.pem"
	reportPasswordPath = "/etc/moat/trino-password"
	reportPasswordKey  = "trino-password"
	// dataplaneShutdown asks consul-dataplane to stop once the report is
	// done, so that the Job completes (consul-k8s proxy lifecycle: port
	// 20600, /graceful_shutdown); moat POSTs it (--sidecar-shutdown).
	dataplaneShutdown = "http://127.0.0.1:20600/graceful_shutdown"
	suspendedSchedule = "0 0 1 1 *"
)

// reportDataDir is data_dir inside a report pod, where moat.toml is at
// reportConfigDir/moat.toml.
func (pl *plan) reportDataDir() string {
	d := pl.cfg.Appliance.DataDir
	if filepath.IsAbs(d) {
		return d
	}
	return path.Join(reportConfigDir, filepath.ToSlash(d))
}

func (pl *plan) reportsYAML() ([]byte, error) {
	upstreams, port, err := pl.upstreamAnnotation(config.OrchestratorUser)
	if err != nil {
		return nil, err
	}
	data := pl.reportDataDir()
	sitesDir := path.Join(data, "reports")
	docs := []*yaml.Node{
		pl.serviceAccount(config.OrchestratorUser),
		pl.service(config.OrchestratorUser, 80, "consul-k8s registers a pod through a Service; the orchestrator itself listens on nothing"),
		pl.pvc(),
	}
	for _, d := range pl.cfg.ReportDefinitions() {
		schedule, suspend := d.Schedule, false
		if schedule == "" {
			schedule, suspend = suspendedSchedule, true
		}
		labels := obj(p("app.kubernetes.io/name", config.OrchestratorUser), p("moat.dev/report", d.Name))
		args := []string{"report", "run", d.Name, "--config", reportConfigDir + "/moat.toml",
			"--trino-url", "https://127.0.0.1:" + port, "--trino-ca", reportCAPath,
			"--trino-user", config.OrchestratorUser, "--trino-password-file", reportPasswordPath,
			"--sidecar-shutdown", dataplaneShutdown}
		pod := obj(
			p("metadata", obj(
				p("labels", labels),
				pc("annotations", "the report runs through the mesh as the orchestrator (intention orchestrator -> trino-coordinator)",
					meshAnnotations(config.OrchestratorUser, "", upstreams)),
			)),
			p("spec", obj(
				p("serviceAccountName", config.OrchestratorUser),
				p("restartPolicy", "Never"),
				pc("securityContext", "the image's user (see Dockerfile); the volumes are writable by its group", obj(
					p("runAsNonRoot", true), p("runAsUser", reportUID), p("runAsGroup", reportUID), p("fsGroup", reportUID))),
				p("containers", list(obj(
					p("name", "report"),
					p("image", MoatImage),
					pc("args", "moat report run in its in-pod mode: Trino through the sidecar's upstream, TLS verified against the CA, "+
						"no Docker and no Consul; the sidecar is told to stop when the run is over, or the Job would never complete", args),
					p("securityContext", obj(p("readOnlyRootFilesystem", true), p("allowPrivilegeEscalation", false))),
					p("volumeMounts", list(
						obj(p("name", "config"), p("mountPath", reportConfigDir+"/moat.toml"), p("subPath", "moat.toml"), p("readOnly", true)),
						obj(p("name", "trino-ca"), p("mountPath", reportCAPath), p("subPath", CAKey), p("readOnly", true)),
						obj(p("name", "password"), p("mountPath", reportPasswordPath), p("subPath", reportPasswordKey), p("readOnly", true)),
						obj(p("name", "state"), p("mountPath", data)),
						obj(p("name", "sites"), p("mountPath", sitesDir)),
						obj(p("name", "tmp"), p("mountPath", "/tmp")),
					)),
				))),
				p("volumes", list(
					obj(p("name", "config"), p("configMap", obj(p("name", ConfigMapMoat)))),
					obj(p("name", "trino-ca"), p("configMap", obj(p("name", ConfigMapCA)))),
					obj(p("name", "password"), p("secret", obj(p("secretName", SecretReports), p("defaultMode", 0o440)))),
					obj(p("name", "state"), p("emptyDir", obj())),
					obj(p("name", "sites"), p("persistentVolumeClaim", obj(p("claimName", ReportsPVC)))),
					obj(p("name", "tmp"), p("emptyDir", obj())),
				)),
			)),
		)
		comment := "report " + d.Name + ", run as " + d.RunAs + ", schedule " + d.Schedule
		if suspend {
			comment = "report " + d.Name + ", run as " + d.RunAs + ": on demand only (suspended; kubectl create job --from=cronjob/report-" + d.Name + ")"
		}
		docs = append(docs, obj(
			p("apiVersion", "batch/v1"), p("kind", "CronJob"),
			p("metadata", pl.meta("report-"+d.Name, nil)),
			pc("spec", comment, obj(
				p("schedule", schedule),
				p("suspend", suspend),
				p("concurrencyPolicy", "Forbid"),
				p("jobTemplate", obj(p("spec", obj(
					p("backoffLimit", 0),
					p("activeDeadlineSeconds", int(pl.cfg.Appliance.ReportTimeout.D().Seconds())+60),
					p("template", pod),
				)))),
			)),
		))
	}
	docs = append(docs, pl.reportsWeb()...)
	head := `reports.yaml: the scheduled reports as CronJobs running ` + "`moat report run NAME`" + ` (image ` + MoatImage + `,
built from Dockerfile, see README.md), their sites on a PersistentVolumeClaim, and a static file server for them.
  kubectl create configmap ` + ConfigMapMoat + ` -n ` + pl.opts.namespace() + ` --from-file=moat.toml=PATH/TO/moat.toml
  kubectl apply -n ` + pl.opts.namespace() + ` -f reports.yaml`
	return render(head, docs...)
}

func (pl *plan) pvc() *yaml.Node {
	return obj(
		p("apiVersion", "v1"), p("kind", "PersistentVolumeClaim"),
		p("metadata", pl.meta(ReportsPVC, nil)),
		pc("spec", "written by the report Jobs, read by the file server: ReadWriteMany when they may land on different nodes", obj(
			p("accessModes", []string{"ReadWriteMany"}),
			p("resources", obj(p("requests", obj(p("storage", "1Gi"))))),
		)),
	)
}

// reportsWeb serves the report sites read-only; nothing may connect to it
// but kubectl port-forward (reports hold query results).
func (pl *plan) reportsWeb() []*yaml.Node {
	labels := obj(p("app.kubernetes.io/name", reportsWeb))
	deploy := obj(
		p("apiVersion", "apps/v1"), p("kind", "Deployment"),
		p("metadata", pl.meta(reportsWeb, nil)),
		p("spec", obj(
			p("replicas", 1),
			p("selector", obj(p("matchLabels", labels))),
			p("template", obj(
				p("metadata", obj(p("labels", labels))),
				p("spec", obj(
					p("containers", list(obj(
						p("name", "web"),
						p("image", reportsWebImage),
						p("ports", list(obj(p("name", "http"), p("containerPort", 80), p("protocol", "TCP")))),
						p("volumeMounts", list(obj(p("name", "sites"), p("mountPath", "/usr/share/nginx/html"), p("readOnly", true)))),
					))),
					p("volumes", list(obj(p("name", "sites"), p("persistentVolumeClaim", obj(p("claimName", ReportsPVC), p("readOnly", true)))))),
				)),
			)),
		)),
	)
	return []*yaml.Node{
		pl.service(reportsWeb, 80, "kubectl port-forward svc/"+reportsWeb+" 8090:80, then http://127.0.0.1:8090/<report>/"),
		deploy,
		pl.onlyMeshIngress(reportsWeb, false),
	}
}

// dockerfile is the report image: the static moat binary alone, run as
// reportUID. FROM scratch: moat needs no shell, no CA bundle (it trusts
// the CA file it is given) and no libc (CGO_ENABLED=0).
func (pl *plan) dockerfile() ([]byte, error) {
	return []byte(fmt.Sprintf(`# Dockerfile: the image of the report CronJobs (reports.yaml): the static moat binary, nothing else.
# Written by moat export kubernetes. Build it from a folder holding this file and a static moat:
#   mkdir -p /tmp/moat-image && cp Dockerfile /tmp/moat-image/
#   cp "$(command -v moat)" /tmp/moat-image/moat     # or, in moat's source: CGO_ENABLED=0 go build -o /tmp/moat-image/moat .
#   docker build -t REGISTRY/moat:VERSION /tmp/moat-image && docker push REGISTRY/moat:VERSION
# then set that image in reports.yaml (it says %s).
FROM scratch
COPY moat /usr/local/bin/moat
USER %d:%d
ENTRYPOINT ["/usr/local/bin/moat"]
`, MoatImage, reportUID, reportUID)), nil
}
