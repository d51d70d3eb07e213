// Command trinotestd stands in for the trinodb/trino image in moat's
// FROM-scratch test images: it reads a Trino configuration directory
// (node.properties, config.properties, password-authenticator.properties,
// access-control.properties with rules.json, ${ENV:VAR} placeholders) and
// serves trinotest's Trino protocol on http-server.http.port, and with
// automatic internal HTTPS (http-server.https.enabled=true,
// internal-communication.https.required=true, a shared secret, no keystore)
// on http-server.https.port too, both bound to node.bind-ip. Build it static
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
// Nothing imports this package.
package main
