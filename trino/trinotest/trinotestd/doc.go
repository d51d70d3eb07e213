// Command trinotestd stands in for the trinodb/trino image in moat's
// FROM-scratch test images: it reads a Trino configuration directory
// (node.properties, config.properties, password-authenticator.properties,
// access-control.properties with rules.json, ${ENV:VAR} placeholders) and
// serves trinotest's Trino protocol on http-server.http.port (unless
// http-server.http.enabled=false) and, with http-server.https.enabled=true,
// on http-server.https.port, both bound to node.bind-ip. HTTPS comes from the
// PEM keystore at http-server.https.keystore.path (unencrypted key and chain
// in one file; no keystore.key), or from automatic internal HTTPS
// (internal-communication.https.required=true, a shared secret, no internal
// keystore or truststore); internal-communication.https.keystore.path and
// truststore.path are the internal client's certificate and roots. It
// refuses to start where Trino does (missing or keyless keystore, internal
// HTTPS without the shared secret or without HTTPS, removed and defunct
// properties), with Trino's messages. Build it static
// (CGO_ENABLED=0) and install it as /usr/lib/trino/bin/run-trino; a copy or
// link named /usr/lib/trino/bin/health-check (the path of the official
// image's HEALTHCHECK) answers like the image's health-check script.
//
//	trinotestd [--config-dir /etc/trino] [--starting-for 2s] [--node-version 483]
//	trinotestd health-check [--config-dir /etc/trino] [--url http://172.30.0.10:8080/v1/info]
//
// Like the image's script, health-check asks http://localhost:<http port>
// (https://localhost:<https port> when http-server.http.enabled=false), which
// does not answer when node.bind-ip is another address: --url asks there.
//
// Imported by: nothing (a command).
package main
