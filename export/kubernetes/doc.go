// Package kubernetes writes `moat export kubernetes`: values for the
// official Helm charts (hashicorp `consul` 1.6.10 with connect injection,
// trinodb `trino` 1.42.2), ServiceIntentions, the notebook, the report
// CronJobs, a secrets script and a README, all derived from the same plan
// the single-host stack runs (appliance.TrinoCluster, trino.RenderNode,
// appliance.Control.Intentions, the catalogue's upstreams).
//
// Nothing it writes holds a secret value: secrets reach the cluster only
// through secrets.sh, run by the user. Imported by main only.
package kubernetes
