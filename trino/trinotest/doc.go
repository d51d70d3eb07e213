// Package trinotest is a Trino REST-protocol test server, in the spirit of
// net/http/httptest: it speaks Trino's client protocol (POST /v1/statement,
// nextUri paging, DELETE to cancel, Trino's error JSON), /v1/info and
// /v1/info/state (graceful shutdown), password authentication from a Trino
// password file (bcrypt), file-based impersonation and system_information
// rules, Trino's file-based access control for queries (catalog, table and
// query rules, denied columns, row filters and column masks with Trino's
// type checks and messages; see AccessControl and restrict.go), and node
// discovery (POST /v1/announce as Trino >= 477 sends by
// default, and the legacy airlift PUT /v1/announcement/{nodeId}), internal
// authentication (every node-to-node request carries X-Trino-Internal-Bearer,
// an HS256 JWT keyed by SHA-256 of internal-communication.shared-secret;
// announcements are internal-only), HTTPS from a PEM keystore read as
// airlift reads one (key and chain in one file, Options.KeystorePath; read
// again every Options.SSLContextRefresh, as airlift reloads it) with
// internal keystores and truststores (nodes verify each other's certificates,
// host names included), HTTP turned off (Options.HTTPDisabled), the start-up
// refusals Trino makes for these settings, and Trino's automatic internal
// HTTPS (Options.InternalHTTPS without internal keystore or truststore: a
// certificate derived from the shared secret, trusted by every node with the
// same secret and environment; see autotls.go for how it differs from
// airlift's). X-Forwarded-* headers are refused (406) unless
// Options.ProcessForwarded, as airlift does. Queries run
// on an embedded in-memory SQLite holding tpch.tiny.nation, tpch.tiny.region,
// a generated tpch.tiny.customer and system.runtime.nodes.
//
// Trino cannot run on moat's test machines; this package stands in for it.
// Only tests and the trinotestd binary (the stand-in for the trinodb/trino
// image in FROM-scratch test images) use it; moat's production code never
// does.
//
// Imported by: trino/trinotest/trinotestd.
package trinotest
