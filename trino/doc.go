// Package trino knows Trino and nothing of Docker or Consul. It turns moat's
// view of a Trino cluster (nodes, memory, catalogs, users, policies) into the
// files each node reads from /etc/trino, checks that plan against Trino's own
// rules before anything starts, and talks to a running cluster: readiness
// (/v1/info, system.runtime.nodes: NodeStates, WorkerReady), graceful worker
// shutdown (PUT /v1/info/state; a ShutdownRequest is signed where the shared
// secret is and sent from wherever the worker's private address is
// reachable) and SQL through the official trino-go-client.
//
// appliance maps moat.toml onto Cluster and RenderNode's output onto
// containers, export/kubernetes writes the same files for the Helm chart,
// and main runs queries. Of moat it imports only trino/internalauth (node
// management).
//
// Imported by: main, appliance, appliance/config, appliance/control and
// export/kubernetes.
//
// # Files
//
// RenderNode returns every file a node needs, keyed by its path under
// /etc/trino, except three the caller writes: password.db
// (PasswordFilePath), the node's TLS keystore (KeystorePath) and moat's CA
// certificate (TruststorePath). bcrypt hashes are salted, so PasswordFile
// produces password.db once and the caller writes the same bytes on every
// node (and keeps them while the passwords do not change, see
// CheckPasswordFile, so the configuration hash of a container stays stable).
// The keystore holds a private key: the caller issues each node a
// certificate from moat's CA for the names NodeCertNames gives (for server
// and client authentication) and writes KeystorePEM's output. Secrets never
// appear in a rendered file: the internal shared secret and catalog
// passwords are ${ENV:NAME} placeholders, which Trino resolves from the
// container's environment; Env names the variables a node needs.
//
// # TLS
//
// A node opens one port, HTTPS (http-server.http.enabled=false,
// http-server.https.port), serving the certificate in KeystorePath. Trino
// reads a PEM keystore with airlift's PemReader: one file holding the
// private key (PKCS#8 "PRIVATE KEY", or PKCS#1 "RSA/EC PRIVATE KEY") and the
// certificate chain, the certificate matching the key becoming the leaf.
// http-server.https.keystore.key is the key's password: it is needed only
// for an encrypted ("ENCRYPTED PRIVATE KEY") key and may be omitted for an
// unencrypted one, so RenderNode does not write it; the file is protected by
// its mode instead. The same keystore is internal-communication's
// (internal-communication.https.keystore.path) and moat's CA is the
// truststore of both the internal client
// (internal-communication.https.truststore.path) and the HTTPS server
// (http-server.https.truststore.path): a keystore or truststore turns off
// Trino's automatic internal certificates, nodes verify each other's
// certificates (host names included) against moat's CA, and a node's
// keystore presented as a client certificate, which Jetty asks for but does
// not require, verifies too instead of failing the handshake against the
// JVM's default roots.
//
// Every node gets the same security files (password authenticator, file
// access control, rules.json): Trino's graceful-shutdown documentation
// requires the access control configuration on the workers too, and a worker
// asked to shut down must authenticate the caller like the coordinator does.
//
// # Why a password never crosses a network in clear text
//
// Trino has no plaintext port: every node serves HTTPS only, with a
// certificate from moat's CA naming loopback and the node's fixed IP. A
// client (moat's orchestrator, Jupyter, JDBC, the Python client) speaks
// standard TLS to https://127.0.0.1:<upstream> and verifies the coordinator
// with nothing but moat's CA file; the coordinator's sidecar carries those
// bytes at L4 inside the mesh's mutual TLS, so the client's TLS session ends
// in Trino itself, not in a proxy. Trino therefore sees every request arrive
// over TLS and needs no hint: http-server.process-forwarded is off, so any
// X-Forwarded-* header is refused (406) and no peer can claim a request came
// over HTTPS; Open sends none. The password is encrypted end to end, and
// Trino authenticates every request. Node-to-node traffic stays on the
// private trino network, signed with the shared secret and over HTTPS
// (internal-communication.https.required=true), each node verifying its
// peers against moat's CA. A node binds only its private-network address
// (node.bind-ip), so nothing on the mesh network reaches Trino except
// through the sidecar.
//
// # Session user and impersonation
//
// trino-go-client v1.1.0 sends the DSN user both as the basic-auth principal
// and as X-Trino-User, and has no setting for a different session user (only a
// per-statement named argument). Open therefore wraps the caller's transport
// with a RoundTripper that sets X-Trino-User to Endpoint.SessionUser on every
// request; Trino authenticates the principal from the Authorization header and,
// because the two differ, checks the impersonation rules in rules.json.
//
// # Access rules
//
// Rules writes Trino's file-based system access control. In every section the
// first matching rule wins and no match denies; an absent section allows
// everything (except impersonation and system_information, which deny), so
// Rules writes every section it relies on and ends each with an explicit deny.
// Decisions:
//   - The management user (moat) may read the system catalog (readiness), view
//     and kill any query, and read and write system information (graceful
//     shutdown). It may impersonate nobody: moat already holds every password,
//     so impersonation would add no capability, only a second identity to
//     audit.
//   - The orchestrator may impersonate exactly the users that own reports and
//     has no data access of its own; a report runs with its owner's masks and
//     filters. It may read system.runtime.nodes (and nothing else in the
//     system catalog): the coordinator sidecar's readiness gate counts the
//     active workers through the mesh as the orchestrator.
//   - Users with any column mask, row filter or denied column may execute no
//     catalog function: passthrough table functions (system.query, raw_query)
//     would run SQL in the source and bypass every mask and filter. Other users
//     may run passthrough functions only where their policy says so.
//   - Users see only their own queries; everyone may execute queries.
package trino
