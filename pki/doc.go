// Package pki is moat's own small certificate authority: an ECDSA P-256 CA
// that issues the TLS certificates no Connect leaf can serve for — Consul's
// HTTPS API (server certificate naming loopback, verify_incoming client
// certificates for moat) and each Trino node's HTTPS keystore. Leaves live a
// year unless a Leaf asks otherwise; CA.Current says when one is due for
// renewal (a third of its lifetime left).
//
// Everything is PEM in memory: the caller decides where the CA key lives
// (moat keeps it in the 0600 secrets file) and where certificates go.
// pki knows nothing of Consul, Trino or Docker and imports nothing of moat.
// Tests that need certificates (main's, mesh's, trino's, trinotest's) use
// it too.
//
// Imported by: appliance.
package pki
