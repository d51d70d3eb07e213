package kubernetes

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"moat/trino/trinotest"
)

// fakeKubectl stands in for kubectl, which needs a cluster: it keeps the
// files secrets.sh gives `kubectl create secret|configmap` under
// $FAKE_KUBECTL_OUT/NAME/KEY and every argv in argv.log; `get secret`
// finds nothing.
const fakeKubectl = `#!/bin/sh
out=$FAKE_KUBECTL_OUT
echo "$*" >>"$out/argv.log"
case "$1 $2" in
"get secret") exit 1 ;;
"create secret") name=$4; shift 4 ;;
"create configmap") name=$3; shift 3 ;;
"apply -n") cat >/dev/null; exit 0 ;;
*) echo "fake kubectl: $*" >&2; exit 2 ;;
esac
mkdir -p "$out/$name"
for a; do
	case "$a" in --from-file=*) kv=${a#--from-file=}; cp "${kv#*=}" "$out/$name/${kv%%=*}" ;; esac
done
echo "kind: fake"
`

// fakeMoat answers `moat secrets show NAME` as the old host would.
const fakeMoat = `#!/bin/sh
[ "$1 $2" = "secrets show" ] && printf 'fake-%s-value' "$3"
`

// TestSecretsScript runs secrets.sh with real openssl, kubectl faked: it
// makes every Secret from `moat secrets show`, never puts a value on a
// command line or its output, and the keystore it makes is one Trino
// serves (read as airlift reads a PEM keystore) and clients verify with
// the CA alone, for loopback and for the coordinator's Service names.
func TestSecretsScript(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("no openssl")
	}
	dir := t.TempDir()
	bin, out := filepath.Join(dir, "bin"), filepath.Join(dir, "out")
	os.MkdirAll(bin, 0o755)
	os.MkdirAll(out, 0o755)
	os.WriteFile(filepath.Join(bin, "kubectl"), []byte(fakeKubectl), 0o755)
	os.WriteFile(filepath.Join(bin, "moat"), []byte(fakeMoat), 0o755)
	pwdb := filepath.Join(dir, "password.db")
	os.WriteFile(pwdb, []byte("orchestrator:$2y$10$notarealhashnotarealhashnotarealhashnotarealhashnota\n"), 0o600)
	script := filepath.Join(dir, FileSecrets)
	os.WriteFile(script, exportOf(t, "postgres")[FileSecrets], 0o755)

	cmd := exec.Command("sh", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "NS=analytics", "PASSWORD_DB="+pwdb, "FAKE_KUBECTL_OUT="+out)
	stdout, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("secrets.sh: %v\n%s", err, stdout)
	}
	argv, _ := os.ReadFile(filepath.Join(out, "argv.log"))
	if bytes.Contains(stdout, []byte("fake-")) || bytes.Contains(argv, []byte("fake-")) || bytes.Contains(stdout, []byte("PRIVATE KEY")) {
		t.Errorf("a secret value on a command line or in the output:\n%s\n%s", stdout, argv)
	}
	read := func(name, key string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(out, name, key))
		if err != nil {
			t.Fatalf("secrets.sh made no %s/%s: %v", name, key, err)
		}
		return b
	}
	if got := string(read(SecretReports, reportPasswordKey)); got != "fake-orchestrator_password-value" {
		t.Errorf("%s/%s = %q", SecretReports, reportPasswordKey, got)
	}
	if got := string(read(SecretTrinoEnv, "MOAT_SECRET_PG_PASSWORD")); got != "fake-pg_password-value" {
		t.Errorf("the catalog's secret = %q", got)
	}
	ks, ca := read(SecretTLS, "keystore.pem"), read(SecretTLS, "ca.pem")
	if !bytes.Equal(read(ConfigMapCA, CAKey), ca) {
		t.Error("the CA ConfigMap differs from the keystore's CA")
	}
	for _, name := range []string{SecretTLS, ConfigMapCA} {
		entries, _ := os.ReadDir(filepath.Join(out, name))
		for _, e := range entries {
			if b := read(name, e.Name()); bytes.Contains(b, []byte("PRIVATE KEY")) && e.Name() != "keystore.pem" {
				t.Errorf("%s/%s holds a private key (the CA's key must not leave the script)", name, e.Name())
			}
		}
	}
	if n := bytes.Count(ks, []byte("-----BEGIN PRIVATE KEY-----")); n != 1 {
		t.Errorf("keystore.pem holds %d PKCS#8 keys, want the node's only", n)
	}

	// Trino's side: serve HTTPS from that keystore, HTTP off, nodes
	// verifying each other against that CA.
	ksFile, caFile := filepath.Join(dir, "keystore.pem"), filepath.Join(dir, "ca.pem")
	os.WriteFile(ksFile, ks, 0o600)
	os.WriteFile(caFile, ca, 0o644)
	srv := trinotest.NewServer(trinotest.Options{Coordinator: true, Environment: "moat", SharedSecret: "fake-shared-secret-for-the-script-test",
		HTTPDisabled: true, KeystorePath: ksFile, TruststorePath: caFile, InternalHTTPS: true,
		InternalKeystorePath: ksFile, InternalTruststorePath: caFile})
	defer srv.Close()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		t.Fatal("ca.pem holds no certificate")
	}
	addr := strings.TrimPrefix(srv.URL, "https://")
	dns, ips := tlsNames("analytics")
	for _, name := range append(dns, ips...) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: name, MinVersion: tls.VersionTLS12})
		if err != nil {
			t.Errorf("TLS to Trino as %s with the CA alone: %v", name, err)
			continue
		}
		conn.Close()
	}
	// A name outside the certificate is refused: verification is real.
	if conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "trino-coordinator.other.svc"}); err == nil {
		conn.Close()
		t.Error("a name the certificate lacks was accepted")
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		t.Fatal(err)
	}
}
