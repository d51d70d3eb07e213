// Package mesh drives Consul for moat: the server agent's configuration, ACL
// bootstrap and scoped tokens, service registrations with their sidecars and
// health mirroring, intentions, the command lines of sidecar proxies (Envoy or
// Consul's built-in proxy), moat's own Connect-native identity
// ("orchestrator") with an mTLS HTTP client, and the verification of which
// pairs of services can really talk.
//
// mesh knows Consul (github.com/hashicorp/consul/api) and nothing of Docker:
// what it renders is plain data that package appliance turns into
// supervisor.Specs. appliance and main may import it; supervisor, trino and
// state must not.
//
// Secrets (ACL tokens, private keys) never appear in errors, logs or the
// renderings meant for golden files.
package mesh
