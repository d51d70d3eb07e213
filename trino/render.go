package trino

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// props builds a .properties file in a fixed order.
type props struct{ b bytes.Buffer }

func (p *props) set(k, v string) { fmt.Fprintf(&p.b, "%s=%s\n", k, v) }
func (p *props) bytes() []byte   { return bytes.Clone(p.b.Bytes()) }

// RenderNode returns the files node n reads, keyed by their path under
// /etc/trino: node.properties, config.properties, jvm.config,
// log.properties, catalog/<name>.properties, password-authenticator.properties,
// access-control.properties and rules.json. The caller adds the files
// RenderNode only names: password.db (PasswordFile) at PasswordFilePath, the
// node's keystore (KeystorePEM, for NodeCertNames) at KeystorePath and moat's
// CA certificate at TruststorePath.
func RenderNode(c Cluster, n Node) (map[string][]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if !slices.Contains(c.nodes(), n) {
		return nil, fmt.Errorf("trino node %s (%s) is not part of the cluster", n.ID, n.IP)
	}
	rules, err := Rules(c.Policies, c.System)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		"node.properties":                   nodeProperties(c, n),
		"config.properties":                 configProperties(c, n),
		"jvm.config":                        jvmConfig(c.role(n).Heap),
		"log.properties":                    []byte("io.trino=" + c.logLevel() + "\n"),
		"password-authenticator.properties": []byte("password-authenticator.name=file\nfile.password-file=" + PasswordFilePath + "\n"),
		"access-control.properties":         []byte("access-control.name=file\nsecurity.config-file=" + RulesPath + "\nsecurity.refresh-period=5s\n"),
		"rules.json":                        rules,
	}
	for _, cat := range c.Catalogs {
		files["catalog/"+cat.Name+".properties"] = cat.render()
	}
	if err := CheckRemovedProperties(files, c.Version); err != nil {
		return nil, err
	}
	return files, nil
}

func (c Cluster) role(n Node) RoleMemory {
	if c.isCoordinator(n) {
		return c.Memory.Coordinator
	}
	return c.Memory.Worker
}

func nodeProperties(c Cluster, n Node) []byte {
	var p props
	p.set("node.environment", c.Environment)
	p.set("node.id", n.ID)
	p.set("node.data-dir", DataDir)
	p.set("node.bind-ip", n.IP.String())
	p.set("node.internal-address", n.IP.String())
	return p.bytes()
}

func configProperties(c Cluster, n Node) []byte {
	var p props
	coord := c.isCoordinator(n)
	m := c.role(n)
	p.set("coordinator", strconv.FormatBool(coord))
	if coord {
		p.set("node-scheduler.include-coordinator", "false")
	}
	// HTTPS only, with a certificate from moat's CA: clients verify it with
	// nothing but the CA file, and there is no plaintext port to reach.
	p.set("http-server.http.enabled", "false")
	p.set("http-server.https.enabled", "true")
	p.set("http-server.https.port", strconv.Itoa(c.httpsPort()))
	p.set("http-server.https.keystore.path", KeystorePath)
	// Peers present their keystore as a client certificate; the HTTPS
	// server must trust moat's CA for that handshake to succeed.
	p.set("http-server.https.truststore.path", TruststorePath)
	// airlift reads both again on this schedule (default 1m): a certificate
	// moat renews is served within 10 s, with no restart and no query lost.
	p.set("http-server.https.ssl-context.refresh-time", "10s")
	p.set("discovery.uri", fmt.Sprintf("https://%s:%d", c.Coordinator.IP, c.httpsPort()))
	p.set("internal-communication.shared-secret", envRef(SharedSecretEnv))
	// A keystore and truststore turn Trino's automatic certificates off:
	// nodes verify each other (host names included) against moat's CA.
	p.set("internal-communication.https.required", "true")
	p.set("internal-communication.https.keystore.path", KeystorePath)
	p.set("internal-communication.https.truststore.path", TruststorePath)
	p.set("http-server.authentication.type", "PASSWORD")
	// No http-server.process-forwarded: X-Forwarded-* headers are refused,
	// so no peer can claim a request came over HTTPS. With HTTP disabled
	// allow-insecure-over-http=false changes nothing; it stays as a second
	// wall should anyone enable HTTP again.
	p.set("http-server.authentication.allow-insecure-over-http", "false")
	p.set("query.max-memory", trinoSize(c.Memory.QueryMaxMemory))
	p.set("query.max-memory-per-node", trinoSize(m.QueryMaxMemoryPerNode))
	p.set("memory.heap-headroom-per-node", trinoSize(m.Headroom))
	p.set("shutdown.grace-period", durationProperty(c.gracePeriod()))
	return p.bytes()
}

// durationProperty writes d as an airlift Duration ("30s", "2m").
func durationProperty(d time.Duration) string {
	switch {
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	default:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	}
}

// jvmConfig follows the image's default jvm.config for Trino 477+ (JDK 24/25)
// with an explicit -Xmx instead of MaxRAMPercentage=80 (which would size the
// heap from the host's memory). G1HeapRegionSize=32M is kept only for heaps of
// 4 GiB and more: on a 1 GiB heap it would leave G1 just 32 regions.
func jvmConfig(heap int64) []byte {
	lines := []string{
		"-server",
		"-agentpath:/usr/lib/trino/bin/libjvmkill.so",
		fmt.Sprintf("-Xmx%dM", heap/MiB),
	}
	if heap >= 4*GiB {
		lines = append(lines, "-XX:G1HeapRegionSize=32M")
	}
	lines = append(lines,
		"-XX:+ExplicitGCInvokesConcurrent",
		"-XX:+HeapDumpOnOutOfMemoryError",
		"-XX:+ExitOnOutOfMemoryError",
		"-XX:-OmitStackTraceInFastThrow",
		"-XX:ReservedCodeCacheSize=256M",
		"-XX:PerMethodRecompilationCutoff=10000",
		"-XX:PerBytecodeRecompilationCutoff=10000",
		"-Djdk.attach.allowAttachSelf=true",
		"-Djdk.nio.maxCachedBufferSize=2000000",
		"-XX:+EnableDynamicAgentLoading",
		"-XX:+UnlockDiagnosticVMOptions",
		"-XX:G1NumCollectionsKeepPinned=10000000",
	)
	return []byte(strings.Join(lines, "\n") + "\n")
}

// CheckRemovedProperties fails when a .properties file among files sets a
// property that Trino release version no longer accepts.
func CheckRemovedProperties(files map[string][]byte, version int) error {
	for _, path := range slices.Sorted(maps.Keys(files)) {
		if !strings.HasSuffix(path, ".properties") {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(files[path]))
		for line := 1; sc.Scan(); line++ {
			key, _, _ := strings.Cut(sc.Text(), "=")
			key = strings.TrimSpace(key)
			if since, ok := RemovedProperties[key]; ok && version >= since {
				return fmt.Errorf("%s:%d: property %s is not accepted by Trino %d (removed in %d); remove it", path, line, key, version, since)
			}
		}
	}
	return nil
}

// Env names the environment variables node n needs; each value says what the
// caller must fill the variable with. No value is a secret.
func Env(c Cluster, n Node) map[string]string {
	env := map[string]string{SharedSecretEnv: "internal-communication.shared-secret (same on every node)"}
	for _, cat := range c.Catalogs {
		for k, name := range cat.SecretEnv {
			env[name] = "catalog " + cat.Name + ": " + k
		}
	}
	_ = n // every node needs the same variables: every catalog is on every node
	return env
}
