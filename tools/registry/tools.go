//go:build tools

// Package tools pins the CNCF distribution registry used by the pull tests:
// `make registry` builds bin/registry from this module.
package tools

import _ "github.com/distribution/distribution/v3/cmd/registry"
