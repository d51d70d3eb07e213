// Package kubernetes writes `moat export kubernetes`: values for the
// official Helm charts (hashicorp `consul` 1.6.10 with connect injection,
// trinodb `trino` 1.42.2), ServiceIntentions, the notebook, the report
// CronJobs and their image's Dockerfile, a secrets script and a README, all
// derived from the same plan the single-host stack runs (appliance.Plan,
// appliance.TrinoCluster, trino.RenderNode, control.Control.Intentions,
// the catalogue's upstreams). Where a chart cannot carry the plan as it is
// (its plain-HTTP probes and drain against an HTTPS-only Trino), the values
// work around it and the README says so.
//
// Nothing it writes holds a secret value: secrets reach the cluster only
// through secrets.sh, run by the user, which also makes Trino's keystore
// and CA with openssl.
//
// Imported by: main.
package kubernetes
