package trino

import (
	"bytes"
	"net"
	"slices"
)

// NodeCertNames returns the subject alternative names node n's certificate
// must carry for clients and peers to verify it as Trino does (host name
// verification on): "localhost" and 127.0.0.1 for the sidecar's and the
// health check's local hop, the node ID (its alias on the private network:
// "trino-coordinator", "trino-worker-1"), and the node's fixed IP address,
// which discovery.uri and node.internal-address name. The certificate must
// be valid for both server and client authentication: a node presents its
// keystore when it calls another (internal-communication.https.keystore.path).
func NodeCertNames(c Cluster, n Node) (dns []string, ips []net.IP) {
	_ = c // every node's names come from the node alone; c keeps room for cluster-wide names
	dns = []string{"localhost", n.ID}
	ips = []net.IP{net.IPv4(127, 0, 0, 1).To4()}
	if n.IP.IsValid() {
		ip := net.IP(n.IP.Unmap().AsSlice())
		if !slices.ContainsFunc(ips, ip.Equal) {
			ips = append(ips, ip)
		}
	}
	return dns, ips
}

// KeystorePEM builds the file at KeystorePath as Trino's PEM keystore support
// (airlift PemReader) reads it: the private key first, then the node's
// certificate, then the CA certificate. The key must be unencrypted
// (PKCS#8 "PRIVATE KEY", or "EC PRIVATE KEY"/"RSA PRIVATE KEY"); no keystore
// password (http-server.https.keystore.key) is set or needed.
func KeystorePEM(certPEM, keyPEM, caPEM []byte) []byte {
	var b bytes.Buffer
	for _, part := range [][]byte{keyPEM, certPEM, caPEM} {
		part = bytes.TrimSpace(part)
		if len(part) == 0 {
			continue
		}
		b.Write(part)
		b.WriteByte('\n')
	}
	return b.Bytes()
}
