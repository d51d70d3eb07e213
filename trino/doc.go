// Package trino knows Trino and nothing of Docker or Consul. It turns moat's
// view of a Trino cluster (nodes, memory, catalogs, users, policies) into the
// files each node reads from /etc/trino, checks that plan against Trino's own
// rules before anything starts, and talks to a running cluster: readiness
// (/v1/info, system.runtime.nodes), graceful worker shutdown
// (PUT /v1/info/state) and SQL through the official trino-go-client.
//
// Importers: moat/appliance (maps moat.toml onto Cluster and RenderNode's
// output onto containers), moat/report and main (queries). It imports no other
// moat package.
//
// # Files
//
// RenderNode returns every file a node needs, keyed by its path under
// /etc/trino, except password.db: bcrypt hashes are salted, so PasswordFile
// produces it once and the caller writes the same bytes on every node (and
// keeps them while the passwords do not change, see CheckPasswordFile, so the
// configuration hash of a container stays stable). Secrets never appear in a
// rendered file: the internal shared secret and catalog passwords are
// ${ENV:NAME} placeholders, which Trino resolves from the container's
// environment; Env names the variables a node needs.
//
// Every node gets the same security files (password authenticator, file
// access control, rules.json): Trino's graceful-shutdown documentation
// requires the access control configuration on the workers too, and a worker
// asked to shut down must authenticate the caller like the coordinator does.
//
// # Why a password never crosses a network in clear text
//
// A client (moat's orchestrator, Jupyter) reaches the coordinator only through
// the coordinator's sidecar. The hop from the client to the sidecar is mutual
// TLS (Consul Connect). The sidecar shares the coordinator's network
// namespace, so its last hop to Trino's HTTP port never leaves that namespace:
// it is plain HTTP on the coordinator's own address, not on any network a
// third party can see. Trino rejects passwords over plain HTTP unless it is
// told the original request was HTTPS; the client therefore marks every
// request with X-Forwarded-Proto: https and the coordinator trusts it
// (http-server.process-forwarded=true). The password is thus encrypted on
// every network it travels, and Trino still authenticates every request.
// Node-to-node traffic stays on the private trino network, signed with the
// shared secret and encrypted (internal-communication.https.required=true).
// The coordinator binds only its private-network address (node.bind-ip), so
// nothing on the mesh network reaches Trino except through the sidecar.
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
//     filters.
//   - Users with any column mask, row filter or denied column may execute no
//     catalog function: passthrough table functions (system.query, raw_query)
//     would run SQL in the source and bypass every mask and filter. Other users
//     may run passthrough functions only where their policy says so.
//   - Users see only their own queries; everyone may execute queries.
package trino
