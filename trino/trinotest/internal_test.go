package trinotest

import (
	"crypto/x509"
	"encoding/base64"
	"moat/trino/internalauth"
	"net"
	"strings"
	"testing"
	"time"
)

var newYear2026 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// The expected token was computed outside Go (Python hmac/hashlib) from
// Trino's scheme: key SHA-256(secret), header {"alg":"HS256"}, claims
// {"sub":nodeId,"exp":now+5m}.
const knownToken = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0cmluby13b3JrZXItMSIsImV4cCI6MTc2NzIyNTkwMH0.yxOOmZxObmazFk8PgkBckwmZQbko_xnldF4W26j73zg"

var b64 = base64.RawURLEncoding

func TestInternalJWTKnownAnswer(t *testing.T) {
	key := internalauth.InternalKey("fake-shared-secret-7f3a")
	if got := internalauth.SignInternal(key, "trino-worker-1", newYear2026); got != knownToken {
		t.Errorf("token\n got %s\nwant %s", got, knownToken)
	}
	sub, err := internalauth.VerifyInternal(key, knownToken, newYear2026.Add(4*time.Minute))
	if err != nil || sub != "trino-worker-1" {
		t.Errorf("parse: %q, %v; want trino-worker-1", sub, err)
	}
}

func TestInternalJWTRejected(t *testing.T) {
	key := internalauth.InternalKey("fake-shared-secret-7f3a")
	token := internalauth.SignInternal(key, "w", newYear2026)
	parts := strings.Split(token, ".")
	none := b64.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + "."
	tests := []struct {
		name, token string
		key         []byte
		now         time.Time
		want        string
	}{
		{"other secret", token, internalauth.InternalKey("other"), newYear2026, "signature does not match"},
		{"expired", token, key, newYear2026.Add(internalauth.InternalJWTLifetime), "expired"},
		{"alg none", none, key, newYear2026, `algorithm "none"`},
		{"tampered claims", parts[0] + "." + b64.EncodeToString([]byte(`{"sub":"x"}`)) + "." + parts[2], key, newYear2026, "signature"},
		{"garbage", "abc", key, newYear2026, "malformed"},
	}
	for _, tt := range tests {
		_, err := internalauth.VerifyInternal(tt.key, tt.token, tt.now)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error containing %q", tt.name, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), parts[2]) {
			t.Errorf("%s: error %q shows the token", tt.name, err)
		}
	}
}

func TestIPEncodedHostnames(t *testing.T) {
	// airlift's TestAddressSource vectors.
	for ip, host := range map[string]string{
		"127.0.0.1": "127-0-0-1.ip", "1.2.3.4": "1-2-3-4.ip",
		"2001:db8:85a3::8a2e:370:7334": "x2001-db8-85a3--8a2e-370-7334.ip", "::1": "x--1.ip",
	} {
		if got := encodeIPAsHostname(net.ParseIP(ip)); got != host {
			t.Errorf("encode %s = %s, want %s", ip, got, host)
		}
		if got, ok := decodeIPHostname(host); !ok || !net.ParseIP(got).Equal(net.ParseIP(ip)) {
			t.Errorf("decode %s = %s %v, want %s", host, got, ok, ip)
		}
	}
	if _, ok := decodeIPHostname("coordinator.ip"); ok {
		t.Error("decoded a host name that encodes no address")
	}
	if got := ipEncodedURL("https://172.30.0.10:8443/v1/announce"); got != "https://172-30-0-10.ip:8443/v1/announce" {
		t.Errorf("ipEncodedURL = %s", got)
	}
	if got := ipEncodedURL("http://172.30.0.10:8080"); got != "http://172.30.0.10:8080" {
		t.Errorf("ipEncodedURL rewrote plain http: %s", got)
	}
}

// TestAutomaticCertificateTrust: two nodes with the same secret and
// environment trust each other's certificate by IP and by IP-encoded name;
// another secret or environment does not.
func TestAutomaticCertificateTrust(t *testing.T) {
	ips := []net.IP{net.ParseIP("10.1.2.3")}
	server, _, err := automaticTLS("fake-secret", "moat", ips)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(server.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if leaf.Subject.CommonName != "moat" {
		t.Errorf("subject CN = %q, want the environment", leaf.Subject.CommonName)
	}
	verify := func(secret, env, name string) error {
		_, client, err := automaticTLS(secret, env, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = leaf.Verify(x509.VerifyOptions{Roots: client.RootCAs, DNSName: name})
		return err
	}
	for _, name := range []string{"10.1.2.3", "10-1-2-3.ip"} {
		if err := verify("fake-secret", "moat", name); err != nil {
			t.Errorf("same secret, %s: %v", name, err)
		}
	}
	if verify("fake-secret", "moat", "10.9.9.9") == nil {
		t.Error("certificate verified for an address it does not name")
	}
	if verify("other-secret", "moat", "10.1.2.3") == nil {
		t.Error("a node with another secret trusts the certificate")
	}
	if verify("fake-secret", "elsewhere", "10.1.2.3") == nil {
		t.Error("a node with another environment trusts the certificate")
	}
}
