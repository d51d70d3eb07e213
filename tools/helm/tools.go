//go:build tools

// Package tools pins helm, built by `make helm` into bin/helm: the export
// tests render the trino and consul charts with moat's exported values
// when they find bin/helm and the charts (MOAT_TRINO_CHART,
// MOAT_CONSUL_CHART).
package tools

import _ "helm.sh/helm/v3/cmd/helm"
