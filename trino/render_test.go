package trino

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"moat/internal/golden"
	"moat/pki"
)

func TestRenderGolden(t *testing.T) {
	for _, tc := range []struct {
		name    string
		workers int
	}{{"cluster-1-worker.golden", 1}, {"cluster-3-workers.golden", 3}} {
		t.Run(tc.name, func(t *testing.T) {
			text, _ := renderAll(t, testCluster(tc.workers))
			golden.Check(t, filepath.Join("testdata", tc.name), []byte(text))
		})
	}
}

func TestRulesGolden(t *testing.T) {
	got, err := Rules(testPolicies(), SystemUsers{Management: "moat", Orchestrator: "orchestrator"})
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/rules-policies.json", got)
	empty, err := Rules(Policies{}, SystemUsers{Management: "moat", Orchestrator: "orchestrator"})
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/rules-empty.json", empty)
}

// Every rules file in testdata, and every rules.json in the cluster goldens,
// passes the structural check.
func TestGoldenRulesValidate(t *testing.T) {
	paths, _ := filepath.Glob("testdata/*.json")
	if len(paths) < 2 {
		t.Fatalf("want the rules goldens in testdata, found %v", paths)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := ValidateRules(b); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	_, files := renderAll(t, testCluster(3))
	for node, f := range files {
		if err := ValidateRules(f["rules.json"]); err != nil {
			t.Errorf("%s rules.json: %v", node, err)
		}
	}
}

func TestNoRemovedProperties(t *testing.T) {
	for _, version := range []int{MinVersion, 479, 483} {
		c := testCluster(3)
		c.Version = version
		_, files := renderAll(t, c)
		for node, f := range files {
			for path, body := range f {
				for _, line := range strings.Split(string(body), "\n") {
					key, _, _ := strings.Cut(line, "=")
					if since, ok := RemovedProperties[key]; ok && version >= since {
						t.Errorf("Trino %d: %s/%s sets %s, removed in %d", version, node, path, key, since)
					}
				}
			}
		}
	}
	// A removed property given by the user is refused with its place.
	c := testCluster(1)
	c.Catalogs[3].Properties["s3.socket-read-timeout"] = "10s"
	_, err := RenderNode(c, c.Coordinator)
	want := "catalog/lake.properties:11: property s3.socket-read-timeout is not accepted by Trino 483 (removed in 477); remove it"
	if err == nil || err.Error() != want {
		t.Errorf("RenderNode with a removed property: got %v, want %q", err, want)
	}
}

func TestSecretsOnlyAsEnvPlaceholders(t *testing.T) {
	_, files := renderAll(t, testCluster(3))
	envRE := regexp.MustCompile(`\$\{ENV:([A-Z0-9_]+)\}`)
	c := testCluster(3)
	for node, f := range files {
		env := Env(c, c.Coordinator)
		for path, body := range f {
			for _, s := range fakeSecrets {
				if strings.Contains(string(body), s) {
					t.Errorf("%s/%s contains the secret value %q", node, path, s)
				}
			}
			for _, line := range strings.Split(string(body), "\n") {
				key, val, _ := strings.Cut(line, "=")
				// password-authenticator.properties names the password file, not a secret.
				if isSecretProperty(key) && path != "password-authenticator.properties" && !envRE.MatchString(val) {
					t.Errorf("%s/%s: %s is not an ${ENV:…} placeholder: %q", node, path, key, val)
				}
				for _, m := range envRE.FindAllStringSubmatch(val, -1) {
					if _, ok := env[m[1]]; !ok {
						t.Errorf("%s/%s uses ${ENV:%s}, which Env does not list", node, path, m[1])
					}
				}
			}
		}
	}
	want := map[string]string{
		"TRINO_SHARED_SECRET": "internal-communication.shared-secret (same on every node)",
		"PG_PASSWORD":         "catalog pg: connection-password",
		"LAKE_S3_ACCESS_KEY":  "catalog lake: s3.aws-access-key",
		"LAKE_S3_SECRET_KEY":  "catalog lake: s3.aws-secret-key",
	}
	if got := Env(c, c.Workers[0]); !equalMaps(got, want) {
		t.Errorf("Env = %v, want %v", got, want)
	}
	// A password given as a plain property is refused.
	c.Catalogs[2].Properties["connection-password"] = "fake-pg-password-91c2"
	delete(c.Catalogs[2].SecretEnv, "connection-password")
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "catalog pg: property connection-password holds a secret") {
		t.Errorf("Validate with a plain password: got %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "fake-pg-password-91c2") {
		t.Errorf("the error shows the secret: %v", err)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestClusterValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Cluster)
		want   string
	}{
		{"environment", func(c *Cluster) { c.Environment = "Moat-1" }, `trino environment "Moat-1": use lowercase letters, digits and _ (node.environment)`},
		{"old version", func(c *Cluster) { c.Version = 470 }, "trino version 470: moat writes configuration for Trino 477 or newer; use a newer image"},
		{"duplicate id", func(c *Cluster) { c.Workers[1].ID = "trino-worker-1" }, `trino node id "trino-worker-1" is used twice: node ids must be unique`},
		{"duplicate ip", func(c *Cluster) { c.Workers[0].IP = c.Coordinator.IP }, "trino node trino-worker-1: address 172.30.0.10 is used twice"},
		{"unknown connector", func(c *Cluster) { c.Catalogs[0].Connector = "hive" }, `catalog tpch: connector "hive" is not supported; use one of iceberg, memory, postgresql, tpcds, tpch`},
		{"missing required", func(c *Cluster) { delete(c.Catalogs[2].Properties, "connection-url") }, "catalog pg: property connection-url is required by the postgresql connector"},
		{"memory workers", func(c *Cluster) { c.Memory.Workers = 5 }, "trino memory plan is for 5 workers but the cluster has 2"},
		{"policy unknown catalog", func(c *Cluster) {
			c.Policies.Users[2].Catalogs = append(c.Policies.Users[2].Catalogs, CatalogGrant{Catalog: "hive", Allow: AccessAll})
		}, `policy for carol.d: catalog "hive" is not a declared catalog`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testCluster(2)
			tc.change(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
	if err := testCluster(2).Validate(); err != nil {
		t.Errorf("the fixture is invalid: %v", err)
	}
}

// Every node serves HTTPS only, from moat's CA, and trusts no forwarded
// header: the properties that make "Clients speak standard TLS to Trino"
// true.
func TestRenderHTTPSOnly(t *testing.T) {
	c := testCluster(3)
	_, files := renderAll(t, c)
	want := map[string]string{
		"http-server.http.enabled":                     "false",
		"http-server.https.enabled":                    "true",
		"http-server.https.port":                       "8443",
		"http-server.https.keystore.path":              KeystorePath,
		"http-server.https.truststore.path":            TruststorePath,
		"discovery.uri":                                "https://172.30.0.10:8443",
		"internal-communication.https.required":        "true",
		"internal-communication.https.keystore.path":   KeystorePath,
		"internal-communication.https.truststore.path": TruststorePath,
		"http-server.authentication.type":              "PASSWORD",
	}
	forbidden := []string{"http-server.http.port", "http-server.process-forwarded", "http-server.https.keystore.key",
		"internal-communication.https.keystore.key", "http-server.authentication.allow-forwarded-https"}
	for node, f := range files {
		props := map[string]string{}
		for _, line := range strings.Split(string(f["config.properties"]), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				props[k] = v
			}
		}
		for k, v := range want {
			if props[k] != v {
				t.Errorf("%s: %s=%q, want %q", node, k, props[k], v)
			}
		}
		for _, k := range forbidden {
			if _, ok := props[k]; ok {
				t.Errorf("%s sets %s", node, k)
			}
		}
		for _, p := range []string{"tls/keystore.pem", "tls/ca.pem", "password.db"} {
			if _, ok := f[p]; ok {
				t.Errorf("%s: RenderNode returned %s, which the caller writes", node, p)
			}
		}
	}
	c.HTTPSPort = 70000
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "trino https port 70000: want a port in 1-65535") {
		t.Errorf("Validate with https port 70000: %v", err)
	}
}

func TestNodeCertNamesAndKeystore(t *testing.T) {
	c := testCluster(2)
	ca, _, err := pki.New("moat test CA", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	for _, n := range c.nodes() {
		dns, ips := NodeCertNames(c, n)
		if fmt.Sprint(dns) != fmt.Sprintf("[localhost %s]", n.ID) || fmt.Sprint(ips) != fmt.Sprintf("[127.0.0.1 %s]", n.IP) {
			t.Errorf("NodeCertNames(%s) = %v %v", n.ID, dns, ips)
		}
		cert, key, err := ca.Issue(pki.Leaf{Name: n.ID, DNSNames: dns, IPs: ips, Server: true, Client: true}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		ks := KeystorePEM(cert, key, ca.CertPEM)
		var types []string
		for rest := ks; ; {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil {
				break
			}
			types = append(types, b.Type)
		}
		if fmt.Sprint(types) != "[EC PRIVATE KEY CERTIFICATE CERTIFICATE]" {
			t.Errorf("keystore blocks %v, want key, leaf, CA", types)
		}
		pair, err := tls.X509KeyPair(ks, ks)
		if err != nil {
			t.Fatalf("the keystore does not hold a matching key and certificate: %v", err)
		}
		for _, name := range append(dns, "127.0.0.1", n.IP.String()) {
			if _, err := pair.Leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("%s's certificate for %s: %v", n.ID, name, err)
			}
		}
	}
}
