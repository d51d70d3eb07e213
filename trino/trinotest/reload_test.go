package trinotest_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"moat/internal/testenv"
	"moat/trino/trinotest"
)

// A renewed keystore is served without a restart once
// http-server.https.ssl-context.refresh-time has passed, as airlift's
// ReloadableSslContextFactoryProvider does; a keystore that cannot be read
// keeps the last good certificate, with airlift's warning. A connection
// made before the renewal keeps working.
func TestKeystoreIsReloaded(t *testing.T) {
	moatCA := newTestCA(t, "moat-ca")
	var logs logBuffer
	o := tlsNode(t, moatCA, moatCA, "trino-coordinator")
	o.Coordinator, o.SSLContextRefresh, o.Logger = true, time.Second, logs.logger()
	s := trinotest.NewServer(o)
	t.Cleanup(s.Close)
	addr := strings.TrimPrefix(s.HTTPSURL, "https://")
	served := func() (*x509.Certificate, error) {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: moatCA.pool(), ServerName: "127.0.0.1"})
		if err != nil {
			return nil, err
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0], nil
	}
	first, err := served()
	if err != nil {
		t.Fatal(err)
	}
	client := caOnlyClient(moatCA.pool())
	get := func() error {
		resp, err := client.Get(s.HTTPSURL + "/v1/info")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	if err := get(); err != nil { // a kept-alive connection, made before
		t.Fatal(err)
	}

	renewed, err := os.ReadFile(moatCA.keystore(t, "renewed")) // the same names: issued for 127.0.0.1
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, o.KeystorePath, renewed)
	testenv.Eventually(t, 10*time.Second, 100*time.Millisecond, "the renewed certificate is served", func() error {
		c, err := served()
		if err != nil {
			return err
		}
		if c.SerialNumber.Cmp(first.SerialNumber) == 0 {
			return fmt.Errorf("still serial %x", c.SerialNumber)
		}
		if c.Subject.CommonName != "renewed" {
			return fmt.Errorf("serving %q", c.Subject.CommonName)
		}
		return nil
	})
	if err := get(); err != nil {
		t.Errorf("the connection made before the renewal: %v", err)
	}

	writeFile(t, o.KeystorePath, []byte("-----BEGIN PRIVATE KEY-----\ntruncated"))
	// Each handshake after the refresh time tries a reload: the failed one
	// is logged, and the last good certificate is still served.
	testenv.Eventually(t, 10*time.Second, 100*time.Millisecond, "a failed reload keeps the certificate", func() error {
		c, err := served()
		if err != nil || c.Subject.CommonName != "renewed" {
			return fmt.Errorf("after a broken keystore: %v, %v; want the last good certificate", c, err)
		}
		if !strings.Contains(logs.String(), "Unable to reload SslContext.") {
			return fmt.Errorf("no reload attempted yet:\n%s", logs.String())
		}
		return nil
	})
}

// Trino refuses a refresh time under a second (airlift's @MinDuration("1s")).
func TestSSLContextRefreshBounds(t *testing.T) {
	moatCA := newTestCA(t, "moat-ca")
	o := tlsNode(t, moatCA, moatCA, "n")
	o.SSLContextRefresh = 500 * time.Millisecond
	if _, err := trinotest.NewUnstartedServer(o); err == nil || !strings.Contains(err.Error(), "http-server.https.ssl-context.refresh-time") {
		t.Errorf("refresh 500ms: %v", err)
	}
}
