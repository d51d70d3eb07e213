// Package mesh drives Consul for moat: the server agent's configuration
// (which bootstraps the ACLs with a management token moat chose), scoped
// tokens, service registrations with their sidecars and health mirroring,
// intentions (their one validator, ValidateIntentions, and their
// reconciliation), the command lines of sidecar proxies (Envoy or Consul's
// built-in proxy), moat's own Connect-native identity ("orchestrator") with
// an mTLS HTTP client, and the verification of which pairs of services can
// really talk.
//
// mesh knows Consul (github.com/hashicorp/consul/api) and nothing of Docker,
// and imports nothing of moat: what it renders is plain data that package
// appliance turns into supervisor.Specs. supervisor, trino and state must
// not import it.
//
// Imported by: main, appliance, appliance/config, appliance/control and
// export/kubernetes.
//
// Secrets (ACL tokens, private keys) never appear in errors, logs or the
// renderings meant for golden files.
package mesh
