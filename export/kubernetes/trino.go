package kubernetes

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"moat/appliance/config"
	"moat/trino"
)

// Properties is a parsed .properties file.
type Properties map[string]string

// ParseProperties reads the k=v lines RenderNode writes.
func ParseProperties(data []byte) Properties {
	out := Properties{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out
}

// Where each of the plan's config.properties goes in the chart's values.
// The chart renders these itself from its own keys; everything in
// shared goes into additionalConfigProperties (every node); the rest is
// per role. A property RenderNode writes that is in none of these lists
// fails the export, so that a new one cannot be dropped silently.
var (
	// chartRendered: the chart writes them from the values set in trinoValues.
	// http-server.authentication.type goes to the coordinator only: chart
	// 1.42.2 authenticates clients there, and workers accept nothing but
	// internal requests signed with the shared secret (and the preStop
	// drain, see workerLifecycle). The chart's server.config.https is not
	// used: it writes its three properties on the coordinator only, and a
	// worker without them would open no port at all.
	chartRendered = []string{
		"coordinator", "node-scheduler.include-coordinator", "http-server.http.port",
		"query.max-memory", "query.max-memory-per-node", "memory.heap-headroom-per-node",
		"http-server.authentication.type",
	}
	// hostSpecific: on one host they name fixed IPs; on Kubernetes
	// discovery.uri is rewritten (see discoveryURI) and the rest come from
	// the pod.
	hostSpecific = []string{"discovery.uri"}
	// nodeHostSpecific: node.properties keys Kubernetes gives each pod.
	nodeHostSpecific = []string{"node.id", "node.bind-ip", "node.internal-address"}
)

// K8sDiscoveryURI is discovery.uri on Kubernetes. The coordinator announces
// to itself on its pod IP (POD_IP from the downward API); workers reach it
// through its Service on the HTTPS port.
func K8sDiscoveryURI(coordinator bool, httpsPort string) string {
	if coordinator {
		return "https://${ENV:POD_IP}:" + httpsPort
	}
	return "https://" + config.ServiceCoordinator + ":" + httpsPort
}

// configSplit sorts the plan's config.properties of both roles into the
// properties every node shares and those of one role, leaving out what the
// chart renders and what is host-specific.
func configSplit(coord, worker Properties) (shared, onlyCoord, onlyWorker []string) {
	skip := append(slices.Clone(chartRendered), hostSpecific...)
	keys := map[string]bool{}
	for k := range coord {
		keys[k] = true
	}
	for k := range worker {
		keys[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if slices.Contains(skip, k) {
			continue
		}
		cv, inC := coord[k]
		wv, inW := worker[k]
		switch {
		case inC && inW && cv == wv:
			shared = append(shared, k+"="+cv)
		case inC && inW:
			onlyCoord = append(onlyCoord, k+"="+cv)
			onlyWorker = append(onlyWorker, k+"="+wv)
		case inC:
			onlyCoord = append(onlyCoord, k+"="+cv)
		default:
			onlyWorker = append(onlyWorker, k+"="+wv)
		}
	}
	return shared, onlyCoord, onlyWorker
}

// chartJVM are the jvm.config lines chart 1.42.2 writes itself
// (configmap-coordinator.yaml), besides -Xmx and -XX:G1HeapRegionSize; the
// last two only for the official image at a tag above 447.
var (
	chartJVM = []string{
		"-server", "-agentpath:/usr/lib/trino/bin/libjvmkill.so", "-XX:+UseG1GC",
		"-XX:+ExplicitGCInvokesConcurrent", "-XX:+HeapDumpOnOutOfMemoryError", "-XX:+ExitOnOutOfMemoryError",
		"-XX:-OmitStackTraceInFastThrow", "-XX:ReservedCodeCacheSize=512M", "-XX:PerMethodRecompilationCutoff=10000",
		"-XX:PerBytecodeRecompilationCutoff=10000", "-Djdk.attach.allowAttachSelf=true",
		"-Djdk.nio.maxCachedBufferSize=2000000", "-XX:+EnableDynamicAgentLoading",
	}
	chartJVMOfficial = []string{"-XX:+UnlockDiagnosticVMOptions", "-XX:G1NumCollectionsKeepPinned=10000000"}
)

// jvmPlan is a role's jvm.config as chart values.
type jvmPlan struct {
	maxHeap    string   // -Xmx value, e.g. 1024M
	regionSize string   // -XX:G1HeapRegionSize
	additional []string // lines the chart does not write (later flags win in HotSpot)
}

func splitJVM(data []byte, heap int64, official bool) (jvmPlan, error) {
	var j jvmPlan
	have := slices.Clone(chartJVM)
	if official {
		have = append(have, chartJVMOfficial...)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		switch {
		case strings.HasPrefix(line, "-Xmx"):
			j.maxHeap = strings.TrimPrefix(line, "-Xmx")
		case strings.HasPrefix(line, "-XX:G1HeapRegionSize="):
			j.regionSize = strings.TrimPrefix(line, "-XX:G1HeapRegionSize=")
		case !slices.Contains(have, line):
			j.additional = append(j.additional, line)
		}
	}
	if j.maxHeap == "" {
		return j, fmt.Errorf("jvm.config of the plan has no -Xmx")
	}
	if j.regionSize == "" {
		// The chart always writes -XX:G1HeapRegionSize; moat leaves it to
		// G1 below 4 GiB. Write what G1 would choose: heap/2048, a power
		// of two between 1M and 32M.
		j.regionSize = g1RegionSize(heap)
	}
	return j, nil
}

func g1RegionSize(heap int64) string {
	r := int64(1)
	for r*2 <= heap/2048/trino.MiB && r < 32 {
		r *= 2
	}
	return strconv.FormatInt(r, 10) + "M"
}

// imageRef splits trino.image into repository and tag.
func imageRef(image string) (repo, tag string) {
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		return image[:i], image[i+1:]
	}
	return image, ""
}

func mib(b int64) string { return strconv.FormatInt(b/trino.MiB, 10) + "Mi" }

// role is one of the two node roles as chart values.
func (pl *plan) role(files map[string][]byte, mem trino.RoleMemory, official, coordinator bool) (*yaml.Node, error) {
	j, err := splitJVM(files["jvm.config"], mem.Heap, official)
	if err != nil {
		return nil, err
	}
	props := ParseProperties(files["config.properties"])
	cfg := []kv{
		p("memory", obj(p("heapHeadroomPerNode", props["memory.heap-headroom-per-node"]))),
	}
	if coordinator {
		inc, _ := strconv.ParseBool(props["node-scheduler.include-coordinator"])
		cfg = append(cfg, p("nodeScheduler", obj(p("includeCoordinator", inc))))
	}
	cfg = append(cfg, p("query", obj(p("maxMemoryPerNode", props["query.max-memory-per-node"]))))
	jvm := obj(
		p("maxHeapSize", j.maxHeap),
		p("gcMethod", obj(p("type", "UseG1GC"), p("g1", obj(p("heapRegionSize", j.regionSize))))),
	)
	kvs := []kv{
		pc("jvm", "jvm.config of the plan: -Xmx is the heap of moat's memory plan", jvm),
		p("config", obj(cfg...)),
		pc("additionalJVMConfig", "the plan's JVM flags the chart does not write itself (a later flag wins)", j.additional),
		pc("resources", "heap + JVM overhead, as the container limit on one host", obj(
			p("requests", obj(p("memory", mib(mem.Container)))),
			p("limits", obj(p("memory", mib(mem.Container)))),
		)),
	}
	return obj(kvs...), nil
}

func (pl *plan) trinoValues() ([]byte, error) {
	c := pl.cfg
	cp, wp := ParseProperties(pl.coord["config.properties"]), ParseProperties(pl.worker["config.properties"])
	np := ParseProperties(pl.coord["node.properties"])
	for k := range np {
		if !slices.Contains([]string{"node.environment", "node.data-dir"}, k) && !slices.Contains(nodeHostSpecific, k) {
			return nil, fmt.Errorf("node.properties: the export does not know where %s goes in the trino chart: add it to export/kubernetes", k)
		}
	}
	for _, want := range []struct{ file, line string }{
		{"password-authenticator.properties", "password-authenticator.name=file"},
		{"access-control.properties", "access-control.name=file"},
	} {
		if !strings.Contains(string(pl.coord[want.file]), want.line+"\n") {
			return nil, fmt.Errorf("%s of the plan lacks %s: the chart writes only that form", want.file, want.line)
		}
	}
	shared, onlyC, onlyW := configSplit(cp, wp)
	var err error
	httpsPort := cp["http-server.https.port"]
	coordExtra := append([]string{"discovery.uri=" + K8sDiscoveryURI(true, httpsPort)}, onlyC...)
	workerExtra := append([]string{"discovery.uri=" + K8sDiscoveryURI(false, httpsPort)}, onlyW...)
	// The chart always writes an HTTP port; with http-server.http.enabled
	// = false (the plan's HTTPS only) Trino opens none. Trino images whose
	// airlift binds http-server.http.port only with HTTP on (airlift 437,
	// July 2026) refuse it as unused: see the export README.
	httpPort := chartHTTPPort
	if v, ok := cp["http-server.http.port"]; ok {
		if httpPort, err = strconv.Atoi(v); err != nil {
			return nil, fmt.Errorf("config.properties: http-server.http.port = %q: %w", v, err)
		}
	}
	meshPort := "http"
	if cp["http-server.http.enabled"] == "false" {
		meshPort = "https" // the sidecar forwards to Trino's TLS port
	}
	grace, err := time.ParseDuration(wp["shutdown.grace-period"])
	if err != nil {
		return nil, fmt.Errorf("config.properties: shutdown.grace-period = %q: %w", wp["shutdown.grace-period"], err)
	}
	repo, tag := imageRef(c.Trino.Image)
	official := repo == "trinodb/trino"
	if tag == "" {
		tag = strconv.Itoa(c.Trino.Version)
	}
	mem := pl.cluster.Memory
	coordRole, err := pl.role(pl.coord, mem.Coordinator, official, true)
	if err != nil {
		return nil, err
	}
	workerRole, err := pl.role(pl.worker, mem.Worker, official, false)
	if err != nil {
		return nil, err
	}
	httpsPortN, err := strconv.Atoi(httpsPort)
	if err != nil || cp["http-server.https.enabled"] != "true" {
		return nil, fmt.Errorf("config.properties: http-server.https.port = %q, http-server.https.enabled = %q: the export needs the plan's HTTPS", httpsPort, cp["http-server.https.enabled"])
	}
	coordRole.Content = append(coordRole.Content, obj(
		pc("additionalExposedPorts", "Trino's HTTPS, the only port it opens: the sidecar forwards to it, workers announce to it", obj(
			p("https", obj(p("servicePort", httpsPortN), p("name", "https"), p("port", httpsPortN), p("protocol", "TCP"))))),
		livenessKV(),
		pc("annotations", "the coordinator is the mesh service trino-coordinator: connect injection adds its sidecar; "+
			"no transparent proxy, so workers still reach Trino directly (proxies between Trino nodes are unsupported)",
			obj(
				p("consul.hashicorp.com/connect-inject", "true"),
				p("consul.hashicorp.com/connect-service", config.ServiceCoordinator),
				p("consul.hashicorp.com/connect-service-port", meshPort),
				p("consul.hashicorp.com/transparent-proxy", "false"),
			)),
	).Content...)
	// A worker drains for up to about twice shutdown.grace-period; moat's
	// single-host stop grace is the same 3x + 10s.
	termination := int((3*grace + 10*time.Second) / time.Second)
	workerRole.Content = append(workerRole.Content, obj(
		pc("additionalExposedPorts", "Trino's HTTPS, the only port it opens: the coordinator and the other workers call it", obj(
			p("https", obj(p("servicePort", httpsPortN), p("name", "https"), p("port", httpsPortN), p("protocol", "TCP"))))),
		pc("gracefulShutdown", "off: the chart's drain is a plain-HTTP curl to port http, which HTTPS-only Trino does not open; "+
			"lifecycle below drains over HTTPS (shutdown.grace-period is in additionalConfigProperties)", obj(p("enabled", false))),
		pc("lifecycle", "the drain before a worker stops: PUT /v1/info/state SHUTTING_DOWN over HTTPS, verified against the CA, then wait for Trino to exit",
			workerLifecycle(httpsPort)),
		pc("additionalConfigFiles", "who may drain a worker (rules.json's system_information; workers check no password, see README.md)", obj(
			p("access-control.properties", "access-control.name=file\nsecurity.config-file="+path.Join(trino.ConfigDir, drainRules)+"\n"),
			p(drainRules, drainRulesJSON))),
		p("terminationGracePeriodSeconds", termination),
		livenessKV(),
		pc("annotations", "workers stay out of the mesh, as on one host: coordinator<->worker traffic is direct, "+
			"authenticated by the shared secret and encrypted (internal HTTPS), and fenced by the NetworkPolicy",
			obj(p("consul.hashicorp.com/connect-inject", "false"))),
	).Content...)

	catalogs := []kv{}
	declared := map[string]bool{}
	for _, cat := range pl.cluster.Catalogs {
		declared[cat.Name] = true
		catalogs = append(catalogs, p(cat.Name, string(pl.coord["catalog/"+cat.Name+".properties"])))
	}
	for _, def := range chartDefaultCatalogs {
		if !declared[def] {
			catalogs = append(catalogs, pc(def, "the chart's default catalog, removed: moat.toml does not declare it", nil))
		}
	}
	ac := ParseProperties(pl.coord["access-control.properties"])
	env := list(obj(p("name", "POD_IP"), p("valueFrom", obj(p("fieldRef", obj(p("fieldPath", "status.podIP")))))))
	values := obj(
		pc("fullnameOverride", "the coordinator's Service is named after the mesh service, as Consul requires", config.ServiceCoordinator),
		p("coordinatorNameOverride", config.ServiceCoordinator),
		p("workerNameOverride", config.ServiceWorker),
		pc("image", "trino.image of moat.toml (the chart's own default is Trino "+TrinoChartApp+")", obj(p("repository", repo), p("tag", tag))),
		p("server", obj(
			pc("workers", "trino.workers", c.Trino.Workers),
			p("node", obj(p("environment", np["node.environment"]), p("dataDir", np["node.data-dir"]))),
			p("log", obj(p("trino", obj(p("level", strings.TrimPrefix(strings.TrimSpace(string(pl.coord["log.properties"])), "io.trino=")))))),
			p("config", obj(
				pc("authenticationType", "on the coordinator only, as the chart does", cp["http-server.authentication.type"]),
				pc("query", "query.max-memory: cluster-wide, per query", obj(p("maxMemory", cp["query.max-memory"]))),
			)),
			pc("coordinatorExtraConfig", "written after the chart's own lines: this discovery.uri replaces the chart's http one", strings.Join(coordExtra, "\n")+"\n"),
			p("workerExtraConfig", strings.Join(workerExtra, "\n")+"\n"),
		)),
		pc("additionalConfigProperties", "the plan's config.properties common to every node: shared secret, internal HTTPS, no insecure fallback", shared),
		pc("accessControl", "file access control: rules.json is byte for byte the one moat renders on one host", obj(
			p("type", "configmap"),
			p("refreshPeriod", ac["security.refresh-period"]),
			p("configFile", "rules.json"),
			p("rules", obj(p("rules.json", string(pl.coord["rules.json"])))),
		)),
		pc("auth", "password.db (bcrypt) comes from a Secret that secrets.sh creates", obj(p("passwordAuthSecret", SecretPassword))),
		pc("catalogs", "the plan's catalog files; secrets stay ${ENV:...} references, filled from the Secret "+SecretTrinoEnv, obj(catalogs...)),
		pc("env", "POD_IP: the coordinator's discovery.uri", env),
		secretMountsKV(pl.usesTLSFiles()),
		pc("envFrom", "TRINO_SHARED_SECRET and the catalogs' secrets (secrets.sh creates the Secret)",
			list(obj(p("secretRef", obj(p("name", SecretTrinoEnv)))))),
		pc("serviceAccount", "Consul's ACLs tie a mesh identity to the pod's service account name", obj(
			p("create", true), p("name", config.ServiceCoordinator))),
		pc("service", "the chart always names a port http (container and Service) and writes http-server.http.port from this; "+
			"with the plan's http-server.http.enabled=false Trino opens nothing there. Clients reach the https port, through the coordinator's sidecar only",
			obj(p("port", httpPort))),
		pc("networkPolicy", "Trino pods accept only each other, plus the sidecar's mTLS listener: the private trino network of one host", obj(
			p("enabled", true),
			p("ingress", list(obj(p("ports", list(obj(p("protocol", "TCP"), p("port", EnvoyInboundPort))))))),
		)),
		p("coordinator", coordRole),
		p("worker", workerRole),
	)
	head := fmt.Sprintf(`trino-values.yaml: values for the trinodb "trino" chart %s (Trino %s), written by
moat export kubernetes from %s. Do not edit by hand: change moat.toml and export again.
  helm install %s trino/trino --version %s -n %s -f trino-values.yaml`,
		TrinoChart, TrinoChartApp, configName(c), TrinoRelease, TrinoChart, pl.opts.namespace())
	return render(head, values)
}

// chartDefaultCatalogs are the catalogs chart 1.42.2 declares by default;
// Helm merges maps, so the export removes those moat.toml lacks.
var chartDefaultCatalogs = []string{"tpch", "tpcds"}

func configName(c *config.Config) string {
	if c.Path == "" {
		return "the embedded default moat.toml"
	}
	return c.Path
}

// tlsDir is where the plan's Trino keystore and CA live.
var tlsDir = path.Dir(trino.KeystorePath)

// usesTLSFiles reports whether the plan's properties name files in tlsDir
// (a keystore or truststore), which then come from the Secret SecretTLS.
func (pl *plan) usesTLSFiles() bool {
	for _, files := range []map[string][]byte{pl.coord, pl.worker} {
		for _, v := range ParseProperties(files["config.properties"]) {
			if strings.HasPrefix(v, tlsDir+"/") {
				return true
			}
		}
	}
	return false
}

func secretMountsKV(tls bool) kv {
	if !tls {
		return pc("secretMounts", "the plan names no TLS files", list())
	}
	return pc("secretMounts", "the keystore and CA the plan's properties name (Secret "+SecretTLS+", see README.md)",
		list(obj(p("name", "trino-tls"), p("secretName", SecretTLS), p("path", tlsDir))))
}

// chartHTTPPort is the chart's service.port default, kept when the plan
// opens no HTTP port.
const chartHTTPPort = 8080

// Chart 1.42.2's liveness probe is an httpGet of /v1/info on the port
// named http, plain HTTP, with no scheme or port setting; the plan opens
// no plaintext port, so that probe can only fail, and the kubelet would
// restart Trino every minute. Its timings are values: the export makes it
// fire once an hour and fail only after livenessNeverFails failures (Helm
// prints numbers from values as floats: six digits stay integers). The
// chart's readiness and startup probes run the image's health-check,
// which reads http-server.http.enabled=false and asks the HTTPS port, so
// they tell the truth; a JVM that dies exits (ExitOnOutOfMemoryError) and
// is restarted anyway.
const (
	livenessPeriod     = 3600
	livenessNeverFails = 999999
)

func livenessKV() kv {
	return pc("livenessProbe", "defused: the chart's liveness probe is plain HTTP on port http, which HTTPS-only Trino does not open "+
		"(readiness and startup use health-check, over HTTPS)", obj(
		p("periodSeconds", livenessPeriod), p("failureThreshold", livenessNeverFails)))
}

// The drain of a worker: as the chart's gracefulShutdown, over HTTPS.
const (
	drainRules     = "drain-rules.json"
	drainRulesJSON = `{"system_information": [{"user": "` + drainUser + `", "allow": ["write"]}]}` + "\n"
	drainUser      = "moat-drain"
)

func workerLifecycle(httpsPort string) *yaml.Node {
	script := "curl -sS --fail --cacert " + trino.TruststorePath + " -X PUT -d '\"SHUTTING_DOWN\"' " +
		"-H 'Content-type: application/json' -H 'X-Trino-User: " + drainUser + "' https://localhost:" + httpsPort + "/v1/info/state\n" +
		"# Trino exits once it has drained\ntail --pid=1 -f /dev/null"
	return obj(p("preStop", obj(p("exec", obj(p("command", []string{"/bin/sh", "-c", script}))))))
}
